"""An order from the menu to the kitchen pass, every service a process of its own, on real
RabbitMQ, FerretDB, Consul, Jaeger and stripe-mock; and the one trace that follows it."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import httpx

from devtools import servers
from tests.e2e.conftest import Shop

LIFECYCLE = ["pending", "awaiting_payment", "paid", "preparing", "ready"]


async def test_an_order_goes_from_the_menu_to_ready_and_one_trace_follows_it(
    shop: Shop, jaeger: servers.Jaeger
) -> None:
    menu = await shop.http.get("/api/menu")
    assert menu.status_code == 200
    dishes = {item["id"]: item for item in menu.json()["items"]}
    assert {"margherita", "tiramisu"} <= dishes.keys()

    trace_id = secrets.token_hex(16)
    created = await shop.order(
        "alice",
        [("margherita", 2), ("tiramisu", 1)],
        headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
    )
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["status"] == "pending"
    assert order["customer_id"] == "alice"
    assert order["currency"] == "EUR"
    assert order["total"] == 2 * dishes["margherita"]["price"] + dishes["tiramisu"]["price"]
    assert {(i["id"], i["quantity"], i["unit_price"]) for i in order["items"]} == {
        ("margherita", 2, dishes["margherita"]["price"]),
        ("tiramisu", 1, dishes["tiramisu"]["price"]),
    }

    awaiting, _ = await shop.wait_for("alice", order["id"], "awaiting_payment")
    assert awaiting["payment_link"].startswith("https://")
    waiting_page = await shop.http.get(f"/customers/alice/orders/{order['id']}")
    assert "Pay now" in waiting_page.text
    assert 'http-equiv="refresh"' in waiting_page.text
    assert awaiting["checkout_session_id"] == await shop.checkout_session(order["id"])

    paid = await shop.stripe_says(
        "checkout.session.completed", order, amount_total=order["total"], currency="eur"
    )
    assert paid.status_code == 200, paid.text
    assert paid.json() == {"received": True, "duplicate": False}

    ready, seen = await shop.wait_for("alice", order["id"], "ready")
    ready_page = await shop.http.get(f"/customers/alice/orders/{order['id']}")
    assert ready_page.status_code == 200
    assert "<strong>ready</strong>" in ready_page.text
    assert 'http-equiv="refresh"' not in ready_page.text
    assert seen == [s for s in LIFECYCLE if s in seen], f"out of order: {seen}"
    assert ready["payment_link"] == awaiting["payment_link"]
    listed = await shop.http.get("/api/customers/alice/orders")
    assert order["id"] in [o["id"] for o in listed.json()["orders"]]

    services = await _services_in_trace(jaeger, trace_id)
    prefix = shop.platform.consul_prefix
    assert {"gateway", "order", "menu", "stock", "payment", "kitchen"} <= {
        name.removeprefix(prefix) for name in services
    }


async def _services_in_trace(jaeger: servers.Jaeger, trace_id: str) -> set[str]:
    """The services with spans in the trace, once the kitchen's have arrived too."""
    found: set[str] = set()
    async with httpx.AsyncClient(base_url=jaeger.query_url) as http:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            response = await http.get(f"/api/traces/{trace_id}")
            if response.status_code == 200:
                trace: dict[str, Any] = response.json()["data"][0]
                found = {p["serviceName"] for p in trace["processes"].values()}
                if any(name.endswith("kitchen") for name in found):
                    return found
            await asyncio.sleep(0.5)
    raise AssertionError(f"trace {trace_id} never reached the kitchen; services: {found}")


async def test_an_unpaid_order_can_be_cancelled_and_its_stock_comes_back(shop: Shop) -> None:
    dish = await shop.new_item(on_hand=5)
    created = await shop.order("bob", [(dish, 3)])
    assert created.status_code == 201, created.text
    order = created.json()
    assert (await shop.stock(dish))["available"] == 2

    cancelled = await shop.http.post(f"/api/customers/bob/orders/{order['id']}/cancel")
    again = await shop.http.post(f"/api/customers/bob/orders/{order['id']}/cancel")

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert again.status_code == 200
    level = await shop.stock(dish)
    assert (level["on_hand"], level["reserved"], level["available"]) == (5, 0, 5)


async def test_a_paid_order_cannot_be_cancelled(shop: Shop) -> None:
    dish = await shop.new_item(on_hand=5)
    order = (await shop.order("carol", [(dish, 1)])).json()
    await shop.wait_for("carol", order["id"], "awaiting_payment")
    await shop.stripe_says("checkout.session.completed", order)
    await shop.wait_for("carol", order["id"], "ready")

    refused = await shop.http.post(f"/api/customers/carol/orders/{order['id']}/cancel")

    assert refused.status_code == 409
    assert "ready" in refused.json()["error"]["message"]
    level = await shop.stock_when(dish, lambda lv: lv["on_hand"] == 4)
    assert (level["reserved"], level["available"]) == (0, 4)


async def test_an_expired_checkout_expires_the_order_and_releases_its_stock(shop: Shop) -> None:
    dish = await shop.new_item(on_hand=4)
    order = (await shop.order("dave", [(dish, 4)])).json()
    await shop.wait_for("dave", order["id"], "awaiting_payment")
    assert (await shop.stock(dish))["available"] == 0

    expired = await shop.stripe_says("checkout.session.expired", order)

    assert expired.status_code == 200, expired.text
    await shop.wait_for("dave", order["id"], "expired")
    level = await shop.stock_when(dish, lambda lv: lv["available"] == 4)
    assert (level["on_hand"], level["reserved"]) == (4, 0)


async def test_another_customers_order_is_not_found(shop: Shop) -> None:
    order = (await shop.order("erin", [("margherita", 1)])).json()

    peek = await shop.http.get(f"/api/customers/mallory/orders/{order['id']}")
    cancel = await shop.http.post(f"/api/customers/mallory/orders/{order['id']}/cancel")

    assert (peek.status_code, cancel.status_code) == (404, 404)
