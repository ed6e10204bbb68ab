"""A kitchen process killed mid-cook (SIGKILL, as a node failure) loses no order: RabbitMQ
redelivers it, the next kitchen starts it again (attempt 2) and it is cooked once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from devtools import servers
from devtools.platform import LocalPlatform
from oms import domain_events as events
from oms.kitchen.repository import COLLECTION
from oms.platform import mongo
from oms.platform.broker import Broker
from oms.platform.settings import MongoSettings, RabbitMQSettings
from tests.kitchen.conftest import confirmed
from tests.order.bus import Tap, payloads


@pytest.fixture
def platform(
    servers_dir: Path,
    rabbitmq: servers.RabbitMQ,
    ferretdb: servers.FerretDB,
    consul: servers.Consul,
    stripe_mock: servers.StripeMock,
) -> Iterator[LocalPlatform]:
    """Only kitchen processes, started by the test itself."""
    created = LocalPlatform(servers_dir / "oms-kitchen", rabbitmq, ferretdb, consul, stripe_mock)
    created.create_vhost()
    try:
        yield created
    finally:
        created.stop()


@pytest.fixture
async def platform_tap(platform: LocalPlatform, rabbitmq: servers.RabbitMQ) -> AsyncIterator[Tap]:
    url = f"{rabbitmq.amqp_url}{quote(platform.vhost, safe='')}"
    broker = Broker(RabbitMQSettings(url=url), events.EXCHANGE)
    await broker.connect()
    tap = Tap(broker)
    await tap.start()
    yield tap
    await tap.stop()
    await broker.close()


async def test_an_order_whose_kitchen_died_mid_cook_is_started_again_and_cooked_once(
    platform: LocalPlatform, platform_tap: Tap, ferretdb: servers.FerretDB
) -> None:
    doomed = platform.start_service("kitchen", KITCHEN_SECONDS_PER_ITEM="600")
    order = confirmed(quantity=1)
    await platform_tap.broker.publish(order.to_event())
    await platform_tap.next(events.TicketStarted.ROUTING_KEY, order.order_id)

    doomed.kill()
    platform.start_service("kitchen", KITCHEN_SECONDS_PER_ITEM="0.05")
    await platform_tap.next(events.TicketReady.ROUTING_KEY, order.order_id, within=60)

    published = await platform_tap.settle()
    started = payloads(published, events.TicketStarted)
    assert [s.attempt for s in started] == [1, 2]
    assert len(payloads(published, events.TicketReady)) == 1
    client = mongo.connect(MongoSettings(url=ferretdb.mongodb_url))
    try:
        tickets = client[f"{platform.database}_kitchen"][COLLECTION]
        ticket = await tickets.find_one({"_id": order.order_id})
    finally:
        await client.close()
    assert ticket is not None
    assert (ticket["state"]["status"], ticket["attempts"]) == ("cooked", 2)
