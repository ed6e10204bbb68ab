"""What an operator's Prometheus sees when one order goes from placement to ready: each
process's `/metrics` (its ops port), scraped before and after, as a scraper would.

One order moves every family the dashboard is built on: the gateway's HTTP histogram (by
route template, never by raw path), each service's RPC histogram, Order's transitions (from
which state into which, so the orders in each state now are computable), the
events each service published and each queue consumed, and the kitchen's busy cooks; the
outbox and kitchen-queue gauges are exported. On a platform of this module's own, so that
nothing but this order moves them; cooking takes long enough to see a cook busy.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator

import pytest

from devtools import metrics, quiet
from devtools.metrics import Samples
from devtools.platform import GRPC_SERVICES, LocalPlatform
from tests.e2e.conftest import Servers, Shop, eventually, own_platform, shop_of

pytestmark = pytest.mark.timeout(180)
SERVICES = (*GRPC_SERVICES, "gateway")
RPC = "oms_rpc_server_seconds_count"
HTTP = "oms_http_request_seconds_count"
PUBLISHED = "oms_events_published_total"
CONSUMED = "oms_events_consumed_total"
TRANSITIONS = "oms_order_transitions_total"
COOK_SECONDS = 1.5


@pytest.fixture(scope="module")
def metered(real_servers: Servers) -> Iterator[LocalPlatform]:
    with own_platform(real_servers, "metrics", seconds_per_item=COOK_SECONDS) as platform:
        yield platform


@pytest.fixture
async def shop(metered: LocalPlatform) -> AsyncIterator[Shop]:
    async with shop_of(metered) as opened:
        yield opened


async def scrape_all(platform: LocalPlatform) -> dict[str, Samples]:
    return {service: await metrics.scrape(platform.process(service)) for service in SERVICES}


def method(name: str) -> str:
    return f"/oms.contracts.v1.{name}"


async def test_one_order_from_placement_to_ready_moves_every_family(shop: Shop) -> None:
    platform = shop.platform
    dish = await shop.new_item(on_hand=5)
    customer = await shop.customer()
    await quiet.until_quiet(platform)
    before = await scrape_all(platform)

    order = await shop.place(customer, [(dish, 1)])
    paid = await shop.pay(order)
    assert paid.status_code == 303, paid.text
    kitchen = platform.process("kitchen")

    async def a_cook_busy() -> bool:
        return (await metrics.scrape(kitchen)).value("oms_kitchen_busy_cooks") == 1

    await eventually("a cook busy with the order", a_cook_busy, within=COOK_SECONDS * 10)
    await shop.wait_for(customer, order["id"], "ready")
    await quiet.until_quiet(platform)
    after = await scrape_all(platform)

    def moved(service: str, name: str, **labels: str) -> float:
        return after[service].value(name, **labels) - before[service].value(name, **labels)

    # The gateway: one series per route template and status.
    assert moved("gateway", HTTP, method="POST", route="/api/orders", status="201") == 1
    assert moved("gateway", HTTP, method="GET", route="/api/orders/{order_id}", status="200") >= 1
    pay_route = "/test-payments/{order_id}/pay"
    assert moved("gateway", HTTP, method="POST", route=pay_route, status="303") == 1
    routes = {dict(labels).get("route", "") for _, labels, _ in after["gateway"].samples}
    assert not [route for route in routes if order["id"] in route], "a raw path as a label"
    # Every RPC the order caused, counted by the service that served it.
    for service, rpc in [
        ("order", "OrderService/CreateOrder"),
        ("stock", "StockService/Reserve"),
        ("order", "OrderService/AttachPayment"),
        ("payment", "PaymentService/SignTestCompletion"),
        ("payment", "PaymentService/HandleStripeWebhook"),
    ]:
        assert moved(service, RPC, method=method(rpc), code="OK") == 1, rpc
    # Order's decisions: one transition into each state the order went through, from the
    # one before; entered minus left says how many orders each state holds now.
    path = ["", "pending", "awaiting_payment", "paid", "preparing", "ready"]
    for left, entered in itertools.pairwise(path):
        assert moved("order", TRANSITIONS, status=entered, **{"from": left}) == 1, entered
    assert moved("order", TRANSITIONS) == 5
    now_in = {
        s: moved("order", TRANSITIONS, status=s) - moved("order", TRANSITIONS, **{"from": s})
        for s in path[1:]
    }
    assert now_in == {"pending": 0, "awaiting_payment": 0, "paid": 0, "preparing": 0, "ready": 1}
    # Events: published by the service that decided them, consumed per queue (at least once).
    for service, kind in [
        ("order", "order.placed"),
        ("order", "order.awaiting_payment"),
        ("order", "order.confirmed"),
        ("order", "order.preparing"),
        ("order", "order.ready"),
        ("payment", "payment.captured"),
        ("kitchen", "kitchen.ticket_started"),
        ("kitchen", "kitchen.ticket_ready"),
    ]:
        assert moved(service, PUBLISHED, type=kind) >= 1, kind
    for service, queue, kind in [
        ("payment", "payment.orders", "order.placed"),
        ("order", "order.payments", "payment.captured"),
        ("kitchen", "kitchen.orders", "order.confirmed"),
        ("stock", "stock.orders", "order.confirmed"),
        ("order", "order.kitchen", "kitchen.ticket_started"),
        ("order", "order.kitchen", "kitchen.ticket_ready"),
    ]:
        assert moved(service, CONSUMED, queue=queue, type=kind, outcome="handled") >= 1, kind
    for outcome in ("retried", "parked"):
        assert not [s for s in SERVICES if moved(s, CONSUMED, outcome=outcome)], outcome
    # Gauges: the outbox backlog and its age per collection, the kitchen's queue and cooks.
    for service, collection in quiet.OUTBOXES.items():
        for gauge in ("oms_outbox_backlog", "oms_outbox_oldest_seconds"):
            assert _exported(after[service], gauge, collection=collection), (service, gauge)
            assert after[service].value(gauge, collection=collection) == 0  # all published
    assert _exported(after["kitchen"], "oms_kitchen_queue_depth")
    assert after["kitchen"].value("oms_kitchen_busy_cooks") == 0  # the cook is free again


def _exported(samples: Samples, name: str, **labels: str) -> bool:
    wanted = set(labels.items())
    return any(n == name and wanted <= set(found) for n, found, _ in samples.samples)
