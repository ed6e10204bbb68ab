"""Kitchen tickets in MongoDB (`kitchen_tickets`, keyed by order id), with their outbox.

Starting and finishing a ticket each stage their event (`kitchen.order_preparing`,
`kitchen.order_ready`) in the same write, so the order hears about every step exactly as the
kitchen recorded it, even if RabbitMQ was away at that moment.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from oms import domain_events as events
from oms.kitchen.domain import Ticket, TicketStatus
from oms.platform import outbox
from oms.platform.mongo import Document

INDEXES = {"kitchen_tickets": [outbox.INDEX]}
HIDDEN = {"outbox": 0}


def _to_ticket(doc: dict[str, Any]) -> Ticket:
    return Ticket(
        order_id=doc["_id"],
        status=TicketStatus(doc["status"]),
        worker=doc["worker"],
        items=doc["items"],
        started_at=doc["started_at"],
        finished_at=doc.get("finished_at"),
        attempts=doc.get("attempts", 1),
    )


class MongoTicketRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.tickets = db.kitchen_tickets

    async def get(self, order_id: str) -> Ticket | None:
        doc = await self.tickets.find_one({"_id": order_id}, HIDDEN)
        return _to_ticket(doc) if doc else None

    async def start(self, order_id: str, worker: str, items: int) -> Ticket:
        """Open the order's ticket, or take over one a cook left unfinished."""
        now = datetime.now(UTC)
        preparing = events.KitchenOrderPreparing(order_id=order_id, worker=worker)
        try:
            await self.tickets.insert_one(
                {
                    "_id": order_id,
                    "status": TicketStatus.PREPARING.value,
                    "worker": worker,
                    "items": items,
                    "started_at": now,
                    "attempts": 1,
                    **outbox.new_document_fields([preparing.to_event()]),
                }
            )
            return Ticket(order_id, TicketStatus.PREPARING, worker, items, now)
        except DuplicateKeyError:
            pass
        doc = await self.tickets.find_one_and_update(
            {"_id": order_id, "status": TicketStatus.PREPARING.value},
            {"$set": {"worker": worker, "started_at": now}, "$inc": {"attempts": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:  # finished already: the message is a redelivery
            found = await self.get(order_id)
            if found is None:  # nothing in OMS deletes tickets
                raise RuntimeError(f"ticket {order_id} vanished")
            return found
        return _to_ticket(doc)

    async def finish(self, order_id: str, worker: str) -> Ticket | None:
        ready = events.KitchenOrderReady(order_id=order_id, worker=worker)
        update = {
            "$set": {
                "status": TicketStatus.READY.value,
                "worker": worker,
                "finished_at": datetime.now(UTC),
            }
        }
        doc = await self.tickets.find_one_and_update(
            {"_id": order_id, "status": TicketStatus.PREPARING.value},
            outbox.merge(update, outbox.stage([ready.to_event()])),
            return_document=ReturnDocument.AFTER,
        )
        return _to_ticket(doc) if doc else None
