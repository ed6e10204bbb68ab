"""Kitchen tickets in MongoDB (`kitchen_tickets`, keyed by order id), with their outbox.

Starting, finishing and voiding a ticket each stage their report in the same write, so Order
hears of every step exactly as the kitchen recorded it, even if RabbitMQ was away at that
moment. Every filter is `_id` plus dotted conditions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from oms.kitchen.domain import Ticket, TicketStatus
from oms.platform.events import Event
from oms.platform.mongo import Document
from oms.platform.outbox import Outbox

COLLECTION = "kitchen_tickets"
HIDDEN = {"outbox": 0}
T = TicketStatus
STARTED = [T.COOKING.value, T.COOKED.value]
# The report of a void, given whether a cook had started the ticket (the food is used).
VoidReport = Callable[[bool], Sequence[Event]]


class TicketRepository(Protocol):
    async def get(self, order_id: str) -> Ticket | None: ...
    async def start(
        self, order_id: str, cook: str, items: int, at: datetime, events: Sequence[Event]
    ) -> Ticket | None: ...
    async def take_over(
        self, order_id: str, cook: str, at: datetime, events: Sequence[Event]
    ) -> Ticket | None: ...
    async def finish(
        self, order_id: str, cook: str, at: datetime, events: Sequence[Event]
    ) -> Ticket | None: ...
    async def void(self, order_id: str, at: datetime, report: VoidReport) -> bool | None: ...


def _to_ticket(doc: Document) -> Ticket:
    return Ticket(
        order_id=doc["_id"],
        status=TicketStatus(doc["state"]["status"]),
        cook=doc.get("cook", ""),
        items=doc.get("items", 0),
        started_at=doc["started_at"],
        finished_at=doc.get("finished_at"),
        attempts=doc.get("attempts", 1),
    )


class MongoTicketRepository:
    def __init__(self, tickets: AsyncCollection[Document], outbox: Outbox) -> None:
        self.tickets = tickets
        self.outbox = outbox

    async def get(self, order_id: str) -> Ticket | None:
        doc = await self.tickets.find_one({"_id": order_id}, HIDDEN)
        return _to_ticket(doc) if doc else None

    async def start(
        self, order_id: str, cook: str, items: int, at: datetime, events: Sequence[Event]
    ) -> Ticket | None:
        """Open the order's ticket; None if it has one already."""
        fields = {"cook": cook, "items": items, "attempts": 1}
        if not await self._open(order_id, T.COOKING, at, fields, events):
            return None
        return Ticket(order_id, T.COOKING, cook, items, at)

    async def take_over(
        self, order_id: str, cook: str, at: datetime, events: Sequence[Event]
    ) -> Ticket | None:
        """Give a ticket a cook left unfinished to another; None unless it is cooking."""
        doc = await self.outbox.update(
            {"_id": order_id, "state.status": T.COOKING.value},
            {"$set": {"cook": cook, "started_at": at}, "$inc": {"attempts": 1}},
            events,
        )
        return _to_ticket(doc) if doc else None

    async def finish(
        self, order_id: str, cook: str, at: datetime, events: Sequence[Event]
    ) -> Ticket | None:
        """Cooked; None if it was voided (or finished) meanwhile."""
        doc = await self.outbox.update(
            {"_id": order_id, "state.status": T.COOKING.value},
            {"$set": {"state.status": T.COOKED.value, "cook": cook, "finished_at": at}},
            events,
        )
        return _to_ticket(doc) if doc else None

    async def void(self, order_id: str, at: datetime, report: VoidReport) -> bool | None:
        """Void the ticket, or leave a voided one for an order no cook has seen yet, with
        `report(food_used)` staged in the same write: True when a cook had started it, False
        when no cook will; None when it was voided already (nothing staged again).

        This write and a cook's `start` are where the two are ordered: either the start came
        first (its ticket is voided here, the food is used) or the void did (the start then
        finds the ticket voided, and nobody cooks).
        """
        if await self._void_started(order_id, at, report):
            return True
        if await self._open(order_id, T.VOIDED, at, {"voided_at": at, "items": 0}, report(False)):
            return False
        # A cook's start landed between the two writes (void its ticket), or another void.
        return True if await self._void_started(order_id, at, report) else None

    async def _open(
        self,
        order_id: str,
        status: TicketStatus,
        at: datetime,
        fields: Document,
        events: Sequence[Event],
    ) -> bool:
        """Store the order's ticket, `status` since `at`, with its events; False if it has one."""
        try:
            await self.outbox.insert(
                {"_id": order_id, "state": {"status": status.value}, "started_at": at, **fields},
                events,
            )
        except DuplicateKeyError:
            return False
        return True

    async def _void_started(self, order_id: str, at: datetime, report: VoidReport) -> bool:
        doc = await self.outbox.update(
            {"_id": order_id, "state.status": {"$in": STARTED}},
            {"$set": {"state.status": T.VOIDED.value, "voided_at": at}},
            report(True),
        )
        return doc is not None
