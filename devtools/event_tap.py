"""A witness on the platform's broker: every event published to the events exchange, recorded.

Tests use it to count what each service announced (one `payment.captured`, no
`kitchen.ticket_started`) and to wait for an event that must come after another. Its queue is
server-named, exclusive and bound to every routing key, so it takes nothing from the
services' own queues. Events are counted by id: a redelivery (the outbox may publish an event
twice) is the same event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from oms.domain_events import EXCHANGE
from oms.platform.events import Event, MalformedMessage


class EventTap:
    def __init__(self, amqp_url: str, exchange: str = EXCHANGE) -> None:
        self.amqp_url = amqp_url
        self.exchange = exchange
        self.events: dict[str, Event] = {}
        self.deliveries = 0
        self._connection: AbstractRobustConnection | None = None
        self._arrived = asyncio.Event()

    async def __aenter__(self) -> EventTap:
        self._connection = await aio_pika.connect_robust(self.amqp_url)
        channel = await self._connection.channel()
        exchange = await channel.declare_exchange(
            self.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="#")
        await queue.consume(self._on_message, no_ack=True)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            event = Event.from_json(message.body)
        except MalformedMessage:
            return
        self.deliveries += 1
        self.events.setdefault(event.id, event)
        self._arrived.set()

    def of(self, order_id: str, event_type: str | None = None) -> list[Event]:
        """The distinct events about `order_id` (of `event_type`), in arrival order."""
        return [
            event
            for event in self.events.values()
            if event.data.get("order_id") == order_id
            and (event_type is None or event.type == event_type)
        ]

    def types(self, order_id: str) -> list[str]:
        return [event.type for event in self.of(order_id)]

    def count(self, order_id: str, event_type: str) -> int:
        return len(self.of(order_id, event_type))

    async def until(self, what: str, condition: Callable[[], bool], within: float = 30.0) -> None:
        """Until `condition` holds, looked at again whenever an event arrives."""
        deadline = time.monotonic() + within
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"never saw {what} within {within}s")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), min(remaining, 0.5))
            except TimeoutError:
                pass

    async def wait_for(self, order_id: str, event_type: str, within: float = 30.0) -> Event:
        """The first `event_type` about `order_id`, once it has been published."""
        await self.until(
            f"{event_type} for {order_id}",
            lambda: self.count(order_id, event_type) > 0,
            within,
        )
        return self.of(order_id, event_type)[0]
