"""MongoDB through PyMongo's async client: one client per process, indexes made at start-up.

Each service keeps its collections in a database of its own (`<MONGODB_DATABASE>_<service>`):
no service reads another's data, and FerretDB (the test and dev server) serializes writes per
database, so services do not queue behind each other's writes.

Storage relies on single-document atomicity only (no multi-document transactions, change
streams or TTL indexes), and `find_one_and_update` is called without a projection, which
FerretDB's findAndModify does not implement. Hot-path filters are `_id` equality plus dotted
conditions only (`{"_id": x, "state.status": {"$in": [...]}}`), the shape FerretDB serves by
its `_id` index; `tests/platform/test_filter_shapes.py` checks every repository's filters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import AsyncMongoClient, IndexModel, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from oms.platform.settings import MongoSettings

Document = dict[str, Any]


def connect(
    settings: MongoSettings, listeners: Sequence[monitoring.CommandListener] = ()
) -> AsyncMongoClient[Document]:
    """The process's one client; it pools and reuses connections itself."""
    return AsyncMongoClient(
        settings.url,
        maxPoolSize=settings.max_pool_size,
        tz_aware=True,
        serverSelectionTimeoutMS=5_000,
        appname="oms",
        event_listeners=list(listeners),
    )


def database(
    client: AsyncMongoClient[Document], settings: MongoSettings, service: str = ""
) -> AsyncDatabase[Document]:
    """The service's own database (or the configured one itself, without a service)."""
    return client[f"{settings.database}_{service}" if service else settings.database]


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
