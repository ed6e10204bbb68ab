"""Staff routes: who may use them, the order board's queries, and the actions Order decides.

Staff send the admin token as a bearer token (the screens: a signed staff cookie). Refund,
void and pick-up are Order's decisions: the gateway answers 409 where Order refuses.
"""

from __future__ import annotations

import httpx
import pytest

from devtools.platform import LocalPlatform
from oms.contracts.v1 import faults_pb2
from oms.gateway.auth import STAFF_COOKIE
from oms.gateway.sessions import COOKIE
from tests.gateway.helpers import Customer, error_of, eventually, faults

STAFF_ROUTES = [
    ("GET", "/api/admin/menu/items"),
    ("PUT", "/api/admin/menu/items/margherita"),
    ("PUT", "/api/admin/menu/items/margherita/offered"),
    ("GET", "/api/admin/stock"),
    ("PUT", "/api/admin/stock/margherita"),
    ("GET", "/api/admin/orders"),
    ("GET", "/api/admin/orders/some-order"),
    ("POST", "/api/admin/orders/some-order/refund"),
    ("POST", "/api/admin/orders/some-order/void"),
    ("POST", "/api/admin/orders/some-order/pick-up"),
    ("GET", "/api/admin/events"),
    ("GET", "/api/admin/faults/kitchen"),
    ("PUT", "/api/admin/faults/kitchen"),
]


@pytest.mark.parametrize(("method", "path"), STAFF_ROUTES)
async def test_staff_routes_need_the_admin_token(
    gateway_url: str, http: httpx.AsyncClient, alice: Customer, method: str, path: str
) -> None:
    bearer = {"Authorization": f"Bearer {alice.token}"}

    nothing = await http.request(method, path)
    wrong = await http.request(method, path, headers={"Authorization": "Bearer not-the-token"})
    customer_token = await http.request(method, path, headers=bearer)
    async with httpx.AsyncClient(base_url=gateway_url, cookies={COOKIE: alice.token}) as pages:
        customer_cookie = await pages.request(method, path)
    async with httpx.AsyncClient(base_url=gateway_url, cookies={STAFF_COOKIE: alice.token}) as fake:
        as_staff_cookie = await fake.request(method, path)

    for unauthenticated in (nothing, customer_cookie, as_staff_cookie):
        assert unauthenticated.status_code == 401, unauthenticated.text
        assert error_of(unauthenticated)["code"] == "unauthenticated"
        assert unauthenticated.headers["WWW-Authenticate"] == "Bearer"
    for forbidden in (wrong, customer_token):
        assert forbidden.status_code == 403, forbidden.text
        assert error_of(forbidden)["code"] == "forbidden"


async def test_the_board_lists_orders_by_status_and_by_id_prefix(
    admin: httpx.AsyncClient, alice: Customer, stocked_item: str
) -> None:
    kept = await alice.place((stocked_item, 1))
    dropped = await alice.place((stocked_item, 1))
    await alice.http.post(f"/api/orders/{dropped['id']}/cancel")

    by_customer = await admin.get("/api/admin/orders", params={"q": alice.customer_id[:10]})
    by_order = await admin.get("/api/admin/orders", params={"q": kept["id"][:13]})
    cancelled = await admin.get(
        "/api/admin/orders", params={"q": alice.customer_id, "status": "cancelled"}
    )
    either = await admin.get(
        "/api/admin/orders",
        params={"q": alice.customer_id, "status": ["cancelled", "pending", "awaiting_payment"]},
    )
    delivered = await admin.get(
        "/api/admin/orders", params={"q": alice.customer_id, "status": "picked_up"}
    )
    one = await admin.get(f"/api/admin/orders/{kept['id']}")

    assert by_customer.status_code == 200, by_customer.text
    assert [o["id"] for o in by_customer.json()["orders"]] == [dropped["id"], kept["id"]]
    assert [o["id"] for o in by_order.json()["orders"]] == [kept["id"]]
    assert [o["id"] for o in cancelled.json()["orders"]] == [dropped["id"]]
    assert [o["id"] for o in either.json()["orders"]] == [dropped["id"], kept["id"]]
    assert delivered.json() == {"orders": [], "next_page_token": None}
    assert one.json()["customer_id"] == alice.customer_id
    assert "tracking_url" not in one.json()


