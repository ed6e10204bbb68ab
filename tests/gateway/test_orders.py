"""Customers' orders through the gateway: priced by Menu, reserved by Stock, kept by Order."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.gateway.helpers import Customer, error_of, eventually, order_sees


def _without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in keys}


async def _levels(admin: httpx.AsyncClient, item_id: str) -> dict[str, int]:
    response = await admin.get("/api/admin/stock", params={"item_id": item_id})
    assert response.status_code == 200, response.text
    (level,) = response.json()["levels"]
    return {key: level[key] for key in ("on_hand", "reserved", "available")}


async def test_an_order_is_priced_by_the_menu_reserved_and_read_back(
    alice: Customer, admin: httpx.AsyncClient, stocked_item: str
) -> None:
    created = await alice.order((stocked_item, 2), (stocked_item, 1))

    assert created.status_code == 201, created.text
    order = created.json()
    assert order["customer_id"] == alice.customer_id
    assert (order["status"], order["step"]) == ("pending", 1)
    assert order["items"] == [
        {
            "id": stocked_item,
            "name": "Test dish",
            "quantity": 3,
            "unit_price": 1000,
            "line_total": 3000,
        }
    ]
    assert (order["total"], order["currency"], order["payment_link"]) == (3000, "EUR", None)
    assert (order["reason"], order["cook"], order["refunded"]) == (None, None, False)
    assert [change["status"] for change in order["history"]] == ["pending"]
    assert order["tracking_url"].startswith(f"/orders/{order['id']}?t=")
    assert datetime.fromisoformat(order["created_at"]) <= datetime.fromisoformat(
        order["updated_at"]
    )
    read = await alice.http.get(f"/api/orders/{order['id']}")
    assert read.status_code == 200
    # Payment may have opened the checkout meanwhile.
    opened = ("status", "step", "payment_link", "checkout_session_id", "history", "updated_at")
    moving = ("created_at", *opened)
    assert _without(read.json(), *moving) == _without(order, *moving)
    # Order answers microseconds at creation, but stores milliseconds.
    gap = datetime.fromisoformat(read.json()["created_at"]) - datetime.fromisoformat(
        order["created_at"]
    )
    assert abs(gap) < timedelta(milliseconds=1)
    assert await _levels(admin, stocked_item) == {"on_hand": 10, "reserved": 3, "available": 7}


async def test_the_checkout_opens_and_the_order_waits_for_its_payment(
    alice: Customer, stocked_item: str
) -> None:
    order = await alice.place((stocked_item, 1))

    waiting = await alice.wait_for(order["id"], "awaiting_payment")

    assert waiting["step"] == 2
    assert waiting["payment_link"].endswith(f"/test-payments/{order['id']}")
    assert waiting["checkout_session_id"].startswith("cs_")
    assert [change["status"] for change in waiting["history"]] == ["pending", "awaiting_payment"]


async def test_the_same_idempotency_key_returns_the_first_order(
    alice: Customer, admin: httpx.AsyncClient, stocked_item: str
) -> None:
    key = str(uuid.uuid4())

    first = await alice.order((stocked_item, 1), headers={"Idempotency-Key": key})
    again = await alice.order((stocked_item, 1), headers={"Idempotency-Key": key})

    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"]
    assert (await _levels(admin, stocked_item))["reserved"] == 1


async def test_orders_are_listed_newest_first_a_page_at_a_time(
    alice: Customer, bob: Customer, stocked_item: str
) -> None:
    ids = [(await alice.place((stocked_item, 1)))["id"] for _ in range(3)]

    first = await alice.http.get("/api/orders", params={"page_size": 2})
    token = first.json()["next_page_token"]
    second = await alice.http.get("/api/orders", params={"page_size": 2, "page_token": token})

    assert first.status_code == second.status_code == 200
    assert [o["id"] for o in first.json()["orders"]] == ids[:0:-1]
    assert [o["id"] for o in second.json()["orders"]] == ids[:1]
    assert second.json()["next_page_token"] is None
    assert all(o["tracking_url"].startswith("/orders/") for o in first.json()["orders"])
    assert (await bob.http.get("/api/orders")).json() == {"orders": [], "next_page_token": None}


async def test_cancelling_before_payment_releases_the_stock(
    alice: Customer, admin: httpx.AsyncClient, stocked_item: str
) -> None:
    order = await alice.place((stocked_item, 4))
    assert (await _levels(admin, stocked_item))["reserved"] == 4

    cancelled = await alice.http.post(f"/api/orders/{order['id']}/cancel")

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["step"] == 7

    async def released() -> bool:
        return (await _levels(admin, stocked_item))["reserved"] == 0

    await eventually(released)


async def test_short_stock_is_409_with_the_short_items_and_reserves_nothing(
    alice: Customer, admin: httpx.AsyncClient, stocked_item: str
) -> None:
    response = await alice.order((stocked_item, 11), ("acqua-frizzante", 1))

    assert response.status_code == 409, response.text
    assert error_of(response)["code"] == "insufficient_stock"
    assert response.json()["shortages"] == [{"id": stocked_item, "requested": 11, "available": 10}]
    assert await _levels(admin, stocked_item) == {"on_hand": 10, "reserved": 0, "available": 10}
    assert (await alice.http.get("/api/orders")).json()["orders"] == []


async def test_an_unknown_or_withdrawn_item_is_422_with_the_reason(
    alice: Customer, admin: httpx.AsyncClient, stocked_item: str
) -> None:
    unknown = await alice.order(("no-such-dish", 1))
    await admin.put(f"/api/admin/menu/items/{stocked_item}/offered", json={"offered": False})
    await order_sees(alice, stocked_item, offered=False)
    withdrawn = await alice.order((stocked_item, 1))

    assert unknown.status_code == withdrawn.status_code == 422
    assert "no-such-dish" in error_of(unknown)["message"]
    assert stocked_item in error_of(withdrawn)["message"]


async def test_a_paid_order_cannot_be_cancelled(alice: Customer, stocked_item: str) -> None:
    order = await alice.place((stocked_item, 1))
    await alice.pay(order["id"])
    await alice.wait_for(order["id"], "ready")

    response = await alice.http.post(f"/api/orders/{order['id']}/cancel")

    assert response.status_code == 409, response.text
    assert error_of(response)["code"] == "conflict"
    assert (await alice.get(order["id"]))["status"] == "ready"
