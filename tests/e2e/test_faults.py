"""No accepted order is lost: not when RabbitMQ restarts, a cook is killed mid-order, or a
Stock instance dies. Each fault is provoked for real on running processes."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from devtools import servers
from devtools.platform import LocalPlatform
from oms.contracts.v1 import kitchen_pb2, kitchen_pb2_grpc
from oms.platform.discovery import Discovery
from oms.platform.settings import ConsulSettings
from tests.e2e.conftest import Shop

# Each fault test starts (or restarts) servers and processes of its own.
pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def own_rabbitmq(tmp_path: Path) -> Iterator[servers.RabbitMQ]:
    """A broker of this test's own, so stopping it disturbs no other test."""
    broker = servers.RabbitMQ(tmp_path / "rabbitmq")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
async def outage_shop(
    tmp_path: Path,
    own_rabbitmq: servers.RabbitMQ,
    ferretdb: servers.FerretDB,
    consul: servers.Consul,
    stripe_mock: servers.StripeMock,
) -> AsyncIterator[Shop]:
    platform = LocalPlatform(tmp_path / "oms", own_rabbitmq, ferretdb, consul, stripe_mock)
    try:
        platform.start()
        async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as http:
            yield Shop(platform, http)
    finally:
        platform.stop()


async def test_an_order_accepted_while_rabbitmq_is_down_reaches_payment_when_it_returns(
    outage_shop: Shop, own_rabbitmq: servers.RabbitMQ
) -> None:
    shop = outage_shop
    own_rabbitmq.stop()

    accepted = await shop.order("ivan", [("margherita", 1)])
    assert accepted.status_code == 201, accepted.text
    order = accepted.json()
    await asyncio.sleep(2)
    assert (await shop.get("ivan", order["id"]))["status"] == "pending"

    own_rabbitmq.start()

    awaiting, _ = await shop.wait_for("ivan", order["id"], "awaiting_payment", within=60)
    assert awaiting["payment_link"]
    await shop.stripe_says("checkout.session.completed", order)
    await shop.wait_for("ivan", order["id"], "ready", within=60)


async def test_an_order_whose_cook_is_killed_mid_way_is_finished_by_another(shop: Shop) -> None:
    platform = shop.platform
    for kitchen in platform.running("kitchen"):
        assert kitchen.stop() == 0, kitchen.log_tail()
    slow = platform.start_service("kitchen", KITCHEN_SECONDS_PER_ITEM="30")
    order = (await shop.order("judy", [("tiramisu", 1)])).json()
    await shop.wait_for("judy", order["id"], "awaiting_payment")
    await shop.stripe_says("checkout.session.completed", order)
    await shop.wait_for("judy", order["id"], "preparing")

    slow.kill()
    replacement = platform.start_service("kitchen")

    await shop.wait_for("judy", order["id"], "ready", within=60)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{replacement.port}") as channel:
        ticket = await kitchen_pb2_grpc.KitchenServiceStub(channel).GetTicket(
            kitchen_pb2.GetTicketRequest(order_id=order["id"]), timeout=5
        )
    assert ticket.status == kitchen_pb2.TICKET_STATUS_READY
    assert ticket.attempts == 2, "the second cook took over the ticket the first one started"


async def _until_discoverable(
    consul: servers.Consul, platform: LocalPlatform, service: str, port: int, within: float = 15
) -> None:
    """Until Consul reports the instance on `port` passing, as the services resolve it."""
    settings = ConsulSettings(
        http_addr=consul.http_address, service_prefix=platform.consul_prefix, cache_ttl_seconds=0
    )
    discovery = Discovery(settings)
    try:
        deadline = time.monotonic() + within
        while f"127.0.0.1:{port}" not in await discovery.healthy(service):
            if time.monotonic() > deadline:
                raise AssertionError(f"{service} on port {port} not passing in Consul")
            await asyncio.sleep(0.1)
    finally:
        await discovery.close()


async def test_orders_keep_succeeding_when_one_of_two_stock_instances_dies(
    shop: Shop, consul: servers.Consul
) -> None:
    platform = shop.platform
    first = platform.running("stock")[0]
    second = platform.start_service("stock")
    # Consul runs a new instance's first check up to one interval after it registers; until
    # then no service can find it, and killing the first would leave none.
    await _until_discoverable(consul, platform, "stock", second.port)
    dish = await shop.new_item(on_hand=100)

    before = await asyncio.gather(*(shop.order(f"kim-{n}", [(dish, 1)]) for n in range(20)))
    first.kill()
    after = await asyncio.gather(*(shop.order(f"lee-{n}", [(dish, 1)]) for n in range(30)))

    assert Counter(r.status_code for r in before) == {201: 20}
    assert Counter(r.status_code for r in after) == {201: 30}, [r.text for r in after][:3]
    level = await shop.stock(dish)
    assert (level["on_hand"], level["reserved"], level["available"]) == (100, 50, 50)
    assert "Reserve" in first.log_path.read_text(), "both instances should have taken calls"
