"""Stock in MongoDB, safe under concurrency with single-document atomic updates only.

`stock_items`: `{_id: item_id, on_hand, available, holds: {order_id: quantity}}`. A hold
is added together with the decrement of `available`, in one conditional update that
matches only while enough is available and the order holds nothing yet, so stock is never
oversold and repeating a reservation never takes twice. Release and commit remove the hold
in the same way. `stock_reservations` remembers each order's outcome for idempotency.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from oms.order_lines import Line
from oms.platform.mongo import Document
from oms.stock.domain import Level, ReservationState, Shortage


def _level(doc: dict[str, Any]) -> Level:
    return Level(doc["_id"], doc["on_hand"], doc["on_hand"] - doc["available"])


class MongoStockRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.items = db.stock_items
        self.reservations = db.stock_reservations

    async def levels(self, item_ids: Sequence[str]) -> list[Level]:
        query = {"_id": {"$in": list(item_ids)}} if item_ids else {}
        return [_level(doc) async for doc in self.items.find(query, {"holds": 0}).sort("_id", 1)]

    async def available(self, item_id: str) -> int:
        doc = await self.items.find_one({"_id": item_id}, {"available": 1})
        return int(doc["available"]) if doc else 0

    async def available_many(self, item_ids: Sequence[str]) -> dict[str, int]:
        """Available quantity per known item id (unknown ids are absent)."""
        cursor = self.items.find({"_id": {"$in": list(item_ids)}}, {"available": 1})
        return {doc["_id"]: int(doc["available"]) async for doc in cursor}

    async def set_on_hand(self, item_id: str, on_hand: int) -> Level | None:
        """Sets on-hand stock keeping every hold; None if it would drop below the holds."""
        for _ in range(20):  # optimistic: retry when a reservation changed the item meanwhile
            doc = await self.items.find_one({"_id": item_id}, {"holds": 0})
            if doc is None:
                try:
                    await self.items.insert_one(
                        {"_id": item_id, "on_hand": on_hand, "available": on_hand, "holds": {}}
                    )
                    return Level(item_id, on_hand, 0)
                except DuplicateKeyError:
                    continue
            delta = on_hand - doc["on_hand"]
            if doc["available"] + delta < 0:
                return None
            result = await self.items.update_one(
                {"_id": item_id, "on_hand": doc["on_hand"], "available": doc["available"]},
                {"$inc": {"on_hand": delta, "available": delta}},
            )
            if result.modified_count or delta == 0:
                return Level(item_id, on_hand, on_hand - (doc["available"] + delta))
        raise RuntimeError(f"stock of {item_id} kept changing; try again")

    async def hold(self, order_id: str, line: Line) -> bool:
        """Take `line` for the order if available (true also if the order already holds it)."""
        key = f"holds.{order_id}"
        result = await self.items.update_one(
            {"_id": line.item_id, "available": {"$gte": line.quantity}, key: {"$exists": False}},
            {"$inc": {"available": -line.quantity}, "$set": {key: line.quantity}},
        )
        if result.modified_count:
            return True
        return await self.items.count_documents({"_id": line.item_id, key: {"$exists": True}}) > 0

    async def unhold(self, order_id: str, line: Line) -> None:
        key = f"holds.{order_id}"
        await self.items.update_one(
            {"_id": line.item_id, key: {"$exists": True}},
            {"$inc": {"available": line.quantity}, "$unset": {key: ""}},
        )

    async def consume_hold(self, order_id: str, line: Line) -> None:
        key = f"holds.{order_id}"
        await self.items.update_one(
            {"_id": line.item_id, key: {"$exists": True}},
            {"$inc": {"on_hand": -line.quantity}, "$unset": {key: ""}},
        )

    async def start_reservation(self, order_id: str, lines: Sequence[Line]) -> dict[str, Any]:
        """The order's reservation record, in RESERVING state if it is new or was refused."""
        record = {
            "_id": order_id,
            "state": ReservationState.RESERVING.value,
            "lines": [{"item_id": line.item_id, "quantity": line.quantity} for line in lines],
            "shortages": [],
            "updated_at": datetime.now(UTC),
        }
        try:
            await self.reservations.insert_one(record)
            return record
        except DuplicateKeyError:
            pass
        retried = await self.reservations.find_one_and_update(
            {"_id": order_id, "state": ReservationState.REJECTED.value},
            {"$set": {key: value for key, value in record.items() if key != "_id"}},
            return_document=ReturnDocument.AFTER,
        )
        existing = retried or await self.reservations.find_one({"_id": order_id})
        if existing is None:  # nothing in OMS deletes reservations
            raise RuntimeError(f"reservation {order_id} vanished")
        return existing

    async def reservation(self, order_id: str) -> dict[str, Any] | None:
        return await self.reservations.find_one({"_id": order_id})

    async def set_state(
        self,
        order_id: str,
        state: ReservationState,
        from_states: Sequence[ReservationState],
        shortages: Sequence[Shortage] = (),
    ) -> bool:
        result = await self.reservations.update_one(
            {"_id": order_id, "state": {"$in": [s.value for s in from_states]}},
            {
                "$set": {
                    "state": state.value,
                    "shortages": [s.__dict__ for s in shortages],
                    "updated_at": datetime.now(UTC),
                }
            },
        )
        return result.modified_count == 1
