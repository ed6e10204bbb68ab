"""Followers: a queue of each process's own, so every follower sees every event; a handler
that fails loses that event only; the queue goes with the follower, and comes back with the
broker after a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aio_pika
import pytest
from aio_pika.exceptions import DeliveryError

from devtools import servers
from oms.domain_events import EXCHANGE
from oms.platform.broker import Broker
from oms.platform.events import Event
from oms.platform.follower import Follower
from oms.platform.settings import RabbitMQSettings
from tests.platform.support import event_type, eventually


async def test_two_followers_each_receive_every_event(broker: Broker) -> None:
    key = event_type("changed")
    seen: dict[str, list[str]] = {"one": [], "two": []}

    def recorder(name: str) -> Follower:
        async def record(event: Event) -> None:
            seen[name].append(event.id)

        return Follower(broker, [key], record)

    one, two = recorder("one"), recorder("two")
    await one.start()
    await two.start()
    events = [Event(type=key, data={"n": n}) for n in range(3)]
    try:
        for event in events:
            await broker.publish(event)
        expected = [event.id for event in events]
        await eventually(lambda: seen == {"one": expected, "two": expected}, what=str(seen))
    finally:
        await one.stop()
        await two.stop()

    # Their queues went with them: nothing takes the event any more.
    with pytest.raises(DeliveryError):
        await broker.publish(Event(type=key))


async def test_a_failing_handler_or_a_malformed_message_does_not_stop_a_follower(
    broker: Broker,
) -> None:
    key = event_type("changed")
    handled: list[int] = []

    async def fails_on_the_first(event: Event) -> None:
        if event.data["n"] == 0:
            raise RuntimeError("the cache is in a bad mood")
        handled.append(event.data["n"])

    follower = Follower(broker, [key], fails_on_the_first)
    await follower.start()
    try:
        await broker.publish(Event(type=key, data={"n": 0}))
        async with broker.channel() as channel:
            exchange = await channel.get_exchange(broker.exchange, ensure=False)
            await exchange.publish(aio_pika.Message(body=b"{not json"), routing_key=key)
        await broker.publish(Event(type=key, data={"n": 1}))
        await broker.publish(Event(type=key, data={"n": 2}))

        await eventually(lambda: handled == [1, 2], what=f"events 1 and 2 handled: {handled}")
    finally:
        await follower.stop()


async def test_a_follower_follows_again_once_rabbitmq_is_back(tmp_path: Path) -> None:
    # A RabbitMQ of the test's own: stopping the session's would upset every other test.
    own = servers.RabbitMQ(tmp_path / "rabbitmq")
    await asyncio.to_thread(own.start)
    broker = Broker(RabbitMQSettings(url=own.amqp_url), EXCHANGE, name="follower-restart")
    key = event_type("changed")
    seen: list[int] = []

    async def record(event: Event) -> None:
        seen.append(event.data["n"])

    try:
        await broker.connect()
        follower = Follower(broker, [key], record)
        await follower.start()
        await broker.publish(Event(type=key, data={"n": 1}))
        await eventually(lambda: seen == [1], what="the first event")

        await asyncio.to_thread(own.stop)
        await eventually(lambda: not broker.connected, what="the connection lost")
        await asyncio.to_thread(own.start)

        async def published_again() -> bool:
            # Refused until the follower's queue is declared and bound again.
            try:
                await broker.publish(Event(type=key, data={"n": 2}))
            except Exception:
                return False
            return True

        await eventually(published_again, within=60, what="the event published after restart")
        await eventually(lambda: seen == [1, 2], what="the event after the restart")
        await follower.stop()
    finally:
        await broker.close()
        await asyncio.to_thread(own.stop)
