"""What Order decides when Payment reports money: captured for an open order confirms it for
the kitchen; captured for one that ended, or for the wrong amount, requires a refund; a failed
payment expires the order with the reason."""

from __future__ import annotations

import pytest

from oms import domain_events as events
from oms.order import consumers
from oms.order.domain import Order, Status
from oms.platform.consumer import Consumer
from oms.platform.events import PermanentError
from tests.order.bus import payloads, timers
from tests.order.conftest import DEADLINES, OrderWorld


def _captured(order: Order, amount_minor: int | None = None) -> events.PaymentCaptured:
    return events.PaymentCaptured(
        order_id=order.id,
        checkout_session_id="cs_test_1",
        amount_minor=order.total_minor if amount_minor is None else amount_minor,
        currency=order.currency,
    )


@pytest.mark.parametrize("status", [Status.PENDING, Status.AWAITING_PAYMENT])
async def test_a_capture_confirms_an_open_order_for_the_kitchen(
    world: OrderWorld, status: Status
) -> None:
    order = await world.stored(status)

    await world.reactions.payment_captured(_captured(order))
    await world.reactions.payment_captured(_captured(order))  # redelivered

    assert (await world.order(order.id)).status is Status.PAID
    (confirmed,) = payloads(await world.published(), events.OrderConfirmed)
    assert (confirmed.order_id, confirmed.status, confirmed.step) == (order.id, "paid", 3)
    assert confirmed.customer_id == "alice"
    assert [(x.item_id, x.name, x.quantity, x.unit_price_minor) for x in confirmed.lines] == [
        (i.item_id, i.name, i.quantity, i.unit_price_minor) for i in order.items
    ]


async def test_a_confirmed_order_is_watched_from_its_kitchen_start_deadline(
    world: OrderWorld,
) -> None:
    order = await world.stored(Status.AWAITING_PAYMENT)
    await timers(world.bus.broker, events.DeadlineDue.ROUTING_KEY)  # the placement's

    await world.reactions.payment_captured(_captured(order))

    # Not only when the placement's timer next looks (at the checkout's expiry, an hour on).
    found = await timers(world.bus.broker, events.DeadlineDue.ROUTING_KEY)
    seconds = int(DEADLINES.kitchen_start.total_seconds())
    assert [(rung, e.data["order_id"]) for rung, e in found] == [(seconds, order.id)]


@pytest.mark.parametrize("ended", [Status.CANCELLED, Status.EXPIRED])
async def test_money_for_an_order_that_ended_requires_a_refund_once(
    world: OrderWorld, ended: Status
) -> None:
    order = await world.stored(ended)

    await world.reactions.payment_captured(_captured(order))
    await world.reactions.payment_captured(_captured(order))

    stored = await world.order(order.id)
    assert (stored.status, stored.refund_required) == (ended, True)
    published = await world.published()
    assert [e.type for e in published] == ["order.refund_required"]
    (required,) = payloads(published, events.RefundRequired)
    assert (required.order_id, required.status, required.step) == (order.id, ended.value, 7)
    assert ended.value in required.reason


async def test_money_that_does_not_match_the_order_expires_it_and_goes_back(
    world: OrderWorld,
) -> None:
    order = await world.stored(Status.AWAITING_PAYMENT)

    await world.reactions.payment_captured(_captured(order, amount_minor=1))

    stored = await world.order(order.id)
    assert (stored.status, stored.refund_required) == (Status.EXPIRED, True)
    assert "does not match" in stored.reason
    published = await world.published()
    assert [e.type for e in published] == ["order.expired", "order.refund_required"]
    (expired,) = payloads(published, events.OrderExpired)
    assert (expired.status, expired.step, expired.reason) == ("expired", 7, stored.reason)
    assert world.desk.calls == []  # the money came: there is no checkout left to close


@pytest.mark.parametrize("status", [Status.PREPARING, Status.REFUNDED, Status.PICKED_UP])
async def test_a_late_capture_for_an_order_past_payment_changes_nothing(
    world: OrderWorld, status: Status
) -> None:
    order = await world.stored(status)

    await world.reactions.payment_captured(_captured(order))

    stored = await world.order(order.id)
    assert (stored.status, stored.refund_required) == (status, False)
    assert await world.published() == []


@pytest.mark.parametrize("status", [Status.PENDING, Status.AWAITING_PAYMENT])
async def test_a_failed_payment_expires_the_order_with_the_reason(
    world: OrderWorld, status: Status
) -> None:
    order = await world.stored(status)
    failed = events.PaymentFailed(order_id=order.id, reason="Stripe refused the checkout")

    await world.reactions.payment_failed(failed)
    await world.reactions.payment_failed(failed)

    stored = await world.order(order.id)
    assert (stored.status, stored.reason) == (Status.EXPIRED, "Stripe refused the checkout")
    (expired,) = payloads(await world.published(), events.OrderExpired)
    assert (expired.order_id, expired.status, expired.step) == (order.id, "expired", 7)
    assert expired.reason == "Stripe refused the checkout"


async def test_a_failure_reported_after_the_order_was_paid_changes_nothing(
    world: OrderWorld,
) -> None:
    order = await world.stored(Status.PAID)

    await world.reactions.payment_failed(events.PaymentFailed(order_id=order.id, reason="late"))

    assert (await world.order(order.id)).status is Status.PAID
    assert await world.published() == []


async def test_a_refund_payment_made_is_recorded_on_the_order(world: OrderWorld) -> None:
    order = await world.stored(Status.REFUNDED)

    refunded = events.PaymentRefunded(order_id=order.id, refund_id="re_1", amount_minor=1900)
    await world.reactions.payment_refunded(refunded)

    assert (await world.order(order.id)).refunded is True


async def test_a_report_about_an_order_order_never_stored_is_parked(world: OrderWorld) -> None:
    ghost = events.PaymentFailed(order_id="no-such-order", reason="x")

    with pytest.raises(PermanentError):
        await world.reactions.payment_failed(ghost)


async def test_payments_reports_arrive_through_order_payments_queue(world: OrderWorld) -> None:
    order = await world.stored(Status.AWAITING_PAYMENT)
    queue = events.ORDER_PAYMENTS.queue
    consumer = Consumer(world.bus.broker, queue, consumers.payments(world.reactions))
    await consumer.start()
    try:
        await world.bus.broker.publish(_captured(order).to_event())
        confirmed = await world.tap.next(events.OrderConfirmed.ROUTING_KEY)
    finally:
        await consumer.stop()

    assert events.parse(events.OrderConfirmed, confirmed).order_id == order.id
    assert set(consumers.payments(world.reactions)) == set(events.ORDER_PAYMENTS.routing_keys)
