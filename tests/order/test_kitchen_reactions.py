"""What Order decides when the kitchen reports: a cook started (preparing) or finished (ready)
a confirmed order. Reports that are late, repeated, or about a refunded order change nothing;
one about an order Order never confirmed is for a person (parked). The void of a refunded
order's ticket decides its stock, once: written off when a cook had used the food, else
returned."""

from __future__ import annotations

import pytest

from oms import domain_events as events
from oms.order import consumers
from oms.order.domain import Status
from oms.platform.consumer import Consumer
from oms.platform.events import PermanentError
from tests.order.bus import payloads
from tests.order.conftest import OrderWorld

COOK = "kitchen-1/cook-2"


def _started(order_id: str, attempt: int = 1) -> events.TicketStarted:
    return events.TicketStarted(order_id=order_id, cook=COOK, attempt=attempt)


def _ready(order_id: str) -> events.TicketReady:
    return events.TicketReady(order_id=order_id, cook=COOK)


async def test_a_confirmed_order_is_preparing_then_ready(world: OrderWorld) -> None:
    order = await world.stored(Status.PAID)

    await world.reactions.ticket_started(_started(order.id))
    await world.reactions.ticket_ready(_ready(order.id))

    stored = await world.order(order.id)
    assert (stored.status, stored.cook) == (Status.READY, COOK)
    published = await world.published()
    (preparing,) = payloads(published, events.OrderPreparing)
    (ready,) = payloads(published, events.OrderReady)
    assert (preparing.status, preparing.step, preparing.cook) == ("preparing", 4, COOK)
    assert (ready.status, ready.step, ready.cook) == ("ready", 5, COOK)
    assert [e.type for e in published] == ["order.preparing", "order.ready"]


async def test_a_ready_report_that_overtakes_its_start_makes_the_order_ready(
    world: OrderWorld,
) -> None:
    order = await world.stored(Status.PAID)

    await world.reactions.ticket_ready(_ready(order.id))
    await world.reactions.ticket_started(_started(order.id))  # arrives late

    assert (await world.order(order.id)).status is Status.READY
    assert [e.type for e in await world.published()] == ["order.ready"]


async def test_repeated_kitchen_reports_are_ignored(world: OrderWorld) -> None:
    order = await world.stored(Status.PAID)

    await world.reactions.ticket_started(_started(order.id))
    await world.reactions.ticket_started(_started(order.id, attempt=2))  # another cook took over
    await world.reactions.ticket_ready(_ready(order.id))
    await world.reactions.ticket_ready(_ready(order.id))

    assert (await world.order(order.id)).status is Status.READY
    assert [e.type for e in await world.published()] == ["order.preparing", "order.ready"]


@pytest.mark.parametrize("status", [Status.REFUNDED, Status.PICKED_UP])
async def test_kitchen_reports_after_a_refund_or_pick_up_are_ignored(
    world: OrderWorld, status: Status
) -> None:
    order = await world.stored(status)

    await world.reactions.ticket_started(_started(order.id))
    await world.reactions.ticket_ready(_ready(order.id))

    assert (await world.order(order.id)).status is status
    assert await world.published() == []


@pytest.mark.parametrize("status", [Status.PENDING, Status.AWAITING_PAYMENT])
async def test_cooking_an_order_order_never_confirmed_is_parked(
    world: OrderWorld, status: Status
) -> None:
    order = await world.stored(status)

    with pytest.raises(PermanentError):
        await world.reactions.ticket_started(_started(order.id))

    assert (await world.order(order.id)).status is status
    assert await world.published() == []


def _voided(order_id: str, food_used: bool) -> events.TicketVoided:
    return events.TicketVoided(order_id=order_id, food_used=food_used)


@pytest.mark.parametrize(("food_used", "stock"), [(False, "return"), (True, "write_off")])
async def test_the_void_of_a_refunded_orders_ticket_decides_its_stock_once(
    world: OrderWorld, food_used: bool, stock: str
) -> None:
    order = await world.stored(Status.REFUNDED)

    await world.reactions.ticket_voided(_voided(order.id, food_used))
    await world.reactions.ticket_voided(_voided(order.id, food_used))  # redelivered
    await world.reactions.ticket_voided(_voided(order.id, not food_used))  # cannot undo it

    stored = await world.order(order.id)
    assert (stored.status, stored.refund_stock) == (Status.REFUNDED, stock)
    (decided,) = payloads(await world.published(), events.RefundStock)
    assert (decided.order_id, decided.customer_id, decided.stock) == (order.id, "alice", stock)
    assert (decided.status, decided.step) == ("refunded", 7)


@pytest.mark.parametrize("status", [Status.PAID, Status.PREPARING, Status.CANCELLED])
async def test_a_void_report_for_an_order_that_is_not_refunded_decides_nothing(
    world: OrderWorld, status: Status
) -> None:
    order = await world.stored(status)

    await world.reactions.ticket_voided(_voided(order.id, food_used=True))

    stored = await world.order(order.id)
    assert (stored.status, stored.refund_stock) == (status, "")
    assert await world.published() == []


async def test_a_void_report_for_an_order_order_never_stored_is_parked(
    world: OrderWorld,
) -> None:
    with pytest.raises(PermanentError):
        await world.reactions.ticket_voided(_voided("no-such-order", food_used=False))


async def test_kitchen_reports_arrive_through_order_kitchen_queue(world: OrderWorld) -> None:
    order = await world.stored(Status.PAID)
    queue = events.ORDER_KITCHEN.queue
    consumer = Consumer(world.bus.broker, queue, consumers.kitchen(world.reactions))
    await consumer.start()
    try:
        await world.bus.broker.publish(_started(order.id).to_event())
        preparing = await world.tap.next(events.OrderPreparing.ROUTING_KEY)
    finally:
        await consumer.stop()

    assert events.parse(events.OrderPreparing, preparing).order_id == order.id
    assert set(consumers.kitchen(world.reactions)) == set(events.ORDER_KITCHEN.routing_keys)
