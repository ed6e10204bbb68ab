"""Faults on a consumer (`consumer:<queue>`): a pause holds the messages it takes, counted,
until lifted; an injected error is a failure like any, retried on the usual schedule."""

from __future__ import annotations

from oms.domain_events import EXCHANGE
from oms.platform.broker import Broker
from oms.platform.consumer import ATTEMPT_HEADER, Consumer, retry_queue_name
from oms.platform.events import Event
from oms.platform.faults import Fault, Faults
from oms.platform.settings import RabbitMQSettings
from tests.platform.support import event_type, eventually, parked, unique


async def test_a_paused_consumer_holds_what_it_takes_until_the_pause_is_lifted(
    broker: Broker,
) -> None:
    queue, key = unique("test."), event_type()
    target = f"consumer:{queue}"
    faults = Faults(allowed=True)
    handled: list[str] = []

    async def handler(event: Event) -> None:
        handled.append(event.id)

    consumer = Consumer(broker, queue, {key: handler}, faults=faults)
    await consumer.start()
    try:
        faults.set([Fault(target=target, action="pause")])
        events = [Event(type=key) for _ in range(3)]
        for event in events:
            await broker.publish(event)

        await eventually(lambda: faults.held() == {target: 3}, what="three messages held")
        assert handled == []
        assert await broker.queue_depth(queue) == 0  # taken from the queue, unacknowledged

        faults.lift(target)
        await eventually(lambda: len(handled) == 3, what="the held messages handled")
        assert sorted(handled) == sorted(event.id for event in events)
        assert faults.held() == {}
    finally:
        await consumer.stop()


async def test_stopping_a_paused_consumer_lets_its_held_messages_go_on(broker: Broker) -> None:
    queue, key = unique("test."), event_type()
    target = f"consumer:{queue}"
    faults = Faults(allowed=True, rules=[Fault(target=target, action="pause")])
    handled: list[str] = []

    async def handler(event: Event) -> None:
        handled.append(event.id)

    consumer = Consumer(broker, queue, {key: handler}, faults=faults)
    await consumer.start()
    event = Event(type=key)
    await broker.publish(event)
    await eventually(lambda: faults.held() == {target: 1}, what="the message held")

    await consumer.stop(grace_seconds=10)

    assert handled == [event.id]
    assert faults.rules == []


async def test_an_injected_error_is_retried_and_the_handler_runs_once_it_is_lifted(
    rabbitmq_settings: RabbitMQSettings,
) -> None:
    # One long delay: the failed first attempt waits in its delay queue for the test to see.
    settings = rabbitmq_settings.model_copy(update={"retry_delays_ms": [2_000]})
    broker = Broker(settings, EXCHANGE, name="faults-test")
    await broker.connect()
    queue, key = unique("test."), event_type()
    target = f"consumer:{queue}"
    faults = Faults(allowed=True)
    handled: list[str] = []

    async def handler(event: Event) -> None:
        handled.append(event.id)

    consumer = Consumer(broker, queue, {key: handler}, faults=faults)
    await consumer.start()
    try:
        faults.set([Fault(target=target, action="error")])
        event = Event(type=key)
        await broker.publish(event)
        delay_queue = retry_queue_name(queue, 2_000)

        async def waiting_to_retry() -> bool:
            return await broker.queue_depth(delay_queue) == 1

        await eventually(waiting_to_retry, what="the failed attempt in its delay queue")
        assert handled == []
        faults.lift(target)
        await eventually(lambda: handled == [event.id], within=10, what="handled on retry")
    finally:
        await consumer.stop()
        await broker.close()


async def test_an_error_that_is_never_lifted_parks_the_message_after_its_last_attempt(
    broker: Broker,
) -> None:
    queue, key = unique("test."), event_type()
    faults = Faults(allowed=True, rules=[Fault(target=f"consumer:{queue}", action="error")])
    calls: list[Event] = []

    async def handler(event: Event) -> None:
        calls.append(event)

    consumer = Consumer(broker, queue, {key: handler}, faults=faults)
    await consumer.start()
    try:
        await broker.publish(Event(type=key))
        message = await parked(broker, queue)
    finally:
        await consumer.stop()

    assert calls == []
    assert message.headers[ATTEMPT_HEADER] == consumer.max_attempts
    injected = f"InjectedError('injected fault on {queue}')"
    assert message.headers["x-parked-reason"] == f"failed {consumer.max_attempts} times: {injected}"
