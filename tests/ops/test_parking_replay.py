"""`python -m oms.ops.parking replay`: parked messages go back to their consumer's queue
only, as they were first sent, with their attempts started over."""

from __future__ import annotations

import os

import aio_pika

from oms.platform.broker import Broker
from oms.platform.consumer import ATTEMPT_HEADER, Consumer, parking_queue_name
from oms.platform.events import Event
from tests.ops.parked_samples import (
    Parked,
    amqp_url,
    depth,
    eventually,
    has_depth,
    tool,
    tool_process,
)


async def test_replay_hands_the_original_events_back_and_the_consumer_now_handles_them(
    parked: Parked,
) -> None:
    url, queue = amqp_url(parked.broker), parked.queue
    purged = await tool(url, "purge", "--queue", queue, "--id", parked.malformed_id, "--yes")
    assert purged.code == 0, purged.err

    result = await tool_process("replay", "--queue", queue, url=url)

    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        f"replayed {queue} {parked.paid.id} {parked.paid.type}",
        f"replayed {queue} {parked.cancelled.id} {parked.cancelled.type}",
        "replayed: 2",
    ]
    await eventually(lambda: len(parked.handled) == 2)
    assert parked.handled == [parked.paid.id, parked.cancelled.id]
    assert parked.calls == {parked.paid.id: 2, parked.cancelled.id: 2}
    assert await depth(parked.broker, parked.parking_queue) == 0
    assert await depth(parked.broker, queue) == 0


async def test_a_replayed_message_is_the_original_without_the_parking_headers(
    broker: Broker, parked: Parked
) -> None:
    await parked.stop()  # so the replayed copy waits in the consumer's queue for reading
    # Another consumer of the same event type: a replay must not reach it.
    channel = await broker.connection.channel()
    bystander = await channel.declare_queue(exclusive=True)
    await bystander.bind(broker.exchange, routing_key=parked.paid.type)

    result = await tool(amqp_url(broker), "replay", "--queue", parked.queue, "--id", parked.paid.id)

    assert result.code == 0, result.err
    consumer_queue = await channel.declare_queue(parked.queue, passive=True)
    replayed = await consumer_queue.get(fail=False)
    assert replayed is not None
    await replayed.ack()
    assert replayed.message_id == parked.paid.id
    assert replayed.type == parked.paid.type
    assert replayed.body == parked.paid.to_json()
    assert replayed.content_type == "application/json"
    assert replayed.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert replayed.timestamp is not None
    assert replayed.timestamp.timestamp() == int(parked.paid.occurred_at.timestamp())
    headers = replayed.headers
    assert headers["x-event-version"] == 1
    assert headers["x-original-routing-key"] == parked.paid.type
    assert not {ATTEMPT_HEADER, "x-parked-reason", "x-parked-at"} & headers.keys()
    assert (await bystander.declare()).message_count == 0
    remaining = await tool(amqp_url(broker), "list", "--queue", parked.queue, "--json")
    assert remaining.listed_ids() == [parked.cancelled.id, parked.malformed_id]
    await channel.close()


async def test_a_replay_starts_the_attempts_over(broker: Broker) -> None:
    queue, key = f"test.parking.{os.urandom(5).hex()}", f"test.t{os.urandom(5).hex()}.paid"
    failures_left = 4  # every attempt of the tests' schedule: the first and three retries
    succeeded = 0

    async def flaky(event: Event) -> None:
        nonlocal failures_left, succeeded
        if failures_left:
            failures_left -= 1
            raise ConnectionError("the database is down")
        succeeded += 1

    consumer = Consumer(broker, queue, {key: flaky})
    await consumer.start()
    try:
        await broker.publish(Event(type=key))
        await eventually(lambda: has_depth(broker, parking_queue_name(queue), 1))
        assert (failures_left, consumer.max_attempts) == (0, 4)

        # Had it kept x-attempt 4, this failure would park it at once instead of retrying.
        failures_left = 1
        result = await tool(amqp_url(broker), "replay", "--queue", queue)
        assert result.code == 0, result.err
        await eventually(lambda: succeeded == 1)
        assert await depth(broker, parking_queue_name(queue)) == 0
    finally:
        await consumer.stop()


async def test_replay_into_a_queue_that_is_gone_replays_nothing(parked: Parked) -> None:
    await parked.stop()
    channel = await parked.broker.connection.channel()
    await channel.queue_delete(parked.queue)
    await channel.close()

    result = await tool(amqp_url(parked.broker), "replay", "--queue", parked.queue)

    assert result.code == 2
    assert result.err == (
        f"parking: cannot replay into {parked.queue!r}: no such queue; nothing replayed\n"
    )
    assert await depth(parked.broker, parked.parking_queue) == 3
