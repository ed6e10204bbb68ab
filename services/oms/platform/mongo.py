"""MongoDB through PyMongo's async client: one client per process, indexes made at start-up.

The test and dev server is FerretDB, so storage relies on single-document atomicity only
(no multi-document transactions, change streams or TTL indexes), and `find_one_and_update`
is called without a projection, which FerretDB's findAndModify does not implement.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from oms.platform.events import Event
from oms.platform.settings import MongoSettings

Document = dict[str, Any]
Handler = Callable[[Event], Awaitable[None]]


def connect(settings: MongoSettings) -> AsyncMongoClient[Document]:
    """The process's one client; it pools and reuses connections itself."""
    return AsyncMongoClient(
        settings.url,
        maxPoolSize=settings.max_pool_size,
        tz_aware=True,
        serverSelectionTimeoutMS=5_000,
        appname="oms",
    )


def database(
    client: AsyncMongoClient[Document], settings: MongoSettings
) -> AsyncDatabase[Document]:
    return client[settings.database]


async def ping(client: AsyncMongoClient[Document]) -> None:
    await client.admin.command("ping")


async def ensure_indexes(
    db: AsyncDatabase[Document], indexes: Mapping[str, Sequence[IndexModel]]
) -> None:
    """Create the indexes that do not exist yet (a restart declares them all again).

    Only the missing ones are sent: FerretDB drops the connection when asked to create
    several indexes that all exist already.
    """
    for collection, models in indexes.items():
        existing = {index["name"] async for index in await db[collection].list_indexes()}
        missing = [model for model in models if model.document["name"] not in existing]
        if missing:
            await db[collection].create_indexes(missing)


@dataclass
class Inbox:
    """Remembers which events a consumer has handled, so a redelivery has no second effect.

    Handlers should still be safe to repeat (conditional updates): a crash between the effect
    and `record` replays the event once more.
    """

    db: AsyncDatabase[Document]
    consumer: str
    collection_name: str = "processed_events"
    _collection: AsyncCollection[Document] = field(init=False)

    def __post_init__(self) -> None:
        self._collection = self.db[self.collection_name]

    def _key(self, event_id: str) -> str:
        return f"{self.consumer}:{event_id}"

    async def seen(self, event_id: str) -> bool:
        return await self._collection.find_one({"_id": self._key(event_id)}, {"_id": 1}) is not None

    async def record(self, event: Event) -> None:
        try:
            await self._collection.insert_one(
                {
                    "_id": self._key(event.id),
                    "consumer": self.consumer,
                    "event_type": event.type,
                    "processed_at": datetime.now(UTC),
                }
            )
        except DuplicateKeyError:
            pass  # a concurrent redelivery got there first; same effect

    def wrap(self, handler: Handler) -> Handler:
        """`handler`, skipping events already recorded and recording the ones it completes."""

        async def idempotent(event: Event) -> None:
            if await self.seen(event.id):
                return
            await handler(event)
            await self.record(event)

        return idempotent
