"""Messages parked by the real `Consumer`, and the parking tool run in-process or as a process."""

from __future__ import annotations

import asyncio
import inspect
import io
import json
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aio_pika

from oms.ops import parking
from oms.platform.broker import Broker
from oms.platform.consumer import Consumer, parking_queue_name
from oms.platform.events import Event, PermanentError

MALFORMED_BODY = b'{"id": 42, "type": "Not An Event"'


@dataclass
class Parked:
    """Three messages parked from `queue`: two events a handler refused once, one malformed
    (a body that is not even JSON, with a message id but no type).

    The handler refuses each event the first time it sees it (`PermanentError`) and accepts
    it the second time, as a fixed bug would: a replayed event is then `handled`.
    """

    broker: Broker
    queue: str
    paid: Event
    cancelled: Event
    consumer: Consumer
    handled: list[str] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    running: bool = True

    @property
    def parking_queue(self) -> str:
        return parking_queue_name(self.queue)

    @property
    def malformed_id(self) -> str:
        return f"malformed-{self.queue}"

    async def stop(self) -> None:
        if self.running:
            self.running = False
            await self.consumer.stop()


async def park_samples(broker: Broker) -> Parked:
    suffix = uuid.uuid4().hex[:10]
    queue, paid_type, cancelled_type = (
        f"test.parking.{suffix}",
        f"test.t{suffix}.paid",
        f"test.t{suffix}.cancelled",
    )
    parked: Parked

    async def refuses_once(event: Event) -> None:
        parked.calls[event.id] += 1
        if parked.calls[event.id] == 1:
            raise PermanentError("no such order")
        parked.handled.append(event.id)

    # One message at a time, so they are parked in the order they were published.
    consumer = Consumer(
        broker, queue, {paid_type: refuses_once, cancelled_type: refuses_once}, prefetch=1
    )
    parked = Parked(
        broker,
        queue,
        paid=Event(type=paid_type, data={"order_id": "o-1", "lines": [{"item_id": "tiramisu"}]}),
        cancelled=Event(type=cancelled_type, data={"order_id": "o-2"}),
        consumer=consumer,
    )
    await consumer.start()
    try:
        await broker.publish(parked.paid)
        await broker.publish(parked.cancelled)
        async with broker.channel() as channel:
            exchange = await channel.get_exchange(broker.exchange, ensure=False)
            malformed = aio_pika.Message(body=MALFORMED_BODY, message_id=parked.malformed_id)
            await exchange.publish(malformed, routing_key=paid_type)
        await eventually(lambda: has_depth(broker, parked.parking_queue, 3))
    except BaseException:
        await parked.stop()
        raise
    return parked


def amqp_url(broker: Broker) -> str:
    """The URL an operator gives the tool for `broker`'s RabbitMQ."""
    return broker.settings.url


async def depth(broker: Broker, queue: str) -> int:
    channel = await broker.connection.channel()
    declared = await channel.declare_queue(queue, passive=True)
    await channel.close()
    return declared.declaration_result.message_count or 0


async def has_depth(broker: Broker, queue: str, expected: int) -> bool:
    return await depth(broker, queue) == expected


async def eventually(condition: Callable[[], Awaitable[bool] | bool], within: float = 15) -> None:
    """Poll `condition` until it holds; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not await _holds(condition):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within}s: {condition}")
        await asyncio.sleep(0.05)


async def _holds(condition: Callable[[], Awaitable[bool] | bool]) -> bool:
    value = condition()
    return await value if inspect.isawaitable(value) else value


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def listed_ids(self) -> list[str]:
        return [m["event_id"] for m in self.json()["messages"]]


async def tool(url: str, *args: str) -> Result:
    """The tool in this process (its `run`), for the many cases that need no process."""
    out, err = io.StringIO(), io.StringIO()
    code = await parking.run([*args[:1], "--url", url, *args[1:]], out, err)
    return Result(code, out.getvalue(), err.getvalue())


async def spawn_tool(
    *args: str, url: str | None = None, stdin: int | None = None
) -> asyncio.subprocess.Process:
    """`python -m oms.ops.parking ARGS`, with RABBITMQ_URL = `url`, as an operator runs it."""
    environment = {**os.environ}
    if url is not None:
        environment["RABBITMQ_URL"] = url
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "oms.ops.parking",
        *args,
        stdin=asyncio.subprocess.DEVNULL if stdin is None else stdin,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environment,
    )


async def tool_process(
    *args: str, url: str | None = None, stdin: int | None = None, within: float = 60
) -> Result:
    """The tool as a process of its own, run to its end."""
    process = await spawn_tool(*args, url=url, stdin=stdin)
    try:
        out, err = await asyncio.wait_for(process.communicate(), within)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())
