"""One pass over a parking queue over plain AMQP (no management API).

A pass reads the queue with basic.get without auto-ack and holds every message it read
unacked until the pass settles it. A held message is invisible to any other reader, so the
pass never meets the same message twice and ends when the queue runs dry; it reads at most
the number of messages the queue held when the pass began, so it also ends when new ones
keep arriving (a replayed event its consumer parks again, say). Each held message is settled
exactly once: removed (acked, after its replay was confirmed) or, when the pass ends, given
back (nacked with requeue). If the tool dies first, the broker gives them all back.

Ordering: RabbitMQ puts a requeued message back at its old place in a classic queue, so what
a pass leaves stays in parking order, ahead of anything parked meanwhile. A replay sends the
selected messages in parking order to the back of the consumer's queue: after the events
already waiting there, and out of order with the events published since. The consumers
never relied on order (they are idempotent by event id, and their state changes are
compare-and-set), but an operator replaying `order.paid` after `order.expired` for one order
gets what the consumer does with that order today, not what it would have done back then.
"""

from __future__ import annotations

from types import TracebackType
from urllib.parse import urlsplit

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage
from aiormq.exceptions import AMQPError, ChannelNotFoundEntity
from pydantic import ValidationError

from oms.ops.parked import ParkedMessage
from oms.platform.consumer import parking_queue_name
from oms.platform.settings import RabbitMQSettings

CONNECT_TIMEOUT_SECONDS = 10.0


class UnknownQueue(LookupError):
    """The broker has no such queue: reported in one line, exit code 2."""


class Unreachable(ConnectionError):
    """No broker at that URL, or it refused us: reported in one line, exit code 2."""


async def connect(url: str | None) -> AbstractConnection:
    """A plain connection to `url` or RABBITMQ_URL: a tool fails at once, never reconnects."""
    url = _amqp_url(url)
    try:
        return await aio_pika.connect(
            url,
            timeout=CONNECT_TIMEOUT_SECONDS,
            client_properties={"connection_name": "oms.ops.parking"},
        )
    except (OSError, AMQPError, ValueError) as exc:  # a timeout is an OSError too
        raise Unreachable(f"cannot connect to RabbitMQ at {_masked(url)}: {exc}") from None


def _amqp_url(given: str | None) -> str:
    if given is None:
        try:
            given = RabbitMQSettings().url
        except ValidationError as exc:
            raise Unreachable(f"bad RABBITMQ_ settings: {exc.errors()[0]['msg']}") from None
    parts = urlsplit(given)
    if parts.scheme not in ("amqp", "amqps") or not parts.hostname:
        raise Unreachable(f"not an AMQP URL: {_masked(given)} (e.g. amqp://user:pass@host:5672/)")
    return given


def _masked(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


async def require_queue(connection: AbstractConnection, name: str) -> None:
    # A passive declare of a missing queue closes its channel, hence a channel of its own.
    channel = await connection.channel()
    try:
        await channel.declare_queue(name, passive=True)
    except ChannelNotFoundEntity:
        raise UnknownQueue(f"no queue {name!r} on this broker") from None
    await channel.close()


class ParkingPass:
    """Reads the parking queue of consumer queue `queue`; settles each message once."""

    def __init__(self, connection: AbstractConnection, queue: str) -> None:
        self.connection = connection
        self.queue = queue
        self.messages: list[ParkedMessage] = []
        self._held: dict[int, tuple[ParkedMessage, AbstractIncomingMessage]] = {}
        self._channel: AbstractChannel | None = None

    async def __aenter__(self) -> ParkingPass:
        # Confirms and returns raise, so a replay is known to be in the consumer's queue.
        self._channel = await self.connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        name = parking_queue_name(self.queue)
        try:
            parking = await self._channel.declare_queue(name, passive=True)
        except ChannelNotFoundEntity:
            raise UnknownQueue(f"no parking queue {name!r} on this broker") from None
        for _ in range(parking.declaration_result.message_count or 0):
            incoming = await parking.get(no_ack=False, fail=False)
            if incoming is None:
                break
            message = ParkedMessage.read(self.queue, incoming)
            self._held[message.delivery_tag] = (message, incoming)
            self.messages.append(message)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        channel, self._channel = self._channel, None
        if channel is None or channel.is_closed:
            return  # the broker has requeued whatever this channel held
        # In reading order, each back at its old place.
        for _, incoming in self._held.values():
            await incoming.nack(requeue=True)
        self._held.clear()
        await channel.close()

    def _holding(self, message: ParkedMessage) -> AbstractIncomingMessage:
        # By identity: delivery tags are only unique on one channel.
        held, incoming = self._held.get(message.delivery_tag, (None, None))
        if held is not message or incoming is None:
            raise RuntimeError(f"{message.event_id} is not held by this pass (settled already?)")
        return incoming

    async def remove(self, message: ParkedMessage) -> None:
        incoming = self._holding(message)
        del self._held[message.delivery_tag]
        await incoming.ack()

    async def replay(self, message: ParkedMessage) -> None:
        """Back into the consumer's queue by the default exchange, then off the parking queue.

        The copy is confirmed before the parked one is acked: a crash in between leaves both
        (a duplicate the idempotent consumer ignores), never neither. The default exchange
        reaches this consumer only; the topic exchange would deliver to every subscriber.
        """
        incoming = self._holding(message)
        if self._channel is None:
            raise RuntimeError("the pass has not started")
        await self._channel.default_exchange.publish(
            message.replay_message(), routing_key=self.queue, mandatory=True
        )
        del self._held[message.delivery_tag]
        await incoming.ack()
