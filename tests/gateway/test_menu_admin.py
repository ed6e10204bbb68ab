"""The menu (JSON and HTML) and the admin routes, against the real Menu and Stock services."""

from __future__ import annotations

import uuid

import httpx

from tests.gateway.helpers import customer, error_of


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
    }


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
    assert created.json() == {"id": item_id, **item, "offered": True}
    assert item_id in on_menu
    assert withdrawn.status_code == 200
    assert withdrawn.json()["offered"] is False
    assert item_id not in off_menu
    assert everything[item_id] == {"id": item_id, **item, "offered": False}
    assert restocked.status_code == 200
    assert restocked.json() == {"id": item_id, "on_hand": 5, "reserved": 0, "available": 5}
    assert levels.status_code == 200
    assert {level["id"] for level in levels.json()["levels"]} == {item_id, "margherita"}
    assert item_id in {level["id"] for level in all_levels.json()["levels"]}


async def test_replacing_an_item_changes_the_price_of_new_orders(
    http: httpx.AsyncClient, admin: httpx.AsyncClient, stocked_item: str
) -> None:
    item = {"name": "Test dish", "description": "now dearer", "price": 1200, "currency": "EUR"}
    assert (await admin.put(f"/api/admin/menu/items/{stocked_item}", json=item)).status_code == 200

    order = await http.post(
        f"/api/customers/{customer()}/orders", json={"items": [{"id": stocked_item, "quantity": 2}]}
    )

    assert order.json()["total"] == 2400


async def test_stock_below_what_is_reserved_is_refused_with_422(
    http: httpx.AsyncClient, admin: httpx.AsyncClient, stocked_item: str
) -> None:
    await http.post(
        f"/api/customers/{customer()}/orders", json={"items": [{"id": stocked_item, "quantity": 6}]}
    )

    response = await admin.put(f"/api/admin/stock/{stocked_item}", json={"on_hand": 5})

    assert response.status_code == 422
    assert error_of(response)["code"] == "invalid_argument"


async def test_the_menu_page_is_server_rendered_with_names_escaped(
    http: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    item_id = f"html-{uuid.uuid4().hex[:8]}"
    item = {"name": "<script>alert(1)</script>", "price": 1005, "currency": "EUR"}
    await admin.put(f"/api/admin/menu/items/{item_id}", json=item)

    response = await http.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Margherita" in response.text
    assert "9.50 EUR" in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert "<script>" not in response.text
    assert "10.05 EUR" in response.text
    await admin.put(f"/api/admin/menu/items/{item_id}/offered", json={"offered": False})
