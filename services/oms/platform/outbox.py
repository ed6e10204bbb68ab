"""A transactional outbox on single documents, and the relay that empties it into RabbitMQ.

A service that publishes because it changed a document stores the events *in that document*,
in the same single-document write as the change (`outbox.<event id>` entries). The change and
its events are stored together or not at all, with no multi-document transaction, and the
relay publishes them whenever the broker is reachable: an order accepted while RabbitMQ is
down is published when it returns.

`Outbox` is the unit of work repositories use: `insert` and `update` store a change with its
events in one write and hand the events to the relay in memory, so the relay never reads them
back. Once the broker has confirmed an event, the relay clears its entry; clears are batched
into one bulk write of `_id`-only updates. A sweep at start and every `sweep_interval` seconds
publishes whatever a dead instance, or a broker outage, left staged; after a failed publish
the next sweep comes `retry_after` seconds later, twice as late each time it fails again (up
to `sweep_interval`), so an outage is not met with a sweep per round trip.

Publishing twice is possible (a crash between the broker's confirm and the clear); consumers
are idempotent by state, so a duplicate changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from oms.platform.events import Event
from oms.platform.mongo import Document
from oms.platform.outbox_entries import FIELD, Delayed, paths, stage
from oms.platform.outbox_relay import OutboxRelay


class Outbox:
    """The unit of work for one collection: a change and its events in one write."""

    def __init__(self, collection: AsyncCollection[Document], relay: OutboxRelay) -> None:
        self.collection = collection
        self.relay = relay

    async def insert(self, document: Document, events: Sequence[Event | Delayed] = ()) -> None:
        """Insert `document` with `events` (DuplicateKeyError if its `_id` exists)."""
        staged = stage(document["_id"], events)
        entries = {item.event.id: item.entry() for item in staged}
        await self.collection.insert_one({**document, FIELD: entries})
        self.relay.publish(staged)

    async def update(
        self,
        query: Mapping[str, Any],
        update: Mapping[str, Any],
        events: Sequence[Event | Delayed] = (),
    ) -> Document | None:
        """Apply `update` where `query` matches (compare-and-set), storing `events` with it.

        Returns the document after the change, or None when nothing matched (and then no
        event is stored or published).
        """
        document_id = query["_id"]
        staged = stage(document_id, events)
        merged = {operator: dict(fields) for operator, fields in update.items()}
        if staged:
            merged.setdefault("$set", {}).update(
                {f"{FIELD}.{item.event.id}": item.entry() for item in staged}
            )
        # Entries the broker confirmed go with this write: no write of their own.
        confirmed = self.relay.take_confirmed(document_id)
        restaged = {item.event.id for item in staged}
        if restaged & set(confirmed):  # an event stored again: its entry stays
            self.relay.give_back(document_id, [e for e in confirmed if e in restaged])
            confirmed = [e for e in confirmed if e not in restaged]
        if confirmed:
            merged.setdefault("$unset", {}).update(dict.fromkeys(paths(confirmed), ""))
        # No projection: FerretDB's findAndModify does not implement one.
        try:
            document = await self.collection.find_one_and_update(
                dict(query), merged, return_document=ReturnDocument.AFTER
            )
        except BaseException:
            self.relay.give_back(document_id, confirmed)
            raise
        if document is None:
            self.relay.give_back(document_id, confirmed)
        else:
            self.relay.publish(staged)
        return document
