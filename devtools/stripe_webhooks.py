"""Stripe webhook deliveries as Stripe makes them: an event JSON and its signature header.

The signature is Stripe's documented scheme (HMAC-SHA256 of "<timestamp>.<payload>" with the
endpoint's secret), computed here independently of stripe-python, so tests prove our
verification accepts what Stripe sends and nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any


def checkout_event(
    event_type: str,
    order_id: str,
    session_id: str,
    *,
    amount_total: int | None = None,
    currency: str | None = None,
    payment_status: str = "paid",
) -> dict[str, Any]:
    session: dict[str, Any] = {
        "id": session_id,
        "object": "checkout.session",
        "client_reference_id": order_id,
        "metadata": {"order_id": order_id},
        "payment_status": payment_status,
        "status": "expired" if event_type.endswith("expired") else "complete",
        "payment_intent": f"pi_{uuid.uuid4().hex[:16]}",
    }
    if amount_total is not None:
        session["amount_total"] = amount_total
    if currency is not None:
        session["currency"] = currency.lower()
    return event(event_type, session)


def event(event_type: str, about: dict[str, Any]) -> dict[str, Any]:
    """A Stripe event about the object `about`, as Stripe delivers it."""
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "type": event_type,
        "data": {"object": about},
    }


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe would send with `payload`."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256)
    return f"t={stamp},v1={digest.hexdigest()}"


def delivery(event: dict[str, Any], secret: str, timestamp: int | None = None) -> tuple[bytes, str]:
    payload = json.dumps(event).encode()
    return payload, sign(payload, secret, timestamp)


# The ways a delivery can fail to be Stripe's own, for tests that must refuse each.
FORGERIES = ("missing", "other secret", "stale", "tampered")


def forged_delivery(
    event: dict[str, Any], secret: str, forgery: str, stale_seconds: int
) -> tuple[bytes, str]:
    """A delivery of `event` that is not Stripe's: unsigned, signed with another secret,
    signed `stale_seconds` ago, or changed after signing."""
    payload, header = delivery(event, secret)
    if forgery == "missing":
        return payload, ""
    if forgery == "other secret":
        return delivery(event, "whsec_someone_else")
    if forgery == "stale":
        return delivery(event, secret, int(time.time()) - stale_seconds)
    if forgery == "tampered":
        return payload.replace(b'"paid"', b'"paid" '), header
    raise ValueError(f"no forgery {forgery!r}; one of {FORGERIES}")
