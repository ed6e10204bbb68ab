"""The outbox unit of work: a change and its events stored in one write, then published once
each, in the order staged per document, and cleared from the document once confirmed."""

from __future__ import annotations

from collections import defaultdict
from typing import cast

from pymongo.asynchronous.collection import AsyncCollection

from oms.platform import mongo
from oms.platform.broker import Broker
from oms.platform.consumer import Consumer
from oms.platform.events import Event
from oms.platform.outbox import Outbox
from oms.platform.outbox_relay import OutboxRelay
from tests.platform.outbox_support import HeldRelay, ReadBeforeChange, entry
from tests.platform.support import bound_queue, event_type, eventually, take, unique


async def test_insert_and_update_store_their_events_with_the_change_and_publish_each_once(
    broker: Broker, things: AsyncCollection[mongo.Document]
) -> None:
    key, done = event_type(), event_type("done")
    seen: list[Event] = []

    async def record(event: Event) -> None:
        seen.append(event)

    # One at a time, so `seen` is in delivery order.
    consumer = Consumer(broker, unique("test.outbox."), {key: record, done: record}, prefetch=1)
    await consumer.start()
    relay = HeldRelay(things, broker)  # not started: no sweep runs unless the test asks
    outbox = Outbox(things, relay)
    placed, paid = Event(type=key, data={"n": 1}), Event(type=key, data={"n": 2})
    try:
        await outbox.insert({"_id": "o-1", "state": "placed"}, [placed])
        after = await outbox.update(
            {"_id": "o-1", "state": "placed"}, {"$set": {"state": "paid"}}, [paid]
        )

        # Stored by the writes themselves: nothing was published yet.
        stored = await things.find_one({"_id": "o-1"})
        assert after == stored
        assert stored is not None
        assert (stored["state"], list(stored["outbox"])) == ("paid", [placed.id, paid.id])
        assert stored["outbox"][placed.id]["event"] == entry(placed)
        assert stored["outbox"][paid.id]["event"] == entry(paid)
        assert [item.event for item in relay.held] == [placed, paid]

        relay.release()
        await relay.drain()
        cleared = {"_id": "o-1", "state": "paid", "outbox": {}}
        assert await things.find_one({"_id": "o-1"}) == cleared
        # Anything published twice would arrive before an event published after it.
        last = Event(type=done)
        await broker.publish(last)
        await eventually(lambda: last in seen, what="the last event handled")
        assert seen == [placed, paid, last]
        assert await relay.sweep() == 0  # nothing is left for a sweep to publish again
    finally:
        await consumer.stop()


async def test_an_update_that_matches_nothing_stores_and_publishes_nothing(
    broker: Broker, things: AsyncCollection[mongo.Document]
) -> None:
    key = event_type()
    queue = await bound_queue(broker, key)
    relay = HeldRelay(things, broker)
    outbox = Outbox(things, relay)
    await outbox.insert({"_id": "o-1", "state": "cancelled"})

    lost_race = await outbox.update(
        {"_id": "o-1", "state": "placed"}, {"$set": {"state": "paid"}}, [Event(type=key)]
    )
    missing = await outbox.update({"_id": "o-2"}, {"$set": {"state": "paid"}}, [Event(type=key)])

    assert (lost_race, missing) == (None, None)
    assert await things.find_one({"_id": "o-1"}) == {
        "_id": "o-1",
        "state": "cancelled",
        "outbox": {},
    }
    assert await things.find_one({"_id": "o-2"}) is None
    assert relay.held == []
    relay.release()
    await relay.drain()
    assert (await queue.declare()).message_count == 0


