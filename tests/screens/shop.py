"""The restaurant behind the screens, through its public API: menu items of a test's own,
customers' orders, payments on the test payment page, and faults on purpose: the kitchen
held, Order refusing reads, the gateway restarted."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx

from devtools.platform import LocalPlatform, ServiceProcess
from oms.contracts.v1 import faults_pb2, faults_pb2_grpc, payment_pb2, payment_pb2_grpc

Json = dict[str, Any]
SHOP_NAME = "Trattoria Demo"
KITCHEN_QUEUE = "consumer:kitchen.orders"


async def eventually(
    condition: Callable[[], Awaitable[bool]], what: str, within: float = 30
) -> None:
    """Wait for a condition of the platform's (not of a page: pages use `expect`)."""
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within} s")
        await asyncio.sleep(0.1)


@dataclass
class Shop:
    platform: LocalPlatform
    http: httpx.AsyncClient
    own_items: list[str] = field(default_factory=list)  # made by the current test

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, platform: LocalPlatform) -> AsyncIterator[Shop]:
        async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as http:
            yield cls(platform, http)

    @property
    def url(self) -> str:
        return self.platform.gateway_url

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.platform.admin_token}"}

    async def ready(self) -> None:
        async def serving() -> bool:
            return (await self.http.get("/readyz")).status_code == 200

        await eventually(serving, "every service behind the gateway serving", within=60)

    async def new_item(self, name: str, price: int, on_hand: int) -> str:
        """A menu item of a test's own, with `on_hand` in stock, once the menu shows it."""
        item_id = f"{name.lower().replace(' ', '-')}-{uuid.uuid4().hex[:6]}"
        body = {"name": name, "description": "Made for this test", "price": price}
        created = await self.http.put(
            f"/api/admin/menu/items/{item_id}",
            json={**body, "currency": "EUR"},
            headers=self.admin,
        )
        assert created.status_code == 200, created.text
        self.own_items.append(item_id)
        await self.set_stock(item_id, on_hand)
        return item_id

    async def take_own_items_off_the_menu(self) -> None:
        """A test's own items leave the menu when it ends: the next test's customer (and
        its screenshots) sees the restaurant's menu only."""
        for item_id in self.own_items:
            taken = await self.http.put(
                f"/api/admin/menu/items/{item_id}/offered",
                json={"offered": False},
                headers=self.admin,
            )
            assert taken.status_code == 200, taken.text
        self.own_items.clear()

    async def set_stock(self, item_id: str, on_hand: int) -> None:
        stocked = await self.http.put(
            f"/api/admin/stock/{item_id}", json={"on_hand": on_hand}, headers=self.admin
        )
        assert stocked.status_code == 200, stocked.text

    async def menu_item(self, item_id: str) -> Json | None:
        menu = await self.http.get("/api/menu")
        assert menu.status_code == 200, menu.text
        found = [item for item in menu.json()["items"] if item["id"] == item_id]
        return found[0] if found else None

    async def menu_shows(self, item_id: str, *, sold_out: bool) -> None:
        """Until the gateway's menu (cached briefly) lists the item as sold out, or not."""

        async def shown() -> bool:
            item = await self.menu_item(item_id)
            return item is not None and item["sold_out"] is sold_out

        await eventually(shown, f"the menu lists {item_id} with sold_out={sold_out}")

    async def admin_order(self, order_id: str) -> Json:
        response = await self.http.get(f"/api/admin/orders/{order_id}", headers=self.admin)
        assert response.status_code == 200, response.text
        order: Json = response.json()
        return order

    async def order_when(self, order_id: str, *statuses: str, within: float = 30) -> Json:
        """The order once it has one of `statuses` (and its payment link, if awaiting it)."""
        found: Json = {}

        async def reached() -> bool:
            nonlocal found
            found = await self.admin_order(order_id)
            if found["status"] == "awaiting_payment" and not found["payment_link"]:
                return False
            return found["status"] in statuses

        await eventually(reached, f"order {order_id} {'/'.join(statuses)}", within)
        return found

    async def place_order(self, lines: list[tuple[str, int]]) -> Json:
        """A new customer's order (with a session of its own), once it awaits payment."""
        session = await self.http.post("/api/session")
        assert session.status_code == 201, session.text
        bearer = {"Authorization": f"Bearer {session.json()['token']}"}
        body = {"items": [{"id": item, "quantity": quantity} for item, quantity in lines]}
        created = await self.http.post("/api/orders", json=body, headers=bearer)
        assert created.status_code == 201, created.text
        order: Json = created.json()
        await self.order_when(order["id"], "awaiting_payment")
        return order

    async def pay(self, order_id: str, token: str) -> None:
        """What the test payment page's button does: a signed webhook, then the tracker."""
        paid = await self.http.post(f"/test-payments/{order_id}/pay", params={"t": token})
        assert paid.status_code == 303, paid.text

    async def pay_behind_the_gateway(self, order_id: str) -> None:
        """The test payment page's webhook, handed to Payment directly: as if another
        gateway took it while this one is down."""
        port = self.platform.process("payment").port
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            payment = payment_pb2_grpc.PaymentServiceStub(channel)
            signed = await payment.SignTestCompletion(
                payment_pb2.SignTestCompletionRequest(order_id=order_id), timeout=20
            )
            request = payment_pb2.HandleStripeWebhookRequest(
                payload=signed.payload, signature_header=signed.signature_header
            )
            handled = await payment.HandleStripeWebhook(request, timeout=20)
        assert not handled.duplicate

    @contextlib.asynccontextmanager
    async def gateway_down(self) -> AsyncIterator[None]:
        """The gateway stopped (SIGTERM, as a deploy does: its streams end) until the block
        ends, then started again on its port, with the same settings."""
        gateway = self._gateway()
        await asyncio.to_thread(gateway.stop)
        try:
            yield
        finally:
            await asyncio.to_thread(gateway.start)  # returns once it serves
            await self.ready()

    def _gateway(self) -> ServiceProcess:
        port = self.platform.gateway_port
        return next(p for p in self.platform.running("gateway") if p.port == port)

    @contextlib.asynccontextmanager
    async def order_refused(self) -> AsyncIterator[None]:
        """Order answers every read of an order UNAVAILABLE until the block ends (the
        gateway then answers 503)."""
        fault = faults_pb2.Fault(
            target="rpc:/oms.contracts.v1.OrderService/GetOrder",
            action=faults_pb2.FAULT_ACTION_ERROR,
            code="UNAVAILABLE",
        )
        async with self._faults("order") as faults:
            await faults.SetFaults(faults_pb2.SetFaultsRequest(faults=[fault]), timeout=10)
            yield

    @contextlib.asynccontextmanager
    async def _faults(self, service: str) -> AsyncIterator[faults_pb2_grpc.FaultServiceAsyncStub]:
        """One process's faults, all lifted when the block ends."""
        port = self.platform.process(service).port
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            faults = faults_pb2_grpc.FaultServiceStub(channel)
            try:
                yield faults
            finally:
                await faults.SetFaults(faults_pb2.SetFaultsRequest(faults=[]), timeout=10)

    @contextlib.asynccontextmanager
    async def kitchen_held(self) -> AsyncIterator[Callable[[], Awaitable[int]]]:
        """The kitchen takes no new order until the block ends (a paused consumer); yields
        how many orders it holds now."""
        async with self._faults("kitchen") as faults:
            pause = faults_pb2.Fault(target=KITCHEN_QUEUE, action=faults_pb2.FAULT_ACTION_PAUSE)
            await faults.SetFaults(faults_pb2.SetFaultsRequest(faults=[pause]), timeout=10)

            async def held() -> int:
                state = await faults.GetFaults(faults_pb2.GetFaultsRequest(), timeout=10)
                return state.held.get(KITCHEN_QUEUE, 0)

            yield held
