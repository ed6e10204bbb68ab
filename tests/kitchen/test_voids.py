"""A refund voids the order's ticket: a cook at it stops at once and reports nothing ready,
and a ticket voided before any cook saw the order is never cooked. Each void tells Order,
once, whether a cook had started the ticket (`kitchen.ticket_voided`, `food_used`): the
compare-and-set on the ticket orders the void against a cook's start, so one of them wins."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from oms import domain_events as events
from oms.kitchen import consumers
from oms.kitchen.domain import Ticket, TicketStatus
from oms.kitchen.handlers import Kitchen
from oms.kitchen.repository import MongoTicketRepository, VoidReport
from oms.platform.consumer import Consumer
from oms.platform.events import Event
from oms.platform.follower import Follower
from tests.kitchen.conftest import KitchenWorld, confirmed, cooking, refunded
from tests.order.bus import payloads


def void_reports(published: Sequence[Event]) -> list[tuple[str, bool]]:
    """What the kitchen told Order of each void: (order, food used)."""
    return [(v.order_id, v.food_used) for v in payloads(published, events.TicketVoided)]


async def test_a_ticket_voided_before_the_kitchen_saw_the_order_is_never_cooked(
    world: KitchenWorld,
) -> None:
    kitchen, order = world.kitchen(), confirmed()

    await kitchen.void(refunded(order.order_id))
    late = await kitchen.cook(order)  # order.confirmed arrives after order.refunded

    assert late is not None
    assert late.status is TicketStatus.VOIDED
    published = await world.published()
    assert [e.type for e in published] == ["kitchen.ticket_voided"]
    assert void_reports(published) == [(order.order_id, False)], "no cook used the food"


async def test_a_cook_stops_at_once_when_the_ticket_is_voided(world: KitchenWorld) -> None:
    kitchen, order = world.kitchen(per_item=60), confirmed()
    task = cooking(kitchen, order)
    await world.started(order.order_id)

    await kitchen.void(refunded(order.order_id))
    async with asyncio.timeout(5):  # not the two minutes of cooking
        ticket = await task

    assert ticket is not None
    assert ticket.status is TicketStatus.VOIDED
    assert kitchen.status().busy == {}
    published = await world.published()
    assert [e.type for e in published] == ["kitchen.ticket_started", "kitchen.ticket_voided"]
    assert void_reports(published) == [(order.order_id, True)], "the cook had started: food used"


async def test_a_ticket_cooked_just_before_its_refund_ends_voided(world: KitchenWorld) -> None:
    kitchen, order = world.kitchen(), confirmed()
    await kitchen.cook(order)

    await kitchen.void(refunded(order.order_id))
    await kitchen.void(refunded(order.order_id))  # redelivered: reported once

    assert (await world.ticket(order.order_id)).status is TicketStatus.VOIDED
    published = await world.published()
    assert [e.type for e in published] == [
        "kitchen.ticket_started",
        "kitchen.ticket_ready",
        "kitchen.ticket_voided",
    ]
    assert void_reports(published) == [(order.order_id, True)]


async def test_a_void_before_any_cook_is_reported_once_however_often_it_comes(
    world: KitchenWorld,
) -> None:
    kitchen, order = world.kitchen(), confirmed()

    await kitchen.void(refunded(order.order_id))
    await kitchen.void(refunded(order.order_id))  # redelivered

    assert void_reports(await world.published()) == [(order.order_id, False)]


async def test_two_voids_at_once_report_once(world: KitchenWorld) -> None:
    # The shared void queue (one process) and the cook's own follower (another) both void.
    here, there = world.kitchen(per_item=60, instance="a"), world.kitchen(instance="b")
    started, unseen = confirmed(), confirmed()
    task = cooking(here, started)
    await world.started(started.order_id)

    for order in (started, unseen):
        await asyncio.gather(
            here.void(refunded(order.order_id)), there.void(refunded(order.order_id))
        )
    async with asyncio.timeout(5):  # not the two minutes of cooking
        await task

    reported = void_reports(await world.published())
    assert sorted(reported) == sorted([(started.order_id, True), (unseen.order_id, False)])


class StartedAsItVoids(MongoTicketRepository):
    """The real repository, with a cook's start landing between the void's two writes: after
    it found no started ticket to void, before it leaves a voided one for the order."""

    async def _void_started(self, order_id: str, at: datetime, report: VoidReport) -> bool:
        voided = await super()._void_started(order_id, at, report)
        if not voided and await self.get(order_id) is None:
            started = events.TicketStarted(order_id=order_id, cook="k1/cook-1", attempt=1)
            await self.start(order_id, "k1/cook-1", 2, at, [started.to_event()])
        return voided


async def test_a_cook_starting_between_the_voids_two_writes_is_voided_and_reported_used(
    world: KitchenWorld,
) -> None:
    repository = StartedAsItVoids(world.repository.tickets, world.repository.outbox)
    kitchen = world.kitchen(workers=1, per_item=60, longest=600, repository=repository)
    order = confirmed()

    await kitchen.void(refunded(order.order_id))

    assert (await world.ticket(order.order_id)).status is TicketStatus.VOIDED
    published = await world.published()
    assert [e.type for e in published] == ["kitchen.ticket_started", "kitchen.ticket_voided"]
    assert void_reports(published) == [(order.order_id, True)]


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
    kitchen = world.kitchen(workers=1, per_item=60, longest=600, repository=repository)
    repository.kitchen = kitchen
    order = confirmed()

    async with asyncio.timeout(5):  # not the two minutes of cooking
        ticket = await kitchen.cook(order)

    assert ticket is not None
    assert ticket.status is TicketStatus.VOIDED
    published = await world.published()
    assert "kitchen.ticket_ready" not in [e.type for e in published]
    assert void_reports(published) == [(order.order_id, True)]


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
    published = await world.published()
    assert "kitchen.ticket_ready" not in [e.type for e in published]
    assert void_reports(published) == [(order.order_id, True)], "either process reports, once"
