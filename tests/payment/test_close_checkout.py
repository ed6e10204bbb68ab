"""Order asks Payment to close an order's checkout before it cancels or expires the order:
Payment answers what it found (closed, never opened, or already paid) and makes it stick."""

from __future__ import annotations

import pytest

from devtools import stripe_webhooks
from devtools.process import free_port
from oms import domain_events as events
from oms.payment import consumers
from oms.payment.domain import Payment, PaymentStatus
from oms.payment.handlers import CloseOutcome, PaymentHandlers
from oms.payment.stripe_gateway import StripeCheckout, StripeSettings
from oms.platform.consumer import Consumer
from oms.platform.errors import Unavailable
from tests.payment.conftest import PaymentWorld


async def test_an_order_without_a_checkout_gets_a_tombstone(world: PaymentWorld) -> None:
    placed = await world.placed()

    first = await world.handlers.close_checkout(placed.order_id)
    again = await world.handlers.close_checkout(placed.order_id)

    assert first is again is CloseOutcome.NO_CHECKOUT
    payment = await world.payment(placed.order_id)
    assert (payment.status, payment.checkout_session_id) == (PaymentStatus.CLOSED, "")
    assert await world.published() == []


async def test_an_open_checkout_is_closed_at_stripe(world: PaymentWorld) -> None:
    placed, _ = await world.opened()

    first = await world.handlers.close_checkout(placed.order_id)
    again = await world.handlers.close_checkout(placed.order_id)

    assert first is again is CloseOutcome.CLOSED
    assert (await world.payment(placed.order_id)).status is PaymentStatus.CLOSED
    assert [e.type for e in await world.published()] == ["order.awaiting_payment"]


@pytest.mark.parametrize("then_refunded", [False, True])
async def test_a_paid_checkout_cannot_be_closed(world: PaymentWorld, then_refunded: bool) -> None:
    placed, payment = await world.opened()
    await world.webhook(
        stripe_webhooks.checkout_event(
            "checkout.session.completed",
            placed.order_id,
            payment.checkout_session_id,
            amount_total=placed.total_minor,
            currency="eur",
        )
    )
    if then_refunded:
        await world.handlers.refund(placed.order_id)

    outcome = await world.handlers.close_checkout(placed.order_id)

    assert outcome is CloseOutcome.ALREADY_PAID
    status = PaymentStatus.REFUNDED if then_refunded else PaymentStatus.CAPTURED
    assert (await world.payment(placed.order_id)).status is status


async def test_a_checkout_stripe_refused_to_open_has_none_to_close(
    world: PaymentWorld,
) -> None:
    placed = await world.placed()
    failed = events.PaymentFailed(order_id=placed.order_id, reason="Stripe refused")
    await world.repository.add(Payment(placed.order_id, PaymentStatus.FAILED), [failed.to_event()])

    assert await world.handlers.close_checkout(placed.order_id) is CloseOutcome.NO_CHECKOUT


async def test_an_expired_checkout_is_closed_already(world: PaymentWorld) -> None:
    placed, payment = await world.opened()
    await world.webhook(
        stripe_webhooks.checkout_event(
            "checkout.session.expired", placed.order_id, payment.checkout_session_id
        )
    )

    assert await world.handlers.close_checkout(placed.order_id) is CloseOutcome.CLOSED
    assert (await world.payment(placed.order_id)).status is PaymentStatus.FAILED


async def test_order_cancelled_reaches_payment_through_payment_orders(world: PaymentWorld) -> None:
    placed, _ = await world.opened()
    cancelled = events.OrderCancelled(
        order_id=placed.order_id, customer_id="alice", status="cancelled", step=7, by="customer"
    )
    after = await world.placed()
    queue = events.PAYMENT_ORDERS.queue
    # One message at a time: once the next one is done, the close before it was too.
    consumer = Consumer(world.tap.broker, queue, consumers.orders(world.handlers), prefetch=1)
    await consumer.start()
    try:
        await world.tap.broker.publish(cancelled.to_event())
        await world.tap.broker.publish(after.to_event())
        await world.tap.next(events.OrderAwaitingPayment.ROUTING_KEY, after.order_id)
    finally:
        await consumer.stop()

    assert (await world.payment(placed.order_id)).status is PaymentStatus.CLOSED


async def test_a_checkout_stripe_cannot_close_now_stays_open_and_says_unavailable(
    world: PaymentWorld,
) -> None:
    placed, _ = await world.opened()
    down = StripeSettings(api_base=f"http://127.0.0.1:{free_port()}", max_network_retries=0)
    stripe = StripeCheckout(down)
    handlers = PaymentHandlers(world.repository, stripe, world.handlers.orders)
    try:
        with pytest.raises(Unavailable):
            await handlers.close_checkout(placed.order_id)
    finally:
        await stripe.close()

    assert (await world.payment(placed.order_id)).status is PaymentStatus.OPEN
