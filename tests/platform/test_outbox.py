"""The outbox: events stored with the change that causes them are relayed until RabbitMQ
confirms them, once each, and kept while it cannot."""

from __future__ import annotations

import uuid

import aio_pika
import pytest
from aio_pika.exceptions import DeliveryError
from pymongo import AsyncMongoClient

from oms.platform import mongo, outbox
from oms.platform.broker import Broker
from oms.platform.events import Event
from oms.platform.settings import MongoSettings, RabbitMQSettings


async def _bound_queue(broker: Broker, routing_key: str) -> aio_pika.abc.AbstractQueue:
    channel = await broker.connection.channel()
    queue = await channel.declare_queue(f"test.{uuid.uuid4().hex}", exclusive=True)
    await queue.bind(await channel.get_exchange(broker.settings.exchange), routing_key)
    return queue


async def test_staged_events_are_published_once_and_cleared(
    broker: Broker,
    mongo_client: AsyncMongoClient[mongo.Document],
    mongo_settings: MongoSettings,
) -> None:
    collection = mongo.database(mongo_client, mongo_settings).things
    key = f"thing.t{uuid.uuid4().hex[:8]}.happened"
    queue = await _bound_queue(broker, key)
    first, second = Event(type=key, data={"n": 1}), Event(type=key, data={"n": 2})
    await collection.insert_one({"_id": "a", **outbox.new_document_fields([first])})
    update = outbox.merge({"$set": {"state": "changed"}}, outbox.stage([second]))
    await collection.update_one({"_id": "a"}, update)
    relay = outbox.OutboxRelay(collection, broker)

    assert await relay.relay_documents(["a", "not-there"]) == 2  # as after a write
    assert await relay.relay_once() == 0  # the sweep finds nothing left

    received = []
    while (message := await queue.get(timeout=5, fail=False)) is not None:
        await message.ack()
        received.append(Event.from_json(message.body))
    assert received == [first, second]
    stored = await collection.find_one({"_id": "a"})
    assert stored is not None
    assert (stored["state"], stored["outbox"], stored[outbox.PENDING]) == ("changed", {}, 0)


async def test_an_event_the_broker_refuses_stays_staged(
    rabbitmq_settings: RabbitMQSettings,
    mongo_client: AsyncMongoClient[mongo.Document],
    mongo_settings: MongoSettings,
) -> None:
    broker = Broker(rabbitmq_settings)
    await broker.connect()
    collection = mongo.database(mongo_client, mongo_settings).things
    # No queue is bound to this key: the mandatory publish is returned, not confirmed.
    event = Event(type=f"nobody.t{uuid.uuid4().hex[:8]}.listens")
    await collection.insert_one({"_id": "b", **outbox.new_document_fields([event])})
    relay = outbox.OutboxRelay(collection, broker, publish_timeout=2)

    with pytest.raises(DeliveryError):  # the relay's loop logs it and tries again later
        await relay.relay_once()
    await broker.close()

    stored = await collection.find_one({"_id": "b"})
    assert stored is not None
    assert list(stored["outbox"]) == [event.id]
    assert stored[outbox.PENDING] == 1
