"""Fixtures of the platform tests: a collection of the test's own and a started outbox relay."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from oms.platform import mongo
from oms.platform.broker import Broker
from oms.platform.outbox_relay import OutboxRelay
from oms.platform.settings import MongoSettings


@pytest.fixture
def things(
    mongo_client: AsyncMongoClient[mongo.Document], mongo_settings: MongoSettings
) -> AsyncCollection[mongo.Document]:
    return mongo.database(mongo_client, mongo_settings).things


@pytest.fixture
async def relay(
    things: AsyncCollection[mongo.Document], broker: Broker
) -> AsyncIterator[OutboxRelay]:
    """A started relay, as `Platform.outbox` starts it, stopped after the test."""
    started = OutboxRelay(things, broker)
    await started.start()
    yield started
    await started.stop()
