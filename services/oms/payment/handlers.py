"""Payment use cases: open and close an order's checkout, apply Stripe's webhooks, refund.

Payment reports money to Order (`payment.captured`, `payment.failed`, `payment.refunded`) and
acts on Order's decisions; it never decides an order's fate. Every path is idempotent: Stripe
calls carry idempotency keys and the same parameters every time (fixed when the order was
placed), payments change state by compare-and-set, and the events they publish are staged in
the same write.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson
from opentelemetry import propagate, trace

from oms import domain_events as events
from oms.payment.domain import (
    ENTERED_FROM,
    CheckoutRefused,
    CloseOutcome,
    Payment,
    PaymentStatus,
)
from oms.payment.repository import PaymentRepository
from oms.payment.stripe_gateway import CheckoutLine, CheckoutSession, WebhookEvent
from oms.platform import logs
from oms.platform.errors import FailedPrecondition, InvalidArgument, NotFound

log = logs.get(__name__)
tracer = trace.get_tracer(__name__)
S = PaymentStatus
PAID_STATES = ("paid", "no_payment_required")
CAPTURING = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
FAILING = ("checkout.session.expired", "checkout.session.async_payment_failed")


class Checkout(Protocol):
    """Stripe, as Payment uses it (`oms.payment.stripe_gateway.StripeCheckout`)."""

    async def create_session(
        self,
        order_id: str,
        currency: str,
        lines: Sequence[CheckoutLine],
        expires_at: datetime,
        access_token: str,
    ) -> CheckoutSession: ...
    async def retrieve_session(self, session_id: str) -> CheckoutSession: ...
    async def expire_session(self, session_id: str) -> CheckoutSession: ...
    async def refund(self, payment_intent: str, order_id: str) -> str: ...
    def verify(self, payload: bytes, signature_header: str) -> WebhookEvent: ...
    def sign(self, payload: bytes, at: int) -> str: ...


class OrderGone(Exception):
    """The order no longer takes a checkout (it was cancelled or expired meanwhile)."""


class Orders(Protocol):
    async def attach(self, order_id: str, session_id: str, link: str) -> None: ...


@dataclass(frozen=True)
class WebhookOutcome:
    event_id: str
    event_type: str
    duplicate: bool


class PaymentHandlers:
    def __init__(
        self,
        repository: PaymentRepository,
        stripe: Checkout,
        orders: Orders,
        test_page: str = "",
    ) -> None:
        self.repository = repository
        self.stripe = stripe
        self.orders = orders
        # With stripe-mock in development: the local test payment page (`{order_id}`).
        self.test_page = test_page

    # --- checkout -----------------------------------------------------------------------

    async def open_checkout(self, placed: events.OrderPlaced) -> None:
        """Open the order's Checkout Session once and hand its link to Order."""
        try:
            session = await self.stripe.create_session(
                placed.order_id,
                placed.currency,
                [CheckoutLine(x.name, x.unit_price_minor, x.quantity) for x in placed.lines],
                placed.checkout_expires_at,
                placed.access_token,
            )
        except CheckoutRefused as exc:
            # Asking again gets the same answer: Order expires the order, with the reason.
            failed = events.PaymentFailed(order_id=placed.order_id, reason=str(exc))
            await self.repository.add(
                Payment(placed.order_id, S.FAILED, reason=str(exc)), [failed.to_event()]
            )
            log.warning("payment.checkout_refused", order_id=placed.order_id, reason=str(exc))
            return
        headers: dict[str, str] = {}
        propagate.inject(headers)
        opened = Payment(
            order_id=placed.order_id,
            status=S.OPEN,
            customer_id=placed.customer_id,
            checkout_session_id=session.id,
            url=self._link(placed, session),
            expires_at=session.expires_at,
            currency=placed.currency,
            amount_minor=placed.total_minor,
            trace_headers=headers,
        )
        payment = await self.repository.add(opened)
        if payment.status is not S.OPEN:
            # Closed before it opened (cancelled meanwhile): nobody may pay this session.
            await self._close_at_stripe(session.id)
            return
        try:
            await self.orders.attach(payment.order_id, payment.checkout_session_id, payment.url)
        except OrderGone:
            log.info("payment.order_gone", order_id=payment.order_id)
            await self.close_checkout(payment.order_id)

    def _link(self, placed: events.OrderPlaced, session: CheckoutSession) -> str:
        """Stripe's payment page, or (stripe-mock in development) the local test page."""
        if not self.test_page:
            return session.url
        # No token in it: staff screens show payment links; the page asks for the session.
        return self.test_page.format(order_id=placed.order_id)

    async def close_checkout(self, order_id: str) -> CloseOutcome:
        """Make sure nobody can pay the order's checkout from now on."""
        payment = await self.repository.get(order_id)
        if payment is None:
            # None opened yet: a tombstone makes a late opening close its session at once.
            payment = await self.repository.add(Payment(order_id, S.CLOSED))
            if payment.status is S.CLOSED and not payment.checkout_session_id:
                return CloseOutcome.NO_CHECKOUT
        if payment.status in (S.CAPTURED, S.REFUNDED):
            return CloseOutcome.ALREADY_PAID
        if payment.status is S.OPEN:
            session = await self._close_at_stripe(payment.checkout_session_id)
            if session.status == "complete" and session.payment_status in PAID_STATES:
                await self._capture(payment, session.payment_intent, stripe_event="")
                return CloseOutcome.ALREADY_PAID
            await self.repository.transition(order_id, S.CLOSED, ENTERED_FROM[S.CLOSED])
            log.info("payment.closed", order_id=order_id)
        return CloseOutcome.CLOSED if payment.checkout_session_id else CloseOutcome.NO_CHECKOUT

    async def _close_at_stripe(self, session_id: str) -> CheckoutSession:
        return await self.stripe.expire_session(session_id)

    async def refund(self, order_id: str) -> None:
        """Order decided the money goes back (a refund, or money for an ended order)."""
        payment = await self.repository.get(order_id)
        if payment is None or payment.status is S.REFUNDED:
            return
        if payment.status is not S.CAPTURED:
            raise FailedPrecondition(f"payment of order {order_id} is {payment.status}")
        intent = payment.payment_intent
        if not intent:
            intent = (
                await self.stripe.retrieve_session(payment.checkout_session_id)
            ).payment_intent
        refund_id = await self.stripe.refund(intent, order_id)
        refunded = events.PaymentRefunded(
            order_id=order_id, refund_id=refund_id, amount_minor=payment.amount_minor
        )
        with _order_trace(payment, "payment refunded"):
            moved = await self.repository.transition(
                order_id,
                S.REFUNDED,
                ENTERED_FROM[S.REFUNDED],
                [refunded.to_event()],
                {"refund_id": refund_id},
            )
        if moved is not None:
            log.warning("payment.refunded", order_id=order_id, refund_id=refund_id)

    # --- webhooks -----------------------------------------------------------------------

    async def apply_webhook(self, payload: bytes, signature_header: str) -> WebhookOutcome:
        """Verify a Stripe webhook and apply it once: of concurrent duplicates, exactly one
        answer says it was new."""
        event = self.stripe.verify(payload, signature_header)
        session = event.object
        order_id = _order_id(session)
        payment = await self.repository.get(order_id) if order_id else None
        if payment is None or payment.checkout_session_id != str(session.get("id", "")):
            # Not a session OMS opened (another integration, a test event): remembered only.
            log.info("payment.webhook_ignored", stripe_event=event.id, type=event.type)
            new = await self.repository.note_foreign_event(event.id, event.type)
            return WebhookOutcome(event.id, event.type, duplicate=not new)
        if event.type in CAPTURING and (
            event.type != CAPTURING[0] or session.get("payment_status") in PAID_STATES
        ):
            _check_amount(payment, session)
            intent = _intent(session)
            if await self._capture(payment, intent, event.id):
                return WebhookOutcome(event.id, event.type, duplicate=False)
        elif event.type in FAILING:
            failed = events.PaymentFailed(order_id=order_id, reason=f"Stripe: {event.type}")
            with _order_trace(payment, "payment failed"):
                moved = await self.repository.transition(
                    order_id,
                    S.FAILED,
                    ENTERED_FROM[S.FAILED],
                    [failed.to_event()],
                    stripe_event=event.id,
                )
            if moved is not None:
                return WebhookOutcome(event.id, event.type, duplicate=False)
        new = await self.repository.note_stripe_event(order_id, event.id)
        return WebhookOutcome(event.id, event.type, duplicate=not new)

    async def _capture(self, payment: Payment, intent: str, stripe_event: str) -> bool:
        captured = events.PaymentCaptured(
            order_id=payment.order_id,
            checkout_session_id=payment.checkout_session_id,
            amount_minor=payment.amount_minor,
            currency=payment.currency,
        )
        with _order_trace(payment, "payment captured"):
            moved = await self.repository.transition(
                payment.order_id,
                S.CAPTURED,
                ENTERED_FROM[S.CAPTURED],
                [captured.to_event()],
                {"payment_intent": intent},
                stripe_event=stripe_event,
            )
        if moved is not None:
            log.info("payment.captured", order_id=payment.order_id)
        return moved is not None

    async def sign_test_completion(self, order_id: str) -> tuple[bytes, str]:
        """The signed webhook Stripe would send when the customer pays (test page only)."""
        if not self.test_page:
            raise FailedPrecondition("test payments exist only with stripe-mock in development")
        payment = await self.repository.get(order_id)
        if payment is None or not payment.checkout_session_id:
            raise NotFound(f"no checkout for order {order_id}")
        event = {
            "id": f"evt_test_{uuid.uuid4().hex}",
            "object": "event",
            "type": "checkout.session.completed",
            "created": int(time.time()),
            "data": {
                "object": {
                    "id": payment.checkout_session_id,
                    "object": "checkout.session",
                    "metadata": {"order_id": order_id},
                    "client_reference_id": order_id,
                    "payment_status": "paid",
                    "status": "complete",
                    "amount_total": payment.amount_minor,
                    "currency": payment.currency.lower(),
                    "payment_intent": f"pi_test_{uuid.uuid4().hex[:16]}",
                }
            },
        }
        payload = orjson.dumps(event)
        return payload, self.stripe.sign(payload, int(time.time()))


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


@contextmanager
def _order_trace(payment: Payment, name: str) -> Iterator[None]:
    """A span in the order's own trace, linked to the webhook (or call) that caused it.

    So one trace follows an order from its placement to the kitchen pass, though Stripe's
    webhook arrives as a request of its own.
    """
    cause = trace.get_current_span().get_span_context()
    links = [trace.Link(cause)] if cause.is_valid else []
    parent = propagate.extract(payment.trace_headers)
    with tracer.start_as_current_span(name, context=parent, links=links):
        yield


def _order_id(session: dict[str, Any]) -> str:
    metadata = session.get("metadata") or {}
    order_id = metadata.get("order_id") if isinstance(metadata, dict) else None
    return str(order_id or session.get("client_reference_id") or "")
