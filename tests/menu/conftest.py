"""Menu on the real servers: items in FerretDB, `menu.changed` published through the real
outbox relay to a RabbitMQ vhost of the test's own, read back from a tap there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from pymongo import AsyncMongoClient

from oms import domain_events as events
from oms.menu.domain import MenuItem
from oms.menu.handlers import MenuHandlers
from oms.menu.repository import COLLECTION, MongoMenuRepository
from oms.platform import mongo
from oms.platform.outbox import Outbox
from oms.platform.outbox_relay import OutboxRelay
from oms.platform.settings import MongoSettings
from tests.order.bus import Bus, Tap, bus, tap

__all__ = ["bus", "tap"]


def item(
    item_id: str = "margherita",
    price_minor: int = 950,
    offered: bool = True,
    name: str = "",
    currency: str = "EUR",
) -> MenuItem:
    title = name or item_id.replace("-", " ").title()
    return MenuItem(item_id, title, f"The {title}", price_minor, currency, offered)


@dataclass
class MenuWorld:
    handlers: MenuHandlers
    relay: OutboxRelay
    tap: Tap

    async def changed(self) -> list[str]:
        """The item ids `menu.changed` announced so far, in order."""
        await self.relay.drain()
        tapped = await self.tap.settle()
        return [events.parse(events.MenuChanged, e).item_id for e in tapped]


@pytest.fixture
async def world(
    bus: Bus,
    tap: Tap,
    mongo_client: AsyncMongoClient[mongo.Document],
    mongo_settings: MongoSettings,
) -> AsyncIterator[MenuWorld]:
    items = mongo.database(mongo_client, mongo_settings)[COLLECTION]
    relay = OutboxRelay(items, bus.broker, events.must_be_routed)
    await relay.start()
    yield MenuWorld(MenuHandlers(MongoMenuRepository(items, Outbox(items, relay))), relay, tap)
    await relay.stop()
