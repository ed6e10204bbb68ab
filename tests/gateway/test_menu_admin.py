"""The menu (JSON and HTML) and the staff's menu and stock routes, on the real Menu and Stock."""

from __future__ import annotations

import uuid

import httpx

from tests.gateway.helpers import Customer, error_of, eventually


async def test_the_menu_lists_offered_items_with_prices_in_minor_units(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/api/menu")

    assert response.status_code == 200
    items = {item["id"]: item for item in response.json()["items"]}
    assert items["margherita"] == {
        "id": "margherita",
        "name": "Margherita",
        "description": "Tomato, fior di latte, basil",
        "price": 950,
        "currency": "EUR",
        "sold_out": False,
    }


async def test_an_item_with_nothing_left_is_listed_as_sold_out(
    http: httpx.AsyncClient, admin: httpx.AsyncClient, stocked_item: str
) -> None:
    await admin.put(f"/api/admin/stock/{stocked_item}", json={"on_hand": 0})

    async def sold_out() -> bool:  # the menu is cached for GATEWAY_MENU_CACHE_SECONDS
        items = {item["id"]: item for item in (await http.get("/api/menu")).json()["items"]}
        return bool(items[stocked_item]["sold_out"])

    await eventually(sold_out)


async def test_admin_creates_withdraws_and_restocks_an_item(
    http: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    item_id = f"special-{uuid.uuid4().hex[:8]}"
    item = {"name": "Special", "description": "Today only", "price": 1490, "currency": "EUR"}

    created = await admin.put(f"/api/admin/menu/items/{item_id}", json=item)
    on_menu = [i["id"] for i in (await http.get("/api/menu")).json()["items"]]
    withdrawn = await admin.put(f"/api/admin/menu/items/{item_id}/offered", json={"offered": False})
    off_menu = [i["id"] for i in (await http.get("/api/menu")).json()["items"]]
    everything = {i["id"]: i for i in (await admin.get("/api/admin/menu/items")).json()["items"]}
    restocked = await admin.put(f"/api/admin/stock/{item_id}", json={"on_hand": 5})
    levels = await admin.get("/api/admin/stock", params={"item_id": [item_id, "margherita"]})
    all_levels = await admin.get("/api/admin/stock")

    assert created.status_code == 200, created.text
    assert created.json() == {"id": item_id, **item, "offered": True, "sold_out": False}
    assert item_id in on_menu
    assert withdrawn.status_code == 200
    assert withdrawn.json()["offered"] is False
    assert item_id not in off_menu
    assert everything[item_id] == {"id": item_id, **item, "offered": False, "sold_out": False}
    assert restocked.status_code == 200
    assert restocked.json() == {"id": item_id, "on_hand": 5, "reserved": 0, "available": 5}
    assert levels.status_code == 200
    assert {level["id"] for level in levels.json()["levels"]} == {item_id, "margherita"}
    assert item_id in {level["id"] for level in all_levels.json()["levels"]}


async def test_replacing_an_item_changes_the_price_of_new_orders(
    alice: Customer, admin: httpx.AsyncClient, stocked_item: str
) -> None:
    item = {"name": "Test dish", "description": "now dearer", "price": 1200, "currency": "EUR"}
    assert (await admin.put(f"/api/admin/menu/items/{stocked_item}", json=item)).status_code == 200

    async def repriced() -> bool:
        # Order hears of the change from `menu.changed`, asynchronously (see `order_sees`);
        # an order placed before that is cancelled, so its stock comes back.
        order = await alice.place((stocked_item, 1))
        if order["total"] != 1200:
            await alice.http.post(f"/api/orders/{order['id']}/cancel")
        return bool(order["total"] == 1200)

    await eventually(repriced)
    order = await alice.place((stocked_item, 2))

    assert (order["total"], order["items"][0]["unit_price"]) == (2400, 1200)
    assert order["items"][0]["name"] == "Test dish"


async def test_stock_below_what_is_reserved_is_refused_with_422(
    alice: Customer, admin: httpx.AsyncClient, stocked_item: str
) -> None:
    await alice.place((stocked_item, 6))

    response = await admin.put(f"/api/admin/stock/{stocked_item}", json={"on_hand": 5})

    assert response.status_code == 422
    assert error_of(response)["code"] == "invalid_argument"
