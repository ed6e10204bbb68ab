"""The kitchen cooks what Order confirmed: one order per cook at a time, each ticket started
and finished once with its report, never longer than the longest cook time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from oms import domain_events as events
from oms.kitchen import consumers
from oms.kitchen.domain import CookTimes, TicketStatus, cook_names
from oms.platform.consumer import Consumer
from tests.kitchen.conftest import KitchenWorld, confirmed, cooking, refunded
from tests.order.bus import payloads


def test_a_ticket_takes_its_items_time_but_never_more_than_the_longest() -> None:
    assert CookTimes(per_item=2.0, longest=60.0).for_items(3) == 6.0
    assert CookTimes(per_item=2.0, longest=60.0).for_items(100) == 60.0
    assert CookTimes(per_item=0.0, longest=60.0).for_items(1) == 0.0


def test_a_process_names_each_of_its_cooks_after_itself() -> None:
    assert cook_names("kitchen-7f9c", 2) == ["kitchen-7f9c/cook-1", "kitchen-7f9c/cook-2"]


async def test_a_confirmed_order_is_cooked_with_both_steps_reported(world: KitchenWorld) -> None:
    order = confirmed(quantity=3)

    ticket = await world.kitchen(per_item=0.02).cook(order)

    assert ticket is not None
    assert (ticket.status, ticket.items, ticket.attempts) == (TicketStatus.COOKED, 3, 1)
    assert ticket.cook.startswith("k1/cook-")
    assert ticket.finished_at is not None
    assert (ticket.finished_at - ticket.started_at).total_seconds() >= 3 * 0.02
    published = await world.published()
    assert [e.type for e in published] == ["kitchen.ticket_started", "kitchen.ticket_ready"]
    (started,) = payloads(published, events.TicketStarted)
    (ready,) = payloads(published, events.TicketReady)
    assert (started.order_id, started.cook, started.attempt) == (order.order_id, ticket.cook, 1)
    assert (ready.order_id, ready.cook) == (order.order_id, ticket.cook)


async def test_the_longest_cook_time_caps_a_big_order(world: KitchenWorld) -> None:
    order = confirmed(quantity=100)  # 100 x 30 s without the cap

    ticket = await world.kitchen(per_item=30, longest=0.05).cook(order)

    assert ticket is not None
    assert ticket.finished_at is not None
    assert 0.05 <= (ticket.finished_at - ticket.started_at).total_seconds() < 30


async def test_a_redelivered_cooked_order_is_not_cooked_again(world: KitchenWorld) -> None:
    kitchen, order = world.kitchen(), confirmed()
    first = await kitchen.cook(order)

    again = await kitchen.cook(order)

    assert again == first
    assert [e.type for e in await world.published()] == [
        "kitchen.ticket_started",
        "kitchen.ticket_ready",
    ]


async def test_no_more_orders_are_cooked_at_once_than_there_are_cooks(
    world: KitchenWorld,
) -> None:
    kitchen = world.kitchen(workers=2, per_item=60)  # they cook until voided
    orders = [confirmed() for _ in range(3)]
    tasks = [cooking(kitchen, order) for order in orders]
    await world.started(orders[0].order_id)
    await world.started(orders[1].order_id)

    busy = kitchen.status().busy
    waiting = await world.repository.get(orders[2].order_id)
    await kitchen.void(refunded(orders[0].order_id))
    await world.started(orders[2].order_id)  # the freed cook takes the third
    for order in orders[1:]:
        await kitchen.void(refunded(order.order_id))
    tickets = await asyncio.gather(*tasks)

    assert sorted(busy.values()) == sorted(o.order_id for o in orders[:2])
    assert waiting is None
    assert [t.status if t else None for t in tickets] == [TicketStatus.VOIDED] * 3
    assert kitchen.status().busy == {}


async def test_the_kitchen_takes_only_confirmed_orders_from_its_queue(world: KitchenWorld) -> None:
    kitchen = world.kitchen(workers=1)
    queue = events.KITCHEN_ORDERS.queue
    consumer = Consumer(world.bus.broker, queue, consumers.orders(kitchen), prefetch=1)
    await consumer.start()
    placed, paid = confirmed(), confirmed()
    not_confirmed = events.OrderPlaced(
        order_id=placed.order_id,
        customer_id="alice",
        status="pending",
        step=1,
        currency="EUR",
        total_minor=1800,
        lines=placed.lines,
        checkout_expires_at=datetime(2030, 1, 1, tzinfo=UTC),
        access_token="t" * 32,
    )
    try:
        await world.bus.broker.publish(not_confirmed.to_event())
        await world.bus.broker.publish(paid.to_event())
        await world.tap.next(events.TicketReady.ROUTING_KEY, paid.order_id)
    finally:
        await consumer.stop()

    assert set(consumers.orders(kitchen)) == {"order.confirmed"}
    assert events.KITCHEN_ORDERS.routing_keys == ("order.confirmed",)
    assert await world.repository.get(placed.order_id) is None
    assert (await world.ticket(paid.order_id)).status is TicketStatus.COOKED


async def test_the_same_order_delivered_twice_at_once_is_cooked_by_one_cook(
    world: KitchenWorld,
) -> None:
    # The outbox publishes at least once: order.confirmed can reach the kitchen twice.
    kitchen, order = world.kitchen(workers=2, per_item=0.2), confirmed(quantity=1)

    first, second = await asyncio.gather(kitchen.cook(order), kitchen.cook(order))

    ticket = await world.ticket(order.order_id)
    assert (ticket.status, ticket.attempts) == (TicketStatus.COOKED, 1)
    assert {t.status for t in (first, second) if t is not None} <= {
        TicketStatus.COOKING,
        TicketStatus.COOKED,
    }
    assert [e.type for e in await world.published()] == [
        "kitchen.ticket_started",
        "kitchen.ticket_ready",
    ]
