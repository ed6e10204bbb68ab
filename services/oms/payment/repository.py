"""Payments in MongoDB, keyed by order id, with the outbox of the events they publish.

`payments`: one document per order, created when its Checkout Session exists (or as a
`closed` tombstone when the order's checkout was closed before it opened, or `failed` when
Stripe refused to open it). Status changes are compare-and-set on `state.status` and stage
their event in the same write. The Stripe event ids a payment has applied are kept on it, and
a webhook applies only with its id absent, so concurrent duplicates have one effect.
`stripe_events`: ids of events about no payment of ours, answered as duplicates next time,
each with when it was received; a periodic cleanup forgets those older than the retention
(FerretDB v1 has no TTL indexes). A payment's own `stripe.events` needs none: Stripe sends
each of a Checkout Session's few event types at most once (a retry repeats the same id), so
it holds a handful of ids at most.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from oms.payment.domain import Payment, PaymentStatus
from oms.platform.clock import Clock, utc_now
from oms.platform.events import Event
from oms.platform.mongo import Document
from oms.platform.outbox import Outbox

COLLECTION = "payments"
STRIPE_EVENTS = "stripe_events"
# For the cleanup (MongoDB uses it; FerretDB v1 scans whatever it is told).
INDEXES = {STRIPE_EVENTS: [IndexModel([("received_at", ASCENDING)])]}
HIDDEN = {"outbox": 0}


class PaymentRepository(Protocol):
    async def get(self, order_id: str) -> Payment | None: ...
    async def add(self, payment: Payment, events: Sequence[Event] = ()) -> Payment: ...
    async def transition(
        self,
        order_id: str,
        to: PaymentStatus,
        from_states: Collection[PaymentStatus],
        events: Sequence[Event] = (),
        fields: dict[str, Any] | None = None,
        stripe_event: str = "",
    ) -> Payment | None: ...
    async def note_stripe_event(self, order_id: str, stripe_event: str) -> bool: ...
    async def note_foreign_event(self, stripe_event: str, event_type: str) -> bool: ...


def _to_payment(doc: Document) -> Payment:
    checkout = doc.get("checkout", {})
    return Payment(
        order_id=doc["_id"],
        status=PaymentStatus(doc["state"]["status"]),
        customer_id=doc.get("customer_id", ""),
        checkout_session_id=checkout.get("session_id", ""),
        url=checkout.get("url", ""),
        expires_at=checkout.get("expires_at"),
        currency=doc.get("currency", ""),
        amount_minor=doc.get("amount_minor", 0),
        payment_intent=doc.get("payment_intent", ""),
        refund_id=doc.get("refund_id", ""),
        reason=doc["state"].get("reason", ""),
        stripe_events=tuple(doc.get("stripe", {}).get("events", [])),
        trace_headers=doc.get("trace", {}),
    )


@dataclass
class MongoPaymentRepository:
    payments: AsyncCollection[Document]
    stripe_events: AsyncCollection[Document]
    outbox: Outbox
    clock: Clock = utc_now

    async def get(self, order_id: str) -> Payment | None:
        doc = await self.payments.find_one({"_id": order_id}, HIDDEN)
        return _to_payment(doc) if doc else None

    async def add(self, payment: Payment, events: Sequence[Event] = ()) -> Payment:
        """Store a new payment; if the order has one already, that one wins."""
        try:
            await self.outbox.insert(
                {
                    "_id": payment.order_id,
                    "state": {"status": payment.status.value, "reason": payment.reason},
                    "customer_id": payment.customer_id,
                    "checkout": {
                        "session_id": payment.checkout_session_id,
                        "url": payment.url,
                        "expires_at": payment.expires_at,
                    },
                    "currency": payment.currency,
                    "amount_minor": payment.amount_minor,
                    "stripe": {"events": []},
                    "trace": payment.trace_headers,
                    "created_at": datetime.now(UTC),
                },
                events,
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
        events: Sequence[Event] = (),
        fields: dict[str, Any] | None = None,
        stripe_event: str = "",
    ) -> Payment | None:
        """Move to `to` from one of `from_states` (and, given `stripe_event`, only if that
        event was not applied yet, recording it); None otherwise."""
        query: dict[str, Any] = {
            "_id": order_id,
            "state.status": {"$in": [s.value for s in from_states]},
        }
        update: dict[str, Any] = {"$set": {"state.status": to.value, **(fields or {})}}
        if stripe_event:
            query["stripe.events"] = {"$ne": stripe_event}
            update["$push"] = {"stripe.events": stripe_event}
        doc = await self.outbox.update(query, update, events)
        return _to_payment(doc) if doc else None

    async def note_stripe_event(self, order_id: str, stripe_event: str) -> bool:
        """Record an event that changes nothing here; False if it was recorded before."""
        result = await self.payments.update_one(
            {"_id": order_id, "stripe.events": {"$ne": stripe_event}},
            {"$push": {"stripe.events": stripe_event}},
        )
        return result.modified_count == 1

    async def note_foreign_event(self, stripe_event: str, event_type: str) -> bool:
        """Record an event about no payment of ours; False if it was recorded before."""
        try:
            await self.stripe_events.insert_one(
                {"_id": stripe_event, "type": event_type, "received_at": self.clock()}
            )
        except DuplicateKeyError:
            return False
        return True

    async def forget_foreign_events(self, retention: timedelta) -> int:
        """Forget the events about no payment of ours received longer than `retention` ago;
        how many. A periodic job, off every payment's path: the one filter here not by
        `_id` (an index on MongoDB, a scan of a small collection on FerretDB)."""
        result = await self.stripe_events.delete_many(
            {"received_at": {"$lt": self.clock() - retention}}
        )
        return result.deleted_count
