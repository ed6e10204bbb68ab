"""An order from the menu to the kitchen pass, every service a process of its own, on real
RabbitMQ, FerretDB, Consul, Jaeger and stripe-mock; and the one trace that follows it."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import httpx

from devtools import peek, servers
from tests.e2e.conftest import Shop

LIFECYCLE = ["pending", "awaiting_payment", "paid", "preparing", "ready"]


async def test_an_order_goes_from_the_menu_to_ready_and_one_trace_follows_it(
    shop: Shop, jaeger: servers.Jaeger
) -> None:
    menu = await shop.http.get("/api/menu")
    assert menu.status_code == 200
    dishes = {item["id"]: item for item in menu.json()["items"]}
    assert {"margherita", "tiramisu"} <= dishes.keys()
    alice = await shop.customer()

    trace_id = secrets.token_hex(16)
    created = await shop.order(
        alice,
        [("margherita", 2), ("tiramisu", 1)],
        headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
    )
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["status"] == "pending"
    assert order["customer_id"] == alice.id
    assert order["currency"] == "EUR"
    assert order["total"] == 2 * dishes["margherita"]["price"] + dishes["tiramisu"]["price"]
    assert {(i["id"], i["quantity"], i["unit_price"]) for i in order["items"]} == {
        ("margherita", 2, dishes["margherita"]["price"]),
        ("tiramisu", 1, dishes["tiramisu"]["price"]),
    }

    awaiting = await shop.wait_for(alice, order["id"], "awaiting_payment")
    assert awaiting["payment_link"].endswith(f"/test-payments/{order['id']}")
    assert awaiting["checkout_session_id"].startswith("cs_")
    waiting_page = await shop.http.get(awaiting["tracking_url"])
    assert 'data-status="awaiting_payment"' in waiting_page.text
    assert "Pay now" in waiting_page.text

    paid = await shop.pay(awaiting)
    assert paid.status_code == 303, paid.text
    assert paid.headers["location"].startswith(f"/orders/{order['id']}?t=")

    ready = await shop.wait_for(alice, order["id"], "ready")
    seen = [change["status"] for change in ready["history"]]
    # A cook's "ready" may overtake its "started"; nothing else may be skipped or reordered.
    assert seen == [s for s in LIFECYCLE if s in seen], f"out of order: {seen}"
    assert {"pending", "awaiting_payment", "paid", "ready"} <= set(seen)
    ready_page = await shop.http.get(ready["tracking_url"])
    assert ready_page.status_code == 200
    assert 'data-status="ready"' in ready_page.text
    assert ready["payment_link"] == awaiting["payment_link"]
    assert ready["cook"]
    listed = await shop.http.get("/api/orders", headers=alice.headers)
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
    bob = await shop.customer()
    order = await shop.place(bob, [(dish, 3)])
    assert (await shop.stock(dish))["available"] == 2

    cancelled = await shop.cancel(bob, order["id"])
    again = await shop.cancel(bob, order["id"])

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert again.status_code == 200
    assert again.json()["status"] == "cancelled"
    level = await shop.stock_when(dish, lambda level: level["available"] == 5)
    assert (level["on_hand"], level["reserved"]) == (5, 0)
    assert await peek.payment_status(shop.platform, order["id"]) == "closed"


async def test_a_paid_order_cannot_be_cancelled_and_its_stock_is_sold(shop: Shop) -> None:
    dish = await shop.new_item(on_hand=5)
    carol = await shop.customer()
    order = await shop.place(carol, [(dish, 1)])
    await shop.pay(order)
    await shop.wait_for(carol, order["id"], "ready")

    refused = await shop.cancel(carol, order["id"])

    assert refused.status_code == 409, refused.text
    assert "ready" in refused.json()["error"]["message"]
    level = await shop.stock_when(dish, lambda level: level["on_hand"] == 4)
    assert (level["reserved"], level["available"]) == (0, 4)


async def test_an_expired_checkout_expires_the_order_and_releases_its_stock(shop: Shop) -> None:
    dish = await shop.new_item(on_hand=4)
    dave = await shop.customer()
    order = await shop.place(dave, [(dish, 4)])
    assert (await shop.stock(dish))["available"] == 0

    expired = await shop.stripe_says("checkout.session.expired", order)

    assert expired.status_code == 200, expired.text
    assert expired.json() == {"received": True, "duplicate": False}
    gone = await shop.wait_for(dave, order["id"], "expired")
    assert "checkout.session.expired" in gone["reason"]
    level = await shop.stock_when(dish, lambda level: level["available"] == 4)
    assert (level["on_hand"], level["reserved"]) == (4, 0)


async def test_another_customers_order_is_not_found(shop: Shop) -> None:
    erin, mallory = await shop.customer(), await shop.customer()
    created = await shop.order(erin, [("margherita", 1)])
    order = created.json()

    peeked = await shop.http.get(f"/api/orders/{order['id']}", headers=mallory.headers)
    cancel = await shop.cancel(mallory, order["id"])
    listed = await shop.http.get("/api/orders", headers=mallory.headers)
    anonymous = await shop.http.get(f"/api/orders/{order['id']}")
    tracked = await shop.http.get(order["tracking_url"].replace("/orders/", "/api/orders/"))

    assert (peeked.status_code, cancel.status_code, anonymous.status_code) == (404, 404, 401)
    assert listed.json()["orders"] == []
    assert tracked.status_code == 200, "the tracking link opens the order without a session"
    assert (await shop.get(erin, order["id"]))["status"] in ("pending", "awaiting_payment")
