"""The whole platform as separate processes on the real servers, driven through the gateway.

`platform` is shared by the tests that only use the platform as a customer and staff would.
A test that injects faults, kills processes or needs other settings runs on a platform of its
own (`own_platform`), so it never changes the shared one for the tests after it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools import servers, stripe_webhooks
from devtools.platform import LocalPlatform, StripeApi
from devtools.stripe_emulator import StripeEmulator

Json = dict[str, Any]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "soak: the randomized soak of the whole platform (`-m soak` runs only it)"
    )


@dataclass(frozen=True)
class Servers:
    """The real servers every platform of a test session shares (each in its own vhost,
    database and Consul prefix)."""

    workdir: Path
    rabbitmq: servers.RabbitMQ
    ferretdb: servers.FerretDB
    consul: servers.Consul
    stripe_mock: servers.StripeMock


@pytest.fixture(scope="session")
def real_servers(
    servers_dir: Path,
    rabbitmq: servers.RabbitMQ,
    ferretdb: servers.FerretDB,
    consul: servers.Consul,
    stripe_mock: servers.StripeMock,
) -> Servers:
    return Servers(servers_dir, rabbitmq, ferretdb, consul, stripe_mock)


@contextmanager
def own_platform(
    real: Servers,
    name: str,
    *,
    rabbitmq: servers.RabbitMQ | None = None,
    stripe: StripeApi | None = None,
    **options: Any,
) -> Iterator[LocalPlatform]:
    """A platform for one test module or test, stopped when it is done with it."""
    started = LocalPlatform(
        real.workdir / f"oms-{name}-{uuid.uuid4().hex[:6]}",
        rabbitmq or real.rabbitmq,
        real.ferretdb,
        real.consul,
        stripe or real.stripe_mock,
        **options,
    )
    try:
        started.start()
        yield started
    finally:
        started.stop()


@contextmanager
def stripe_emulator(real: Servers) -> Iterator[StripeEmulator]:
    emulator = StripeEmulator(real.workdir / f"stripe-emulator-{uuid.uuid4().hex[:6]}")
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def platform(real_servers: Servers, jaeger: servers.Jaeger) -> Iterator[LocalPlatform]:
    with own_platform(real_servers, "e2e", jaeger=jaeger) as started:
        yield started


# A platform with no periodic work of its own, for tests that count its round trips: sweeps
# and menu reloads never fall in their windows, and streams send a heartbeat twice a second
# (what an idle stream does).
QUIET = {
    **{f"{s}_OUTBOX_SWEEP_SECONDS": "3600" for s in ("ORDER", "PAYMENT", "KITCHEN", "MENU")},
    "ORDER_MENU_CACHE_SECONDS": "3600",
    "GATEWAY_SSE_HEARTBEAT_SECONDS": "0.5",
}


@pytest.fixture(scope="session")
def quiet_platform(real_servers: Servers) -> Iterator[LocalPlatform]:
    with own_platform(real_servers, "quiet", env=QUIET) as started:
        yield started


@dataclass(frozen=True)
class Customer:
    """A customer's session (`POST /api/session`)."""

    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def eventually(what: str, check: Callable[[], Any], within: float = 30.0) -> Any:
    """The first truthy result of the coroutine function `check`, polled until `within`."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"never {what} within {within}s (last: {result!r})")
        await asyncio.sleep(0.05)


@dataclass
class Shop:
    """A customer's and the staff's view of a running platform, through the gateway."""

    platform: LocalPlatform
    http: httpx.AsyncClient

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.platform.admin_token}"}

    async def customer(self) -> Customer:
        response = await self.http.post("/api/session")
        assert response.status_code == 201, response.text
        assert response.cookies.get("oms_session") == response.json()["token"]
        # Customers share this client: each sends its own bearer token, never a cookie.
        self.http.cookies.clear()
        body = response.json()
        return Customer(body["customer_id"], body["token"])

    async def new_item(self, on_hand: int, price: int = 1000) -> str:
        """A menu item of its own for one test, with `on_hand` in stock."""
        item_id = f"dish-{uuid.uuid4().hex[:10]}"
        body = {"name": f"Dish {item_id}", "price": price, "currency": "EUR"}
        created = await self.http.put(
            f"/api/admin/menu/items/{item_id}", json=body, headers=self.admin
        )
        assert created.status_code == 200, created.text
        stocked = await self.http.put(
            f"/api/admin/stock/{item_id}", json={"on_hand": on_hand}, headers=self.admin
        )
        assert stocked.status_code == 200, stocked.text
        return item_id

    async def stock(self, item_id: str) -> Json:
        response = await self.http.get(
            "/api/admin/stock", params={"item_id": item_id}, headers=self.admin
        )
        assert response.status_code == 200, response.text
        levels: list[Json] = response.json()["levels"]
        return levels[0]

    async def stock_when(
        self, item_id: str, condition: Callable[[Json], bool], within: float = 30
    ) -> Json:
        """The item's stock level once `condition` holds (events settle it asynchronously)."""

        async def level() -> Json | None:
            found = await self.stock(item_id)
            return found if condition(found) else None

        found: Json = await eventually(f"the stock of {item_id} as wanted", level, within)
        return found

    async def order(
        self, customer: Customer, items: list[tuple[str, int]], **kwargs: Any
    ) -> httpx.Response:
        body = {"items": [{"id": item, "quantity": quantity} for item, quantity in items]}
        headers = {**customer.headers, **kwargs.pop("headers", {})}
        return await self.http.post("/api/orders", json=body, headers=headers, **kwargs)

    async def place(self, customer: Customer, items: list[tuple[str, int]]) -> Json:
        """An accepted order, once its checkout is open."""
        created = await self.order(customer, items)
        assert created.status_code == 201, created.text
        return await self.wait_for(customer, created.json()["id"], "awaiting_payment")

    async def get(self, customer: Customer, order_id: str) -> Json:
        response = await self.http.get(f"/api/orders/{order_id}", headers=customer.headers)
        assert response.status_code == 200, response.text
        found: Json = response.json()
        return found

    async def staff_order(self, order_id: str) -> Json:
        response = await self.http.get(f"/api/admin/orders/{order_id}", headers=self.admin)
        assert response.status_code == 200, response.text
        found: Json = response.json()
        return found

    async def cancel(self, customer: Customer, order_id: str) -> httpx.Response:
        return await self.http.post(f"/api/orders/{order_id}/cancel", headers=customer.headers)

    async def refund(self, order_id: str, reason: str = "customer complaint") -> httpx.Response:
        return await self.http.post(
            f"/api/admin/orders/{order_id}/refund", json={"reason": reason}, headers=self.admin
        )

    async def wait_for(
        self, customer: Customer, order_id: str, status: str, within: float = 30
    ) -> Json:
        """The order once it has `status` (its checkout link too, for awaiting_payment)."""

        async def arrived() -> Json | None:
            order = await self.get(customer, order_id)
            wanted = order["status"] == status
            return (
                order
                if wanted and (status != "awaiting_payment" or order["payment_link"])
                else None
            )

        try:
            found: Json = await eventually(f"{order_id} {status}", arrived, within)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.platform.logs()}") from None
        return found

    async def pay(self, order: Json) -> httpx.Response:
        """The customer pays on the local test payment page (a signed webhook, via Payment);
        the page is the order's customer's only: its tracking token opens it."""
        token = order["tracking_url"].rpartition("?t=")[2]
        return await self.http.post(f"/test-payments/{order['id']}/pay", params={"t": token})

    async def stripe_says(
        self, event_type: str, order: Json, secret: str | None = None, **fields: Any
    ) -> httpx.Response:
        """Stripe's webhook about the order's checkout, signed as Stripe signs it."""
        fields.setdefault("amount_total", order["total"])
        fields.setdefault("currency", order["currency"])
        event = stripe_webhooks.checkout_event(
            event_type, order["id"], order["checkout_session_id"], **fields
        )
        return await self.deliver(event, secret)

    async def deliver(self, event: Json, secret: str | None = None) -> httpx.Response:
        payload, header = stripe_webhooks.delivery(event, secret or self.platform.webhook_secret)
        return await self.http.post(
            "/webhooks/stripe",
            content=payload,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )


@asynccontextmanager
async def shop_of(platform: LocalPlatform) -> AsyncIterator[Shop]:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as http:
        yield Shop(platform, http)


@pytest.fixture
async def shop(platform: LocalPlatform) -> AsyncIterator[Shop]:
    async with shop_of(platform) as opened:
        yield opened
