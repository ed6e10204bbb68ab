"""RabbitMQ: one robust connection per process and a pool of confirm-mode channels.

Publishing waits for the broker's confirm and is `mandatory`, so an event that no queue would
take raises instead of vanishing; callers (the outbox relay) keep it and try again.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractRobustConnection, DeliveryMode
from aio_pika.pool import Pool
from opentelemetry import propagate

from oms.platform import logs, metrics
from oms.platform.events import Event
from oms.platform.settings import RabbitMQSettings

log = logs.get(__name__)


def event_message(event: Event, headers: dict[str, Any] | None = None) -> aio_pika.Message:
    """A persistent message for `event` carrying its id, type, time and the trace context."""
    all_headers: dict[str, Any] = {"x-event-version": event.version, **(headers or {})}
    propagate.inject(all_headers)
    return aio_pika.Message(
        body=event.to_json(),
        content_type="application/json",
        delivery_mode=DeliveryMode.PERSISTENT,
        message_id=event.id,
        type=event.type,
        timestamp=event.occurred_at,
        headers=all_headers,
    )


class Broker:
    """`exchange` is the durable topic exchange every event goes through (named by the
    event contract, `oms.domain_events.EXCHANGE`)."""

    def __init__(self, settings: RabbitMQSettings, exchange: str, name: str = "oms") -> None:
        self.settings = settings
        self.exchange = exchange
        self.name = name
        self._connection: AbstractRobustConnection | None = None
        self._channels: Pool[AbstractChannel] | None = None

    @property
    def connection(self) -> AbstractRobustConnection:
        if self._connection is None:
            raise RuntimeError("Broker.connect() has not been called")
        return self._connection

    @property
    def connected(self) -> bool:
        """True while the connection is up (the robust connection reconnects by itself)."""
        return self._connection is not None and self._connection.connected.is_set()

    async def connect(self) -> None:
        """Open the process's connection and declare the durable events exchange."""
        self._connection = await aio_pika.connect_robust(
            self.settings.url, client_properties={"connection_name": self.name}
        )
        self._channels = Pool(self._open_channel, max_size=self.settings.channel_pool_size)
        async with self.channel() as channel:
            await channel.declare_exchange(self.exchange, aio_pika.ExchangeType.TOPIC, durable=True)

    async def while_connected(self, step: Awaitable[object], within: float = 5.0) -> None:
        """A shutdown step that needs the broker (cancel a consumer, close a channel): skipped
        while it is unreachable, and bounded, since a robust channel would otherwise wait
        for a reconnection that may never come and hold the process's exit."""
        if not self.connected:
            if inspect.iscoroutine(step):
                step.close()
            log.info("broker.step_skipped_while_disconnected")
            return
        try:
            await asyncio.wait_for(step, within)
        except (TimeoutError, aio_pika.exceptions.AMQPError, ConnectionError):
            log.warning("broker.step_abandoned", exc_info=True)

    async def close(self) -> None:
        if self._channels is not None:
            await self.while_connected(self._channels.close())
            self._channels = None
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def _open_channel(self) -> AbstractChannel:
        return await self.connection.channel(publisher_confirms=True, on_return_raises=True)

    @asynccontextmanager
    async def channel(self) -> AsyncIterator[AbstractChannel]:
        """Borrow a confirm-mode channel from the pool (never opens one per call)."""
        if self._channels is None:
            raise RuntimeError("Broker.connect() has not been called")
        async with self._channels.acquire() as channel:
            yield channel

    async def publish(self, event: Event, *, mandatory: bool = True) -> None:
        """Publish `event` to the events exchange and wait until the broker has it.

        `mandatory`: an event no queue takes raises instead of vanishing; events only
        per-process observers follow are published without it.
        """
        async with self.channel() as channel:
            exchange = await channel.get_exchange(self.exchange, ensure=False)
            await exchange.publish(
                event_message(event), routing_key=event.type, mandatory=mandatory
            )
        metrics.EVENTS_PUBLISHED.labels(event.type).inc()

    async def queue_depth(self, queue: str) -> int:
        """How many messages wait in `queue` (a passive declare: it must exist).

        On a channel of its own (a periodic gauge, not a hot path): aio-pika's robust channel
        answers a repeated passive declare from its cache, with the first count, and the broker
        closes the channel of one that fails, which must not be a pooled publisher's.
        """
        channel = await self.connection.channel()
        try:
            declared = await channel.declare_queue(queue, passive=True)
            return int(declared.declaration_result.message_count or 0)
        finally:
            with contextlib.suppress(Exception):  # already closed by a failed declare
                await channel.close()

    async def send_to_queue(self, queue: str, message: aio_pika.Message) -> None:
        """Put a message straight into `queue` (retry and parking moves), with a confirm."""
        async with self.channel() as channel:
            await channel.default_exchange.publish(message, routing_key=queue, mandatory=True)
