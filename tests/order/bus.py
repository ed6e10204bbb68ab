"""The real RabbitMQ as the services' tests see it: a vhost of their own, and a tap on it.

Each test gets a fresh vhost (`bus`), so no test sees another's queues, timers or events, and
a `Tap`: an exclusive queue bound to every routing key of the events exchange, from which a
test reads, in order, exactly what the services published. `Tap.settle` publishes a marker
and reads up to it: once the relays have drained, everything they published is before it.

Shared by the Order, Payment, Kitchen and Menu tests (their conftests import the fixtures).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from aio_pika.exceptions import ChannelNotFoundEntity

from devtools import servers
from oms import domain_events as events
from oms.platform.broker import Broker
from oms.platform.events import Event
from oms.platform.settings import RabbitMQSettings
from oms.platform.timers import LADDER, delay_queue_name

MARKER = "test.marker"
AUTH = ("guest", "guest")


@dataclass(frozen=True)
class Bus:
    """A broker connected to a vhost of its own, with the events exchange declared."""

    broker: Broker
    vhost: str


@pytest.fixture
async def bus(rabbitmq: servers.RabbitMQ) -> AsyncIterator[Bus]:
    vhost = f"t-{uuid.uuid4().hex[:10]}"
    api = f"{rabbitmq.management_url}/api"
    async with httpx.AsyncClient(auth=AUTH, timeout=10) as http:
        (await http.put(f"{api}/vhosts/{vhost}")).raise_for_status()
        permissions = {"configure": ".*", "write": ".*", "read": ".*"}
        (await http.put(f"{api}/permissions/{vhost}/guest", json=permissions)).raise_for_status()
        url = f"{rabbitmq.amqp_url}{quote(vhost, safe='')}"
        broker = Broker(RabbitMQSettings(url=url, retry_delays_ms=[200, 400]), events.EXCHANGE)
        await broker.connect()
        try:
            yield Bus(broker, vhost)
        finally:
            await broker.close()
            await http.delete(f"{api}/vhosts/{vhost}")


class Tap:
    """Every event published on the bus's exchange, in the order the broker took them."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.seen: list[Event] = []
        self._ids: set[str] = set()
        self._arrived: asyncio.Queue[Event] = asyncio.Queue()
        self._channel: AbstractChannel | None = None

    async def start(self) -> None:
        self._channel = await self.broker.connection.channel()
        queue = await self._channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(self.broker.exchange, routing_key="#")
        await queue.consume(self._on_message, no_ack=True)

    async def stop(self) -> None:
        if self._channel is not None:
            await self._channel.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        event = Event.from_json(message.body)
        if event.id in self._ids:
            # The outbox publishes at least once (a sweep may overlap a publish in flight);
            # a test counts events, as consumers do, not deliveries.
            return
        self._ids.add(event.id)
        if event.type != MARKER:
            self.seen.append(event)
        self._arrived.put_nowait(event)

    async def next(self, event_type: str, order_id: str = "", within: float = 15.0) -> Event:
        """The next event of `event_type` (about `order_id`, if given); others arriving first
        are passed over."""
        async with asyncio.timeout(within):
            while True:
                event = await self._arrived.get()
                if event.type == event_type and order_id in ("", event.data.get("order_id")):
                    return event

    async def settle(self, within: float = 15.0) -> list[Event]:
        """Everything published so far (not marker-deep): call it once the relays drained."""
        marker = Event(type=MARKER, data={"id": uuid.uuid4().hex})
        await self.broker.publish(marker)
        async with asyncio.timeout(within):
            while (await self._arrived.get()).id != marker.id:
                pass
        return list(self.seen)

    def of(self, event_type: str) -> list[Event]:
        return [event for event in self.seen if event.type == event_type]

    def types(self) -> list[str]:
        return [event.type for event in self.seen]


@pytest.fixture
async def tap(bus: Bus) -> AsyncIterator[Tap]:
    started = Tap(bus.broker)
    await started.start()
    yield started
    await started.stop()


async def timers(broker: Broker, routing_key: str) -> list[tuple[int, Event]]:
    """The timers set for `routing_key` and not yet due: (delay rung in seconds, event).

    Taken out of their delay queues, so each is seen once.
    """
    found: list[tuple[int, Event]] = []
    for seconds in LADDER:
        name = delay_queue_name(broker.exchange, routing_key, seconds)
        channel = await broker.connection.channel()
        try:
            queue = await channel.declare_queue(name, passive=True)
        except ChannelNotFoundEntity:
            continue  # never declared: no timer of that length was set
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            found.append((seconds, Event.from_json(message.body)))
        await channel.close()
    return found


def payloads(tapped: Sequence[Event], payload_type: type[events.P]) -> list[events.P]:
    """The tapped events of `payload_type`, each checked against its schema."""
    return [events.parse(payload_type, e) for e in tapped if e.type == payload_type.ROUTING_KEY]