async def test_void_cancels_an_unpaid_order_and_is_refused_once_paid(
    admin: httpx.AsyncClient, alice: Customer, stocked_item: str
) -> None:
    unpaid = await alice.place((stocked_item, 1))
    paid = await alice.place((stocked_item, 1))
    await alice.pay(paid["id"])
    await alice.wait_for(paid["id"], "ready")

    voided = await admin.post(f"/api/admin/orders/{unpaid['id']}/void", json={"reason": "closing"})
    refused = await admin.post(f"/api/admin/orders/{paid['id']}/void")

    assert voided.status_code == 200, voided.text
    assert (voided.json()["status"], voided.json()["reason"]) == ("cancelled", "closing")
    assert refused.status_code == 409, refused.text
    assert error_of(refused)["code"] == "conflict"
    assert (await alice.get(paid["id"]))["status"] == "ready"


async def test_a_refund_before_the_kitchen_starts_and_none_once_ready(
    admin: httpx.AsyncClient, platform: LocalPlatform, alice: Customer, stocked_item: str
) -> None:
    unpaid = await alice.place((stocked_item, 1))
    ready = await alice.place((stocked_item, 1))
    await alice.pay(ready["id"])
    await alice.wait_for(ready["id"], "ready")
    paid = await alice.place((stocked_item, 2))
    # The kitchen holds the paid order back, so it is still `paid` when staff refund it.
    hold = faults_pb2.Fault(target="consumer:kitchen.orders", action=faults_pb2.FAULT_ACTION_PAUSE)
    async with faults(platform.running("kitchen")[0], hold):
        await alice.pay(paid["id"])
        await alice.wait_for(paid["id"], "paid")
        refunded = await admin.post(f"/api/admin/orders/{paid['id']}/refund", json={"reason": "x"})
    too_late = await admin.post(f"/api/admin/orders/{ready['id']}/refund")
    not_paid = await admin.post(f"/api/admin/orders/{unpaid['id']}/refund")

    assert refunded.status_code == 200, refunded.text
    assert (refunded.json()["status"], refunded.json()["reason"]) == ("refunded", "x")
    for refused in (too_late, not_paid):
        assert refused.status_code == 409, refused.text
        assert error_of(refused)["code"] == "conflict"

    async def money_back() -> bool:
        return bool((await alice.get(paid["id"]))["refunded"])

    await eventually(money_back)


async def test_pick_up_only_once_ready(
    admin: httpx.AsyncClient, alice: Customer, stocked_item: str
) -> None:
    order = await alice.place((stocked_item, 1))

    early = await admin.post(f"/api/admin/orders/{order['id']}/pick-up")
    await alice.pay(order["id"])
    await alice.wait_for(order["id"], "ready")
    picked = await admin.post(f"/api/admin/orders/{order['id']}/pick-up")
    again = await admin.post(f"/api/admin/orders/{order['id']}/pick-up")

    assert early.status_code == 409, early.text
    assert error_of(early)["code"] == "conflict"
    assert picked.status_code == 200, picked.text
    assert (picked.json()["status"], picked.json()["step"]) == ("picked_up", 6)
    assert again.json()["status"] == "picked_up"  # a repeated bump changes nothing


@pytest.mark.parametrize("action", ["refund", "void", "pick-up"])
async def test_an_action_on_an_unknown_order_is_404(admin: httpx.AsyncClient, action: str) -> None:
    response = await admin.post(f"/api/admin/orders/no-such-order/{action}")

    assert response.status_code == 404, response.text
    assert error_of(response)["code"] == "not_found"
