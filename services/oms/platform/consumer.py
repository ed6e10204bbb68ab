"""Consuming events with delayed retries and a parking queue.

For a queue `q` the topology is:
- `q`: durable, bound to the events exchange; whatever it dead-letters goes to `q.parking`;
- `q.retry.<ms>`: one durable delay queue per step of the schedule, with that TTL, whose
  expired messages dead-letter straight back into `q` (not through the exchange, so the
  other consumers of the event do not see the retry);
- `q.parking`: durable, no consumer; what sits there needs a person (`python -m
  oms.ops.parking`).

A consumer dispatches on the event type: one handler per type it is bound to. A failed
message is copied into the next delay queue with its attempt count and then acked, in that
order, so a crash in between duplicates it (consumers are idempotent) but never loses it. A
message that is not an event, whose type has no handler, whose handler raises
`PermanentError`, or that has failed its last attempt, is parked with the reason in its headers.
A handler that raises `HandBack` gives the message back to the queue at once, unharmed (a cook
that cannot finish before its process stops).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue, DeliveryMode

from oms.platform import logs, metrics
from oms.platform.broker import Broker
from oms.platform.events import Event, HandBack, MalformedMessage, PermanentError
from oms.platform.faults import NO_FAULTS, Faults

Handler = Callable[[Event], Awaitable[None]]
# Routing key (= event type) -> what to do with it.
Handlers = Mapping[str, Handler]

# The headers a retried or parked copy carries; `oms.ops.parking` reads them back.
ATTEMPT_HEADER = "x-attempt"
ORIGINAL_ROUTING_KEY_HEADER = "x-original-routing-key"
PARKED_REASON_HEADER = "x-parked-reason"
PARKED_AT_HEADER = "x-parked-at"
PARKING_SUFFIX = ".parking"
log = logs.get(__name__)


def retry_queue_name(queue: str, delay_ms: int) -> str:
    return f"{queue}.retry.{delay_ms}ms"


def parking_queue_name(queue: str) -> str:
    return f"{queue}{PARKING_SUFFIX}"


async def declare_queue_set(
    channel: AbstractChannel,
    exchange: str,
    queue: str,
    routing_keys: Sequence[str],
    delays_ms: Sequence[int],
    retired: Sequence[str] = (),
) -> AbstractQueue:
    """Declare (idempotently) a consumer queue, its delay queues and its parking queue.

    `retired`: routing keys the queue was bound to by an older version and no longer takes;
    they are unbound (a no-op where they never were), or the broker would keep routing them
    here, to be parked as events nobody handles.
    """
    await channel.declare_queue(parking_queue_name(queue), durable=True)
    for delay in delays_ms:
        await channel.declare_queue(
            retry_queue_name(queue, delay),
            durable=True,
            arguments={
                "x-message-ttl": delay,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": queue,
            },
        )
    main = await channel.declare_queue(
        queue,
        durable=True,
        arguments={
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": parking_queue_name(queue),
        },
    )
    events = await channel.get_exchange(exchange, ensure=False)
    for key in routing_keys:
        await main.bind(events, routing_key=key)
    for key in retired:
        await main.unbind(events, routing_key=key)
    return main


def _copy(message: AbstractIncomingMessage, extra_headers: dict[str, Any]) -> aio_pika.Message:
    headers = dict(message.headers or {})
    # A retried message comes back keyed by queue name; remember what it was first sent as.
    headers.setdefault(ORIGINAL_ROUTING_KEY_HEADER, message.routing_key or "")
    return aio_pika.Message(
        body=message.body,
        content_type=message.content_type,
        delivery_mode=DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        type=message.type,
        timestamp=message.timestamp,
        headers={**headers, **extra_headers},
    )


@dataclass(frozen=True)
class Delivery:
    """How the message being handled came: a handler that must tell a second delivery of an
    event still in someone's hands from one whose first handler is gone reads this."""

    # RabbitMQ gives it again because the consumer that had it is gone (or gave it back).
    redelivered: bool = False
    # Our own retries count up from 1; above 1, an earlier attempt ended in failure.
    attempt: int = 1

    @property
    def after_an_earlier_attempt(self) -> bool:
        return self.redelivered or self.attempt > 1


# Delivery is frozen: a shared default cannot be changed through the variable.
_delivery: ContextVar[Delivery] = ContextVar("delivery", default=Delivery())  # noqa: B039


def current_delivery() -> Delivery:
    """The delivery of the message the running handler is handling."""
    return _delivery.get()


def _attempt(message: AbstractIncomingMessage) -> int:
    value = (message.headers or {}).get(ATTEMPT_HEADER, 1)
    return value if isinstance(value, int) and value >= 1 else 1


