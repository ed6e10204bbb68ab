"""Order's deadline timers: set at placement and re-armed by their handler, they release stock
held for an order that was never stored, expire an unpaid order once its checkout is closed,
and count a paid one nobody moved in time as overdue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from oms import domain_events as events
from oms.order import consumers
from oms.order.domain import Status
from oms.order_lines import Line
from oms.platform.consumer import Consumer
from tests.order.bus import payloads, timers
from tests.order.conftest import ALREADY_PAID, DEADLINES, NO_CHECKOUT, OrderWorld

SECOND = timedelta(seconds=1)


async def _timers(world: OrderWorld) -> list[tuple[int, str]]:
    found = await timers(world.bus.broker, events.DeadlineDue.ROUTING_KEY)
    return [(seconds, events.parse(events.DeadlineDue, e).order_id) for seconds, e in found]


async def _due(world: OrderWorld, order_id: str) -> None:
    await world.reactions.deadline_due(events.DeadlineDue(order_id=order_id))


def _overdue(status: Status) -> float:
    value = REGISTRY.get_sample_value("oms_orders_overdue_total", {"status": status.value})
    return value or 0.0


async def test_stock_held_for_an_order_never_stored_is_released(world: OrderWorld) -> None:
    dish = await world.dish(on_hand=5)
    # The process died between Stock's reserve and storing the order.
    assert await world.handlers.stock.reserve("lost-order", [Line(dish, 2)]) == []

    await _due(world, "lost-order")

    assert await world.kitchenware.reserved(dish) == 0
    assert await _timers(world) == []
    assert await world.published() == []


@pytest.mark.parametrize("status", [Status.PENDING, Status.AWAITING_PAYMENT])
async def test_an_unpaid_order_past_its_deadline_is_closed_then_expired(
    world: OrderWorld, status: Status
) -> None:
    order = await world.stored(status)
    await _timers(world)  # the placement's timer
    world.desk.answer = NO_CHECKOUT if status is Status.PENDING else world.desk.answer
    deadline = order.deadline(DEADLINES)
    assert deadline is not None
    world.clock.now = deadline + SECOND

    await _due(world, order.id)

    assert world.desk.calls == [(order.id, status)]  # closed while it was still unpaid
    stored = await world.order(order.id)
    assert stored.status is Status.EXPIRED
    assert stored.reason == f"not paid by its deadline ({status.value})"
    (expired,) = payloads(await world.published(), events.OrderExpired)
    assert (expired.order_id, expired.status, expired.step) == (order.id, "expired", 7)
    assert expired.reason == stored.reason
    assert await _timers(world) == []  # terminal: nothing left to watch


@pytest.mark.parametrize(
    ("status", "elapsed", "rung"),
    [
        (Status.PENDING, timedelta(seconds=100), 30),  # 20 s left
        (Status.AWAITING_PAYMENT, timedelta(seconds=120), 3600),  # the checkout's hour left
        (Status.PAID, timedelta(minutes=5), 300),
    ],
)
async def test_a_timer_that_comes_early_is_set_again_for_what_is_left(
    world: OrderWorld, status: Status, elapsed: timedelta, rung: int
) -> None:
    order = await world.stored(status)
    await _timers(world)
    world.clock.advance(elapsed)

    await _due(world, order.id)

    assert (await world.order(order.id)).status is status
    assert await _timers(world) == [(rung, order.id)]
    assert world.desk.calls == []
    assert await world.published() == []


@pytest.mark.parametrize(
    ("status", "window", "next_look"),
    [
        (Status.PAID, DEADLINES.kitchen_start, 1800),
        (Status.PREPARING, DEADLINES.cooking, 3600),
    ],
)
async def test_a_served_order_past_its_deadline_is_counted_overdue_once(
    world: OrderWorld, status: Status, window: timedelta, next_look: int
) -> None:
    order = await world.stored(status)
    await _timers(world)
    world.clock.advance(window + SECOND)
    before = _overdue(status)

    await _due(world, order.id)
    await _due(world, order.id)  # a timer delivered twice
    world.clock.advance(timedelta(seconds=next_look))
    await _due(world, order.id)  # the next look finds it still there

    assert _overdue(status) == before + 1
    assert (await world.order(order.id)).status is status
    assert (next_look, order.id) in await _timers(world)
    assert await world.published() == []


async def test_a_ready_order_past_its_pickup_deadline_is_counted_once_and_not_watched_again(
    world: OrderWorld,
) -> None:
    order = await world.stored(Status.READY)
    await _timers(world)
    world.clock.advance(DEADLINES.pickup + SECOND)
    before = _overdue(Status.READY)

    await _due(world, order.id)
    await _due(world, order.id)  # a timer delivered twice

    assert _overdue(Status.READY) == before + 1
    assert (await world.order(order.id)).status is Status.READY
    # Picked up is its only next state, and has no deadline: no timer runs forever.
    assert await _timers(world) == []
    assert await world.published() == []


async def test_an_order_paid_just_before_its_expiry_is_looked_at_again_later(
    world: OrderWorld,
) -> None:
    order = await world.stored(Status.AWAITING_PAYMENT)
    await _timers(world)
    world.desk.answer = ALREADY_PAID
    world.clock.advance(DEADLINES.checkout_window + DEADLINES.payment_grace + SECOND)

    await _due(world, order.id)

    # The capture is on its way and will make it paid; expiring it now would lose the money.
    assert (await world.order(order.id)).status is Status.AWAITING_PAYMENT
    assert await _timers(world) == [(60, order.id)]
    assert await world.published() == []


async def test_an_order_paid_while_its_expiry_closed_the_checkout_is_watched_as_paid(
    world: OrderWorld,
) -> None:
    order = await world.stored(Status.AWAITING_PAYMENT)
    await _timers(world)
    captured = events.PaymentCaptured(
        order_id=order.id,
        checkout_session_id="cs_test_1",
        amount_minor=order.total_minor,
        currency=order.currency,
    )

    async def capture_lands() -> None:  # the money that was under way when Stripe closed
        await world.reactions.payment_captured(captured)

    world.desk.while_closing = capture_lands
    world.clock.advance(DEADLINES.checkout_window + DEADLINES.payment_grace + SECOND)

    await _due(world, order.id)

    assert (await world.order(order.id)).status is Status.PAID
    # Its kitchen-start deadline is watched like any paid order's (and the expiry that lost
    # looks again, at whatever the order has become).
    assert sorted(await _timers(world)) == [(60, order.id), (600, order.id)]


async def test_an_expiry_payment_cannot_confirm_is_tried_again_later(world: OrderWorld) -> None:
    order = await world.stored(Status.PENDING)
    await _timers(world)
    world.desk.unreachable = True
    world.clock.advance(DEADLINES.pending + SECOND)

    await _due(world, order.id)

    assert (await world.order(order.id)).status is Status.PENDING
    assert await _timers(world) == [(60, order.id)]


@pytest.mark.parametrize("status", [Status.CANCELLED, Status.PICKED_UP, Status.REFUNDED])
async def test_the_timer_of_an_order_that_ended_stops(world: OrderWorld, status: Status) -> None:
    order = await world.stored(status)
    await _timers(world)
    world.clock.advance(timedelta(days=1))

    await _due(world, order.id)

    assert (await world.order(order.id)).status is status
    assert await _timers(world) == []
    assert world.desk.calls == []


async def test_a_real_timer_reaches_order_deadlines_queue_when_due(world: OrderWorld) -> None:
    order = await world.stored(Status.PENDING)
    world.desk.answer = NO_CHECKOUT
    world.clock.advance(DEADLINES.pending + SECOND)
    queue = events.ORDER_DEADLINES.queue
    consumer = Consumer(world.bus.broker, queue, consumers.deadlines(world.reactions))
    await consumer.start()
    try:
        await world.handlers.timers.deadline_in(order.id, 1)  # the shortest rung
        expired = await world.tap.next(events.OrderExpired.ROUTING_KEY)
    finally:
        await consumer.stop()

    assert events.parse(events.OrderExpired, expired).order_id == order.id
