"""Publishing through the broker: confirmed, persistent, and over one connection."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import DeliveryError

from devtools import servers
from oms.platform.broker import Broker
from oms.platform.events import Event
from oms.platform.settings import RabbitMQSettings


async def _bound_queue(broker: Broker, routing_key: str) -> aio_pika.abc.AbstractQueue:
    channel = await broker.connection.channel()
    queue = await channel.declare_queue(f"test.{uuid.uuid4().hex}", exclusive=True)
    exchange = await channel.get_exchange(broker.settings.exchange)
    await queue.bind(exchange, routing_key=routing_key)
    return queue


async def test_a_published_event_arrives_persistent_with_its_metadata(broker: Broker) -> None:
    queue = await _bound_queue(broker, "order.created")
    event = Event(type="order.created", data={"order_id": "o-1"})

    await broker.publish(event)

    message: AbstractIncomingMessage | None = await queue.get(timeout=5, fail=False)
    assert message is not None
    await message.ack()
    assert Event.from_json(message.body) == event
    assert message.message_id == event.id
    assert message.type == "order.created"
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.headers["x-event-version"] == 1
    assert message.timestamp is not None


async def test_an_event_no_queue_would_take_is_refused_not_dropped(broker: Broker) -> None:
    with pytest.raises(DeliveryError):
        await broker.publish(Event(type="nobody.listens", data={}))


async def test_many_publishes_share_one_connection_and_the_channel_pool(
    rabbitmq: servers.RabbitMQ, rabbitmq_settings: RabbitMQSettings
) -> None:
    name = f"count-{uuid.uuid4().hex[:8]}"
    broker = Broker(rabbitmq_settings, name=name)
    await broker.connect()
    try:
        queue = await _bound_queue(broker, "count.test")
        await asyncio.gather(
            *(broker.publish(Event(type="count.test", data={"n": n})) for n in range(200))
        )
        assert (await queue.declare()).message_count == 200

        connections, channels = await _connections_and_channels(rabbitmq, name)
        assert connections == 1
        # The pool's channels plus the one the test declared its queue on.
        assert channels <= rabbitmq_settings.channel_pool_size + 1
    finally:
        await broker.close()


async def _connections_and_channels(rabbitmq: servers.RabbitMQ, name: str) -> tuple[int, int]:
    """Ask the broker itself (management API) how many we hold, once its view has settled."""
    async with httpx.AsyncClient(auth=("guest", "guest"), base_url=rabbitmq.management_url) as http:
        for _ in range(50):
            connections = [
                c
                for c in (await http.get("/api/connections")).json()
                if c.get("client_properties", {}).get("connection_name") == name
            ]
            if connections and all("channels" in c for c in connections):
                break
            await asyncio.sleep(0.2)
        return len(connections), sum(c["channels"] for c in connections)
