"""Load test: concurrent customers order, pay by signed webhook and wait for the kitchen.

    scripts/bench                                   # starts servers and services, then runs
    scripts/bench --customers 50 --orders 10
    scripts/bench --gateway http://127.0.0.1:8080   # a running platform (scripts/dev, compose)

Each customer places orders one after another: create (POST, timed until 201), wait for the
payment link, deliver a `checkout.session.completed` webhook for the order's checkout session
signed with the platform's secret, then poll until the order is ready (timed from the
webhook). It prints orders/s and p50/p95/p99 latencies for creation and for paid-to-ready.
Like a customer and Stripe, it talks only to the public HTTP API.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from devtools import servers, stripe_webhooks
from devtools.platform import LocalPlatform
from devtools.process import ManagedProcess

POLL_SECONDS = 0.25  # a client checking four times a second; faster polling is the load


@dataclass
class Results:
    create_ms: list[float] = field(default_factory=list)
    paid_to_ready_ms: list[float] = field(default_factory=list)
    refused: int = 0
    failed: list[str] = field(default_factory=list)


@dataclass
class Target:
    gateway: str
    webhook_secret: str
    admin_token: str


class Customer:
    def __init__(self, http: httpx.AsyncClient, target: Target) -> None:
        self.http = http
        self.target = target
        self.id = f"bench-{uuid.uuid4().hex[:10]}"

    async def order_pay_and_wait(self, items: list[dict[str, Any]], results: Results) -> None:
        started = time.perf_counter()
        created = await self.http.post(f"/api/customers/{self.id}/orders", json={"items": items})
        if created.status_code == 409:
            results.refused += 1
            return
        if created.status_code != 201:
            results.failed.append(f"create {created.status_code}: {created.text[:200]}")
            return
        results.create_ms.append((time.perf_counter() - started) * 1000)
        order = created.json()
        awaiting = await self._until(order["id"], {"awaiting_payment"})
        session = awaiting.get("checkout_session_id")
        if not session:
            results.failed.append(f"order {order['id']} awaits payment with no checkout session")
            return
        event = stripe_webhooks.checkout_event("checkout.session.completed", order["id"], session)
        payload, signature = stripe_webhooks.delivery(event, self.target.webhook_secret)
        paid_at = time.perf_counter()
        delivered = await self.http.post(
            "/webhooks/stripe", content=payload, headers={"Stripe-Signature": signature}
        )
        if delivered.status_code != 200:
            results.failed.append(f"webhook {delivered.status_code}: {delivered.text[:200]}")
            return
        await self._until(order["id"], {"ready"})
        results.paid_to_ready_ms.append((time.perf_counter() - paid_at) * 1000)

    async def _until(
        self, order_id: str, statuses: set[str], within: float = 120
    ) -> dict[str, Any]:
        """The order, as the public API shows it, once its status is one of `statuses`."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            response = await self.http.get(f"/api/customers/{self.id}/orders/{order_id}")
            if response.status_code == 200:
                order: dict[str, Any] = response.json()
                if order["status"] in statuses:
                    return order
            await asyncio.sleep(POLL_SECONDS)
        raise TimeoutError(f"order {order_id} did not become {statuses} in {within}s")


async def _stocked_items(http: httpx.AsyncClient, admin_token: str) -> list[dict[str, Any]]:
    """Two menu items, restocked so that the run measures orders, not refusals."""
    menu = (await http.get("/api/menu")).json()["items"][:2]
    for item in menu:
        restocked = await http.put(
            f"/api/admin/stock/{item['id']}",
            json={"on_hand": 1_000_000},
            headers={"Authorization": f"Bearer {admin_token}"},
        )
        restocked.raise_for_status()
    return [{"id": item["id"], "quantity": 1} for item in menu]


async def run(target: Target, customers: int, orders_each: int) -> tuple[Results, float]:
    results = Results()
    limits = httpx.Limits(max_connections=customers * 2, max_keepalive_connections=customers * 2)
    async with httpx.AsyncClient(base_url=target.gateway, timeout=60, limits=limits) as http:
        items = await _stocked_items(http, target.admin_token)
        crowd = [Customer(http, target) for _ in range(customers)]

        async def shop(customer: Customer) -> None:
            for _ in range(orders_each):
                try:
                    await customer.order_pay_and_wait(items, results)
                except (TimeoutError, httpx.HTTPError) as exc:
                    results.failed.append(repr(exc)[:200])

        started = time.perf_counter()
        await asyncio.gather(*(shop(customer) for customer in crowd))
        elapsed = time.perf_counter() - started
    return results, elapsed


def _percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {cuts[49]:8.1f} ms   p95 {cuts[94]:8.1f} ms   p99 {cuts[98]:8.1f} ms"


def report(results: Results, elapsed: float, customers: int, orders_each: int) -> None:
    completed = len(results.paid_to_ready_ms)
    print(f"customers {customers} x orders {orders_each}, wall time {elapsed:.1f} s")
    print(f"orders created, paid and ready: {completed} -> {completed / elapsed:.1f} orders/s")
    print(f"create order      {_percentiles(results.create_ms)}")
    print(f"paid -> ready     {_percentiles(results.paid_to_ready_ms)}")
    print(f"refused (409) {results.refused}, failed {len(results.failed)}")
    for failure in results.failed[:5]:
        print(f"  {failure}")


@contextmanager
def local_platform(kitchen_workers: int, seconds_per_item: float) -> Iterator[Target]:
    """Servers and services started here, as the end-to-end tests start them."""
    workdir = Path(tempfile.mkdtemp(prefix="oms-bench-"))
    started: list[ManagedProcess] = []
    platform: LocalPlatform | None = None
    try:
        rabbitmq = servers.RabbitMQ(workdir / "rabbitmq")
        ferretdb = servers.FerretDB(workdir / "ferretdb")
        consul = servers.Consul(workdir / "consul")
        stripe_mock = servers.StripeMock(workdir / "stripe-mock")
        for server in (rabbitmq, ferretdb, consul, stripe_mock):
            server.start()
            started.append(server)
        platform = LocalPlatform(
            workdir / "oms",
            rabbitmq,
            ferretdb,
            consul,
            stripe_mock,
            seconds_per_item=seconds_per_item,
            kitchen_workers=kitchen_workers,
        )
        platform.start()
        print(f"bench: platform up (logs in {workdir})")
        yield Target(platform.gateway_url, platform.webhook_secret, platform.admin_token)
    finally:
        if platform is not None:
            platform.stop()
        for started_server in reversed(started):
            started_server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--orders", type=int, default=5, help="orders per customer")
    parser.add_argument("--gateway", help="a running platform's gateway URL")
    parser.add_argument("--webhook-secret", default="whsec_oms_local_test_secret")
    parser.add_argument("--admin-token", default="oms-local-admin-token", help="with --gateway")
    parser.add_argument("--kitchen-workers", type=int, default=8, help="without --gateway")
    parser.add_argument("--seconds-per-item", type=float, default=0.01, help="without --gateway")
    args = parser.parse_args()

    def go(target: Target) -> None:
        results, elapsed = asyncio.run(run(target, args.customers, args.orders))
        report(results, elapsed, args.customers, args.orders)

    if args.gateway:
        go(Target(args.gateway, args.webhook_secret, args.admin_token))
    else:
        with local_platform(args.kitchen_workers, args.seconds_per_item) as target:
            go(target)


if __name__ == "__main__":
    main()
