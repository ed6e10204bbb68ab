"""A stopping kitchen drains: a cook who can finish within the drain time does; one who
cannot hands the order back at once, and another kitchen starts it again and cooks it once."""

from __future__ import annotations

import asyncio

import pytest

from oms import domain_events as events
from oms.kitchen import consumers
from oms.kitchen.domain import TicketStatus
from oms.platform.consumer import Consumer
from oms.platform.events import HandBack
from tests.kitchen.conftest import KitchenWorld, confirmed, cooking
from tests.order.bus import payloads


async def test_a_cook_who_can_finish_within_the_drain_time_finishes(world: KitchenWorld) -> None:
    kitchen, order = world.kitchen(per_item=0.3), confirmed(quantity=1)
    task = cooking(kitchen, order)
    await world.started(order.order_id)

    await kitchen.drain(10)
    ticket = await task

    assert ticket is not None
    assert ticket.status is TicketStatus.COOKED
    assert [e.type for e in await world.published()] == [
        "kitchen.ticket_started",
        "kitchen.ticket_ready",
    ]


async def test_a_cook_who_cannot_finish_hands_the_order_back_at_once(world: KitchenWorld) -> None:
    kitchen, order = world.kitchen(per_item=60), confirmed(quantity=1)
    task = cooking(kitchen, order)
    await world.started(order.order_id)

    await kitchen.drain(0.5)
    with pytest.raises(HandBack):
        async with asyncio.timeout(5):  # at once: neither the minute of cooking nor the drain
            await task

    ticket = await world.ticket(order.order_id)
    assert (ticket.status, ticket.attempts) == (TicketStatus.COOKING, 1)  # for another cook
    assert kitchen.status().busy == {}
    assert [e.type for e in await world.published()] == ["kitchen.ticket_started"]


async def test_a_draining_kitchen_takes_no_new_order(world: KitchenWorld) -> None:
    kitchen, order = world.kitchen(), confirmed()
    await kitchen.drain(10)

    with pytest.raises(HandBack):
        await kitchen.cook(order)

    assert await world.repository.get(order.order_id) is None


async def test_an_order_handed_back_is_started_again_elsewhere_and_cooked_once(
    world: KitchenWorld,
) -> None:
    stopping = world.kitchen(workers=1, per_item=60, instance="a")
    other = world.kitchen(workers=1, per_item=0.01, instance="b")
    queue = events.KITCHEN_ORDERS.queue
    first = Consumer(world.bus.broker, queue, consumers.orders(stopping), prefetch=1)
    order = confirmed(quantity=1)
    await first.start()
    try:
        await world.bus.broker.publish(order.to_event())
        await world.started(order.order_id)
        second = Consumer(world.bus.broker, queue, consumers.orders(other), prefetch=1)
        await second.start()
        try:
            await stopping.drain(0.5)
            await world.tap.next(events.TicketReady.ROUTING_KEY, order.order_id)
        finally:
            await second.stop()
    finally:
        await first.stop(grace_seconds=5)

    ticket = await world.ticket(order.order_id)
    assert (ticket.status, ticket.attempts, ticket.cook) == (TicketStatus.COOKED, 2, "b/cook-1")
    published = await world.published()
    started = payloads(published, events.TicketStarted)
    assert [(s.cook, s.attempt) for s in started] == [("a/cook-1", 1), ("b/cook-1", 2)]
    assert [r.cook for r in payloads(published, events.TicketReady)] == ["b/cook-1"]
