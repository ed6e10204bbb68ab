"""What the outbox tests share: a collection of their own, a relay that can hold what it is
handed, and a broker that remembers when it was asked to publish."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from oms.platform import mongo
from oms.platform.broker import Broker
from oms.platform.events import Event
from oms.platform.outbox_entries import Staged
from oms.platform.outbox_relay import OutboxRelay


class HeldRelay(OutboxRelay):
    """The real relay, except that what it is handed waits until `release()`: the test can
    read what the write stored before anything is published."""

    def __init__(self, collection: AsyncCollection[mongo.Document], broker: Broker) -> None:
        super().__init__(collection, broker)
        self.held: list[Staged] = []

    def publish(self, staged: Sequence[Staged]) -> None:
        self.held.extend(staged)

    def release(self) -> None:
        held, self.held = self.held, []
        super().publish(held)


class RecordingBroker(Broker):
    """The real broker, noting when each publish was asked for and of which event."""

    def __init__(self, broker: Broker) -> None:
        super().__init__(broker.settings, broker.exchange, name="recording-broker")
        self.attempts: list[tuple[float, str]] = []

    async def publish(self, event: Event, *, mandatory: bool = True) -> None:
        self.attempts.append((time.monotonic(), event.id))
        await super().publish(event, mandatory=mandatory)


def entry(event: Event) -> dict[str, object]:
    """The event as its outbox entry stores it."""
    return event.model_dump(mode="json")


class ReadBeforeChange:
    """The collection, except that a query's documents are handed over only after `meanwhile`
    ran: as a query that read them just before that change landed."""

    def __init__(
        self, collection: AsyncCollection[mongo.Document], meanwhile: Callable[[], Awaitable[None]]
    ) -> None:
        self.collection = collection
        self.meanwhile = meanwhile

    def __getattr__(self, name: str) -> Any:
        return getattr(self.collection, name)

    def find(self, *args: Any, **kwargs: Any) -> _ReadEarly:
        return _ReadEarly(self.collection.find(*args, **kwargs), self.meanwhile)


class _ReadEarly:
    def __init__(self, cursor: Any, meanwhile: Callable[[], Awaitable[None]]) -> None:
        self.cursor = cursor
        self.meanwhile = meanwhile

    def limit(self, count: int) -> _ReadEarly:
        self.cursor = self.cursor.limit(count)
        return self

    async def __aiter__(self) -> AsyncIterator[mongo.Document]:
        read = [document async for document in self.cursor]
        await self.meanwhile()
        for document in read:
            yield document
