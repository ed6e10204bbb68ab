"""The kitchen on the real servers: tickets in FerretDB, their reports published through the
real outbox relay to a RabbitMQ vhost of the test's own, read back from a tap there."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from pymongo import AsyncMongoClient

from oms import domain_events as events
from oms.kitchen.domain import CookTimes, Ticket, cook_names
from oms.kitchen.handlers import Kitchen
from oms.kitchen.repository import COLLECTION, MongoTicketRepository
from oms.platform import mongo
from oms.platform.events import Event
from oms.platform.outbox import Outbox
from oms.platform.outbox_relay import OutboxRelay
from oms.platform.settings import MongoSettings
from tests.order.bus import Bus, Tap, bus, tap

__all__ = ["bus", "tap"]


def confirmed(quantity: int = 2) -> events.OrderConfirmed:
    """What Order publishes when it accepted an order's payment."""
    line = events.PricedLine(item_id="pizza", name="Pizza", quantity=quantity, unit_price_minor=900)
    return events.OrderConfirmed(
        order_id=str(uuid.uuid4()), customer_id="alice", status="paid", step=3, lines=[line]
    )


def refunded(order_id: str) -> events.OrderRefunded:
    return events.OrderRefunded(
        order_id=order_id, customer_id="alice", status="refunded", step=7, reason="burnt"
    )


@dataclass
class KitchenWorld:
    repository: MongoTicketRepository
    relay: OutboxRelay
    bus: Bus
    tap: Tap

    def kitchen(
        self,
        workers: int = 2,
        per_item: float = 0.01,
        longest: float = 60,
        instance: str = "k1",
        repository: MongoTicketRepository | None = None,
    ) -> Kitchen:
        """A kitchen on this world's tickets (through `repository`, a test's variant of it)."""
        return Kitchen(
            repository or self.repository,
            cook_names(instance, workers),
            CookTimes(per_item, longest),
        )

    async def published(self) -> list[Event]:
        await self.relay.drain()
        return await self.tap.settle()

    async def ticket(self, order_id: str) -> Ticket:
        ticket = await self.repository.get(order_id)
        assert ticket is not None
        return ticket

    async def started(self, order_id: str) -> events.TicketStarted:
        """Once a cook has started the order (Kitchen registers its cook before this). Two
        cooks start at once in either order: a start that arrived while the test waited for
        another order's is found among those seen."""
        key = events.TicketStarted.ROUTING_KEY
        seen = [e for e in self.tap.of(key) if e.data.get("order_id") == order_id]
        event = seen[0] if seen else await self.tap.next(key, order_id)
        return events.parse(events.TicketStarted, event)


def cooking(kitchen: Kitchen, order: events.OrderConfirmed) -> asyncio.Task[Ticket | None]:
    return asyncio.create_task(kitchen.cook(order))


@pytest.fixture
async def world(
    bus: Bus,
    tap: Tap,
    mongo_client: AsyncMongoClient[mongo.Document],
    mongo_settings: MongoSettings,
) -> AsyncIterator[KitchenWorld]:
    tickets = mongo.database(mongo_client, mongo_settings)[COLLECTION]
    relay = OutboxRelay(tickets, bus.broker, events.must_be_routed)
    await relay.start()
    yield KitchenWorld(MongoTicketRepository(tickets, Outbox(tickets, relay)), relay, bus, tap)
    await relay.stop()
