"""Money goes back when Order decides so (a staff refund, or money for an order that ended),
once and recorded on the payment; the local test page's signed completion exists only with
stripe-mock in development, and pays through the verified webhook path."""

from __future__ import annotations

import pytest

from oms import domain_events as events
from oms.payment import consumers
from oms.payment.domain import PaymentStatus
from oms.payment.handlers import PaymentHandlers
from oms.platform.consumer import Consumer
from oms.platform.errors import FailedPrecondition, NotFound
from tests.order.bus import payloads
from tests.payment.conftest import TEST_PAGE, PaymentWorld


async def _captured(world: PaymentWorld) -> events.OrderPlaced:
    placed, payment = await world.opened()
    await world.webhook(world.paid_event(placed, payment, payment_intent="pi_test_1"))
    return placed


async def test_a_refund_is_made_once_and_recorded_on_the_payment(world: PaymentWorld) -> None:
    placed = await _captured(world)

    await world.handlers.refund(placed.order_id)
    first = await world.payment(placed.order_id)
    await world.handlers.refund(placed.order_id)

    assert first.status is PaymentStatus.REFUNDED
    assert first.refund_id.startswith("re_")
    assert await world.payment(placed.order_id) == first
    (refunded,) = payloads(await world.published(), events.PaymentRefunded)
    assert (refunded.order_id, refunded.refund_id) == (placed.order_id, first.refund_id)
    assert refunded.amount_minor == placed.total_minor


async def test_nothing_is_refunded_for_an_order_without_a_payment(world: PaymentWorld) -> None:
    placed = await world.placed()

    await world.handlers.refund(placed.order_id)

    assert await world.repository.get(placed.order_id) is None
    assert await world.published() == []


async def test_an_open_checkout_has_no_money_to_refund_yet(world: PaymentWorld) -> None:
    placed, _ = await world.opened()

    with pytest.raises(FailedPrecondition):
        await world.handlers.refund(placed.order_id)

    assert (await world.payment(placed.order_id)).status is PaymentStatus.OPEN


@pytest.mark.parametrize("decision", [events.OrderRefunded, events.RefundRequired])
async def test_orders_refund_decisions_reach_payment_through_payment_orders(
    world: PaymentWorld, decision: type[events.OrderEvent]
) -> None:
    placed = await _captured(world)
    fields = {"reason": "burnt" if decision is events.OrderRefunded else "late"}
    event = decision.model_validate(
        {
            "order_id": placed.order_id,
            "customer_id": "alice",
            "status": "refunded" if decision is events.OrderRefunded else "cancelled",
            "step": 7,
            **fields,
        }
    ).to_event()
    queue = events.PAYMENT_ORDERS.queue
    consumer = Consumer(world.tap.broker, queue, consumers.orders(world.handlers))
    await consumer.start()
    try:
        await world.tap.broker.publish(event)
        refunded = await world.tap.next(events.PaymentRefunded.ROUTING_KEY, placed.order_id)
    finally:
        await consumer.stop()

    assert events.parse(events.PaymentRefunded, refunded).refund_id.startswith("re_")


async def test_test_payments_exist_only_with_the_test_page(world: PaymentWorld) -> None:
    placed, _ = await world.opened()

    with pytest.raises(FailedPrecondition):
        await world.handlers.sign_test_completion(placed.order_id)


async def test_the_test_page_pays_through_the_verified_webhook(world: PaymentWorld) -> None:
    handlers = PaymentHandlers(
        world.repository, world.handlers.stripe, world.handlers.orders, TEST_PAGE
    )
    placed = await world.placed()
    with pytest.raises(NotFound):
        await handlers.sign_test_completion(placed.order_id)  # no checkout yet
    await handlers.open_checkout(placed)

    payload, header = await handlers.sign_test_completion(placed.order_id)
    outcome = await handlers.apply_webhook(payload, header)

    assert (outcome.event_type, outcome.duplicate) == ("checkout.session.completed", False)
    assert (await world.payment(placed.order_id)).status is PaymentStatus.CAPTURED
    (captured,) = payloads(await world.published(), events.PaymentCaptured)
    assert (captured.amount_minor, captured.currency) == (placed.total_minor, "EUR")
