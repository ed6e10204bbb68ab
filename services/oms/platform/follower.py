"""Following events with a queue of this process's own: every instance sees every event.

For observers that keep something in memory (a cache of the menu, the gateway's live
screens) rather than acting once per event: the queue is server-named, exclusive and
deleted with the connection, so nothing is kept for a process that is gone. There are no
retries and no parking: a handler that fails is logged and the event dropped, which an
observer survives by reloading its view (a cache entry expires, a screen reconnects).
"""

from __future__ import annotations

from collections.abc import Sequence

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from oms.platform import logs
from oms.platform.broker import Broker
from oms.platform.consumer import Handler
from oms.platform.events import Event, MalformedMessage

log = logs.get(__name__)


class Follower:
    def __init__(
        self, broker: Broker, routing_keys: Sequence[str], handler: Handler, prefetch: int = 256
    ) -> None:
        self.broker = broker
        self.routing_keys = list(routing_keys)
        self.handler = handler
        self.prefetch = prefetch
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None

    async def start(self) -> None:
        self._channel = await self.broker.connection.channel()
        await self._channel.set_qos(prefetch_count=self.prefetch)
        self._queue = await self._channel.declare_queue(exclusive=True, auto_delete=True)
        exchange = await self._channel.get_exchange(self.broker.exchange, ensure=False)
        for key in self.routing_keys:
            await self._queue.bind(exchange, routing_key=key)
        await self._queue.consume(self._on_message, no_ack=True)
        log.info("follower.started", events=self.routing_keys)

    async def stop(self) -> None:
        if self._channel is not None:
            await self.broker.while_connected(self._channel.close())

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            event = Event.from_json(message.body)
            await self.handler(event)
        except MalformedMessage:
            log.warning("follower.malformed", message_id=message.message_id)
        except Exception:
            log.warning("follower.handler_failed", message_id=message.message_id, exc_info=True)
