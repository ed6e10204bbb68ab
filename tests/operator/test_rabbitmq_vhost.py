"""Queue names and broker addresses (pure); the real broker is in test_lifecycle."""

from __future__ import annotations

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