async def test_events_of_one_document_arrive_in_the_order_they_were_staged(
    broker: Broker, things: AsyncCollection[mongo.Document], relay: OutboxRelay
) -> None:
    key = event_type()
    queue = await bound_queue(broker, key)
    outbox = Outbox(things, relay)
    staged: dict[str, list[str]] = defaultdict(list)

    def events(document: str, count: int) -> list[Event]:
        made = [Event(type=key, data={"doc": document}) for _ in range(count)]
        staged[document].extend(event.id for event in made)
        return made

    documents = [f"o-{n}" for n in range(4)]
    for document in documents:
        await outbox.insert({"_id": document, "step": 0}, events(document, 2))
    # Each write goes on while the relay still publishes the ones before it.
    for step in range(1, 6):
        for document in documents:
            await outbox.update({"_id": document}, {"$set": {"step": step}}, events(document, 1))

    received = await take(queue, 4 * 7)
    arrived: dict[str, list[str]] = defaultdict(list)
    for event in received:
        arrived[event.data["doc"]].append(event.id)
    assert arrived == staged


async def test_drain_returns_once_everything_is_published_and_cleared(
    broker: Broker, things: AsyncCollection[mongo.Document], relay: OutboxRelay
) -> None:
    key = event_type()
    queue = await bound_queue(broker, key)
    outbox = Outbox(things, relay)
    for n in range(20):
        # One document at a time: the relay's own clear is under way as drain is called.
        await outbox.insert({"_id": f"o-{n}"}, [Event(type=key), Event(type=key)])

        await relay.drain()

        assert await things.find_one({"_id": f"o-{n}"}) == {"_id": f"o-{n}", "outbox": {}}
    # Confirmed means routed: every event is in the queue.
    assert (await queue.declare()).message_count == 40


async def test_a_confirmed_entry_leaves_with_the_documents_next_change_and_no_write_of_its_own(
    broker: Broker, things: AsyncCollection[mongo.Document]
) -> None:
    key = event_type()
    await bound_queue(broker, key)
    relay = OutboxRelay(things, broker, clear_after=3600)  # its own clear would come too late
    outbox = Outbox(things, relay)
    placed, paid = Event(type=key), Event(type=key)
    await outbox.insert({"_id": "o-1", "state": "placed"}, [placed])
    await relay.published()  # the broker confirmed `placed`; nothing cleared it yet
    stored = await things.find_one({"_id": "o-1"})
    assert stored is not None
    assert list(stored["outbox"]) == [placed.id]

    after = await outbox.update(
        {"_id": "o-1", "state": "placed"}, {"$set": {"state": "paid"}}, [paid]
    )

    assert after is not None
    assert list(after["outbox"]) == [paid.id], "the confirmed entry went with the change"
    assert relay.take_confirmed("o-1") == [], "nothing is left for a write of its own"


async def test_a_change_that_matches_nothing_leaves_the_confirmed_entries_to_the_relay(
    broker: Broker, things: AsyncCollection[mongo.Document]
) -> None:
    key = event_type()
    await bound_queue(broker, key)
    relay = OutboxRelay(things, broker, clear_after=3600)
    outbox = Outbox(things, relay)
    placed = Event(type=key)
    await outbox.insert({"_id": "o-1", "state": "cancelled"}, [placed])
    await relay.published()

    lost = await outbox.update({"_id": "o-1", "state": "placed"}, {"$set": {"state": "paid"}})
    await relay.drain()

    assert lost is None
    assert await things.find_one({"_id": "o-1"}) == {
        "_id": "o-1",
        "state": "cancelled",
        "outbox": {},
    }


async def test_an_entry_cleared_while_a_sweep_reads_its_document_is_not_published_again(
    broker: Broker, things: AsyncCollection[mongo.Document]
) -> None:
    key = event_type()
    queue = await bound_queue(broker, key)

    async def clear() -> None:
        await relay.drain()

    # The sweep's query reads the document while the entry is there; the clear lands next.
    late_reads = cast(AsyncCollection[mongo.Document], ReadBeforeChange(things, clear))
    relay = OutboxRelay(late_reads, broker, clear_after=3600)
    outbox = Outbox(things, relay)
    await outbox.insert({"_id": "o-1"}, [Event(type=key)])
    await relay.published()  # confirmed, not cleared yet

    handed = await relay.sweep()

    assert handed == 0
    assert await things.find_one({"_id": "o-1"}) == {"_id": "o-1", "outbox": {}}
    assert (await queue.declare()).message_count == 1
