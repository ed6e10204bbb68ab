"""Stripe's test-mode key that stripe-mock serves: Payment calls stripe-mock with it, and the
gateway offers the local test payment page only while Payment uses it."""

from __future__ import annotations

MOCK_API_KEY = "sk_test_123"  # stripe-mock's documented key, not a secret
