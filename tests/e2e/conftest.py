"""The whole platform as separate processes on the real servers, driven through the gateway."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from devtools import servers, stripe_webhooks
from devtools.platform import LocalPlatform
from oms.contracts.v1 import payment_pb2, payment_pb2_grpc

Json = dict[str, Any]


@pytest.fixture(scope="session")
def platform(
    servers_dir: Path,
    rabbitmq: servers.RabbitMQ,
    ferretdb: servers.FerretDB,
    consul: servers.Consul,
    jaeger: servers.Jaeger,
    stripe_mock: servers.StripeMock,
) -> Iterator[LocalPlatform]:
    started = LocalPlatform(
        servers_dir / "oms-e2e", rabbitmq, ferretdb, consul, stripe_mock, jaeger=jaeger
    )
    try:
        started.start()
        yield started
    finally:
        started.stop()


@dataclass
class Shop:
    """A customer's and the manager's view of a running platform, through the gateway."""

    platform: LocalPlatform
    http: httpx.AsyncClient

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.platform.admin_token}"}

    async def new_item(self, on_hand: int, price: int = 1000) -> str:
        """A menu item of its own for one test, with `on_hand` in stock."""
        item_id = f"dish-{uuid.uuid4().hex[:10]}"
        body = {"name": f"Dish {item_id}", "price": price, "currency": "EUR"}
        created = await self.http.put(f"/api/admin/menu/items/{item_id}", json=body, **self._a)
        assert created.status_code == 200, created.text
        stocked = await self.http.put(
            f"/api/admin/stock/{item_id}", json={"on_hand": on_hand}, **self._a
        )
        assert stocked.status_code == 200, stocked.text
        return item_id

    @property
    def _a(self) -> dict[str, Any]:
        return {"headers": self.admin}

    async def stock(self, item_id: str) -> Json:
        response = await self.http.get("/api/admin/stock", params={"item_id": item_id}, **self._a)
        assert response.status_code == 200, response.text
        levels: list[Json] = response.json()["levels"]
        return levels[0]

    async def stock_when(
        self, item_id: str, condition: Callable[[Json], bool], within: float = 20
    ) -> Json:
        """The item's stock level once `condition` holds (events settle it asynchronously)."""
        deadline = time.monotonic() + within
        level = await self.stock(item_id)
        while not condition(level):
            if time.monotonic() > deadline:
                raise AssertionError(f"stock of {item_id} stayed {level}:\n{self.platform.logs()}")
            await asyncio.sleep(0.1)
            level = await self.stock(item_id)
        return level

    async def order(
        self, customer: str, items: list[tuple[str, int]], **kwargs: Any
    ) -> httpx.Response:
        body = {"items": [{"id": item, "quantity": quantity} for item, quantity in items]}
        return await self.http.post(f"/api/customers/{customer}/orders", json=body, **kwargs)

    async def get(self, customer: str, order_id: str) -> Json:
        response = await self.http.get(f"/api/customers/{customer}/orders/{order_id}")
        assert response.status_code == 200, response.text
        found: Json = response.json()
        return found

    async def wait_for(
        self, customer: str, order_id: str, status: str, within: float = 30
    ) -> tuple[Json, list[str]]:
        """The order once it has `status`, and every status seen on the way."""
        seen: list[str] = []
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            order = await self.get(customer, order_id)
            if not seen or seen[-1] != order["status"]:
                seen.append(order["status"])
            if order["status"] == status and (
                status != "awaiting_payment" or order["payment_link"]
            ):
                return order, seen
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"order {order_id} never became {status} (saw {seen}):\n{self.platform.logs()}"
        )

    async def checkout_session(self, order_id: str) -> str:
        """The Checkout Session Payment opened for the order, asked of Payment over gRPC."""
        port = self.platform.running("payment")[0].port
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            payment = await payment_pb2_grpc.PaymentServiceStub(channel).GetPayment(
                payment_pb2.GetPaymentRequest(order_id=order_id), timeout=5
            )
        return payment.checkout_session_id

    async def stripe_says(
        self, event_type: str, order: Json, secret: str | None = None, **fields: Any
    ) -> httpx.Response:
        """Stripe's webhook about the order's checkout, signed as Stripe signs it."""
        session = await self.checkout_session(order["id"])
        event = stripe_webhooks.checkout_event(event_type, order["id"], session, **fields)
        return await self.deliver(event, secret)

    async def deliver(self, event: Json, secret: str | None = None) -> httpx.Response:
        payload, header = stripe_webhooks.delivery(event, secret or self.platform.webhook_secret)
        return await self.http.post(
            "/webhooks/stripe",
            content=payload,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )


@pytest.fixture
async def shop(platform: LocalPlatform) -> AsyncIterator[Shop]:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as http:
        yield Shop(platform, http)
