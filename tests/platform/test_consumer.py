"""Consuming: delayed retries with growing delays, parking, and a graceful stop."""

from __future__ import annotations

import asyncio
import itertools
import time

import aio_pika
import pytest
from aio_pika.exceptions import DeliveryError

from oms.platform.broker import Broker
from oms.platform.consumer import ATTEMPT_HEADER, Consumer, declare_queue_set, parking_queue_name
from oms.platform.events import Event, PermanentError
from tests.platform.support import event_type, parked, take, unique


def _names() -> tuple[str, str]:
    return unique("test."), event_type()


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

    parked_message = await parked(broker, queue)
    await consumer.stop()

    delays = broker.settings.retry_delays_ms
    assert len(attempts) == len(delays) + 1 == consumer.max_attempts
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    for gap, delay_ms in zip(gaps, delays, strict=True):
        assert gap >= delay_ms / 1000 * 0.9
    assert gaps == sorted(gaps), f"delays should grow: {gaps}"
    assert parked_message.headers[ATTEMPT_HEADER] == consumer.max_attempts
    assert "the database is on fire" in str(parked_message.headers["x-parked-reason"])
    assert parked_message.headers["x-original-routing-key"] == key
    assert Event.from_json(parked_message.body).data == {"n": 1}
    assert await broker.queue_depth(queue) == 0


async def test_a_binding_an_older_version_made_is_dropped_when_the_queue_is_declared(
    broker: Broker,
) -> None:
    queue, kept, retired = unique("test."), event_type("kept"), event_type("retired")
    async with broker.channel() as channel:
        # An older version bound the queue to both; this one takes only `kept`.
        await declare_queue_set(channel, broker.exchange, queue, [kept, retired], [])
        main = await declare_queue_set(
            channel, broker.exchange, queue, [kept], [], retired=[retired, event_type("never")]
        )

    with pytest.raises(DeliveryError):  # no queue takes it any more: nothing would handle it
        await broker.publish(Event(type=retired))
    await broker.publish(Event(type=kept))

    (taken,) = await take(main, 1)
    assert taken.type == kept


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

    parked_message = await parked(broker, queue)
    await consumer.stop()

    assert calls == []
    assert parked_message.body == b"{not json"
    assert str(parked_message.headers["x-parked-reason"]).startswith("malformed")
    assert parked_message.headers[ATTEMPT_HEADER] == 1


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

    parked_message = await parked(broker, queue)
    await consumer.stop()

    assert calls == 1
    assert parked_message.headers["x-parked-reason"] == "permanent: unknown order"


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
    assert await broker.queue_depth(parking_queue_name(queue)) == 0
    assert await broker.queue_depth(queue) == 0


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
    assert await broker.queue_depth(queue) == 0
    assert await broker.queue_depth(parking_queue_name(queue)) == 0
