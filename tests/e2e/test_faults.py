"""No accepted order is lost: not when RabbitMQ restarts, a cook is killed mid-order, or a
Stock instance dies. Each fault is provoked for real on running processes, each on a platform
of its own, so the shared platform never sees it."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from devtools import metrics, peek, quiet, servers
from devtools.faults import ProcessFaults, rpc
from devtools.platform import LocalPlatform
from oms.domain_events import EXCHANGE
from oms.platform.discovery import Discovery
from oms.platform.settings import ConsulSettings
from tests.e2e.conftest import Servers, Shop, eventually, own_platform, shop_of

# Each fault test starts (or restarts) servers and processes of its own.
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def own_rabbitmq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.RabbitMQ]:
    """A broker of this module's own, so stopping it disturbs no other test."""
    broker = servers.RabbitMQ(tmp_path_factory.mktemp("rabbitmq"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
async def outage_shop(real_servers: Servers, own_rabbitmq: servers.RabbitMQ) -> AsyncIterator[Shop]:
    # The gateway waits longer than the Stock call this test holds back, and the services
    # that accept work stay ready without their broker (not the default), so that orders
    # keep coming while it is down.
    env = {"GATEWAY_CREATE_ORDER_DEADLINE_SECONDS": "40", "OPS_READY_WITHOUT_BROKER": "true"}
    with own_platform(real_servers, "outage", rabbitmq=own_rabbitmq, env=env) as platform:
        async with shop_of(platform) as shop:
            yield shop


@pytest.fixture
async def own_shop(real_servers: Servers) -> AsyncIterator[Shop]:
    with own_platform(real_servers, "faults") as platform:
        async with shop_of(platform) as shop:
            yield shop


async def _deadline_timer_set(platform: LocalPlatform) -> bool:
    prefix = f"{EXCHANGE}.delay.order.deadline_due."
    return any(
        q["name"].startswith(prefix) and q.get("messages", 0) > 0
        for q in await quiet.queues(platform)
    )


async def test_an_order_placed_as_rabbitmq_stops_is_kept_and_reaches_payment_when_it_returns(
    outage_shop: Shop, own_rabbitmq: servers.RabbitMQ
) -> None:
    shop = outage_shop
    ivan = await shop.customer()
    # Stock answers the reservation 15 s late: the order is stored after the broker is gone.
    stock = ProcessFaults(shop.platform, shop.platform.process("stock"))
    await stock.add(rpc("StockService/Reserve"), "delay", seconds=15)
    placing = asyncio.create_task(shop.order(ivan, [("margherita", 1)]))
    await eventually("the order's deadline timer set", lambda: _deadline_timer_set(shop.platform))

    own_rabbitmq.stop()
    try:
        assert not placing.done(), "the order was stored before the broker stopped"
        accepted = await placing
        assert accepted.status_code == 201, accepted.text
        order = accepted.json()
        assert order["status"] == "pending"
        # Stored with its event. Order is not ready without its broker (the gateway answers
        # 503 for it), so the outbox is read from its database.
        assert (await quiet.staged(shop.platform))["order"] == ["order.placed"]
    finally:
        own_rabbitmq.start()

    awaiting = await shop.wait_for(ivan, order["id"], "awaiting_payment", within=60)
    await stock.clear()
    await shop.pay(awaiting)
    await shop.wait_for(ivan, order["id"], "ready", within=60)


async def test_an_order_accepted_while_rabbitmq_is_down_reaches_payment_when_it_returns(
    outage_shop: Shop, own_rabbitmq: servers.RabbitMQ
) -> None:
    """A broker outage delays events, it does not close the shop: Order (readiness degraded,
    not failing) takes the order, keeps `order.placed` and its deadline timer in the order's
    outbox, and both go out when the broker is back."""
    shop = outage_shop
    ivan = await shop.customer()
    own_rabbitmq.stop()
    try:
        accepted = await shop.order(ivan, [("margherita", 1)])
    finally:
        own_rabbitmq.start()
    assert accepted.status_code == 201, accepted.text
    await shop.wait_for(ivan, accepted.json()["id"], "awaiting_payment", within=90)


async def test_by_default_the_shop_refuses_orders_while_rabbitmq_is_down_and_takes_them_after(
    real_servers: Servers, own_rabbitmq: servers.RabbitMQ
) -> None:
    """Readiness follows the broker: Order, without RabbitMQ, turns unready, Consul stops
    sending it work and the gateway answers 503 with `Retry-After`; once RabbitMQ is back,
    orders are taken and flow again."""
    with own_platform(real_servers, "unready", rabbitmq=own_rabbitmq) as platform:
        async with shop_of(platform) as shop:
            ivan = await shop.customer()
            own_rabbitmq.stop()
            try:

                async def order_unready() -> bool:
                    readiness = await shop.http.get("/readyz")
                    return readiness.status_code == 503 and "order" in readiness.json()["missing"]

                await eventually("Order reported unready", order_unready)

                async def refused() -> httpx.Response | None:
                    response = await shop.order(ivan, [("margherita", 1)])
                    return response if response.status_code == 503 else None

                answer = await eventually("the gateway refusing orders", refused)
                assert int(answer.headers["Retry-After"]) > 0
                assert answer.json()["error"]["code"]
            finally:
                own_rabbitmq.start()

            async def taken() -> httpx.Response | None:
                response = await shop.order(ivan, [("margherita", 1)])
                return response if response.status_code == 201 else None

            accepted = await eventually("orders taken again", taken, within=90)
            await shop.wait_for(ivan, accepted.json()["id"], "awaiting_payment", within=90)


async def test_an_order_whose_cook_is_killed_mid_way_is_finished_by_another(
    own_shop: Shop,
) -> None:
    shop, platform = own_shop, own_shop.platform
    for kitchen in platform.running("kitchen"):
        assert kitchen.stop() == 0, kitchen.log_tail()
    slow = platform.start_service("kitchen", KITCHEN_SECONDS_PER_ITEM="30")
    judy = await shop.customer()
    order = await shop.place(judy, [("tiramisu", 1)])
    await shop.pay(order)
    await shop.wait_for(judy, order["id"], "preparing")

    slow.kill()
    platform.start_service("kitchen")

    await shop.wait_for(judy, order["id"], "ready", within=60)
    ticket = await peek.ticket(platform, order["id"])
    assert ticket is not None
    assert peek.TICKET_STATUS[ticket.status] == "cooked"
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
    own_shop: Shop, consul: servers.Consul
) -> None:
    shop, platform = own_shop, own_shop.platform
    first = platform.process("stock")
    second = platform.start_service("stock")
    # Consul runs a new instance's first check up to one interval after it registers; until
    # then no service can find it, and killing the first would leave none.
    await _until_discoverable(consul, platform, "stock", second.port)
    dish = await shop.new_item(on_hand=100)
    customers = await asyncio.gather(*(shop.customer() for _ in range(50)))

    before = await asyncio.gather(*(shop.order(c, [(dish, 1)]) for c in customers[:20]))
    served_by_first = await metrics.rpc_calls(first, "StockService/Reserve")
    first.kill()
    after = await asyncio.gather(*(shop.order(c, [(dish, 1)]) for c in customers[20:]))

    assert Counter(r.status_code for r in before) == {201: 20}
    assert Counter(r.status_code for r in after) == {201: 30}, [r.text for r in after][:3]
    assert served_by_first > 0, "the first instance took calls before it died"
    assert await metrics.rpc_calls(second, "StockService/Reserve") >= 30
    level = await shop.stock(dish)
    assert (level["on_hand"], level["reserved"], level["available"]) == (100, 50, 50)
