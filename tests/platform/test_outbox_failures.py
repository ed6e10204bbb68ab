"""The outbox when the broker refuses: nothing is lost, a sweep publishes it later (once each,
in the order staged), and the relay waits a while between tries instead of spinning."""

from __future__ import annotations

import asyncio
import itertools

from aio_pika.abc import AbstractQueue
from pymongo.asynchronous.collection import AsyncCollection

from oms.platform import mongo
from oms.platform.broker import Broker
from oms.platform.events import Event
from oms.platform.outbox import Outbox, OutboxRelay
from tests.platform.outbox_support import RecordingBroker, entry
from tests.platform.support import bound_queue, event_type, eventually, take


async def _stored(things: AsyncCollection[mongo.Document], document_id: str) -> list[object]:
    found = await things.find_one({"_id": document_id})
    assert found is not None
    return [item["event"] for item in found["outbox"].values()]


async def _bind(broker: Broker, queue: AbstractQueue, routing_key: str) -> None:
    async with broker.channel() as channel:
        await queue.bind(await channel.get_exchange(broker.exchange), routing_key=routing_key)


async def test_an_event_the_broker_refuses_stays_stored_until_a_sweep_publishes_it(
    broker: Broker, things: AsyncCollection[mongo.Document]
) -> None:
    key = event_type("unheard")  # no queue takes it yet: the mandatory publish is returned
    relay = OutboxRelay(things, broker, publish_timeout=2)  # not started: sweeps on request
    outbox = Outbox(things, relay)
    event = Event(type=key, data={"n": 1})
    await outbox.insert({"_id": "o-1"}, [event])

    await relay.drain()
    assert await _stored(things, "o-1") == [entry(event)]

    queue = await bound_queue(broker, key)
    assert await relay.sweep() == 1
    await relay.drain()

    assert await take(queue, 1) == [event]
    assert await _stored(things, "o-1") == []
    assert await relay.sweep() == 0
    assert (await queue.declare()).message_count == 0  # published once


async def test_after_a_refusal_the_relay_tries_again_by_itself_and_not_at_once(
    broker: Broker, things: AsyncCollection[mongo.Document]
) -> None:
    key = event_type("unheard")
    recording = RecordingBroker(broker)
    await recording.connect()
    # The regular sweep is far away: what retries is the relay's reaction to the refusal.
    relay = OutboxRelay(things, recording, sweep_interval=60, retry_after=0.3)
    await relay.start()
    try:
        event = Event(type=key)
        await Outbox(things, relay).insert({"_id": "o-1"}, [event])
        await eventually(lambda: len(recording.attempts) >= 4, what="four attempts")

        times = [at for at, _ in recording.attempts[:4]]
        # The second may come from the sweep at start, which can read the new document; from
        # there on each attempt waits for the one before to fail, twice as long each time.
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)][1:]
        assert gaps[0] >= 0.3 * 0.9, gaps
        assert gaps[1] >= 0.6 * 0.9, gaps

        queue = await bound_queue(broker, key)  # the consumer is back
        assert await take(queue, 1, within=10) == [event]
        await eventually(lambda: _stored_is_empty(things, "o-1"), what="the entry cleared")
        async with asyncio.timeout(10):  # stop returns, even right after a refusal
            await relay.stop()
    finally:
        await relay.stop()
        await recording.close()


async def _stored_is_empty(things: AsyncCollection[mongo.Document], document_id: str) -> bool:
    return await _stored(things, document_id) == []
