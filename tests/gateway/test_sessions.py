"""Customer sessions: who a request comes from, and what each customer may see.

A session is a signed, expiring token (a bearer token, and the same as an HTTP-only cookie).
An order is the customer's who placed it: without a session it is 401, with another
customer's 404, and its tracking link (`?t=`) opens it without any session.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie

import httpx
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from devtools.platform import LocalPlatform
from oms.gateway.sessions import COOKIE, CUSTOMER_TOKEN_SALT
from tests.gateway.helpers import Customer, Json, error_of, sse

WEEK = 7 * 24 * 3600  # GATEWAY_SESSION_TTL_SECONDS's default


def _tracking_token(order: Json) -> str:
    return str(order["tracking_url"].partition("?t=")[2])


async def test_a_session_is_a_token_and_an_http_only_cookie(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/session")

    assert response.status_code == 201, response.text
    session = response.json()
    assert set(session) == {"customer_id", "token", "expires_at"}
    assert session["customer_id"].startswith("c_")
    expires = datetime.fromisoformat(session["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(seconds=WEEK))) < timedelta(minutes=1)
    (header,) = response.headers.get_list("set-cookie")
    cookie = SimpleCookie(header)[COOKIE]
    assert cookie.value == session["token"]
    assert cookie["httponly"] is True
    assert cookie["samesite"].lower() == "lax"
    assert cookie["path"] == "/"
    assert cookie["max-age"] == str(WEEK)
    assert not cookie["secure"]  # GATEWAY_SECURE_COOKIES is off: the test serves plain HTTP


async def test_the_cookie_alone_is_a_session_and_each_session_a_new_customer(
    gateway_url: str, stocked_item: str
) -> None:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as browser:
        first = (await browser.post("/api/session")).json()  # the client keeps the cookie
        created = await browser.post(
            "/api/orders", json={"items": [{"id": stocked_item, "quantity": 1}]}
        )
        listed = await browser.get("/api/orders")
        second = (await browser.post("/api/session")).json()

    assert created.status_code == 201, created.text
    assert created.json()["customer_id"] == first["customer_id"]
    assert [o["id"] for o in listed.json()["orders"]] == [created.json()["id"]]
    assert second["customer_id"] != first["customer_id"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/orders"),
        ("GET", "/api/orders"),
        ("GET", "/api/orders/{id}"),
        ("POST", "/api/orders/{id}/cancel"),
        ("GET", "/api/orders/{id}/events"),
    ],
)
async def test_without_a_session_every_customer_route_is_401(
    http: httpx.AsyncClient, alice: Customer, stocked_item: str, method: str, path: str
) -> None:
    order = await alice.place((stocked_item, 1))
    body = {"items": [{"id": stocked_item, "quantity": 1}]} if method == "POST" else None

    response = await http.request(method, path.format(id=order["id"]), json=body)

    assert response.status_code == 401, response.text
    assert error_of(response)["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert (await alice.get(order["id"]))["status"] in {"pending", "awaiting_payment"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/orders/{id}"),
        ("POST", "/api/orders/{id}/cancel"),
        ("GET", "/api/orders/{id}/events"),
    ],
)
async def test_another_customers_order_is_not_found(
    alice: Customer, bob: Customer, stocked_item: str, method: str, path: str
) -> None:
    order = await alice.place((stocked_item, 1))

    response = await bob.http.request(method, path.format(id=order["id"]))

    assert response.status_code == 404, response.text
    assert error_of(response)["code"] == "not_found"
    bobs = (await bob.http.get("/api/orders")).json()["orders"]
    assert order["id"] not in [o["id"] for o in bobs]
    assert (await alice.get(order["id"]))["status"] in {"pending", "awaiting_payment"}


def _expired_token(platform: LocalPlatform, customer_id: str) -> str:
    """A token signed with the gateway's own secret, issued longer ago than a session lasts."""

    class LongAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - WEEK - 60

    secret = platform.base_env["GATEWAY_SESSION_SECRET"]
    return str(
        URLSafeTimedSerializer(secret, salt=CUSTOMER_TOKEN_SALT, signer=LongAgo).dumps(
            {"c": customer_id}
        )
    )


