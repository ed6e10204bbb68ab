"""Orders in MongoDB, each document carrying the outbox of the events its changes publish.

An accepted order and its `order.created` event are stored in one insert, and every later
change with its event in one conditional update (see `oms.platform.outbox`).
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from oms.order.domain import Order, OrderItem, Status
from oms.platform import outbox
from oms.platform.events import Event
from oms.platform.mongo import Document

INDEXES = {
    "orders": [
        IndexModel([("customer_id", ASCENDING), ("created_at", DESCENDING)]),
        outbox.INDEX,
    ]
}


def _to_order(doc: dict[str, Any]) -> Order:
    return Order(
        id=doc["_id"],
        customer_id=doc["customer_id"],
        status=Status(doc["status"]),
        items=tuple(OrderItem(**item) for item in doc["items"]),
        currency=doc["currency"],
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        payment_link=doc.get("payment_link", ""),
        checkout_session_id=doc.get("checkout_session_id", ""),
    )


def _page_token(order: Order) -> str:
    raw = f"{order.created_at.isoformat()}|{order.id}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def parse_page_token(token: str) -> tuple[datetime, str]:
    created_at, order_id = base64.urlsafe_b64decode(token.encode()).decode().split("|", 1)
    return datetime.fromisoformat(created_at), order_id


class MongoOrderRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.orders = db.orders

    async def insert(self, order: Order, events: Sequence[Event]) -> None:
        """Store a new order with its events (DuplicateKeyError if the id exists)."""
        await self.orders.insert_one(
            {
                "_id": order.id,
                "customer_id": order.customer_id,
                "status": order.status.value,
                "items": [item.__dict__ for item in order.items],
                "currency": order.currency,
                "total_minor": order.total_minor,
                "created_at": order.created_at,
                "updated_at": order.updated_at,
                "payment_link": "",
                "checkout_session_id": "",
                **outbox.new_document_fields(events),
            }
        )

    async def get(self, order_id: str) -> Order | None:
        doc = await self.orders.find_one({"_id": order_id}, {"outbox": 0})
        return _to_order(doc) if doc else None

    async def list_for_customer(
        self, customer_id: str, limit: int, after: tuple[datetime, str] | None
    ) -> tuple[list[Order], str]:
        query: dict[str, Any] = {"customer_id": customer_id}
        if after is not None:
            created_at, order_id = after
            query["$or"] = [
                {"created_at": {"$lt": created_at}},
                {"created_at": created_at, "_id": {"$lt": order_id}},
            ]
        cursor = (
            self.orders.find(query, {"outbox": 0})
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit + 1)
        )
        orders = [_to_order(doc) async for doc in cursor]
        more = len(orders) > limit
        orders = orders[:limit]
        return orders, _page_token(orders[-1]) if more and orders else ""

    async def transition(
        self,
        order_id: str,
        to: Status,
        from_states: Collection[Status],
        events: Sequence[Event] = (),
        fields: dict[str, Any] | None = None,
    ) -> Order | None:
        """Move to `to` only from one of `from_states` (compare-and-set); None otherwise."""
        update: dict[str, Any] = {
            "$set": {"status": to.value, "updated_at": datetime.now(UTC), **(fields or {})}
        }
        doc = await self.orders.find_one_and_update(
            {"_id": order_id, "status": {"$in": [s.value for s in from_states]}},
            outbox.merge(update, outbox.stage(events)),
            return_document=ReturnDocument.AFTER,
        )
        return _to_order(doc) if doc else None
