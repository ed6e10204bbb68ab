"""Payment use cases: open and close an order's checkout, refund, and apply Stripe's webhooks
(`oms.payment.webhooks`).

Payment reports money to Order (`payment.captured`, `payment.failed`, `payment.refunded`) and
acts on Order's decisions; it never decides an order's fate. Every path is idempotent: Stripe
calls carry idempotency keys and the same parameters every time (fixed when the order was
placed), payments change state by compare-and-set, and the events they publish are staged in
the same write (`oms.payment.money`).
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Protocol

import orjson
from opentelemetry import propagate

from oms import domain_events as events
from oms.payment import money, webhooks
from oms.payment.domain import (
    ENTERED_FROM,
    CheckoutRefused,
    Payment,
    PaymentStatus,
)
from oms.payment.repository import PaymentRepository
from oms.payment.stripe_gateway import PAID_STATES, CheckoutSession, StripeCheckout
from oms.platform import logs
from oms.platform.errors import FailedPrecondition, NotFound

log = logs.get(__name__)
S = PaymentStatus


class OrderGone(Exception):
    """The order no longer takes a checkout (it was cancelled or expired meanwhile)."""


class CloseOutcome(StrEnum):
    """What closing an order's checkout found (`close_checkout`)."""

    CLOSED = "closed"
    NO_CHECKOUT = "no_checkout"
    ALREADY_PAID = "already_paid"


class Orders(Protocol):
    async def attach(self, order_id: str, session_id: str, link: str) -> None: ...


class PaymentHandlers:
    def __init__(
        self,
        repository: PaymentRepository,
        stripe: StripeCheckout,
        orders: Orders,
        test_page: str = "",
    ) -> None:
        self.repository = repository
        self.stripe = stripe
        self.orders = orders
        # With stripe-mock in development: the local test payment page (`{order_id}`).
        self.test_page = test_page

    # --- checkout -----------------------------------------------------------------------

    async def checkout(self, order_id: str) -> Payment:
        """The order's payment, once its checkout is open."""
        payment = await self.repository.get(order_id)
        if payment is None or not payment.checkout_session_id:
            raise NotFound(f"no checkout for order {order_id!r} yet")
        return payment

    async def open_checkout(self, placed: events.OrderPlaced) -> None:
        """Open the order's Checkout Session once and hand its link to Order."""
        try:
            session = await self.stripe.create_session(
                placed.order_id,
                placed.currency,
                placed.lines,
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
                await money.capture(self.repository, payment, session.payment_intent, "")
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
        fields = {"refund_id": refund_id}
        if await money.move(self.repository, payment, S.REFUNDED, refunded, fields):
            log.warning("payment.refunded", order_id=order_id, refund_id=refund_id)

    # --- webhooks -----------------------------------------------------------------------

    async def apply_webhook(self, payload: bytes, signature_header: str) -> webhooks.WebhookOutcome:
        """Verify a Stripe webhook and apply it once: of concurrent duplicates, exactly one
        answer says it was new."""
        return await webhooks.apply(self.repository, self.stripe, payload, signature_header)

    async def sign_test_completion(self, order_id: str) -> tuple[bytes, str]:
        """The signed webhook Stripe would send when the customer pays (test page only)."""
        if not self.test_page:
            raise FailedPrecondition("test payments exist only with stripe-mock in development")
        payment = await self.checkout(order_id)
        payload = orjson.dumps(webhooks.completion(payment))
        return payload, self.stripe.sign(payload, int(time.time()))