async def test_a_forged_or_expired_token_is_401(
    gateway_url: str, http: httpx.AsyncClient, platform: LocalPlatform, alice: Customer
) -> None:
    payload, _, signature = alice.token.rpartition(".")
    other_secret = URLSafeTimedSerializer("not-the-secret", salt=CUSTOMER_TOKEN_SALT)
    forged = {
        "signature changed": f"{payload}.{signature[::-1]}",
        "signed with another secret": other_secret.dumps({"c": alice.customer_id}),
        "not a token": "hello",
        "expired": _expired_token(platform, alice.customer_id),
    }

    for why, token in forged.items():
        as_bearer = await http.get("/api/orders", headers={"Authorization": f"Bearer {token}"})
        async with httpx.AsyncClient(base_url=gateway_url, cookies={COOKIE: token}) as browser:
            as_cookie = await browser.get("/api/orders")
        assert (as_bearer.status_code, as_cookie.status_code) == (401, 401), why
        assert error_of(as_bearer)["code"] == "unauthenticated", why
    assert (await alice.http.get("/api/orders")).status_code == 200


async def test_the_tracking_link_opens_the_order_without_a_session(
    http: httpx.AsyncClient, alice: Customer, stocked_item: str
) -> None:
    order = await alice.place((stocked_item, 1))
    other = await alice.place((stocked_item, 1))
    token = _tracking_token(order)

    read = await http.get(f"/api/orders/{order['id']}", params={"t": token})
    async with sse(http, f"/api/orders/{order['id']}/events", t=token) as stream:
        snapshot = await stream.next()
    wrong = await http.get(f"/api/orders/{order['id']}", params={"t": token[::-1]})
    wrong_stream = await http.get(f"/api/orders/{order['id']}/events", params={"t": token[::-1]})
    of_another_order = await http.get(f"/api/orders/{other['id']}", params={"t": token})

    assert read.status_code == 200, read.text
    assert read.json()["id"] == order["id"]
    assert (snapshot.event, snapshot.data["id"]) == ("snapshot", order["id"])
    for refused in (wrong, wrong_stream, of_another_order):
        assert refused.status_code == 404, refused.text
        assert error_of(refused)["code"] == "not_found"


async def test_the_access_token_is_only_in_the_owners_tracking_url(
    alice: Customer, admin: httpx.AsyncClient, stocked_item: str
) -> None:
    """Every answer about an order, to its customer and to staff, live ones included (the
    `order.placed` event that carries the token among them)."""
    earlier = await alice.place((stocked_item, 1))
    async with sse(admin, "/api/admin/events") as board:
        staff_snapshot = await board.next()
        order = await alice.place((stocked_item, 1))
        cancelled = await alice.place((stocked_item, 1))
        async with sse(alice.http, f"/api/orders/{order['id']}/events") as tracker:
            snapshot = await tracker.next()
            await alice.pay(order["id"])
            updates = await tracker.until(lambda e: e.data.get("status") == "ready")
        cancel = (await alice.http.post(f"/api/orders/{cancelled['id']}/cancel")).json()
        staff_updates = await board.until(
            lambda e: (
                (e.data.get("order_id"), e.data.get("status")) == (cancelled["id"], "cancelled")
            )
        )
    tokens = {o["id"]: _tracking_token(o) for o in (earlier, order, cancelled)}
    owners = [
        earlier,
        order,
        cancel,
        (await alice.http.get(f"/api/orders/{order['id']}")).json(),
        *(await alice.http.get("/api/orders")).json()["orders"],
        snapshot.data,
    ]
    answers = [
        *[{**o, "tracking_url": None} for o in owners],
        *[update.data for update in updates],
        (await admin.get(f"/api/admin/orders/{order['id']}")).json(),
        (await admin.get("/api/admin/orders", params={"q": alice.customer_id})).json(),
        (await admin.post(f"/api/admin/orders/{order['id']}/pick-up")).json(),
        (await admin.post(f"/api/admin/orders/{earlier['id']}/void")).json(),
        staff_snapshot.data,
        *[update.data for update in staff_updates],
    ]

    assert all(len(token) >= 32 for token in tokens.values())
    assert all(o["tracking_url"] == f"/orders/{o['id']}?t={tokens[o['id']]}" for o in owners)
    assert "order.placed" in {update.data["event"] for update in staff_updates}
    assert earlier["id"] in str(staff_snapshot.data)
    for answer in answers:
        for token in tokens.values():
            assert token not in str(answer), answer
        assert "access_token" not in str(answer), answer
