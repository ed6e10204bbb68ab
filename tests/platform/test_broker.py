"""Publishing through the broker: confirmed, persistent, refused when no queue would take it
(unless told otherwise), over one connection; and what the broker tells about itself."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import ChannelNotFoundEntity, DeliveryError

from devtools import servers
from oms.domain_events import EXCHANGE
from oms.platform.broker import Broker
from oms.platform.consumer import Consumer
from oms.platform.events import Event
from oms.platform.follower import Follower
from oms.platform.settings import RabbitMQSettings
from tests.platform.support import bound_queue, event_type, eventually, take


async def test_a_published_event_arrives_persistent_with_its_metadata(broker: Broker) -> None:
    key = event_type("created")
    queue = await bound_queue(broker, key)
    event = Event(type=key, data={"order_id": "o-1"})

    await broker.publish(event)

    message: AbstractIncomingMessage | None = await queue.get(timeout=5, fail=False)
    assert message is not None
    await message.ack()
    assert Event.from_json(message.body) == event
    assert message.message_id == event.id
    assert message.type == key
    assert message.routing_key == key
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.headers["x-event-version"] == 1
    assert message.timestamp is not None


async def test_an_event_no_queue_would_take_is_refused_not_dropped(broker: Broker) -> None:
    with pytest.raises(DeliveryError):
        await broker.publish(Event(type=event_type("unheard")))


async def test_an_event_only_observers_follow_may_be_published_without_mandatory(
    broker: Broker,
) -> None:
    await broker.publish(Event(type=event_type("unheard")), mandatory=False)

    # The channel it went out on is still good for the next publish.
    key = event_type()
    queue = await bound_queue(broker, key)
    await broker.publish(Event(type=key, data={"n": 2}))
    assert [event.data for event in await take(queue, 1)] == [{"n": 2}]


async def test_events_go_through_the_exchange_the_broker_was_given(
    broker: Broker, rabbitmq_settings: RabbitMQSettings
) -> None:
    exchange = f"test.exchange.{uuid.uuid4().hex[:8]}"
    own = Broker(rabbitmq_settings, exchange, name="exchange-test")
    await own.connect()  # declares it
    try:
        key = event_type()
        on_own, on_platform = await bound_queue(own, key), await bound_queue(broker, key)

        await own.publish(Event(type=key))

        assert len(await take(on_own, 1)) == 1
        # Confirmed means routed: the platform's exchange (`broker.exchange`) got nothing.
        assert (await on_platform.declare()).message_count == 0
        assert broker.exchange == EXCHANGE
    finally:
        async with own.channel() as channel:
            await channel.exchange_delete(exchange)
        await own.close()


async def test_connected_follows_connect_and_close(rabbitmq_settings: RabbitMQSettings) -> None:
    broker = Broker(rabbitmq_settings, EXCHANGE, name="connected-test")
    assert not broker.connected
    await broker.connect()
    assert broker.connected
    await broker.close()
    assert not broker.connected


async def test_queue_depth_counts_what_waits_and_a_missing_queue_harms_no_channel(
    broker: Broker,
) -> None:
    key = event_type()
    queue = await bound_queue(broker, key)
    assert await broker.queue_depth(queue.name) == 0
    for n in range(3):
        await broker.publish(Event(type=key, data={"n": n}))

    assert await broker.queue_depth(queue.name) == 3
    with pytest.raises(ChannelNotFoundEntity):
        await broker.queue_depth(f"test.missing.{uuid.uuid4().hex}")
    # The pooled channel the broker closed for that is reopened: every one still works.
    for _ in range(broker.settings.channel_pool_size + 1):
        await broker.publish(Event(type=key))
    assert await broker.queue_depth(queue.name) == 3 + broker.settings.channel_pool_size + 1


async def test_many_publishes_share_one_connection_and_the_channel_pool(
    rabbitmq: servers.RabbitMQ, rabbitmq_settings: RabbitMQSettings
) -> None:
    name = f"count-{uuid.uuid4().hex[:8]}"
    broker = Broker(rabbitmq_settings, EXCHANGE, name=name)
    await broker.connect()
    try:
        key = event_type()
        queue = await bound_queue(broker, key)
        await asyncio.gather(*(broker.publish(Event(type=key, data={"n": n})) for n in range(200)))
        assert (await queue.declare()).message_count == 200

        connections, channels = await _connections_and_channels(rabbitmq, name)
        assert connections == 1
        # The pool's channels plus the one the test declared its queue on.
        assert channels <= rabbitmq_settings.channel_pool_size + 1
    finally:
        await broker.close()


async def _connections_and_channels(rabbitmq: servers.RabbitMQ, name: str) -> tuple[int, int]:
    """Ask the broker itself (management API) how many we hold, once its view has settled."""
    found: list[dict[str, int]] = []
    async with httpx.AsyncClient(auth=("guest", "guest"), base_url=rabbitmq.management_url) as http:

        async def listed() -> bool:
            found[:] = [
                c
                for c in (await http.get("/api/connections")).json()
                if c.get("client_properties", {}).get("connection_name") == name
            ]
            return bool(found) and all("channels" in c for c in found)

        await eventually(listed, within=10, what=f"connection {name} in the management API")
    return len(found), sum(c["channels"] for c in found)


async def test_consumers_followers_and_the_connection_stop_at_once_while_rabbitmq_is_down(
    tmp_path: Path,
) -> None:
    # A RabbitMQ of the test's own, stopped under a running consumer and follower: their
    # robust channels would wait for a reconnection forever and hold the process's exit.
    own = servers.RabbitMQ(tmp_path / "rabbitmq")
    await asyncio.to_thread(own.start)
    try:
        broker = Broker(RabbitMQSettings(url=own.amqp_url), EXCHANGE, name="stop-test")
        await broker.connect()

        async def ignore(_: Event) -> None:
            return None

        consumer = Consumer(broker, f"stop-test.{uuid.uuid4().hex[:8]}", {"stop.test": ignore})
        follower = Follower(broker, ["stop.test"], ignore)
        await consumer.start()
        await follower.start()
        await asyncio.to_thread(own.stop)
        await eventually(lambda: not broker.connected, within=30)

        await asyncio.wait_for(consumer.stop(grace_seconds=1), timeout=15)
        await asyncio.wait_for(follower.stop(), timeout=15)
        await asyncio.wait_for(broker.close(), timeout=15)
    finally:
        await asyncio.to_thread(own.stop)
