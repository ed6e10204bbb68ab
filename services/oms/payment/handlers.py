"""Payment use cases: open a checkout for a new order, cancel it, apply Stripe's verdicts.

Every path is idempotent: Stripe calls carry idempotency keys, payments change state by
compare-and-set, and the events they publish are staged in the same write. Stripe's verdict
arrives by webhook; `reconcile_overdue` asks Stripe directly about sessions whose webhook
never came, so a lost webhook cannot leave an order waiting forever.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from opentelemetry import propagate, trace

from oms import domain_events as events
from oms.payment.clients import OrderClient
from oms.payment.domain import ENTERED_FROM, Payment, PaymentStatus
from oms.payment.repository import MongoPaymentRepository
from oms.payment.stripe_gateway import CheckoutLine, StripeCheckout
from oms.platform import logs
from oms.platform.errors import InvalidArgument
from oms.platform.events import PermanentError
from oms.platform.outbox import OutboxRelay

log = logs.get(__name__)
tracer = trace.get_tracer(__name__)
S = PaymentStatus
PAID_STATES = ("paid", "no_payment_required")


@dataclass(frozen=True)
class WebhookOutcome:
    event_id: str
    event_type: str
    duplicate: bool


class PaymentHandlers:
    def __init__(
        self,
        repository: MongoPaymentRepository,
        stripe: StripeCheckout,
        orders: OrderClient,
        relay: OutboxRelay,
    ) -> None:
        self.repository = repository
        self.stripe = stripe
        self.orders = orders
        self.relay = relay

    async def start_checkout(self, created: events.OrderCreated) -> Payment:
        """Create the order's Checkout Session once and hand its link to the order."""
        payment = await self.repository.get(created.order_id)
        if payment is None:
            session = await self.stripe.create_session(
                created.order_id,
                created.currency,
                [CheckoutLine(x.name, x.unit_price_minor, x.quantity) for x in created.lines],
                customer_id=created.customer_id,
            )
            headers: dict[str, str] = {}
            propagate.inject(headers)
            opened = Payment(
                order_id=created.order_id,
                status=S.OPEN,
                checkout_session_id=session.id,
                url=session.url,
                expires_at=session.expires_at,
                currency=created.currency,
                total_minor=created.total_minor,
                trace_headers=headers,
            )
            payment = await self.repository.add(opened, created.lines)
            if payment.status is S.CANCELLED:
                # Cancelled while the session was being made: nobody may pay it now.
                await self._expire_at_stripe(session.id)
        if payment.status is S.OPEN:
            await self._attach(payment)
        return payment

    async def _attach(self, payment: Payment) -> None:
        try:
            await self.orders.attach_payment(
                payment.order_id, payment.checkout_session_id, payment.url, payment.expires_at
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
                # Cancelled or expired meanwhile; its order.cancelled event closes the payment.
                log.info("payment.attach_skipped", order_id=payment.order_id, reason=exc.details())
                return
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise PermanentError(f"order refused the payment link: {exc.details()}") from exc
            raise

    async def cancel(self, order_id: str) -> None:
        """The order was cancelled: close its checkout, or refund it if it was paid."""
        payment = await self.repository.get(order_id)
        if payment is None:
            # Cancelled before its checkout started: a tombstone stops a late start.
            payment = await self.repository.add(Payment(order_id, S.CANCELLED), [])
        if payment.status is S.OPEN:
            await self._expire_at_stripe(payment.checkout_session_id)
            await self.repository.transition(order_id, S.CANCELLED, ENTERED_FROM[S.CANCELLED])
            log.info("payment.cancelled", order_id=order_id)
        elif payment.status is S.PAID:
            log.error("payment.paid_then_cancelled", order_id=order_id)

    async def _expire_at_stripe(self, session_id: str) -> None:
        session = await self.stripe.retrieve_session(session_id)
        if session.status == "open":
            await self.stripe.expire_session(session_id)

    async def apply_webhook(self, payload: bytes, signature_header: str) -> WebhookOutcome:
        """Verify a Stripe webhook and apply it once; a redelivery changes nothing."""
        event = self.stripe.verify(payload, signature_header)
        if await self.repository.seen_stripe_event(event.id):
            return WebhookOutcome(event.id, event.type, duplicate=True)
        session = event.object
        order_id = _order_id(session)
        if not order_id:
            log.info("payment.webhook_ignored", stripe_event=event.id, reason="no order id")
        elif event.type == "checkout.session.completed":
            if session.get("payment_status") in PAID_STATES:
                await self._paid(order_id, session)
        elif event.type == "checkout.session.async_payment_succeeded":
            await self._paid(order_id, session)
        elif event.type in ("checkout.session.expired", "checkout.session.async_payment_failed"):
            await self._expired(order_id, str(session.get("id", "")))
        else:
            log.info("payment.webhook_ignored", stripe_event=event.id, type=event.type)
        await self.repository.record_stripe_event(event.id, event.type)
        if order_id:
            self.relay.wake(order_id)
        return WebhookOutcome(event.id, event.type, duplicate=False)

    async def _paid(self, order_id: str, session: dict[str, Any]) -> None:
        payment = await self._payment_of(order_id, str(session.get("id", "")))
        if payment is None:
            return
        amount, currency = session.get("amount_total"), session.get("currency")
        if amount is not None and amount != payment.total_minor:
            raise InvalidArgument(f"paid {amount} for order {order_id} of {payment.total_minor}")
        if currency and str(currency).upper() != payment.currency:
            raise InvalidArgument(f"paid in {currency} for order {order_id} in {payment.currency}")
        paid = events.OrderPaid(
            order_id=order_id,
            checkout_session_id=payment.checkout_session_id,
            lines=await self.repository.lines(order_id),
        )
        with _order_trace(payment, "payment paid"):
            moved = await self.repository.transition(
                order_id, S.PAID, ENTERED_FROM[S.PAID], [paid.to_event()]
            )
        if moved is not None:
            log.info("payment.paid", order_id=order_id)
            return
        current = await self.repository.get(order_id)
        if current is not None and current.status in (S.CANCELLED, S.EXPIRED):
            await self._refund(current, session)

    async def _refund(self, payment: Payment, session: dict[str, Any]) -> None:
        """Money for an order that is gone: give it back rather than cook for nobody."""
        intent = session.get("payment_intent")
        intent_id = intent if isinstance(intent, str) else (intent or {}).get("id", "")
        if payment.refund_id or not intent_id:
            return
        refund_id = await self.stripe.refund(intent_id, payment.order_id)
        await self.repository.set_refund(payment.order_id, refund_id)
        log.warning("payment.refunded", order_id=payment.order_id, status=payment.status.value)

    async def _expired(self, order_id: str, session_id: str) -> None:
        payment = await self._payment_of(order_id, session_id)
        if payment is None:
            return
        expired = events.OrderExpired(order_id=order_id)
        with _order_trace(payment, "payment expired"):
            moved = await self.repository.transition(
                order_id, S.EXPIRED, ENTERED_FROM[S.EXPIRED], [expired.to_event()]
            )
        if moved is not None:
            log.info("payment.expired", order_id=order_id)

    async def _payment_of(self, order_id: str, session_id: str) -> Payment | None:
        payment = await self.repository.get(order_id)
        if payment is None or payment.checkout_session_id != session_id:
            # Not a session OMS opened (another integration on the account, or a test event).
            log.warning("payment.unknown_session", order_id=order_id, session_id=session_id)
            return None
        return payment

    async def reconcile_overdue(self, grace: timedelta = timedelta(minutes=5)) -> int:
        """Settle open payments whose session expired a while ago without a webhook."""
        overdue = await self.repository.open_and_expired(datetime.now(UTC) - grace, limit=100)
        for payment in overdue:
            session = await self.stripe.retrieve_session(payment.checkout_session_id)
            if session.status == "complete" and session.payment_status in PAID_STATES:
                await self._paid(
                    payment.order_id,
                    {"id": session.id, "payment_intent": session.payment_intent},
                )
                continue
            if session.status == "open":
                await self.stripe.expire_session(session.id)
            await self._expired(payment.order_id, session.id)
        if overdue:
            self.relay.wake()
        return len(overdue)


@contextmanager
def _order_trace(payment: Payment, name: str) -> Iterator[None]:
    """A span in the order's own trace, linked to the webhook (or check) that caused it.

    So one trace follows an order from its creation to the kitchen pass, though Stripe's
    webhook arrives as a request of its own.
    """
    cause = trace.get_current_span().get_span_context()
    links = [trace.Link(cause)] if cause.is_valid else []
    parent = propagate.extract(payment.trace_headers)
    with tracer.start_as_current_span(name, context=parent, links=links):
        yield


def _order_id(session: dict[str, Any]) -> str:
    metadata = session.get("metadata") or {}
    return str(metadata.get("order_id") or session.get("client_reference_id") or "")
