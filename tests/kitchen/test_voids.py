"""A refund voids the order's ticket: a cook at it stops at once and reports nothing ready,
and a ticket voided before any cook saw the order is never cooked."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from oms import domain_events as events
from oms.kitchen import consumers
from oms.kitchen.domain import CookTimes, Ticket, TicketStatus, cook_names
from oms.kitchen.handlers import Kitchen
from oms.kitchen.repository import MongoTicketRepository
from oms.platform.consumer import Consumer
from oms.platform.events import Event
from oms.platform.follower import Follower
from tests.kitchen.conftest import KitchenWorld, confirmed, cooking, refunded


async def test_a_ticket_voided_before_the_kitchen_saw_the_order_is_never_cooked(
    world: KitchenWorld,
) -> None:
    kitchen, order = world.kitchen(), confirmed()

    await kitchen.void(refunded(order.order_id))
    late = await kitchen.cook(order)  # order.confirmed arrives after order.refunded

    assert late is not None
    assert late.status is TicketStatus.VOIDED
    assert await world.published() == []


async def test_a_cook_stops_at_once_when_the_ticket_is_voided(world: KitchenWorld) -> None:
    kitchen, order = world.kitchen(per_item=60), confirmed()
    task = cooking(kitchen, order)
    await world.started(order.order_id)

    await kitchen.void(refunded(order.order_id, stock="write_off"))
    async with asyncio.timeout(5):  # not the two minutes of cooking
        ticket = await task

    assert ticket is not None
    assert ticket.status is TicketStatus.VOIDED
    assert kitchen.status().busy == {}
    assert [e.type for e in await world.published()] == ["kitchen.ticket_started"]


async def test_a_ticket_cooked_just_before_its_refund_ends_voided(world: KitchenWorld) -> None:
    kitchen, order = world.kitchen(), confirmed()
    await kitchen.cook(order)

    await kitchen.void(refunded(order.order_id, stock="write_off"))
    await kitchen.void(refunded(order.order_id, stock="write_off"))  # redelivered

    assert (await world.ticket(order.order_id)).status is TicketStatus.VOIDED
    assert [e.type for e in await world.published()] == [
        "kitchen.ticket_started",
        "kitchen.ticket_ready",
    ]


async def test_a_void_does_not_wait_behind_orders_for_a_free_cook(world: KitchenWorld) -> None:
    kitchen = world.kitchen(workers=1, per_item=60)
    busy, next_up = confirmed(), confirmed()
    orders = Consumer(
        world.bus.broker, events.KITCHEN_ORDERS.queue, consumers.orders(kitchen), prefetch=1
    )
    voids = Consumer(world.bus.broker, events.KITCHEN_VOIDS.queue, consumers.voids(kitchen))
    await orders.start()
    await voids.start()
    try:
        await world.bus.broker.publish(busy.to_event())
        await world.bus.broker.publish(next_up.to_event())
        await world.started(busy.order_id)
        # The only cook is busy and an order waits: the void still gets through at once.
        await world.bus.broker.publish(refunded(busy.order_id).to_event())
        await world.started(next_up.order_id)
        await kitchen.void(refunded(next_up.order_id))
    finally:
        await orders.stop(grace_seconds=5)
        await voids.stop()

    assert (await world.ticket(busy.order_id)).status is TicketStatus.VOIDED
    assert (await world.ticket(next_up.order_id)).status is TicketStatus.VOIDED
    assert events.KITCHEN_VOIDS.routing_keys == ("order.refunded",)
    assert "kitchen.ticket_ready" not in [e.type for e in await world.published()]


class RefundedAsItStarts(MongoTicketRepository):
    """The real repository, with a refund landing right after a ticket is stored, before its
    cook returns from storing it (the narrowest interleaving of a void and a start)."""

    kitchen: Kitchen

    async def start(
        self, order_id: str, cook: str, items: int, at: datetime, events: Sequence[Event]
    ) -> Ticket | None:
        ticket = await super().start(order_id, cook, items, at, events)
        await self.kitchen.void(refunded(order_id))
        return ticket


async def test_a_void_that_lands_as_the_cook_starts_still_stops_the_cook(
    world: KitchenWorld,
) -> None:
    repository = RefundedAsItStarts(world.repository.tickets, world.repository.outbox)
    kitchen = Kitchen(repository, cook_names("k1", 1), CookTimes(per_item=60, longest=600))
    repository.kitchen = kitchen
    order = confirmed()

    async with asyncio.timeout(5):  # not the two minutes of cooking
        ticket = await kitchen.cook(order)

    assert ticket is not None
    assert ticket.status is TicketStatus.VOIDED
    assert "kitchen.ticket_ready" not in [e.type for e in await world.published()]


async def test_a_cook_in_another_process_than_the_void_stops_too(world: KitchenWorld) -> None:
    here, there = world.kitchen(per_item=60, instance="a"), world.kitchen(instance="b")
    # kitchen.voids hands the refund to the other process; this one only follows refunds.
    voids = Consumer(world.bus.broker, events.KITCHEN_VOIDS.queue, consumers.voids(there))
    follower = Follower(
        world.bus.broker, [events.OrderRefunded.ROUTING_KEY], consumers.cooks_here(here)
    )
    await voids.start()
    await follower.start()
    order = confirmed()
    try:
        task = cooking(here, order)
        await world.started(order.order_id)
        await world.bus.broker.publish(refunded(order.order_id).to_event())
        async with asyncio.timeout(5):  # not the two minutes of cooking
            ticket = await task
    finally:
        await follower.stop()
        await voids.stop()

    assert ticket is not None
    assert ticket.status is TicketStatus.VOIDED
    assert "kitchen.ticket_ready" not in [e.type for e in await world.published()]
