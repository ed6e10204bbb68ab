"""A restaurant's vhost and queues: names, addresses, and on the real broker."""

from __future__ import annotations

import dataclasses

import aio_pika
import httpx
import pytest

from devtools import servers
from oms import domain_events
from oms_operator import rabbitmq_vhost


def test_every_subscription_gets_its_queue_retry_queues_and_parking_queue() -> None:
    names = rabbitmq_vhost.expected_queues((1000, 5000))

    assert len(names) == len(domain_events.SUBSCRIPTIONS) * 4
    assert {"kitchen.orders", "kitchen.orders.parking", "kitchen.orders.retry.1000ms"} <= set(names)
    assert "payment.orders.retry.5000ms" in names


def test_credentials_and_vhost_are_quoted_into_the_amqp_url() -> None:
    broker = rabbitmq_vhost.Broker(
        amqp_url="amqp://mq:5672/",
        management_url="http://mq:15672",
        username="oms",
        password="p@ss/word",
    )

    assert broker.vhost_url("oms-a-b") == "amqp://oms:p%40ss%2Fword@mq:5672/oms-a-b"


def _broker(rabbitmq: servers.RabbitMQ) -> rabbitmq_vhost.Broker:
    address = rabbitmq.amqp_url.split("@", 1)[1].rstrip("/")
    return rabbitmq_vhost.Broker(
        amqp_url=f"amqp://{address}",
        management_url=rabbitmq.management_url,
        username="guest",
        password="guest",
    )


async def _queues(http: httpx.AsyncClient, rabbitmq: servers.RabbitMQ, vhost: str) -> set[str]:
    response = await http.get(
        f"{rabbitmq.management_url}/api/queues/{vhost}", auth=("guest", "guest")
    )
    response.raise_for_status()
    return {queue["name"] for queue in response.json()}


async def test_ensure_declares_every_queue_set_in_a_new_vhost_and_remove_deletes_it(
    rabbitmq: servers.RabbitMQ,
) -> None:
    broker = _broker(rabbitmq)
    delays = (200, 400)
    async with httpx.AsyncClient(timeout=10) as http:
        count = await rabbitmq_vhost.ensure(http, broker, "oms-test-ensure", delays)
        again = await rabbitmq_vhost.ensure(http, broker, "oms-test-ensure", delays)

        assert count == again == len(rabbitmq_vhost.expected_queues(delays))
        assert await _queues(http, rabbitmq, "oms-test-ensure") == set(
            rabbitmq_vhost.expected_queues(delays)
        )
        # The services declare the same queues with the same arguments: no conflict.
        connection = await aio_pika.connect(broker.vhost_url("oms-test-ensure"))
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(
                "kitchen.orders",
                durable=True,
                arguments={
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": "kitchen.orders.parking",
                },
            )
            assert queue.name == "kitchen.orders"

        assert await rabbitmq_vhost.remove(http, broker, "oms-test-ensure") is True
        assert await rabbitmq_vhost.remove(http, broker, "oms-test-ensure") is False
        vhosts = await http.get(f"{rabbitmq.management_url}/api/vhosts", auth=("guest", "guest"))
        assert "oms-test-ensure" not in {v["name"] for v in vhosts.json()}


async def test_ensure_drops_a_binding_an_older_version_declared(
    rabbitmq: servers.RabbitMQ,
) -> None:
    broker, vhost, delays = _broker(rabbitmq), "oms-test-retired", (200,)
    async with httpx.AsyncClient(timeout=10) as http:
        await rabbitmq_vhost.ensure(http, broker, vhost, delays)
        connection = await aio_pika.connect(broker.vhost_url(vhost))
        async with connection:
            channel = await connection.channel()
            exchange = await channel.get_exchange(domain_events.EXCHANGE)
            queue = await channel.get_queue(domain_events.STOCK_ORDERS.queue)
            # Before order.refunded v2, Stock took it (it said what the stock became).
            await queue.bind(exchange, routing_key="order.refunded")

        await rabbitmq_vhost.ensure(http, broker, vhost, delays)

        response = await http.get(
            f"{rabbitmq.management_url}/api/queues/{vhost}/stock.orders/bindings",
            auth=("guest", "guest"),
        )
        await rabbitmq_vhost.remove(http, broker, vhost)
    response.raise_for_status()
    keys = {b["routing_key"] for b in response.json() if b["source"] == domain_events.EXCHANGE}
    assert keys == set(domain_events.STOCK_ORDERS.routing_keys)
    assert "order.refunded" not in keys


async def test_wrong_credentials_raise(rabbitmq: servers.RabbitMQ) -> None:
    broker = dataclasses.replace(_broker(rabbitmq), password="wrong")
    async with httpx.AsyncClient(timeout=10) as http:
        with pytest.raises(httpx.HTTPStatusError):
            await rabbitmq_vhost.ensure(http, broker, "oms-test-denied", (1000,))
