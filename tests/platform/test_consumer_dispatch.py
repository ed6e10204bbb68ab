"""Dispatch: each event goes to the handler of its type; a type without one is parked with
the reason; a handler that hands a message back has it requeued at once, no attempt counted."""

from __future__ import annotations

from collections import Counter

from oms.platform.broker import Broker, event_message
from oms.platform.consumer import ATTEMPT_HEADER, Consumer, parking_queue_name, retry_queue_name
from oms.platform.events import Event, HandBack
from tests.platform.support import event_type, eventually, parked, unique


async def test_each_event_goes_to_the_handler_of_its_type(broker: Broker) -> None:
    placed, paid = event_type("placed"), event_type("paid")
    handled: list[tuple[str, str]] = []

    async def on_placed(event: Event) -> None:
        handled.append(("placed", event.id))

    async def on_paid(event: Event) -> None:
        handled.append(("paid", event.id))

    consumer = Consumer(broker, unique("test."), {placed: on_placed, paid: on_paid})
    await consumer.start()
    events = [Event(type=placed), Event(type=paid), Event(type=paid)]
    try:
        for event in events:
            await broker.publish(event)
        await eventually(lambda: len(handled) == 3, what="three events handled")
    finally:
        await consumer.stop()

    assert sorted(handled) == sorted(
        [("placed", events[0].id), ("paid", events[1].id), ("paid", events[2].id)]
    )


async def test_an_event_of_a_type_without_a_handler_is_parked_with_the_reason(
    broker: Broker,
) -> None:
    queue, known, unknown = unique("test."), event_type("known"), event_type("unknown")
    calls: list[Event] = []

    async def handler(event: Event) -> None:
        calls.append(event)

    consumer = Consumer(broker, queue, {known: handler})
    await consumer.start()
    stray = Event(type=unknown, data={"n": 1})
    try:
        # Not bound to the queue, so it comes straight to it (as a replay by hand would).
        await broker.send_to_queue(queue, event_message(stray))
        message = await parked(broker, queue)
    finally:
        await consumer.stop()

    assert calls == []
    assert Event.from_json(message.body) == stray
    assert message.headers["x-parked-reason"] == f"{queue} has no handler for {unknown}"
    assert message.headers[ATTEMPT_HEADER] == 1


async def test_a_handed_back_message_is_requeued_at_once_without_counting_an_attempt(
    broker: Broker,
) -> None:
    queue, key = unique("test."), event_type()
    hand_backs = 2 * (len(broker.settings.retry_delays_ms) + 1)  # more than attempts allowed
    calls: Counter[str] = Counter()
    handled: list[str] = []

    async def not_here(event: Event) -> None:
        calls[event.id] += 1
        if calls[event.id] <= hand_backs:
            raise HandBack
        handled.append(event.id)

    consumer = Consumer(broker, queue, {key: not_here})
    await consumer.start()
    event = Event(type=key)
    try:
        await broker.publish(event)
        await eventually(lambda: handled == [event.id], what="handled after its hand-backs")
    finally:
        await consumer.stop()

    # Counted as failures, they would have parked it after its last attempt.
    assert calls[event.id] == hand_backs + 1
    for delay in broker.settings.retry_delays_ms:
        assert await broker.queue_depth(retry_queue_name(queue, delay)) == 0
    assert await broker.queue_depth(parking_queue_name(queue)) == 0
    assert await broker.queue_depth(queue) == 0
