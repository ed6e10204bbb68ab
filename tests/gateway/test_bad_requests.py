"""Every bad request gets a 4xx with a reason in the error body, never a 5xx.

Each case goes to the real gateway in front of the real services, so a refusal the services
make (an unknown item, a forged page token) is covered as well as the gateway's own checks.
Customer cases send a valid session and staff cases the admin token, so what is refused is
the input itself.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import pytest

from devtools.platform import WEBHOOK_SECRET, LocalPlatform
from devtools.stripe_webhooks import sign
from tests.gateway.helpers import Customer, error_of

ORDERS = "/api/orders"
ORDER = f"{ORDERS}/{uuid.uuid4()}"
STAFF_ORDER = f"/api/admin/orders/{uuid.uuid4()}"
LINE = {"id": "margherita", "quantity": 1}
EVENT = json.dumps({"id": "evt_bad", "type": "checkout.session.completed"}).encode()
ITEM = {"name": "N", "price": 1, "currency": "EUR"}


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    status: int
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: Any = None
    who: Literal["customer", "staff", "nobody"] = "customer"


def _webhook(status: int, payload: bytes, signature: str | None) -> Case:
    headers = {"Stripe-Signature": signature} if signature is not None else {}
    return Case("POST", "/webhooks/stripe", status, content=payload, headers=headers, who="nobody")


def _staff_item(item_id: str = "new-dish", **fields: Any) -> Case:
    body = {**ITEM, **fields}
    return Case("PUT", f"/api/admin/menu/items/{item_id}", 422, json=body, who="staff")


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
    "empty idempotency key": Case(
        "POST", ORDERS, 422, json=_order(LINE), headers={"Idempotency-Key": ""}
    ),
    # Orders in the path, reading and listing.
    "unknown order": Case("GET", ORDER, 404),
    "malformed order id": Case("GET", f"{ORDERS}/not*an*id", 422),
    "order id too long": Case("GET", f"{ORDERS}/{'o' * 65}", 422),
    "order id not ASCII": Case("GET", f"{ORDERS}/j%C3%BCrgen", 422),
    "cancel unknown order": Case("POST", f"{ORDER}/cancel", 404),
    "tracking token malformed": Case("GET", ORDER, 422, params={"t": "not a token"}, who="nobody"),
    "tracking token too long": Case("GET", ORDER, 422, params={"t": "t" * 257}, who="nobody"),
    "tracking token of no order": Case("GET", ORDER, 404, params={"t": "x" * 32}, who="nobody"),
    "page size 0": Case("GET", ORDERS, 422, params={"page_size": 0}),
    "page size 101": Case("GET", ORDERS, 422, params={"page_size": 101}),
    "page size 'x'": Case("GET", ORDERS, 422, params={"page_size": "x"}),
    "page size 1.5": Case("GET", ORDERS, 422, params={"page_size": "1.5"}),
    "page token forged": Case("GET", ORDERS, 422, params={"page_token": "Zm9yZ2Vk"}),
    "page token malformed": Case("GET", ORDERS, 422, params={"page_token": "forged!"}),
    "page token too long": Case("GET", ORDERS, 422, params={"page_token": "p" * 257}),
    # Live updates.
    "events of an unknown order": Case("GET", f"{ORDER}/events", 404),
    "events of a malformed id": Case("GET", f"{ORDERS}/not*an*id/events", 422),
    "last event id too long": Case(
        "GET", f"{ORDER}/events", 422, headers={"Last-Event-ID": "e" * 65}
    ),
    "staff last event id too long": Case(
        "GET", "/api/admin/events", 422, headers={"Last-Event-ID": "e" * 65}, who="staff"
    ),
    # Query parameters the route does not declare: the contract refuses them.
    "unknown query parameter": Case("GET", ORDERS, 422, params={"page_sise": 5}),
    "unnamed query parameter": Case("GET", ORDERS, 422, params={"": "x"}),
    "unnamed query parameter on the menu": Case("GET", "/api/menu", 422, params="=x"),
    "unknown query parameter on a session": Case(
        "POST", "/api/session", 422, params={"customer_id": "c_1"}, who="nobody"
    ),
    "unknown query parameter on a probe": Case("GET", "/healthz", 422, params={"x": "1"}),
    "a parameter without a value": Case("GET", ORDERS, 422, params="debug"),
    "unknown query parameter on a staff route": Case(
        "GET", "/api/admin/orders", 422, params={"customer": "c_1"}, who="staff"
    ),
    # Routing.
    "unknown route": Case("GET", "/api/nothing-here", 404),
    "wrong method": Case("DELETE", "/api/menu", 405),
    # Staff: authentication is in test_staff.py; here, the inputs.
    "admin with basic auth": Case(
        "GET",
        "/api/admin/menu/items",
        401,
        headers={"Authorization": "Basic YWRtaW46YWRtaW4="},
        who="nobody",
    ),
    "orders of an unknown status": Case(
        "GET", "/api/admin/orders", 422, params={"status": "lost"}, who="staff"
    ),
    "orders of too many statuses": Case(
        "GET", "/api/admin/orders", 422, params={"status": ["paid"] * 10}, who="staff"
    ),
    "search with a space": Case("GET", "/api/admin/orders", 422, params={"q": "c 1"}, who="staff"),
    "search too long": Case("GET", "/api/admin/orders", 422, params={"q": "c" * 65}, who="staff"),
    "staff page token forged": Case(
        "GET", "/api/admin/orders", 422, params={"page_token": "Zm9yZ2Vk"}, who="staff"
    ),
    "refund reason too long": Case(
        "POST", f"{STAFF_ORDER}/refund", 422, json={"reason": "r" * 501}, who="staff"
    ),
    "refund with an unknown field": Case(
        "POST", f"{STAFF_ORDER}/refund", 422, json={"why": "x"}, who="staff"
    ),
    "void body not an object": Case(
        "POST", f"{STAFF_ORDER}/void", 422, json=["closing"], who="staff"
    ),
    "void an unknown order": Case("POST", f"{STAFF_ORDER}/void", 404, who="staff"),
    "too many item ids": Case(
        "GET", "/api/admin/stock", 422, params={"item_id": ["margherita"] * 201}, who="staff"
    ),
    "item price negative": _staff_item(price=-1),
    "item price too high": _staff_item(price=10_000_001),
    "item currency lower case": _staff_item(currency="eur"),
    "item name empty": _staff_item(name=""),
    "item name too long": _staff_item(name="n" * 101),
    "item unknown field": _staff_item(vegan=True),
    "item id upper case": _staff_item("New-Dish"),
    "offer unknown item": Case(
        "PUT",
        "/api/admin/menu/items/no-such-dish/offered",
        404,
        json={"offered": True},
        who="staff",
    ),
    "offered not a bool": Case(
        "PUT",
        "/api/admin/menu/items/margherita/offered",
        422,
        json={"offered": "yes"},
        who="staff",
    ),
    "stock negative": Case(
        "PUT", "/api/admin/stock/margherita", 422, json={"on_hand": -1}, who="staff"
    ),
    "stock a string": Case(
        "PUT", "/api/admin/stock/margherita", 422, json={"on_hand": "5"}, who="staff"
    ),
    "stock too large": Case(
        "PUT", "/api/admin/stock/margherita", 422, json={"on_hand": 10**9}, who="staff"
    ),
    "stock of an unknown item": Case(
        "PUT", "/api/admin/stock/no-such-dish", 404, json={"on_hand": 1}, who="staff"
    ),
    "stock levels of a malformed id": Case(
        "GET", "/api/admin/stock", 422, params={"item_id": "Bad Id"}, who="staff"
    ),
    # Stripe's webhook.
    "unsigned webhook": _webhook(400, EVENT, None),
    "signature too long": _webhook(422, EVENT, "v" * 4097),
    "forged webhook": _webhook(400, EVENT, sign(EVENT, "whsec_someone_else")),
    "stale webhook": _webhook(400, EVENT, sign(EVENT, WEBHOOK_SECRET, 1_000_000_000)),
    "webhook signed for other bytes": _webhook(400, EVENT + b" ", sign(EVENT, WEBHOOK_SECRET)),
    "webhook that is not an event": _webhook(400, b"hello", sign(b"hello", WEBHOOK_SECRET)),
    "oversized webhook": _webhook(413, b"x" * (1024 * 1024 + 1), sign(b"x", WEBHOOK_SECRET)),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_a_bad_request_is_a_4xx_with_a_reason(
    http: httpx.AsyncClient, alice: Customer, platform: LocalPlatform, case: Case
) -> None:
    credentials = {
        "customer": {"Authorization": f"Bearer {alice.token}"},
        "staff": {"Authorization": f"Bearer {platform.admin_token}"},
        "nobody": {},
    }[case.who]

    response = await http.request(
        case.method,
        case.path,
        json=case.json,
        content=case.content,
        headers={**credentials, **case.headers},
        params=case.params,
    )

    assert response.status_code == case.status, response.text
    assert response.headers["content-type"] == "application/json"
    error = error_of(response)
    if case.status == 422:
        assert error["code"] in {"invalid_request", "invalid_argument"}
        if error["code"] == "invalid_request":  # the gateway's own: each input and why
            assert error["fields"], error
            assert all(f["location"] and f["message"] for f in error["fields"]), error
    if case.status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_a_chunked_body_over_the_limit_is_413(http: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 65536

    signature = {"Stripe-Signature": sign(b"x", WEBHOOK_SECRET)}
    response = await http.post("/webhooks/stripe", content=chunks(), headers=signature)

    assert response.status_code == 413
    assert error_of(response)["code"] == "too_large"
