"""A restaurant's RabbitMQ vhost and the platform's queues in it.

The vhost and its permissions go through the management HTTP API; the queues are declared
over AMQP with `oms.platform.consumer.declare_queue_set`, the very topology the services
declare when they start (main queue, one delay queue per retry step, a parking queue), so
both sides agree and every declaration is idempotent. Deleting the vhost removes it all.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import aio_pika
import httpx

from oms import domain_events
from oms.platform import consumer
from oms_operator import broker_address


@dataclass(frozen=True)
class Broker:
    """Where one restaurant's broker is and how to log in to it."""

    amqp_url: str  # scheme://host:port, no credentials, no vhost
    management_url: str
    username: str
    password: str

    def _auth(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(self.username, self.password)

    def _api(self, path: str) -> str:
        return f"{self.management_url.rstrip('/')}/api/{path}"

    def redact(self, text: str) -> str:
        """`text` (an error's message, for status and events) without the password."""
        return broker_address.redact(text, self.password)

    def vhost_url(self, vhost: str) -> str:
        scheme, address = self.amqp_url.rstrip("/").split("://", 1)
        user, password = quote(self.username, safe=""), quote(self.password, safe="")
        return f"{scheme}://{user}:{password}@{address}/{quote(vhost, safe='')}"


def expected_queues(delays_ms: tuple[int, ...]) -> list[str]:
    """Every queue `ensure` declares, in a stable order."""
    names: list[str] = []
    for subscription in domain_events.SUBSCRIPTIONS:
        names.append(subscription.queue)
        names.append(consumer.parking_queue_name(subscription.queue))
        names += [consumer.retry_queue_name(subscription.queue, d) for d in delays_ms]
    return names


async def ensure(
    http: httpx.AsyncClient, broker: Broker, vhost: str, delays_ms: tuple[int, ...]
) -> int:
    """Create the vhost, let our user in, declare the exchange and every queue set.

    Returns how many queues now exist for the platform. Raises httpx or AMQP errors.
    """
    quoted = quote(vhost, safe="")
    response = await http.put(broker._api(f"vhosts/{quoted}"), auth=broker._auth())
    response.raise_for_status()
    permissions = {"configure": ".*", "write": ".*", "read": ".*"}
    user = quote(broker.username, safe="")
    response = await http.put(
        broker._api(f"permissions/{quoted}/{user}"), json=permissions, auth=broker._auth()
    )
    response.raise_for_status()

    connection = await aio_pika.connect(broker.vhost_url(vhost), timeout=10)
    async with connection:
        channel = await connection.channel()
        await channel.declare_exchange(
            domain_events.EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        for subscription in domain_events.SUBSCRIPTIONS:
            await consumer.declare_queue_set(
                channel,
                domain_events.EXCHANGE,
                subscription.queue,
                subscription.routing_keys,
                delays_ms,
                subscription.retired,
            )
    return len(expected_queues(delays_ms))


async def remove(http: httpx.AsyncClient, broker: Broker, vhost: str) -> bool:
    """Delete the vhost with its queues and messages; False when it was already gone."""
    response = await http.delete(
        broker._api(f"vhosts/{quote(vhost, safe='')}"), auth=broker._auth()
    )
    if response.status_code == httpx.codes.NOT_FOUND:
        return False
    response.raise_for_status()
    return True
