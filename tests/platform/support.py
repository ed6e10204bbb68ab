"""What the platform tests share: unique names, queues bound by hand, and deterministic waits."""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import Awaitable, Callable

from aio_pika.abc import AbstractIncomingMessage, AbstractQueue

from oms.platform.broker import Broker
from oms.platform.consumer import parking_queue_name
from oms.platform.events import Event


def unique(prefix: str = "t") -> str:
    """A fresh lower-case name part, so no test sees another's queues or events."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def event_type(verb: str = "happened") -> str:
    """A routing key no other test uses: `test.<unique>.<verb>`."""
    return f"test.{unique()}.{verb}"


async def eventually(
    condition: Callable[[], Awaitable[bool] | bool], within: float = 15, what: str = ""
) -> None:
    """Poll `condition` until it holds; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if await value if inspect.isawaitable(value) else value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within}s: {what or condition}")
        await asyncio.sleep(0.05)


async def parked(broker: Broker, queue: str, within: float = 10) -> AbstractIncomingMessage:
    """The next message the consumer of `queue` parked (acknowledged)."""
    channel = await broker.connection.channel()
    try:
        parking = await channel.declare_queue(parking_queue_name(queue), passive=True)
        (message,) = await take_messages(parking, 1, within)
        return message
    finally:
        await channel.close()


async def bound_queue(broker: Broker, *routing_keys: str) -> AbstractQueue:
    """An exclusive queue of the test's own, bound to the events exchange for `routing_keys`."""
    channel = await broker.connection.channel()
    queue = await channel.declare_queue(f"test.{uuid.uuid4().hex}", exclusive=True)
    exchange = await channel.get_exchange(broker.exchange)
    for key in routing_keys:
        await queue.bind(exchange, routing_key=key)
    return queue


async def take(queue: AbstractQueue, count: int, within: float = 10) -> list[Event]:
    """The next `count` events in `queue`, in queue order (acknowledged)."""
    messages = await take_messages(queue, count, within)
    return [Event.from_json(message.body) for message in messages]


async def take_messages(
    queue: AbstractQueue, count: int, within: float = 10
) -> list[AbstractIncomingMessage]:
    taken: list[AbstractIncomingMessage] = []
    deadline = time.monotonic() + within
    while len(taken) < count:
        message = await queue.get(fail=False)
        if message is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(taken)} of {count} messages within {within}s")
            await asyncio.sleep(0.05)
            continue
        await message.ack()
        taken.append(message)
    return taken
