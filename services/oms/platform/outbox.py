"""A transactional outbox on single documents, and the relay that empties it into RabbitMQ.

A service that must publish because it changed a document stores the events *in that
document*, in the same single-document update as the change (`outbox.<event id>` entries and
an `outbox_pending` counter). The change and its events are therefore stored together or not
at all, with no multi-document transaction, and the relay publishes them whenever the broker
is reachable: an order accepted while RabbitMQ is down is published when it returns.

Publishing twice is possible (a crash between the broker's confirm and `mark_published`);
consumers deduplicate by event id.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

from opentelemetry import propagate, trace
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from oms.platform import logs
from oms.platform.broker import Broker
from oms.platform.events import Event
from oms.platform.mongo import Document

log = logs.get(__name__)
tracer = trace.get_tracer(__name__)

PENDING = "outbox_pending"
# Add to the indexes of every collection that carries an outbox, so the relay's scan is cheap.
INDEX = IndexModel([(PENDING, ASCENDING)])


def stage(events: Iterable[Event]) -> dict[str, Any]:
    """Update operators that store `events` in a document's outbox.

    Each entry carries the current trace context, so the publish continues the trace of the
    request that caused it. Merge the result into the update that makes the change.
    """
    entries: dict[str, Any] = {}
    for event in events:
        headers: dict[str, str] = {}
        propagate.inject(headers)
        entries[f"outbox.{event.id}"] = {"event": event.model_dump(mode="json"), "headers": headers}
    if not entries:
        return {}
    return {"$set": entries, "$inc": {PENDING: len(entries)}}


def merge(update: dict[str, Any], staged: dict[str, Any]) -> dict[str, Any]:
    """`update` with the staged outbox operators added to its own."""
    merged = {operator: dict(fields) for operator, fields in update.items()}
    for operator, fields in staged.items():
        merged.setdefault(operator, {}).update(fields)
    return merged


def new_document_fields(events: Iterable[Event]) -> dict[str, Any]:
    """The outbox fields of a document inserted together with its first events."""
    staged = stage(events).get("$set", {})
    entries = {key.removeprefix("outbox."): value for key, value in staged.items()}
    return {"outbox": entries, PENDING: len(entries)}


class OutboxRelay:
    """Publishes the staged events of one collection until the broker has confirmed each.

    `wake(document_id)` after a local write publishes that document's events at once, by
    its id. Every `interval` seconds, and at start, a sweep looks for any document with staged
    events (written while the broker was down, or by an instance that died). The sweep is a
    query on `outbox_pending`; keeping it off the hot path matters where that query scans.
    """

    def __init__(
        self,
        collection: AsyncCollection[Document],
        broker: Broker,
        interval: float = 5.0,
        publish_timeout: float = 5.0,
        max_in_flight: int = 32,
    ) -> None:
        self.collection = collection
        self.broker = broker
        self.interval = interval
        self.publish_timeout = publish_timeout
        self._wake = asyncio.Event()
        self._due: set[str] = set()
        self._sweep = True
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._task: asyncio.Task[None] | None = None

    def wake(self, document_id: str | None = None) -> None:
        """Publish what `document_id` staged now (or, without an id, sweep everything)."""
        if document_id is None:
            self._sweep = True
        else:
            self._due.add(document_id)
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-{self.collection.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            due, self._due = self._due, set()
            sweep, self._sweep = self._sweep, False
            try:
                if sweep:
                    await self.relay_once()
                elif due:
                    await self.relay_documents(due)
            except Exception:
                # Nothing is lost: the events stay staged and the next sweep publishes them.
                log.warning("outbox.relay_failed", collection=self.collection.name, exc_info=True)
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval)
            except TimeoutError:
                self._sweep = True

    async def relay_once(self, batch: int = 100) -> int:
        """Publish everything pending; returns how many events the broker confirmed."""
        cursor = self.collection.find({PENDING: {"$gt": 0}}, {"outbox": 1}).limit(batch)
        documents = [document async for document in cursor]
        return sum(await asyncio.gather(*(self._relay(document) for document in documents)))

    async def relay_documents(self, document_ids: Iterable[str]) -> int:
        """Publish what these documents staged; returns how many events were confirmed."""

        async def relay(document_id: str) -> int:
            document = await self.collection.find_one({"_id": document_id}, {"outbox": 1})
            return 0 if document is None else await self._relay(document)

        return sum(await asyncio.gather(*(relay(document_id) for document_id in document_ids)))

    async def _relay(self, document: Document) -> int:
        """Publish one document's events in the order they were staged, then clear each."""
        published = 0
        for event_id, entry in (document.get("outbox") or {}).items():
            await self._publish(entry)
            await self.collection.update_one(
                {"_id": document["_id"], f"outbox.{event_id}": {"$exists": True}},
                {"$unset": {f"outbox.{event_id}": ""}, "$inc": {PENDING: -1}},
            )
            published += 1
        return published

    async def _publish(self, entry: dict[str, Any]) -> None:
        event = Event.model_validate(entry["event"])
        parent = propagate.extract(entry.get("headers") or {})
        # Documents are relayed side by side (each waits for its own confirms), up to a bound.
        async with self._in_flight:
            with tracer.start_as_current_span(f"outbox publish {event.type}", context=parent):
                await asyncio.wait_for(self.broker.publish(event), self.publish_timeout)
