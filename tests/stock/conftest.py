"""Stock processes on a fresh database of the real FerretDB, on a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from oms.platform import mongo
from oms.platform.settings import MongoSettings
from oms.stock.handlers import StockHandlers
from oms.stock.repository import MongoStockRepository
from tests.stock.support import Clock, ScriptedRepository, process

Spawn = Callable[..., StockHandlers]


@pytest.fixture
def db(
    mongo_client: AsyncMongoClient[mongo.Document], mongo_settings: MongoSettings
) -> AsyncDatabase[mongo.Document]:
    return mongo.database(mongo_client, mongo_settings)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def spawn(db: AsyncDatabase[mongo.Document], clock: Clock) -> AsyncIterator[Spawn]:
    """Start another Stock process (over a given repository, on its own clock); all are closed
    after the test."""
    started: list[MongoStockRepository] = []

    def start(
        repository: MongoStockRepository | None = None, on: Clock | None = None
    ) -> StockHandlers:
        handlers = process(db, on or clock, repository)
        assert isinstance(handlers.repository, MongoStockRepository)
        started.append(handlers.repository)
        return handlers

    yield start
    for repository in started:
        await repository.close()


@pytest.fixture
def stock(spawn: Spawn) -> StockHandlers:
    return spawn()


@pytest.fixture
def scripted(db: AsyncDatabase[mongo.Document]) -> ScriptedRepository:
    return ScriptedRepository(db)