class Consumer:
    """Feeds the events bound to `queue` to their handlers, up to `prefetch` at a time."""

    def __init__(
        self,
        broker: Broker,
        queue: str,
        handlers: Handlers,
        *,
        prefetch: int | None = None,
        faults: Faults = NO_FAULTS,
        retired: Sequence[str] = (),
    ) -> None:
        self.broker = broker
        self.queue = queue
        self.faults = faults
        self.handlers = dict(handlers)
        self.retired = tuple(retired)
        self.delays_ms = list(broker.settings.retry_delays_ms)
        self.prefetch = prefetch or broker.settings.prefetch
        self._channel: AbstractChannel | None = None
        self._amqp_queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False

    @property
    def max_attempts(self) -> int:
        return len(self.delays_ms) + 1

    async def start(self) -> None:
        # A consumer gets a channel of its own: its prefetch must not throttle publishers.
        self._channel = await self.broker.connection.channel()
        await self._channel.set_qos(prefetch_count=self.prefetch)
        self._amqp_queue = await declare_queue_set(
            self._channel,
            self.broker.exchange,
            self.queue,
            list(self.handlers),
            self.delays_ms,
            self.retired,
        )
        self._consumer_tag = await self._amqp_queue.consume(self._on_message)
        log.info("consumer.started", queue=self.queue, events=list(self.handlers))

    async def stop(self, grace_seconds: float = 30.0) -> None:
        """Take no new messages, let the in-flight ones finish, then close the channel."""
        self._stopping = True
        self.faults.lift(f"consumer:{self.queue}")
        if self._amqp_queue is not None and self._consumer_tag is not None:
            await self.broker.while_connected(self._amqp_queue.cancel(self._consumer_tag))
        try:
            await asyncio.wait_for(self._idle.wait(), grace_seconds)
        except TimeoutError:
            # Unacked messages are requeued by the broker when the channel closes.
            log.warning("consumer.stop_timeout", queue=self.queue, in_flight=self._in_flight)
        if self._channel is not None:
            await self.broker.while_connected(self._channel.close())
        log.info("consumer.stopped", queue=self.queue)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        if self._stopping:
            await message.reject(requeue=True)
            return
        self._in_flight += 1
        self._idle.clear()
        try:
            await self._process(message)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _process(self, message: AbstractIncomingMessage) -> None:
        kind, outcome = await self._handle(message)
        metrics.EVENTS_CONSUMED.labels(self.queue, kind, outcome).inc()

    async def _handle(self, message: AbstractIncomingMessage) -> tuple[str, str]:
        """Handle, retry, park or hand back `message`; returns its type and which it was."""
        attempt = _attempt(message)
        _delivery.set(Delivery(bool(message.redelivered), attempt))
        try:
            event = Event.from_json(message.body)
        except MalformedMessage as exc:
            await self._park(message, attempt, f"malformed: {exc}")
            return "-", "parked"
        handler = self.handlers.get(event.type)
        if handler is None:
            await self._park(message, attempt, f"{self.queue} has no handler for {event.type}")
            return event.type, "parked"
        bound = log.bind(queue=self.queue, event_id=event.id, event_type=event.type)
        try:
            await self.faults.before_message(self.queue)
            await handler(event)
        except HandBack:
            # Not a failure: this process cannot finish it (it is stopping); another will.
            bound.info("consumer.handed_back")
            await message.reject(requeue=True)
            return event.type, "handed_back"
        except PermanentError as exc:
            await self._park(message, attempt, f"permanent: {exc}")
            return event.type, "parked"
        except Exception as exc:
            if attempt >= self.max_attempts:
                bound.error("consumer.attempts_exhausted", attempt=attempt, exc_info=True)
                await self._park(message, attempt, f"failed {attempt} times: {exc!r}")
                return event.type, "parked"
            delay = self.delays_ms[attempt - 1]
            bound.warning("consumer.retry", attempt=attempt, delay_ms=delay, error=repr(exc))
            retry = _copy(message, {ATTEMPT_HEADER: attempt + 1})
            await self.broker.send_to_queue(retry_queue_name(self.queue, delay), retry)
            await message.ack()
            return event.type, "retried"
        await message.ack()
        return event.type, "handled"

    async def _park(self, message: AbstractIncomingMessage, attempt: int, reason: str) -> None:
        log.error("consumer.parked", queue=self.queue, message_id=message.message_id, reason=reason)
        parked = _copy(
            message,
            {
                ATTEMPT_HEADER: attempt,
                PARKED_REASON_HEADER: reason[:1000],
                PARKED_AT_HEADER: datetime.now(UTC).isoformat(),
            },
        )
        await self.broker.send_to_queue(parking_queue_name(self.queue), parked)
        await message.ack()
