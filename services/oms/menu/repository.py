"""Menu items in MongoDB (`menu_items`, keyed by item id), with the outbox of their changes.

Every change stages `menu.changed` in the same write, so the caches that price orders (Order,
the gateway) hear of it even if RabbitMQ was away at that moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Protocol

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from oms.menu.domain import MenuItem
from oms.platform.events import Event
from oms.platform.mongo import Document
from oms.platform.outbox import Outbox

COLLECTION = "menu_items"
HIDDEN = {"outbox": 0}


class MenuRepository(Protocol):
    async def all(self, offered_only: bool) -> list[MenuItem]: ...
    async def get_many(self, ids: Sequence[str]) -> list[MenuItem]: ...
    async def get(self, item_id: str) -> MenuItem | None: ...
    async def save(self, item: MenuItem, events: Sequence[Event]) -> None: ...
    async def set_offered(
        self, item_id: str, offered: bool, events: Sequence[Event]
    ) -> MenuItem | None: ...
    async def add(self, item: MenuItem, events: Sequence[Event]) -> bool: ...


def _to_item(doc: Document) -> MenuItem:
    return MenuItem(
        id=doc["_id"],
        name=doc["name"],
        description=doc.get("description", ""),
        price_minor=doc["price_minor"],
        currency=doc["currency"],
        offered=doc.get("offered", True),
    )


def _fields(item: MenuItem) -> dict[str, Any]:
    fields = asdict(item)
    del fields["id"]
    return fields


class MongoMenuRepository:
    def __init__(self, items: AsyncCollection[Document], outbox: Outbox) -> None:
        self.items = items
        self.outbox = outbox

    async def all(self, offered_only: bool) -> list[MenuItem]:
        # The menu is small and read through caches: a whole read is its only query.
        query = {"offered": True} if offered_only else {}
        return [_to_item(doc) async for doc in self.items.find(query, HIDDEN).sort("name", 1)]

    async def get_many(self, ids: Sequence[str]) -> list[MenuItem]:
        found = [await self.get(item_id) for item_id in ids]
        return [item for item in found if item is not None]

    async def get(self, item_id: str) -> MenuItem | None:
        doc = await self.items.find_one({"_id": item_id}, HIDDEN)
        return _to_item(doc) if doc else None

    async def save(self, item: MenuItem, events: Sequence[Event]) -> None:
        """Create or replace an item."""
        if await self.outbox.update({"_id": item.id}, {"$set": _fields(item)}, events) is None:
            try:
                await self.outbox.insert({"_id": item.id, **_fields(item)}, events)
            except DuplicateKeyError:  # created meanwhile: replace that one
                await self.outbox.update({"_id": item.id}, {"$set": _fields(item)}, events)

    async def set_offered(
        self, item_id: str, offered: bool, events: Sequence[Event]
    ) -> MenuItem | None:
        doc = await self.outbox.update({"_id": item_id}, {"$set": {"offered": offered}}, events)
        return _to_item(doc) if doc else None

    async def add(self, item: MenuItem, events: Sequence[Event]) -> bool:
        """Add an item that does not exist yet (seeding); False if it exists."""
        try:
            await self.outbox.insert({"_id": item.id, **_fields(item)}, events)
        except DuplicateKeyError:
            return False
        return True
