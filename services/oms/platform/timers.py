"""Timers on RabbitMQ: an event published now and delivered to its consumers later.

A timer is a persistent message put into a delay queue named by its event type and delay
(`<exchange>.delay.<type>.<ms>ms`, with that TTL) that dead-letters into the events exchange
under the event's routing key when it expires, so it reaches every queue bound to that key,
through the consumers' usual retries and parking. Every message of one delay queue has the
same TTL, so they expire in the order they were sent. Delays are rounded up to a short
ladder, which keeps the number of queues small; a timer is therefore never early, and late by
at most the rung's step.

A timer is set *before* the change it guards is stored: if the write then fails, the timer
fires for nothing and its consumer, which checks the current state, does nothing. That is
why timers need no outbox.
"""

from __future__ import annotations

import math

from oms.platform import metrics
from oms.platform.broker import Broker, event_message
from oms.platform.events import Event

# Seconds; longer delays wait at the top rung and are set again by their consumer.
LADDER = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


def rung(delay_seconds: float) -> int:
    """The shortest rung that is not shorter than `delay_seconds` (the top one at most)."""
    wanted = max(1, math.ceil(delay_seconds))
    return next((step for step in LADDER if step >= wanted), LADDER[-1])


def delay_queue_name(exchange: str, routing_key: str, seconds: int) -> str:
    return f"{exchange}.delay.{routing_key}.{seconds * 1000}ms"


class Timers:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self._declared: set[str] = set()

    async def set(self, event: Event, delay_seconds: float) -> int:
        """Deliver `event` after about `delay_seconds`; returns the delay actually used."""
        seconds = rung(delay_seconds)
        queue = delay_queue_name(self.broker.exchange, event.type, seconds)
        if queue not in self._declared:
            async with self.broker.channel() as channel:
                await channel.declare_queue(
                    queue,
                    durable=True,
                    arguments={
                        "x-message-ttl": seconds * 1000,
                        "x-dead-letter-exchange": self.broker.exchange,
                        "x-dead-letter-routing-key": event.type,
                    },
                )
            self._declared.add(queue)
        await self.broker.send_to_queue(queue, event_message(event))
        metrics.EVENTS_PUBLISHED.labels(event.type).inc()
        return seconds
