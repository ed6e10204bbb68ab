"""Checkout Sessions against stripe-mock (the real Stripe API's schema, served locally)."""

from __future__ import annotations

import pytest
import stripe

from devtools import servers
from oms.payment.stripe_gateway import CheckoutLine, StripeCheckout, StripeSettings


async def test_a_checkout_session_is_created_for_an_order(stripe_mock: servers.StripeMock) -> None:
    checkout = StripeCheckout(StripeSettings(api_base=stripe_mock.api_base))
    try:
        session = await checkout.create_session(
            "order-123",
            "EUR",
            [CheckoutLine("Margherita", 950, 2), CheckoutLine("Tiramisu", 600, 1)],
        )
    finally:
        await checkout.close()

    assert session.id.startswith("cs_")
    assert session.url.startswith("https://")
    assert session.expires_at.tzinfo is not None


async def test_a_request_stripe_refuses_raises_a_stripe_error(
    stripe_mock: servers.StripeMock,
) -> None:
    checkout = StripeCheckout(StripeSettings(api_base=stripe_mock.api_base, api_key="not-a-key"))
    try:
        with pytest.raises(stripe.StripeError, match="API key"):
            await checkout.create_session("order-124", "EUR", [CheckoutLine("Pizza", 900, 1)])
    finally:
        await checkout.close()


def test_stripe_mock_serves_the_placeholder_key_and_stripe_a_real_one() -> None:
    assert StripeSettings().base_url == "http://127.0.0.1:12111"
    assert StripeSettings(mock_url="http://stripe-mock:12111").base_url == (
        "http://stripe-mock:12111"
    )
    assert StripeSettings(api_key="sk_test_realkey").base_url == "https://api.stripe.com"
    assert StripeSettings(api_key="sk_test_realkey", api_base="http://x").base_url == "http://x"
