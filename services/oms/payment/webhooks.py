"""Stripe's webhooks: verified, then applied once.

A paid session captures the payment (its amount and currency must be the order's), an
expired or failed one fails it; anything else, or a session OMS did not open, is only
remembered, so that a redelivery answers "duplicate". Of concurrent duplicates, exactly one
answer says the event was new.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from oms import domain_events as events
from oms.payment import money
from oms.payment.domain import Payment, PaymentStatus
from oms.payment.repository import PaymentRepository
from oms.payment.stripe_gateway import PAID_STATES, StripeCheckout
from oms.platform import logs
from oms.platform.errors import InvalidArgument

log = logs.get(__name__)
CAPTURING = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
FAILING = ("checkout.session.expired", "checkout.session.async_payment_failed")


@dataclass(frozen=True)
class WebhookOutcome:
    event_id: str
    event_type: str
    duplicate: bool


async def apply(
    repository: PaymentRepository, stripe: StripeCheckout, payload: bytes, signature_header: str
) -> WebhookOutcome:
    """Verify a Stripe webhook and apply it once."""
    event = stripe.verify(payload, signature_header)
    session = event.object
    order_id = _order_id(session)
    payment = await repository.get(order_id) if order_id else None
    if payment is None or payment.checkout_session_id != str(session.get("id", "")):
        # Not a session OMS opened (another integration, a test event): remembered only.
        log.info("payment.webhook_ignored", stripe_event=event.id, type=event.type)
        new = await repository.note_foreign_event(event.id, event.type)
        return WebhookOutcome(event.id, event.type, duplicate=not new)
    if event.type in CAPTURING and (
        event.type != CAPTURING[0] or session.get("payment_status") in PAID_STATES
    ):
        _check_amount(payment, session)
        if await money.capture(repository, payment, _intent(session), event.id):
            return WebhookOutcome(event.id, event.type, duplicate=False)
    elif event.type in FAILING:
        failed = events.PaymentFailed(order_id=order_id, reason=f"Stripe: {event.type}")
        if await money.move(
            repository, payment, PaymentStatus.FAILED, failed, stripe_event=event.id
        ):
            return WebhookOutcome(event.id, event.type, duplicate=False)
    new = await repository.note_stripe_event(order_id, event.id)
    return WebhookOutcome(event.id, event.type, duplicate=not new)


def completion(payment: Payment) -> dict[str, Any]:
    """The event Stripe sends when the customer pays the payment's checkout (test page)."""
    return {
        "id": f"evt_test_{uuid.uuid4().hex}",
        "object": "event",
        "type": "checkout.session.completed",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": payment.checkout_session_id,
                "object": "checkout.session",
                "metadata": {"order_id": payment.order_id},
                "client_reference_id": payment.order_id,
                "payment_status": "paid",
                "status": "complete",
                "amount_total": payment.amount_minor,
                "currency": payment.currency.lower(),
                "payment_intent": f"pi_test_{uuid.uuid4().hex[:16]}",
            }
        },
    }


def _check_amount(payment: Payment, session: dict[str, Any]) -> None:
    """A capture must say how much and in what, and both must be the order's."""
    amount, currency = session.get("amount_total"), session.get("currency")
    # `type(...) is int`: JSON's true and false are ints to isinstance (1 and 0).
    if type(amount) is not int or not isinstance(currency, str):
        raise InvalidArgument("a paid checkout must carry amount_total and currency")
    if amount != payment.amount_minor or currency.upper() != payment.currency:
        raise InvalidArgument(
            f"paid {amount} {currency.upper()} for order {payment.order_id} of "
            f"{payment.amount_minor} {payment.currency}"
        )


def _intent(session: dict[str, Any]) -> str:
    """The payment intent's id: Stripe sends the id, or the object expanded; else none (a
    refund then reads it from Stripe)."""
    intent = session.get("payment_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    return intent if isinstance(intent, str) else ""


def _order_id(session: dict[str, Any]) -> str:
    metadata = session.get("metadata") or {}
    order_id = metadata.get("order_id") if isinstance(metadata, dict) else None
    return str(order_id or session.get("client_reference_id") or "")
