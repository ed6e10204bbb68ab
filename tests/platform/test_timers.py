"""Timers: an event set with a delay reaches the queues bound to its routing key once the
delay has passed, never before; delays round up to a short ladder of rungs."""

from __future__ import annotations

import time

import pytest

from oms.platform.broker import Broker
from oms.platform.consumer import Consumer
from oms.platform.events import Event
from oms.platform.timers import LADDER, Timers, delay_queue_name, rung
from tests.platform.support import event_type, eventually, unique


@pytest.mark.parametrize(
    ("delay", "expected"),
    [
        (-5, 1),
        (0, 1),
        (0.2, 1),
        (1, 1),
        (1.01, 2),
        (3, 5),
        (7, 10),
        (59.5, 60),
        (601, 900),
        (3600, 3600),
        (3601, 3600),  # the top rung; its consumer sets the timer again
        (10**6, 3600),
    ],
)
def test_rung_rounds_up_to_the_ladder_and_caps_at_its_top(delay: float, expected: int) -> None:
    assert rung(delay) == expected
    assert expected in LADDER


async def test_a_timer_reaches_the_queues_of_its_routing_key_when_due_and_not_before(
    broker: Broker,
) -> None:
    key = event_type("due")
    arrived: dict[str, float] = {}

    async def record(event: Event) -> None:
        arrived[event.id] = time.monotonic()

    # Through a real consumer's queue, as Order's deadline timers go.
    consumer = Consumer(broker, unique("test."), {key: record})
    await consumer.start()
    timers = Timers(broker)
    later, sooner = Event(type=key, data={"n": 2}), Event(type=key, data={"n": 1})
    try:
        set_at = time.monotonic()
        assert await timers.set(later, 1.5) == 2  # rounded up to its rung
        assert await timers.set(sooner, 1) == 1
        await eventually(lambda: len(arrived) == 2, within=15, what="both timers fired")
    finally:
        await consumer.stop()

    assert arrived[sooner.id] >= set_at + 1
    assert arrived[later.id] >= set_at + 2
    assert arrived[sooner.id] < arrived[later.id]
    # Each waited in the delay queue of its type and rung, which is empty again.
    for seconds in (1, 2):
        assert await broker.queue_depth(delay_queue_name(broker.exchange, key, seconds)) == 0
