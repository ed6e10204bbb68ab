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
from oms.platform.outbox import Outbox
from oms.platform.outbox_relay import OutboxRelay
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


async def test_a_refused_event_is_not_overtaken_by_a_later_one_of_its_document(
    broker: Broker, things: AsyncCollection[mongo.Document]
) -> None:
    first_key, second_key = event_type("first"), event_type("second")
    queue = await bound_queue(broker, second_key)  # nobody takes the first ones yet
    relay = OutboxRelay(things, broker)  # not started: sweeps on request
    outbox = Outbox(things, relay)
    first, second = Event(type=first_key, data={"doc": 1}), Event(type=second_key, data={"doc": 1})
    # The later event staged once the refusal is known...
    await outbox.insert({"_id": "o-1", "step": 1}, [first])
    await relay.drain()
    await outbox.update({"_id": "o-1"}, {"$set": {"step": 2}}, [second])
    # ...and while the first is still being refused.
    then, later = Event(type=first_key, data={"doc": 2}), Event(type=second_key, data={"doc": 2})
    await outbox.insert({"_id": "o-2", "step": 1}, [then])
    await outbox.update({"_id": "o-2"}, {"$set": {"step": 2}}, [later])
    await relay.drain()

    assert (await queue.declare()).message_count == 0
    assert await _stored(things, "o-1") == [entry(first), entry(second)]
    assert await _stored(things, "o-2") == [entry(then), entry(later)]
    await _bind(broker, queue, first_key)
    assert await relay.sweep() == 4
    await relay.drain()
    received = await take(queue, 4)
    assert [e for e in received if e.data["doc"] == 1] == [first, second]
    assert [e for e in received if e.data["doc"] == 2] == [then, later]
    assert await _stored(things, "o-1") == await _stored(things, "o-2") == []
