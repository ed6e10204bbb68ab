"""The outbox's backlog and age gauges (`oms_outbox_backlog`, `oms_outbox_oldest_seconds`)
while the broker refuses or is away: they count every event stored and not yet confirmed,
aging from when it was first handed over however many tries fail, and come back to 0 once
the broker has taken them (from this process, or from another's sweep)."""

from __future__ import annotations

import time

from prometheus_client import REGISTRY
from pymongo.asynchronous.collection import AsyncCollection

from oms.platform import mongo
from oms.platform.broker import Broker
from oms.platform.events import Event
from oms.platform.outbox import Outbox
from oms.platform.outbox_relay import OutboxRelay
from tests.platform.support import bound_queue, event_type, take


def _backlog(things: AsyncCollection[mongo.Document]) -> float:
    value = REGISTRY.get_sample_value("oms_outbox_backlog", {"collection": things.name})
    assert value is not None
    return value


def _oldest(things: AsyncCollection[mongo.Document]) -> float:
    value = REGISTRY.get_sample_value("oms_outbox_oldest_seconds", {"collection": things.name})
    assert value is not None
    return value


async def test_an_event_the_broker_refuses_stays_in_the_backlog_and_ages_until_it_is_taken(
    broker: Broker, things: AsyncCollection[mongo.Document]
) -> None:
    key = event_type("unheard")  # no queue takes it yet: the mandatory publish is returned
    relay = OutboxRelay(things, broker, publish_timeout=2)  # not started: sweeps on request
    event = Event(type=key)
    await Outbox(things, relay).insert({"_id": "o-1"}, [event])
    stored_at = time.monotonic()
    await relay.drain()  # refused

    waited = time.monotonic() - stored_at
    assert _backlog(things) == 1
    assert _oldest(things) >= waited
    assert await relay.sweep() == 1
    await relay.drain()  # refused again: still the same event, aging since it was stored
    waited = time.monotonic() - stored_at
    assert _backlog(things) == 1
    assert _oldest(things) >= waited

    queue = await bound_queue(broker, key)
    assert await relay.sweep() == 1
    await relay.drain()

    assert await take(queue, 1) == [event]
    assert _backlog(things) == 0
    assert _oldest(things) == 0


async def test_events_stored_while_the_broker_is_away_are_counted_until_it_is_back(
    broker: Broker, things: AsyncCollection[mongo.Document]
) -> None:
    key = event_type()
    queue = await bound_queue(broker, key)
    away = Broker(broker.settings, broker.exchange, name="away")
    await away.connect()
    await away.close()  # the broker went away
    relay = OutboxRelay(things, away, publish_timeout=2)
    outbox = Outbox(things, relay)
    first, second = Event(type=key, data={"n": 1}), Event(type=key, data={"n": 2})
    await outbox.insert({"_id": "o-1"}, [first])
    await relay.drain()
    # A later event of the same document waits, stored, behind the one that failed.
    await outbox.update({"_id": "o-1"}, {"$set": {"step": 2}}, [second])
    await relay.drain()
    assert _backlog(things) == 2
    assert _oldest(things) > 0

    await away.connect()  # back
    try:
        assert await relay.sweep() == 2
        await relay.drain()
        assert await take(queue, 2) == [first, second]
    finally:
        await away.close()

    assert _backlog(things) == 0
    assert _oldest(things) == 0


async def test_an_event_another_process_published_leaves_this_ones_backlog(
    broker: Broker, things: AsyncCollection[mongo.Document]
) -> None:
    key = event_type("unheard")
    other = OutboxRelay(things, broker)  # another process's relay, on the same collection
    relay = OutboxRelay(things, broker)  # this process's (the gauges read the last made)
    event = Event(type=key)
    await Outbox(things, relay).insert({"_id": "o-1"}, [event])
    await relay.drain()  # refused
    assert _backlog(things) == 1

    queue = await bound_queue(broker, key)
    assert await other.sweep() == 1  # the other process's sweep publishes it, and clears it
    await other.drain()
    assert await take(queue, 1) == [event]
    assert await relay.sweep() == 0  # this one's next sweep finds nothing stored

    assert _backlog(things) == 0
    assert _oldest(things) == 0
