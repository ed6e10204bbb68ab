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

    Woken at once after a local write (`wake`), and every `interval` seconds regardless, so
    events stored while the broker was down, or by an instance that died, still go out.
    """

    def __init__(
        self,
        collection: AsyncCollection[Document],
        broker: Broker,
        interval: float = 1.0,
        publish_timeout: float = 5.0,
    ) -> None:
        self.collection = collection
        self.broker = broker
        self.interval = interval
        self.publish_timeout = publish_timeout
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
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
            try:
                await self.relay_once()
            except Exception:
                log.warning("outbox.relay_failed", collection=self.collection.name, exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)

    async def relay_once(self, batch: int = 100) -> int:
        """Publish what is pending; returns how many events the broker confirmed."""
        published = 0
        cursor = self.collection.find({PENDING: {"$gt": 0}}, {"outbox": 1}).limit(batch)
        async for document in cursor:
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
        with tracer.start_as_current_span(f"outbox publish {event.type}", context=parent):
            await asyncio.wait_for(self.broker.publish(event), self.publish_timeout)
