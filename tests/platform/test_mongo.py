"""MongoDB through PyMongo's async client, against FerretDB."""

from __future__ import annotations

import asyncio

import pytest
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, monitoring
from pymongo.errors import DuplicateKeyError

from oms.platform import mongo
from oms.platform.settings import MongoSettings


async def test_documents_are_written_and_read_back(
    mongo_client: AsyncMongoClient[mongo.Document], mongo_settings: MongoSettings
) -> None:
    db = mongo.database(mongo_client, mongo_settings)
    await db.orders.insert_one({"_id": "o-1", "customer_id": "c-1", "total": 1250})
    await db.orders.update_one({"_id": "o-1"}, {"$set": {"status": "paid"}})

    found = await db.orders.find_one({"_id": "o-1"})

    assert found == {"_id": "o-1", "customer_id": "c-1", "total": 1250, "status": "paid"}


async def test_indexes_made_at_start_up_are_enforced_and_idempotent(
    mongo_client: AsyncMongoClient[mongo.Document], mongo_settings: MongoSettings
) -> None:
    db = mongo.database(mongo_client, mongo_settings)
    indexes = {
        "orders": [
            IndexModel([("idempotency_key", ASCENDING)], unique=True),
            IndexModel([("customer_id", ASCENDING), ("created_at", DESCENDING)]),
        ]
    }
    await mongo.ensure_indexes(db, indexes)
    await mongo.ensure_indexes(db, indexes)  # a restart declares them again

    await db.orders.insert_one({"_id": "a", "idempotency_key": "k-1"})
    with pytest.raises(DuplicateKeyError):
        await db.orders.insert_one({"_id": "b", "idempotency_key": "k-1"})


async def test_each_service_keeps_its_collections_in_a_database_of_its_own(
    mongo_client: AsyncMongoClient[mongo.Document], mongo_settings: MongoSettings
) -> None:
    order = mongo.database(mongo_client, mongo_settings, "order")
    stock = mongo.database(mongo_client, mongo_settings, "stock")
    try:
        await order.things.insert_one({"_id": "same-id", "owner": "order"})
        await stock.things.insert_one({"_id": "same-id", "owner": "stock"})

        assert (order.name, stock.name) == (
            f"{mongo_settings.database}_order",
            f"{mongo_settings.database}_stock",
        )
        assert await order.things.find_one({"_id": "same-id"}) == {
            "_id": "same-id",
            "owner": "order",
        }
        assert await stock.things.find_one({"_id": "same-id"}) == {
            "_id": "same-id",
            "owner": "stock",
        }
        # Without a service, the configured database itself.
        assert mongo.database(mongo_client, mongo_settings).name == mongo_settings.database
    finally:
        await mongo_client.drop_database(order.name)
        await mongo_client.drop_database(stock.name)


class _ConnectionCounter(monitoring.ConnectionPoolListener):
    def __init__(self) -> None:
        self.created = 0

    def connection_created(self, event: monitoring.ConnectionCreatedEvent) -> None:
        self.created += 1

    def pool_created(self, event: monitoring.PoolCreatedEvent) -> None: ...
    def pool_ready(self, event: monitoring.PoolReadyEvent) -> None: ...
    def pool_cleared(self, event: monitoring.PoolClearedEvent) -> None: ...
    def pool_closed(self, event: monitoring.PoolClosedEvent) -> None: ...
    def connection_ready(self, event: monitoring.ConnectionReadyEvent) -> None: ...
    def connection_closed(self, event: monitoring.ConnectionClosedEvent) -> None: ...
    def connection_check_out_started(
        self, event: monitoring.ConnectionCheckOutStartedEvent
    ) -> None: ...
    def connection_check_out_failed(
        self, event: monitoring.ConnectionCheckOutFailedEvent
    ) -> None: ...
    def connection_checked_out(self, event: monitoring.ConnectionCheckedOutEvent) -> None: ...
    def connection_checked_in(self, event: monitoring.ConnectionCheckedInEvent) -> None: ...


async def test_queries_reuse_the_pooled_connections(mongo_settings: MongoSettings) -> None:
    counter = _ConnectionCounter()
    monitoring.register(counter)  # applies to clients created from here on
    client = mongo.connect(mongo_settings)
    try:
        db = mongo.database(client, mongo_settings)
        for n in range(100):
            await db.items.insert_one({"n": n})
        sequential = counter.created
        await asyncio.gather(*(db.items.find_one({"n": n}) for n in range(200)))

        assert sequential == 1
        assert counter.created <= mongo_settings.max_pool_size
    finally:
        await client.drop_database(mongo_settings.database)
        await client.close()
