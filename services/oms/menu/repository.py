"""Menu items in MongoDB (`menu_items`, keyed by item id)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import Any, Protocol

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from oms.menu.domain import MenuItem
from oms.platform.mongo import Document


class MenuRepository(Protocol):
    async def all(self, offered_only: bool) -> list[MenuItem]: ...
    async def get_many(self, ids: Sequence[str]) -> list[MenuItem]: ...
    async def get(self, item_id: str) -> MenuItem | None: ...
    async def save(self, item: MenuItem) -> None: ...
    async def set_offered(self, item_id: str, offered: bool) -> MenuItem | None: ...
    async def seed(self, items: Iterable[MenuItem]) -> int: ...


def _to_item(doc: dict[str, Any]) -> MenuItem:
    return MenuItem(
        id=doc["_id"],
        name=doc["name"],
        description=doc.get("description", ""),
        price_minor=doc["price_minor"],
        currency=doc["currency"],
        offered=doc.get("offered", True),
    )


def _to_doc(item: MenuItem) -> dict[str, Any]:
    fields = asdict(item)
    fields["_id"] = fields.pop("id")
    return fields


class MongoMenuRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.items = db.menu_items

    async def all(self, offered_only: bool) -> list[MenuItem]:
        query = {"offered": True} if offered_only else {}
        return [_to_item(doc) async for doc in self.items.find(query).sort("name", 1)]

    async def get_many(self, ids: Sequence[str]) -> list[MenuItem]:
        return [_to_item(doc) async for doc in self.items.find({"_id": {"$in": list(ids)}})]

    async def get(self, item_id: str) -> MenuItem | None:
        doc = await self.items.find_one({"_id": item_id})
        return _to_item(doc) if doc else None

    async def save(self, item: MenuItem) -> None:
        await self.items.replace_one({"_id": item.id}, _to_doc(item), upsert=True)

    async def set_offered(self, item_id: str, offered: bool) -> MenuItem | None:
        result = await self.items.update_one({"_id": item_id}, {"$set": {"offered": offered}})
        return await self.get(item_id) if result.matched_count else None

    async def seed(self, items: Iterable[MenuItem]) -> int:
        """Insert the items that do not exist yet; edits made since the last seed survive."""
        operations = [
            UpdateOne({"_id": item.id}, {"$setOnInsert": _to_doc(item)}, upsert=True)
            for item in items
        ]
        if not operations:
            return 0
        result = await self.items.bulk_write(operations, ordered=False)
        return result.upserted_count
