"""Payments in MongoDB, keyed by order id, with the outbox of the events they publish.

`payments`: one document per order, created when its Checkout Session exists (or as a
`cancelled` tombstone when the order was cancelled before that). Status changes are
compare-and-set updates that stage their event in the same write, so a webhook delivered
twice, or two instances racing, produce one `order.paid` at most.
`stripe_events`: the ids of the Stripe events already applied, to answer a redelivery.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from oms import domain_events as events
from oms.payment.domain import Payment, PaymentStatus
from oms.platform import outbox
from oms.platform.events import Event
from oms.platform.mongo import Document

INDEXES = {
    "payments": [outbox.INDEX, IndexModel([("status", ASCENDING), ("expires_at", ASCENDING)])],
}
HIDDEN = {"outbox": 0, "lines": 0}


def _to_payment(doc: dict[str, Any]) -> Payment:
    return Payment(
        order_id=doc["_id"],
        status=PaymentStatus(doc["status"]),
        checkout_session_id=doc.get("checkout_session_id", ""),
        url=doc.get("url", ""),
        expires_at=doc.get("expires_at"),
        currency=doc.get("currency", ""),
        total_minor=doc.get("total_minor", 0),
        refund_id=doc.get("refund_id", ""),
        trace_headers=doc.get("trace", {}),
    )


class MongoPaymentRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.payments = db.payments
        self.stripe_events = db.stripe_events

    async def get(self, order_id: str) -> Payment | None:
        doc = await self.payments.find_one({"_id": order_id}, HIDDEN)
        return _to_payment(doc) if doc else None

    async def lines(self, order_id: str) -> list[events.Line]:
        doc = await self.payments.find_one({"_id": order_id}, {"lines": 1})
        return [events.Line.model_validate(line) for line in (doc or {}).get("lines", [])]

    async def add(self, payment: Payment, lines: Sequence[events.Line]) -> Payment:
        """Store a new payment; if one exists for the order already, that one wins."""
        try:
            await self.payments.insert_one(
                {
                    "_id": payment.order_id,
                    "status": payment.status.value,
                    "checkout_session_id": payment.checkout_session_id,
                    "url": payment.url,
                    "expires_at": payment.expires_at,
                    "currency": payment.currency,
                    "total_minor": payment.total_minor,
                    "lines": [line.model_dump() for line in lines],
                    "refund_id": "",
                    "trace": payment.trace_headers,
                    "updated_at": datetime.now(UTC),
                    outbox.PENDING: 0,
                }
            )
        except DuplicateKeyError:
            existing = await self.get(payment.order_id)
            if existing is None:  # nothing in OMS deletes payments
                raise
            return existing
        return payment

    async def transition(
        self,
        order_id: str,
        to: PaymentStatus,
        from_states: Collection[PaymentStatus],
        staged: Sequence[Event] = (),
    ) -> Payment | None:
        """Move to `to` only from one of `from_states`, staging `staged`; None otherwise."""
        update = {"$set": {"status": to.value, "updated_at": datetime.now(UTC)}}
        doc = await self.payments.find_one_and_update(
            {"_id": order_id, "status": {"$in": [s.value for s in from_states]}},
            outbox.merge(update, outbox.stage(staged)),
            return_document=ReturnDocument.AFTER,
        )
        return _to_payment(doc) if doc else None

    async def set_refund(self, order_id: str, refund_id: str) -> None:
        await self.payments.update_one(
            {"_id": order_id}, {"$set": {"refund_id": refund_id, "updated_at": datetime.now(UTC)}}
        )

    async def open_and_expired(self, before: datetime, limit: int) -> list[Payment]:
        """Open payments whose session should have expired by `before` (a lost webhook)."""
        cursor = self.payments.find(
            {"status": PaymentStatus.OPEN.value, "expires_at": {"$lt": before}}, HIDDEN
        ).limit(limit)
        return [_to_payment(doc) async for doc in cursor]

    async def seen_stripe_event(self, event_id: str) -> bool:
        return await self.stripe_events.find_one({"_id": event_id}, {"_id": 1}) is not None

    async def record_stripe_event(self, event_id: str, event_type: str) -> None:
        try:
            await self.stripe_events.insert_one(
                {"_id": event_id, "type": event_type, "applied_at": datetime.now(UTC)}
            )
        except DuplicateKeyError:
            pass  # a concurrent delivery of the same event recorded it first
