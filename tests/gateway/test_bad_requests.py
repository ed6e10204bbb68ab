"""Every bad request gets a 4xx with a reason in the error body, never a 5xx.

Each case goes to the real gateway in front of the real services, so a refusal the services
make (an unknown item, a bad page token) is covered as well as the gateway's own checks.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.gateway.helpers import ADMIN_TOKEN, error_of, sign

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ORDERS = "/api/customers/alice/orders"
LINE = {"id": "margherita", "quantity": 1}
EVENT = json.dumps({"id": "evt_bad", "type": "checkout.session.completed"}).encode()


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    status: int
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] | None = None


def _order(*lines: Any, **extra: Any) -> dict[str, Any]:
    return {"items": list(lines), **extra}


CASES = {
    # Order creation: the body.
    "malformed JSON": Case(
        "POST", ORDERS, 422, content=b'{"items": [', headers={"Content-Type": "application/json"}
    ),
    "no body": Case("POST", ORDERS, 422),
    "not JSON content type": Case(
        "POST", ORDERS, 422, content=b"items=1", headers={"Content-Type": "text/plain"}
    ),
    "a JSON array": Case("POST", ORDERS, 422, json=[LINE]),
    "unknown top-level field": Case("POST", ORDERS, 422, json=_order(LINE, coupon="FREE")),
    "unknown line field": Case("POST", ORDERS, 422, json=_order({**LINE, "price": 1})),
    "empty items": Case("POST", ORDERS, 422, json=_order()),
    "items not a list": Case("POST", ORDERS, 422, json={"items": LINE}),
    "too many lines": Case("POST", ORDERS, 422, json=_order(*[LINE] * 51)),
    "quantity 0": Case("POST", ORDERS, 422, json=_order({**LINE, "quantity": 0})),
    "quantity 101": Case("POST", ORDERS, 422, json=_order({**LINE, "quantity": 101})),
    "quantity negative": Case("POST", ORDERS, 422, json=_order({**LINE, "quantity": -1})),
    "quantity 'x'": Case("POST", ORDERS, 422, json=_order({**LINE, "quantity": "x"})),
    "quantity '5'": Case("POST", ORDERS, 422, json=_order({**LINE, "quantity": "5"})),
    "quantity 1.5": Case("POST", ORDERS, 422, json=_order({**LINE, "quantity": 1.5})),
    "quantity true": Case("POST", ORDERS, 422, json=_order({**LINE, "quantity": True})),
    "quantity null": Case("POST", ORDERS, 422, json=_order({**LINE, "quantity": None})),
    "quantity missing": Case("POST", ORDERS, 422, json=_order({"id": "margherita"})),
    "quantities over 100 once merged": Case(
        "POST", ORDERS, 422, json=_order({**LINE, "quantity": 60}, {**LINE, "quantity": 60})
    ),
    "item id not a string": Case("POST", ORDERS, 422, json=_order({**LINE, "id": 7})),
    "item id malformed": Case("POST", ORDERS, 422, json=_order({**LINE, "id": "Pizza!"})),
    "unknown item": Case("POST", ORDERS, 422, json=_order({**LINE, "id": "no-such-dish"})),
    "oversized body": Case("POST", ORDERS, 413, json=_order({**LINE, "note": "x" * 100_000})),
    "idempotency key too long": Case(
        "POST", ORDERS, 422, json=_order(LINE), headers={"Idempotency-Key": "k" * 129}
    ),
    # Customers and orders in the path, and listing.
    "customer id with a space": Case("POST", "/api/customers/a%20b/orders", 422, json=_order(LINE)),
    "customer id too long": Case("GET", f"/api/customers/{'c' * 65}/orders", 422),
    "customer id not ASCII": Case("GET", "/api/customers/j%C3%BCrgen/orders", 422),
    "unknown order": Case("GET", f"{ORDERS}/{uuid.uuid4()}", 404),
    "malformed order id": Case("GET", f"{ORDERS}/not*an*id", 422),
    "cancel unknown order": Case("POST", f"{ORDERS}/{uuid.uuid4()}/cancel", 404),
    "page size 0": Case("GET", ORDERS, 422, params={"page_size": 0}),
    "page size 101": Case("GET", ORDERS, 422, params={"page_size": 101}),
    "page size 'x'": Case("GET", ORDERS, 422, params={"page_size": "x"}),
    "page token forged": Case("GET", ORDERS, 422, params={"page_token": "forged!"}),
    # Routing.
    "unknown route": Case("GET", "/api/nothing-here", 404),
    "wrong method": Case("DELETE", "/api/menu", 405),
    # Admin: authentication, then the bodies.
    "admin without token": Case("GET", "/api/admin/menu/items", 401),
    "admin with basic auth": Case(
        "GET", "/api/admin/menu/items", 401, headers={"Authorization": "Basic YWRtaW46YWRtaW4="}
    ),
    "admin with wrong token": Case(
        "GET", "/api/admin/stock", 403, headers={"Authorization": "Bearer not-the-token"}
    ),
    "admin wrong token on a write": Case(
        "PUT",
        "/api/admin/stock/margherita",
        403,
        json={"on_hand": 1},
        headers={"Authorization": "Bearer x"},
    ),
    "item price negative": Case(
        "PUT",
        "/api/admin/menu/items/new-dish",
        422,
        json={"name": "N", "price": -1, "currency": "EUR"},
        headers=ADMIN,
    ),
    "item currency lower case": Case(
        "PUT",
        "/api/admin/menu/items/new-dish",
        422,
        json={"name": "N", "price": 1, "currency": "eur"},
        headers=ADMIN,
    ),
    "item name empty": Case(
        "PUT",
        "/api/admin/menu/items/new-dish",
        422,
        json={"name": "", "price": 1, "currency": "EUR"},
        headers=ADMIN,
    ),
    "item unknown field": Case(
        "PUT",
        "/api/admin/menu/items/new-dish",
        422,
        json={"name": "N", "price": 1, "currency": "EUR", "vegan": True},
        headers=ADMIN,
    ),
    "item id upper case": Case(
        "PUT",
        "/api/admin/menu/items/New-Dish",
        422,
        json={"name": "N", "price": 1, "currency": "EUR"},
        headers=ADMIN,
    ),
    "offer unknown item": Case(
        "PUT",
        "/api/admin/menu/items/no-such-dish/offered",
        404,
        json={"offered": True},
        headers=ADMIN,
    ),
    "offered not a bool": Case(
        "PUT",
        "/api/admin/menu/items/margherita/offered",
        422,
        json={"offered": "yes"},
        headers=ADMIN,
    ),
    "stock negative": Case(
        "PUT", "/api/admin/stock/margherita", 422, json={"on_hand": -1}, headers=ADMIN
    ),
    "stock a string": Case(
        "PUT", "/api/admin/stock/margherita", 422, json={"on_hand": "5"}, headers=ADMIN
    ),
    "stock too large": Case(
        "PUT", "/api/admin/stock/margherita", 422, json={"on_hand": 10**9}, headers=ADMIN
    ),
    "stock of an unknown item": Case(
        "PUT", "/api/admin/stock/no-such-dish", 404, json={"on_hand": 1}, headers=ADMIN
    ),
    "stock levels of a malformed id": Case(
        "GET", "/api/admin/stock", 422, params={"item_id": "Bad Id"}, headers=ADMIN
    ),
    # Stripe's webhook.
    "unsigned webhook": Case("POST", "/webhooks/stripe", 400, content=EVENT),
    "forged webhook": Case(
        "POST",
        "/webhooks/stripe",
        400,
        content=EVENT,
        headers={"Stripe-Signature": sign(EVENT, secret="whsec_someone_else")},
    ),
    "stale webhook": Case(
        "POST",
        "/webhooks/stripe",
        400,
        content=EVENT,
        headers={"Stripe-Signature": sign(EVENT, at=1_000_000_000)},
    ),
    "webhook signed for other bytes": Case(
        "POST",
        "/webhooks/stripe",
        400,
        content=EVENT + b" ",
        headers={"Stripe-Signature": sign(EVENT)},
    ),
    "webhook that is not an event": Case(
        "POST",
        "/webhooks/stripe",
        400,
        content=b"hello",
        headers={"Stripe-Signature": sign(b"hello")},
    ),
    "oversized webhook": Case(
        "POST",
        "/webhooks/stripe",
        413,
        content=b"x" * (1024 * 1024 + 1),
        headers={"Stripe-Signature": sign(b"x")},
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_a_bad_request_is_a_4xx_with_a_reason(http: httpx.AsyncClient, case: Case) -> None:
    response = await http.request(
        case.method,
        case.path,
        json=case.json,
        content=case.content,
        headers=case.headers,
        params=case.params,
    )

    assert response.status_code == case.status, response.text
    assert response.headers["content-type"] == "application/json"
    error = error_of(response)
    if case.status == 422:
        assert error["code"] in {"invalid_request", "invalid_argument"}
    if case.status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_a_chunked_body_over_the_limit_is_413(http: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 65536

    response = await http.post(
        "/webhooks/stripe", content=chunks(), headers={"Stripe-Signature": sign(b"x")}
    )

    assert response.status_code == 413
    assert error_of(response)["code"] == "too_large"
