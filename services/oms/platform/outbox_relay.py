"""The outbox's relay: publishes the events a collection's writes stored, until RabbitMQ has
confirmed each, then clears their entries (see `oms.platform.outbox`)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import propagate, trace
from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from oms.platform import logs, metrics
from oms.platform.broker import Broker
from oms.platform.mongo import Document
from oms.platform.outbox_entries import FIELD, Staged
from oms.platform.timers import Timers

log = logs.get(__name__)
tracer = trace.get_tracer(__name__)


class OutboxRelay:
    """Publishes one collection's staged events until the broker has confirmed each.

    Events of one document are published in the order they were staged, even when one
    fails: the document's later events then wait, stored, for the sweep that publishes them
    all in order. Documents are published side by side, up to `max_in_flight`.

    A confirmed entry is cleared `clear_after` seconds later, in one bulk write with the
    others, unless a change to its document took it along first (most do: an order is
    usually changed again within a second), which saves that write. `must_route(key)`: does a
    durable queue take the event (then an unroutable one is an error, not lost)?
    """

    def __init__(
        self,
        collection: AsyncCollection[Document],
        broker: Broker,
        must_route: Callable[[str], bool] = lambda _: True,
        sweep_interval: float = 30.0,
        publish_timeout: float = 5.0,
        max_in_flight: int = 64,
        clear_batch: int = 200,
        retry_after: float = 1.0,
        clear_after: float = 1.0,
    ) -> None:
        self.collection = collection
        self.broker = broker
        self._timers = Timers(broker)
        self.must_route = must_route
        self.sweep_interval = sweep_interval
        self.publish_timeout = publish_timeout
        self.clear_batch = clear_batch
        self.retry_after = retry_after
        self.clear_after = clear_after
        self._clear_now = asyncio.Event()
        self._retry_delay = retry_after
        self._publish_failed = False
        self._slots = asyncio.Semaphore(max_in_flight)
        self._chains: dict[Any, asyncio.Task[None]] = {}
        self._in_flight: set[str] = set()
        # Every event handed here (or found by a sweep) that the broker has not confirmed,
        # since when: in flight, or stored after a failed publish until a sweep's succeeds.
        # The backlog and age gauges read it when scraped (the last relay of a collection's
        # name wins: one per collection in a service).
        self._unconfirmed: dict[str, float] = {}
        metrics.OUTBOX_BACKLOG.labels(collection.name).set_function(lambda: len(self._unconfirmed))
        metrics.OUTBOX_OLDEST_SECONDS.labels(collection.name).set_function(self._oldest_age)
        self._published: dict[Any, list[str]] = {}
        # While a sweep runs: the entries cleared (or taken by a write to clear) meanwhile. Its
        # query may have read them before they went; they are published, not to send again.
        self._gone_while_sweeping: set[str] | None = None
        # Documents with an event that failed to publish: their events wait for a sweep.
        self._blocked: set[Any] = set()
        # One clear at a time, so `drain` waits for the one the clear loop has under way.
        self._clearing = asyncio.Lock()
        self._clear_due = asyncio.Event()
        self._sweep_due = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def publish(self, staged: Sequence[Staged]) -> None:
        """Publish these just-stored events now, after any still in flight for their document."""
        by_document: dict[Any, list[Staged]] = {}
        for item in staged:
            by_document.setdefault(item.document_id, []).append(item)
        now = time.monotonic()
        for document_id, items in by_document.items():
            for item in items:
                self._unconfirmed.setdefault(item.event.id, now)
            if document_id in self._blocked:
                continue  # stored: the sweep publishes them after the one that failed
            previous = self._chains.get(document_id)
            self._in_flight.update(item.event.id for item in items)
            task = asyncio.create_task(self._publish_after(previous, items))
            self._chains[document_id] = task
            task.add_done_callback(functools.partial(self._forget, document_id))

    def sweep_soon(self) -> None:
        self._sweep_due.set()

    async def start(self) -> None:
        name = self.collection.name
        self._tasks = [
            asyncio.create_task(self._clear_loop(), name=f"outbox-clear-{name}"),
            asyncio.create_task(self._sweep_loop(), name=f"outbox-sweep-{name}"),
        ]

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Give in-flight publishes `grace_seconds`, store their clears, then stop."""
        chains = list(self._chains.values())
        if chains:
            await asyncio.wait(chains, timeout=grace_seconds)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self._clear()

    def _forget(self, document_id: Any, done: asyncio.Task[None]) -> None:
        if self._chains.get(document_id) is done:
            del self._chains[document_id]

    async def _publish_after(
        self, previous: asyncio.Task[None] | None, items: Sequence[Staged]
    ) -> None:
        if previous is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(previous)
        try:
            if items[0].document_id in self._blocked:
                return  # the one before failed: these wait for the sweep, in order
            for item in items:
                await self._publish(item)
                self._unconfirmed.pop(item.event.id, None)
                self._published.setdefault(item.document_id, []).append(item.event.id)
                self._clear_due.set()
                self._retry_delay = self.retry_after
        except Exception:
            # Nothing is lost: the events stay stored and the next sweep publishes them.
            log.warning("outbox.publish_failed", collection=self.collection.name, exc_info=True)
            self._blocked.add(items[0].document_id)
            self._publish_failed = True
            self._sweep_due.set()
        finally:
            for item in items:
                self._in_flight.discard(item.event.id)

    def _oldest_age(self) -> float:
        oldest = min(self._unconfirmed.values(), default=None)
        return 0.0 if oldest is None else time.monotonic() - oldest

    async def _publish(self, item: Staged) -> None:
        parent = propagate.extract(item.headers)
        async with self._slots:
            with tracer.start_as_current_span(f"outbox publish {item.event.type}", context=parent):
                async with asyncio.timeout(self.publish_timeout):
                    if item.delay_seconds is not None:
                        await self._timers.set(item.event, item.delay_seconds)
                    else:
                        await self.broker.publish(
                            item.event, mandatory=self.must_route(item.event.type)
                        )

    def take_confirmed(self, document_id: Any) -> list[str]:
        """The document's confirmed entries, for a write of the document to clear."""
        taken = self._published.pop(document_id, [])
        if self._gone_while_sweeping is not None:
            self._gone_while_sweeping.update(taken)
        return taken

    def give_back(self, document_id: Any, event_ids: list[str]) -> None:
        """Entries a write did not clear after all: the relay clears them."""
        if event_ids:
            self._published.setdefault(document_id, []).extend(event_ids)
            self._clear_due.set()

    async def _clear_loop(self) -> None:
        while True:
            await self._clear_due.wait()
            self._clear_due.clear()
            # A while for the documents' own next writes to take them along.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.clear_after):
                    await self._clear_now.wait()
            try:
                await self._clear()
            except Exception:
                # The entries stay stored; a sweep may publish them again (consumers dedupe).
                log.warning("outbox.clear_failed", collection=self.collection.name, exc_info=True)

    async def _clear(self) -> None:
        """One bulk write removes every confirmed entry, one `_id`-only update per document.

        Entries are forgotten only once the write succeeded: a failed (or interrupted) clear
        is tried again by the next one.
        """
        async with self._clearing:
            while self._published:
                batch = {
                    document_id: list(ids)
                    for document_id, ids in itertools.islice(
                        self._published.items(), self.clear_batch
                    )
                }
                operations = [
                    UpdateOne({"_id": document_id}, {"$unset": {f"{FIELD}.{e}": "" for e in ids}})
                    for document_id, ids in batch.items()
                ]
                await self.collection.bulk_write(operations, ordered=False)
                for document_id, ids in batch.items():
                    cleared = set(ids)
                    if self._gone_while_sweeping is not None:
                        self._gone_while_sweeping.update(cleared)
                    left = [e for e in self._published.pop(document_id, []) if e not in cleared]
                    if left:  # published while this write was under way
                        self._published[document_id] = left

    async def _sweep_loop(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.warning("outbox.sweep_failed", collection=self.collection.name, exc_info=True)
            await self._until_sweep_due()

    async def _until_sweep_due(self) -> None:
        """`sweep_interval`, or sooner when asked; after a failed publish, the retry delay."""
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the cancellation stop()
        # sends when the event is set at that moment, and stop would then never return.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.sweep_interval):
                await self._sweep_due.wait()
        self._sweep_due.clear()
        if self._publish_failed:
            self._publish_failed = False
            delay = min(self._retry_delay, self.sweep_interval)
            self._retry_delay = min(delay * 2, self.sweep_interval)
            await asyncio.sleep(delay)

    async def sweep(self, limit: int = 500) -> int:
        """Publish what is stored but not in flight here; returns how many events it handed on.

        This query is not served by `_id`: it runs at start, every `sweep_interval` seconds and
        after a failed publish, never on a request's path.
        """
        self._gone_while_sweeping = set()
        try:
            return await self._sweep(limit, self._gone_while_sweeping)
        finally:
            self._gone_while_sweeping = None

    async def _sweep(self, limit: int, gone: set[str]) -> int:
        started = time.monotonic()
        cursor = self.collection.find({FIELD: {"$exists": True, "$ne": {}}}, {FIELD: 1})
        handed = documents = 0
        stored: set[str] = set()
        async for document in cursor.limit(limit):
            documents += 1
            stored.update(document.get(FIELD) or {})
            # Looked at now, not before the query: an event stored and handed to this relay
            # while the query ran is already on its way and must not go out twice.
            handled_here = self._in_flight.union(self._published.get(document["_id"], []), gone)
            staged = [
                Staged.from_entry(document["_id"], entry)
                for event_id, entry in (document.get(FIELD) or {}).items()
                if event_id not in handled_here
            ]
            handed += len(staged)
            self._blocked.discard(document["_id"])  # its stored events go out in order now
            self.publish(staged)
        if documents < limit:
            # The sweep saw every stored event: one this relay failed to publish and no longer
            # stored was published by another process's sweep (one handed over since the
            # query began may be stored after it read; it is not forgotten).
            for event_id, since in list(self._unconfirmed.items()):
                if since < started and event_id not in stored and event_id not in self._in_flight:
                    del self._unconfirmed[event_id]
        return handed

    async def published(self) -> None:
        """Wait until every event handed over so far was published (or failed to be)."""
        while self._chains:
            await asyncio.gather(*self._chains.values(), return_exceptions=True)

    async def drain(self) -> None:
        """Wait until every event handed over so far is published and cleared (tests, stop)."""
        await self.published()
        self._clear_now.set()
        try:
            await self._clear()
        finally:
            self._clear_now.clear()
