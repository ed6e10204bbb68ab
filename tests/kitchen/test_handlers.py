"""The simulated kitchen on a real MongoDB-wire server: cooks take paid orders one at a time
each, record every step with its event, and finish orders a dead cook left behind."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from pymongo import AsyncMongoClient

from oms import domain_events as events
from oms.kitchen.domain import TicketStatus
from oms.kitchen.handlers import Kitchen
from oms.kitchen.repository import MongoTicketRepository
from oms.platform import mongo
from oms.platform.broker import Broker
from oms.platform.outbox import OutboxRelay
from oms.platform.settings import MongoSettings, RabbitMQSettings


@pytest.fixture
def repository(
    mongo_client: AsyncMongoClient[mongo.Document], mongo_settings: MongoSettings
) -> MongoTicketRepository:
    return MongoTicketRepository(mongo.database(mongo_client, mongo_settings))


def _kitchen(repository: MongoTicketRepository, workers: int = 2) -> Kitchen:
    # The relay is never started: tests read the staged events from the tickets themselves.
    relay = OutboxRelay(repository.tickets, Broker(RabbitMQSettings()))
    return Kitchen(repository, relay, workers, seconds_per_item=0.05, instance="test")


def _paid(quantity: int = 2) -> events.OrderPaid:
    line = events.Line(item_id="pizza", name="Pizza", quantity=quantity, unit_price_minor=900)
    return events.OrderPaid(order_id=str(uuid.uuid4()), checkout_session_id="cs_1", lines=[line])


async def _staged(repository: MongoTicketRepository, order_id: str) -> list[str]:
    doc = await repository.tickets.find_one({"_id": order_id}, {"outbox": 1})
    entries = (doc or {}).get("outbox", {}).values()
    return sorted(entry["event"]["type"] for entry in entries)


async def test_a_paid_order_is_cooked_and_ready_with_both_steps_announced(
    repository: MongoTicketRepository,
) -> None:
    paid = _paid(quantity=3)

    ticket = await _kitchen(repository).cook(paid)

    assert ticket.status is TicketStatus.READY
    assert ticket.items == 3
    assert ticket.finished_at is not None
    assert (ticket.finished_at - ticket.started_at).total_seconds() >= 3 * 0.05
    assert await _staged(repository, paid.order_id) == [
        "kitchen.order_preparing",
        "kitchen.order_ready",
    ]


async def test_an_order_a_dead_cook_left_is_finished_by_another(
    repository: MongoTicketRepository,
) -> None:
    paid = _paid()
    await repository.start(paid.order_id, "gone/cook-1", items=2)  # then that cook died

    ticket = await _kitchen(repository).cook(paid)

    assert ticket.status is TicketStatus.READY
    assert ticket.attempts == 2
    assert ticket.worker == "test/cook-1"
    assert await _staged(repository, paid.order_id) == [
        "kitchen.order_preparing",
        "kitchen.order_ready",
    ]


async def test_a_redelivered_ready_order_is_not_cooked_again(
    repository: MongoTicketRepository,
) -> None:
    kitchen, paid = _kitchen(repository), _paid()
    first = await kitchen.cook(paid)

    again = await kitchen.cook(paid)

    assert again == first
    assert await _staged(repository, paid.order_id) == [
        "kitchen.order_preparing",
        "kitchen.order_ready",
    ]


async def test_no_more_orders_are_cooked_at_once_than_there_are_cooks(
    repository: MongoTicketRepository,
) -> None:
    kitchen = _kitchen(repository, workers=2)
    busiest = 0

    async def watch() -> None:
        nonlocal busiest
        while True:
            busiest = max(busiest, len(kitchen.status().busy))
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    tickets = await asyncio.gather(*(kitchen.cook(_paid()) for _ in range(6)))
    watcher.cancel()

    assert all(ticket.status is TicketStatus.READY for ticket in tickets)
    assert busiest == 2
    assert len({ticket.worker for ticket in tickets}) == 2
    assert kitchen.status().busy == {}
