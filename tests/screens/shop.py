"""The restaurant behind the screens, through its public API: menu items of a test's own,
customers' orders, payments on the test payment page, and the kitchen held on purpose."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import httpx

from devtools.platform import LocalPlatform
from oms.contracts.v1 import faults_pb2, faults_pb2_grpc

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
        await self.set_stock(item_id, on_hand)
        return item_id

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

    @contextlib.asynccontextmanager
    async def kitchen_held(self) -> AsyncIterator[Callable[[], Awaitable[int]]]:
        """The kitchen takes no new order until the block ends (a paused consumer); yields
        how many orders it holds now."""
        port = self.platform.running("kitchen")[0].port
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            faults = faults_pb2_grpc.FaultServiceStub(channel)
            pause = faults_pb2.Fault(target=KITCHEN_QUEUE, action=faults_pb2.FAULT_ACTION_PAUSE)
            await faults.SetFaults(faults_pb2.SetFaultsRequest(faults=[pause]), timeout=10)

            async def held() -> int:
                state = await faults.GetFaults(faults_pb2.GetFaultsRequest(), timeout=10)
                return state.held.get(KITCHEN_QUEUE, 0)

            try:
                yield held
            finally:
                await faults.SetFaults(faults_pb2.SetFaultsRequest(faults=[]), timeout=10)
