"""Every bad request to the public API gets a 4xx with a reason, never a 5xx or a traceback,
through the gateway of the running platform (so the services' own checks are reached too).

Customer routes (`/api/orders...`) are asked with a valid session unless the case is about
the session itself.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Shop

ORDERS = "/api/orders"
ANONYMOUS = {"session": False}  # asked without a customer session
A_UUID = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"


def _items(*lines: Any) -> dict[str, Any]:
    return {"items": list(lines)}


BAD_REQUESTS: list[tuple[str, str, str, dict[str, Any], int]] = [
    # (name, method, path, httpx keyword arguments, expected status)
    ("malformed json", "POST", ORDERS, {"content": b"{not json", "headers": {}}, 422),
    ("empty body", "POST", ORDERS, {"content": b"", "headers": {}}, 422),
    ("json but not an object", "POST", ORDERS, {"json": [1, 2]}, 422),
    ("no items field", "POST", ORDERS, {"json": {}}, 422),
    ("no items", "POST", ORDERS, {"json": _items()}, 422),
    ("quantity zero", "POST", ORDERS, {"json": _items({"id": "margherita", "quantity": 0})}, 422),
    ("quantity 101", "POST", ORDERS, {"json": _items({"id": "margherita", "quantity": 101})}, 422),
    ("quantity text", "POST", ORDERS, {"json": _items({"id": "margherita", "quantity": "2"})}, 422),
    (
        "quantity float",
        "POST",
        ORDERS,
        {"json": _items({"id": "margherita", "quantity": 1.5})},
        422,
    ),
    (
        "quantity null",
        "POST",
        ORDERS,
        {"json": _items({"id": "margherita", "quantity": None})},
        422,
    ),
    ("no quantity", "POST", ORDERS, {"json": _items({"id": "margherita"})}, 422),
    ("unknown item", "POST", ORDERS, {"json": _items({"id": "unicorn-steak", "quantity": 1})}, 422),
    ("bad item id", "POST", ORDERS, {"json": _items({"id": "DROP TABLE", "quantity": 1})}, 422),
    (
        "unknown field",
        "POST",
        ORDERS,
        {"json": {**_items({"id": "margherita", "quantity": 1}), "price": 0}},
        422,
    ),
    (
        "price from the client",
        "POST",
        ORDERS,
        {"json": _items({"id": "margherita", "quantity": 1, "price": 1})},
        422,
    ),
    (
        "same item over 100 in total",
        "POST",
        ORDERS,
        {"json": _items(*[{"id": "margherita", "quantity": 60}] * 2)},
        422,
    ),
    (
        "too many lines",
        "POST",
        ORDERS,
        {"json": _items(*[{"id": f"dish-{n}", "quantity": 1} for n in range(51)])},
        422,
    ),
    (
        "no session",
        "POST",
        ORDERS,
        {**ANONYMOUS, "json": _items({"id": "margherita", "quantity": 1})},
        401,
    ),
    (
        "a forged session",
        "POST",
        ORDERS,
        {
            **ANONYMOUS,
            "json": _items({"id": "margherita", "quantity": 1}),
            "headers": {"Authorization": "Bearer eyJjIjoibWFsbG9yeSJ9.forged.sig"},
        },
        401,
    ),
    ("listing without a session", "GET", ORDERS, ANONYMOUS, 401),
    ("bad order id", "GET", f"{ORDERS}/not%20an%20id!", {}, 422),
    ("order id too long", "GET", f"{ORDERS}/{'o' * 65}", {}, 422),
    (
        "idempotency key too long",
        "POST",
        ORDERS,
        {
            "json": _items({"id": "margherita", "quantity": 1}),
            "headers": {"Idempotency-Key": "k" * 129},
        },
        422,
    ),
    ("unknown order", "GET", f"{ORDERS}/{A_UUID}", {}, 404),
    ("unknown order cancelled", "POST", f"{ORDERS}/{A_UUID}/cancel", {}, 404),
    ("page size zero", "GET", ORDERS, {"params": {"page_size": 0}}, 422),
    ("page size 101", "GET", ORDERS, {"params": {"page_size": 101}}, 422),
    ("page size text", "GET", ORDERS, {"params": {"page_size": "many"}}, 422),
    ("forged page token", "GET", ORDERS, {"params": {"page_token": "not-ours"}}, 422),
    ("unknown path", "GET", "/api/nothing-here", {}, 404),
    ("wrong method", "DELETE", "/api/menu", {}, 405),
    ("admin without token", "GET", "/api/admin/stock", {"headers": {}}, 401),
    (
        "admin with a wrong token",
        "GET",
        "/api/admin/stock",
        {"headers": {"Authorization": "Bearer guess"}},
        403,
    ),
    ("webhook without signature", "POST", "/webhooks/stripe", {"content": b"{}"}, 400),
    (
        "webhook with a forged signature",
        "POST",
        "/webhooks/stripe",
        {"content": b"{}", "headers": {"Stripe-Signature": "t=1,v1=00"}},
        400,
    ),
    ("webhook too large", "POST", "/webhooks/stripe", {"content": b"x" * (2 << 20)}, 413),
]

SOUP = "/api/admin/menu/items/soup"


def _dish(**fields: Any) -> dict[str, Any]:
    return {"json": {"name": "Soup", "price": 100, "currency": "EUR", **fields}}


ADMIN_BAD_REQUESTS: list[tuple[str, str, str, dict[str, Any], int]] = [
    ("negative price", "PUT", SOUP, _dish(price=-1), 422),
    ("lower-case currency", "PUT", SOUP, _dish(currency="eur"), 422),
    ("empty name", "PUT", SOUP, _dish(name=""), 422),
    ("bad item id", "PUT", "/api/admin/menu/items/Big%20Soup", _dish(), 422),
    ("negative stock", "PUT", "/api/admin/stock/margherita", {"json": {"on_hand": -1}}, 422),
    ("stock of unknown item", "PUT", "/api/admin/stock/unicorn", {"json": {"on_hand": 1}}, 404),
    ("offer unknown item", "PUT", f"{SOUP}-x/offered", {"json": {"offered": True}}, 404),
]


def _ids(cases: list[tuple[str, str, str, dict[str, Any], int]]) -> list[str]:
    return [case[0] for case in cases]


async def _check(shop: Shop, method: str, path: str, kwargs: dict[str, Any], expected: int) -> None:
    response = await shop.http.request(method, path, **kwargs)

    assert response.status_code == expected, response.text
    body = response.json()
    assert body["error"]["message"], body
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    ("name", "method", "path", "kwargs", "expected"), BAD_REQUESTS, ids=_ids(BAD_REQUESTS)
)
async def test_a_bad_request_gets_a_4xx_with_a_reason(
    shop: Shop, name: str, method: str, path: str, kwargs: dict[str, Any], expected: int
) -> None:
    request = dict(kwargs)
    if request.pop("session", path.startswith(ORDERS)):
        session = (await shop.customer()).headers
        request["headers"] = {**session, **request.get("headers", {})}
    await _check(shop, method, path, request, expected)


@pytest.mark.parametrize(
    ("name", "method", "path", "kwargs", "expected"),
    ADMIN_BAD_REQUESTS,
    ids=_ids(ADMIN_BAD_REQUESTS),
)
async def test_a_bad_admin_request_gets_a_4xx_with_a_reason(
    shop: Shop, name: str, method: str, path: str, kwargs: dict[str, Any], expected: int
) -> None:
    await _check(shop, method, path, {**kwargs, "headers": shop.admin}, expected)
