"""Orders in MongoDB (`orders`, keyed by order id), each carrying the outbox of its events.

An accepted order and its `order.placed` event are stored in one insert, and every later
decision with its event in one compare-and-set on `state.status` (see `oms.platform.outbox`).
Every filter on a request's or an event's path is the order's `_id` plus dotted conditions,
which MongoDB serves by `_id` and FerretDB too. Listings (a customer's orders, the staff
board) are queries by other fields: an index on MongoDB, a scan on FerretDB, never on the
path of an order's lifecycle.

`due.at` is when the deadline sweep should look at the order: its current state's deadline,
stored by the write that entered the state; moved on by a sweep that claimed it. `due` is
emptied once the order is terminal or was counted overdue in its state (nothing is left to
do), so the sweep's `{due: {$exists: true, $ne: {}}}` reads only the orders still in
progress: an index on `due.at` serves it on MongoDB, and on FerretDB a partial index that
our wrapper keeps on `due` (see scripts/servers/ferretdb), however many ended orders are kept.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Protocol

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from oms.order.domain import Checkout, Order, OrderItem, Status
from oms.platform.events import Event
from oms.platform.mongo import Document
from oms.platform.outbox import Outbox
from oms.platform.outbox_entries import Delayed

COLLECTION = "orders"
DUE, DUE_AT = "due", "due.at"
INDEXES = {
    COLLECTION: [
        IndexModel([("customer_id", ASCENDING), ("created_at", DESCENDING)]),
        IndexModel([("state.status", ASCENDING), ("created_at", DESCENDING)]),
        IndexModel([(DUE_AT, ASCENDING)]),
    ]
}
HIDDEN = {"outbox": 0}


class OrderRepository(Protocol):
    async def insert(
        self, order: Order, events: Sequence[Event | Delayed], deadline: datetime | None = None
    ) -> None: ...
    async def get(self, order_id: str) -> Order | None: ...
    async def transition(
        self,
        order_id: str,
        to: Status,
        from_states: Collection[Status],
        at: datetime,
        events: Sequence[Event] = (),
        fields: dict[str, Any] | None = None,
        deadline: datetime | None = None,
    ) -> Order | None: ...
    async def require_refund(
        self, order_id: str, reason: str, events: Sequence[Event]
    ) -> Order | None: ...
    async def settle_refund_stock(
        self, order_id: str, stock: str, events: Sequence[Event]
    ) -> Order | None: ...
    async def mark_refunded(self, order_id: str) -> None: ...
    async def mark_overdue(self, order_id: str, status: Status) -> bool: ...
    async def due(self, before: datetime, limit: int) -> list[tuple[str, datetime]]: ...
    async def claim_due(self, order_id: str, deadline: datetime, until: datetime) -> bool: ...
    async def list_for_customer(
        self, customer_id: str, limit: int, after: tuple[datetime, str] | None
    ) -> tuple[list[Order], str]: ...
    async def list_all(
        self,
        statuses: Collection[Status],
        query: str,
        limit: int,
        after: tuple[datetime, str] | None,
    ) -> tuple[list[Order], str]: ...


def _to_order(doc: Document) -> Order:
    state = doc["state"]
    return Order(
        id=doc["_id"],
        customer_id=doc["customer_id"],
        status=Status(state["status"]),
        items=tuple(OrderItem(**item) for item in doc["items"]),
        currency=doc["currency"],
        created_at=doc["created_at"],
        updated_at=state["updated_at"],
        access_token=doc["access_token"],
        checkout_expires_at=doc["checkout_expires_at"],
        checkout=Checkout(**doc.get("checkout", {})),
        reason=state.get("reason", ""),
        cook=doc.get("cook", ""),
        refund_required=doc.get("refund", {}).get("required", False),
        refunded=doc.get("refund", {}).get("done", False),
        refund_stock=doc.get("refund", {}).get("stock", ""),
        history=tuple((Status(h["status"]), h["at"]) for h in doc.get("history", [])),
    )


def page_token(order: Order) -> str:
    raw = f"{order.created_at.isoformat()}|{order.id}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def parse_page_token(token: str) -> tuple[datetime, str]:
    created_at, order_id = base64.urlsafe_b64decode(token.encode()).decode().split("|", 1)
    return datetime.fromisoformat(created_at), order_id


class MongoOrderRepository:
    def __init__(self, orders: AsyncCollection[Document], outbox: Outbox) -> None:
        self.orders = orders
        self.outbox = outbox

    async def insert(
        self, order: Order, events: Sequence[Event | Delayed], deadline: datetime | None = None
    ) -> None:
        """Store a new order with its events (DuplicateKeyError if the id exists)."""
        await self.outbox.insert(
            {
                "_id": order.id,
                "customer_id": order.customer_id,
                "items": [item.__dict__ for item in order.items],
                "currency": order.currency,
                "total_minor": order.total_minor,
                "created_at": order.created_at,
                "access_token": order.access_token,
                "checkout_expires_at": order.checkout_expires_at,
                "state": {
                    "status": order.status.value,
                    "updated_at": order.updated_at,
                },
                DUE: due_field(deadline),
                "history": [{"status": order.status.value, "at": order.created_at}],
            },
            events,
        )

    async def get(self, order_id: str) -> Order | None:
        doc = await self.orders.find_one({"_id": order_id}, HIDDEN)
        return _to_order(doc) if doc else None

    async def transition(
        self,
        order_id: str,
        to: Status,
        from_states: Collection[Status],
        at: datetime,
        events: Sequence[Event] = (),
        fields: dict[str, Any] | None = None,
        deadline: datetime | None = None,
    ) -> Order | None:
        """Move to `to` only from one of `from_states` (compare-and-set); None otherwise.
        `deadline`: when `to` is overdue (none if it is terminal)."""
        changes = {"state.status": to.value, "state.updated_at": at, DUE: due_field(deadline)}
        doc = await self.outbox.update(
            {"_id": order_id, "state.status": {"$in": [s.value for s in from_states]}},
            {
                "$set": {**changes, **(fields or {})},
                "$push": {"history": {"status": to.value, "at": at}},
            },
            events,
        )
        return _to_order(doc) if doc else None

    async def require_refund(
        self, order_id: str, reason: str, events: Sequence[Event]
    ) -> Order | None:
        """Record, once, that money came for an order that had ended; None if recorded."""
        ended = [Status.CANCELLED.value, Status.EXPIRED.value]
        doc = await self.outbox.update(
            {"_id": order_id, "state.status": {"$in": ended}, "refund.required": {"$ne": True}},
            {"$set": {"refund.required": True, "refund.reason": reason}},
            events,
        )
        return _to_order(doc) if doc else None

    async def settle_refund_stock(
        self, order_id: str, stock: str, events: Sequence[Event]
    ) -> Order | None:
        """Record, once, what a refunded order's stock becomes (`return` or `write_off`);
        None if it was recorded already, or the order is not refunded."""
        doc = await self.outbox.update(
            {
                "_id": order_id,
                "state.status": Status.REFUNDED.value,
                "refund.stock": {"$exists": False},
            },
            {"$set": {"refund.stock": stock}},
            events,
        )
        return _to_order(doc) if doc else None

    async def mark_refunded(self, order_id: str) -> None:
        await self.orders.update_one({"_id": order_id}, {"$set": {"refund.done": True}})

    async def mark_overdue(self, order_id: str, status: Status) -> bool:
        """Record, once, that the order overstayed `status`; False if it had moved on, or
        was recorded already (a timer delivered twice, or the next look)."""
        result = await self.orders.update_one(
            {"_id": order_id, "state.status": status.value, "state.overdue": {"$ne": status.value}},
            # Counted: the sweep has nothing more to do for it in this state.
            {"$push": {"state.overdue": status.value}, "$set": {DUE: due_field(None)}},
        )
        return result.modified_count == 1

    async def due(self, before: datetime, limit: int) -> list[tuple[str, datetime]]:
        """Orders whose stored deadline is at or before `before`: (id, that deadline).

        Only orders in progress are read (see the module's docstring), so the cost follows
        the orders open now, not every order ever stored.
        """
        passed = {DUE: {"$exists": True, "$ne": {}}, DUE_AT: {"$lte": before}}
        cursor = self.orders.find(passed, {DUE_AT: 1}).limit(limit)
        return [(doc["_id"], doc[DUE]["at"]) async for doc in cursor]

    async def claim_due(self, order_id: str, deadline: datetime, until: datetime) -> bool:
        """Take the order for this sweep: its deadline, as read, moves to `until`; False if
        it had changed (another process claimed it, or the order moved on)."""
        result = await self.orders.update_one(
            {"_id": order_id, DUE_AT: deadline}, {"$set": {DUE_AT: until}}
        )
        return result.modified_count == 1

    async def list_for_customer(
        self, customer_id: str, limit: int, after: tuple[datetime, str] | None
    ) -> tuple[list[Order], str]:
        return await self._page({"customer_id": customer_id}, limit, after)

    async def list_all(
        self,
        statuses: Collection[Status],
        query: str,
        limit: int,
        after: tuple[datetime, str] | None,
    ) -> tuple[list[Order], str]:
        selector: dict[str, Any] = {}
        if statuses:
            selector["state.status"] = {"$in": [s.value for s in statuses]}
        if query:
            prefix = {"$regex": f"^{_escape(query)}"}
            selector["$or"] = [{"_id": prefix}, {"customer_id": prefix}]
        return await self._page(selector, limit, after)

    async def _page(
        self, selector: dict[str, Any], limit: int, after: tuple[datetime, str] | None
    ) -> tuple[list[Order], str]:
        query = dict(selector)
        if after is not None:
            created_at, order_id = after
            older = [
                {"created_at": {"$lt": created_at}},
                {"created_at": created_at, "_id": {"$lt": order_id}},
            ]
            query = {"$and": [selector, {"$or": older}]} if selector else {"$or": older}
        cursor = (
            self.orders.find(query, HIDDEN)
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit + 1)
        )
        orders = [_to_order(doc) async for doc in cursor]
        more = len(orders) > limit
        orders = orders[:limit]
        return orders, page_token(orders[-1]) if more and orders else ""


def due_field(deadline: datetime | None) -> dict[str, datetime]:
    """The order's stored `due`: when the sweep should look at it, or empty when never."""
    return {"at": deadline} if deadline is not None else {}


def _escape(text: str) -> str:
    return "".join(f"\\{c}" if not c.isalnum() else c for c in text)
