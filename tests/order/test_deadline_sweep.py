"""The deadline sweep, the backstop of lost timers: an order whose deadline passed more than a
margin ago is handled as its timer would handle it, once, whichever of several Order
processes sweeps; an order counted overdue is not picked again by every sweep."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from devtools import servers
from devtools.process import cpu_per_call
from oms import domain_events as events
from oms.order.deadline_sweep import DeadlineSweep
from oms.order.domain import Order, Status
from oms.platform.settings import MongoSettings
from tests.order.bus import payloads, timers
from tests.order.conftest import DEADLINES, NO_CHECKOUT, OrderWorld

MARGIN = timedelta(minutes=5)
PERIOD = timedelta(minutes=5)
SECOND = timedelta(seconds=1)
ENDED_ORDERS = 5_000
CALLS = 50


def _sweep(world: OrderWorld) -> DeadlineSweep:
    """What one Order process runs every period (each process has its own)."""
    return DeadlineSweep(world.reactions, MARGIN, PERIOD)


async def _stored_deadline(world: OrderWorld, order_id: str) -> datetime | None:
    doc = await world.repository.orders.find_one({"_id": order_id})
    assert doc is not None
    deadline: datetime | None = doc["due"].get("at")
    return deadline


async def _timers_lost(world: OrderWorld) -> list[str]:
    """Every timer set so far, taken out of RabbitMQ: as the broker losing its data."""
    return [
        e.data["order_id"]
        for _, e in await timers(world.bus.broker, events.DeadlineDue.ROUTING_KEY)
    ]


def _overdue(status: Status) -> float:
    value = REGISTRY.get_sample_value("oms_orders_overdue_total", {"status": status.value})
    return value or 0.0


def _past(order: Order) -> datetime:
    deadline = order.deadline(DEADLINES)
    assert deadline is not None
    return deadline


async def test_each_state_stores_its_deadline_and_an_ended_order_none(world: OrderWorld) -> None:
    dish = await world.dish()
    order = await world.place((dish, 1))
    assert await _stored_deadline(world, order.id) == order.created_at + DEADLINES.pending

    await world.handlers.attach_checkout(order.id, "cs_test_1", "https://pay/1")
    waiting = order.checkout_expires_at + DEADLINES.payment_grace
    assert await _stored_deadline(world, order.id) == waiting

    captured = events.PaymentCaptured(
        order_id=order.id,
        checkout_session_id="cs_test_1",
        amount_minor=order.total_minor,
        currency=order.currency,
    )
    await world.reactions.payment_captured(captured)
    paid = await world.order(order.id)
    assert await _stored_deadline(world, order.id) == _past(paid)
    assert _past(paid) == paid.entered_at(Status.PAID) + DEADLINES.kitchen_start

    await world.handlers.refund(order.id, "changed their mind")
    assert await _stored_deadline(world, order.id) is None


async def test_an_unpaid_order_whose_timer_was_lost_is_expired_once_past_the_margin(
    world: OrderWorld,
) -> None:
    order = await world.stored(Status.PENDING)
    assert order.id in await _timers_lost(world)
    world.desk.answer = NO_CHECKOUT

    world.clock.now = _past(order) + MARGIN - SECOND  # a late timer may still come
    assert await _sweep(world).sweep() == 0
    assert (await world.order(order.id)).status is Status.PENDING

    world.clock.now = _past(order) + MARGIN + SECOND
    assert await _sweep(world).sweep() == 1

    expired = await world.order(order.id)
    assert expired.status is Status.EXPIRED
    assert expired.reason == "not paid by its deadline (pending)"
    assert world.desk.calls == [(order.id, Status.PENDING)]  # its checkout closed first
    (announced,) = payloads(await world.published(), events.OrderExpired)
    assert announced.order_id == order.id
    assert await _stored_deadline(world, order.id) is None
    assert await _sweep(world).sweep() == 0


async def test_a_served_order_is_counted_overdue_once_and_its_timers_start_again(
    world: OrderWorld,
) -> None:
    order = await world.stored(Status.PAID)
    await _timers_lost(world)
    world.clock.now = _past(order) + MARGIN + SECOND
    before = _overdue(Status.PAID)

    assert await _sweep(world).sweep() == 1
    world.clock.advance(PERIOD * 10)
    assert await _sweep(world).sweep() == 0  # counted in this state: nothing left to do

    assert _overdue(Status.PAID) == before + 1
    assert (await world.order(order.id)).status is Status.PAID
    # The next look, at the cooking deadline, is a timer again, as a due timer sets it.
    assert await _timers_lost(world) == [order.id]
    assert await world.published() == []


async def test_an_order_the_sweep_could_not_settle_is_tried_again_a_period_later(
    world: OrderWorld,
) -> None:
    order = await world.stored(Status.PENDING)
    await _timers_lost(world)
    world.desk.unreachable = True  # Payment cannot close the checkout: no expiry yet
    world.clock.now = _past(order) + MARGIN + SECOND

    assert await _sweep(world).sweep() == 1
    tried = len(world.desk.calls)
    assert tried >= 1
    assert await _sweep(world).sweep() == 0  # claimed for a period
    assert len(world.desk.calls) == tried
    world.desk.unreachable = False
    world.desk.answer = NO_CHECKOUT
    world.clock.advance(PERIOD + MARGIN + SECOND)
    assert await _sweep(world).sweep() == 1

    assert (await world.order(order.id)).status is Status.EXPIRED
    assert world.desk.calls[tried:] == [(order.id, Status.PENDING)]


async def test_of_several_processes_sweeping_at_once_one_handles_each_order(
    world: OrderWorld,
) -> None:
    order = await world.stored(Status.AWAITING_PAYMENT)
    await _timers_lost(world)
    world.clock.now = _past(order) + MARGIN + SECOND
    first, second = _sweep(world), _sweep(world)
    # What the second process read just before the first one claimed the order.
    read_by_second = await world.repository.due(world.clock.now - MARGIN, 10)
    assert [order_id for order_id, _ in read_by_second] == [order.id]
    took: list[bool | int] = []

    async def second_process_sweeps() -> None:  # while the first closes the checkout
        took.append(await second.settle(*read_by_second[0], world.clock.now))
        took.append(await second.sweep())

    world.desk.while_closing = second_process_sweeps

    assert await first.sweep() == 1

    assert took == [False, 0]
    assert world.desk.calls == [(order.id, Status.AWAITING_PAYMENT)]
    assert (await world.order(order.id)).status is Status.EXPIRED


@pytest.mark.timeout(300)
async def test_a_sweep_reads_the_orders_in_progress_not_every_ended_one_stored(
    world: OrderWorld, ferretdb: servers.FerretDB, mongo_settings: MongoSettings
) -> None:
    """A restaurant keeps its ended orders: the sweep's cost must follow the orders open now.
    Measured as FerretDB's CPU per sweep query; one that read every stored order would cost
    20 to 60 times as much at 5,000 orders (see tests/servers/test_ferretdb.py)."""
    assert ferretdb.process is not None
    pid = ferretdb.process.pid
    in_progress = sorted([(await world.stored(Status.PENDING)).id for _ in range(3)])
    ended = await world.stored(Status.PICKED_UP)
    orders = world.repository.orders
    async with asyncio.timeout(60):
        await ferretdb.until_indexed(mongo_settings.database, "orders", "_oms_due")
    everything_due = world.clock.now + timedelta(days=1)

    async def due() -> list[str]:
        return sorted(order_id for order_id, _ in await world.repository.due(everything_due, 200))

    assert await due() == in_progress
    few = await cpu_per_call(pid, due, CALLS)
    model = await orders.find_one({"_id": ended.id})
    assert model is not None
    assert model["due"] == {}
    for start in range(0, ENDED_ORDERS, 1000):
        batch = range(start, start + 1000)
        await orders.insert_many([{**model, "_id": f"ended-{n:05d}"} for n in batch])
    many = await cpu_per_call(pid, due, CALLS)

    assert await due() == in_progress
    assert many < few * 3, (few, many)
