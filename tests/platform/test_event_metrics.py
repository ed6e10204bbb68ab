"""The event counters operators watch: what the broker confirmed, by type, and what each
consumer did with what it took (handled, retried, parked, handed back), by queue and type."""

from __future__ import annotations

from collections import Counter

from prometheus_client import REGISTRY

from oms.platform.broker import Broker, event_message
from oms.platform.consumer import Consumer
from oms.platform.events import Event, HandBack
from tests.platform.support import event_type, eventually, parked, unique


def _consumed(queue: str, kind: str, outcome: str) -> float:
    labels = {"queue": queue, "type": kind, "outcome": outcome}
    return REGISTRY.get_sample_value("oms_events_consumed_total", labels) or 0.0


async def test_published_events_are_counted_by_type_once_confirmed(broker: Broker) -> None:
    key = event_type()
    consumer = Consumer(broker, unique("test."), {key: _ignore})  # binds a queue to the key
    await consumer.start()
    try:
        for _ in range(3):
            await broker.publish(Event(type=key))
    finally:
        await consumer.stop()

    assert REGISTRY.get_sample_value("oms_events_published_total", {"type": key}) == 3


async def test_each_outcome_of_a_consumer_is_counted(broker: Broker) -> None:
    queue, key, stray = unique("test."), event_type(), event_type("stray")
    calls: Counter[str] = Counter()

    async def flaky(event: Event) -> None:
        calls[event.id] += 1
        if calls[event.id] == 1:
            raise ConnectionError("blip")  # retried
        if calls[event.id] == 2:
            raise HandBack  # handed back
        # handled on the third

    consumer = Consumer(broker, queue, {key: flaky})
    await consumer.start()
    try:
        await broker.publish(Event(type=key))
        await eventually(lambda: _consumed(queue, key, "handled") == 1, what="handled")
        await broker.send_to_queue(queue, event_message(Event(type=stray)))
        await parked(broker, queue)
    finally:
        await consumer.stop()

    assert _consumed(queue, key, "retried") == 1
    assert _consumed(queue, key, "handed_back") == 1
    assert _consumed(queue, stray, "parked") == 1
    assert _consumed(queue, key, "parked") == 0


async def _ignore(event: Event) -> None:
    pass
