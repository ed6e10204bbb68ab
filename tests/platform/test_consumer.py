"""Consuming: delayed retries with growing delays, parking, and a graceful stop."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from oms.platform.broker import Broker
from oms.platform.consumer import ATTEMPT_HEADER, Consumer, parking_queue_name
from oms.platform.events import Event, PermanentError


def _names() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:10]
    return f"test.{suffix}", f"test.t{suffix}.happened"


async def _parked(broker: Broker, queue: str, within: float = 10) -> AbstractIncomingMessage:
    channel = await broker.connection.channel()
    parking = await channel.declare_queue(parking_queue_name(queue), durable=True, passive=True)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        message = await parking.get(fail=False)
        if message is not None:
            await message.ack()
            return message
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing was parked from {queue} within {within}s")


async def _depth(broker: Broker, queue: str) -> int:
    channel = await broker.connection.channel()
    declared = await channel.declare_queue(queue, durable=True, passive=True)
    count = declared.declaration_result.message_count
    await channel.close()
    return count or 0


async def test_a_failing_message_is_retried_with_growing_delays_then_parked(
    broker: Broker,
) -> None:
    queue, key = _names()
    attempts: list[float] = []

    async def always_fails(event: Event) -> None:
        attempts.append(time.monotonic())
        raise RuntimeError("the database is on fire")

    consumer = Consumer(broker, queue, {key: always_fails})
    await consumer.start()
    await broker.publish(Event(type=key, data={"n": 1}))

    parked = await _parked(broker, queue)
    await consumer.stop()

    delays = broker.settings.retry_delays_ms
    assert len(attempts) == len(delays) + 1 == consumer.max_attempts
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    for gap, delay_ms in zip(gaps, delays, strict=True):
        assert gap >= delay_ms / 1000 * 0.9
    assert gaps == sorted(gaps), f"delays should grow: {gaps}"
    assert parked.headers[ATTEMPT_HEADER] == consumer.max_attempts
    assert "the database is on fire" in str(parked.headers["x-parked-reason"])
    assert parked.headers["x-original-routing-key"] == key
    assert Event.from_json(parked.body).data == {"n": 1}
    assert await _depth(broker, queue) == 0


async def test_a_malformed_message_is_parked_at_once_without_calling_the_handler(
    broker: Broker,
) -> None:
    queue, key = _names()
    calls: list[Event] = []

    async def handler(event: Event) -> None:
        calls.append(event)

    consumer = Consumer(broker, queue, {key: handler})
    await consumer.start()
    async with broker.channel() as channel:
        exchange = await channel.get_exchange(broker.exchange, ensure=False)
        await exchange.publish(aio_pika.Message(body=b"{not json"), routing_key=key)

    parked = await _parked(broker, queue)
    await consumer.stop()

    assert calls == []
    assert parked.body == b"{not json"
    assert str(parked.headers["x-parked-reason"]).startswith("malformed")
    assert parked.headers[ATTEMPT_HEADER] == 1


async def test_a_permanent_error_is_parked_after_one_attempt(broker: Broker) -> None:
    queue, key = _names()
    calls = 0

    async def rejects(event: Event) -> None:
        nonlocal calls
        calls += 1
        raise PermanentError("unknown order")

    consumer = Consumer(broker, queue, {key: rejects})
    await consumer.start()
    await broker.publish(Event(type=key))

    parked = await _parked(broker, queue)
    await consumer.stop()

    assert calls == 1
    assert parked.headers["x-parked-reason"] == "permanent: unknown order"


async def test_a_transient_failure_succeeds_on_retry_and_nothing_is_parked(
    broker: Broker,
) -> None:
    queue, key = _names()
    done = asyncio.Event()
    calls = 0

    async def flaky(event: Event) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("blip")
        done.set()

    consumer = Consumer(broker, queue, {key: flaky})
    await consumer.start()
    await broker.publish(Event(type=key))
    await asyncio.wait_for(done.wait(), 10)
    await consumer.stop()

    assert calls == 2
    assert await _depth(broker, parking_queue_name(queue)) == 0
    assert await _depth(broker, queue) == 0


async def test_stop_lets_the_in_flight_message_finish_and_acks_it(broker: Broker) -> None:
    queue, key = _names()
    started, finished = asyncio.Event(), asyncio.Event()

    async def slow(event: Event) -> None:
        started.set()
        await asyncio.sleep(1.0)
        finished.set()

    consumer = Consumer(broker, queue, {key: slow})
    await consumer.start()
    await broker.publish(Event(type=key))
    await asyncio.wait_for(started.wait(), 10)

    await consumer.stop()

    assert finished.is_set()
    assert await _depth(broker, queue) == 0
    assert await _depth(broker, parking_queue_name(queue)) == 0
