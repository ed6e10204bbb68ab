"""Customers' orders through the gateway, against the real Menu, Stock and Order services."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from devtools import servers
from devtools.platform import LocalPlatform
from oms import domain_events as events
from oms.contracts.v1 import order_pb2, order_pb2_grpc
from oms.platform.broker import Broker
from oms.platform.discovery import Discovery
from oms.platform.grpc_client import Balancer, Channels
from oms.platform.settings import GrpcSettings, RabbitMQSettings
from tests.gateway.helpers import consul_settings, customer, error_of, eventually


def _without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in keys}


async def _levels(admin: httpx.AsyncClient, item_id: str) -> dict[str, int]:
    response = await admin.get("/api/admin/stock", params={"item_id": item_id})
    assert response.status_code == 200, response.text
    (level,) = response.json()["levels"]
    return {key: level[key] for key in ("on_hand", "reserved", "available")}


async def test_an_order_is_priced_by_the_menu_reserved_and_read_back(
    http: httpx.AsyncClient, admin: httpx.AsyncClient, stocked_item: str
) -> None:
    who = customer()

    created = await http.post(
        f"/api/customers/{who}/orders",
        json={"items": [{"id": stocked_item, "quantity": 2}, {"id": stocked_item, "quantity": 1}]},
    )

    assert created.status_code == 201, created.text
    order = created.json()
    assert order["customer_id"] == who
    assert order["status"] == "pending"
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
    assert datetime.fromisoformat(order["created_at"]) <= datetime.fromisoformat(
        order["updated_at"]
    )
    read = await http.get(f"/api/customers/{who}/orders/{order['id']}")
    assert read.status_code == 200
    stamps = ("created_at", "updated_at")
    assert _without(read.json(), *stamps) == _without(order, *stamps)
    for stamp in stamps:  # Order answers microseconds at creation, but stores milliseconds
        gap = datetime.fromisoformat(read.json()[stamp]) - datetime.fromisoformat(order[stamp])
        assert abs(gap) < timedelta(milliseconds=1)
    assert await _levels(admin, stocked_item) == {"on_hand": 10, "reserved": 3, "available": 7}


async def test_the_same_idempotency_key_returns_the_first_order(
    http: httpx.AsyncClient, admin: httpx.AsyncClient, stocked_item: str
) -> None:
    who, key = customer(), str(uuid.uuid4())
    body = {"items": [{"id": stocked_item, "quantity": 1}]}

    first = await http.post(
        f"/api/customers/{who}/orders", json=body, headers={"Idempotency-Key": key}
    )
    again = await http.post(
        f"/api/customers/{who}/orders", json=body, headers={"Idempotency-Key": key}
    )

    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"]
    assert (await _levels(admin, stocked_item))["reserved"] == 1


async def test_orders_are_listed_newest_first_a_page_at_a_time(
    http: httpx.AsyncClient, stocked_item: str
) -> None:
    who = customer()
    ids = []
    for _ in range(3):
        response = await http.post(
            f"/api/customers/{who}/orders", json={"items": [{"id": stocked_item, "quantity": 1}]}
        )
        ids.append(response.json()["id"])

    first = await http.get(f"/api/customers/{who}/orders", params={"page_size": 2})
    token = first.json()["next_page_token"]
    second = await http.get(
        f"/api/customers/{who}/orders", params={"page_size": 2, "page_token": token}
    )

    assert first.status_code == second.status_code == 200
    assert [o["id"] for o in first.json()["orders"]] == ids[:0:-1]
    assert [o["id"] for o in second.json()["orders"]] == ids[:1]
    assert second.json()["next_page_token"] is None
    assert (await http.get(f"/api/customers/{customer()}/orders")).json() == {
        "orders": [],
        "next_page_token": None,
    }


async def test_another_customers_order_is_not_found(
    http: httpx.AsyncClient, stocked_item: str
) -> None:
    owner = customer()
    created = await http.post(
        f"/api/customers/{owner}/orders", json={"items": [{"id": stocked_item, "quantity": 1}]}
    )
    order_id = created.json()["id"]

    for path in (f"/orders/{order_id}", f"/orders/{order_id}/cancel"):
        method = "POST" if path.endswith("cancel") else "GET"
        response = await http.request(method, f"/api/customers/{customer()}{path}")
        assert response.status_code == 404, path
        assert error_of(response)["code"] == "not_found"
    assert (await http.get(f"/api/customers/{owner}/orders/{order_id}")).json()[
        "status"
    ] == "pending"


async def test_cancelling_before_payment_releases_the_stock(
    http: httpx.AsyncClient, admin: httpx.AsyncClient, stocked_item: str
) -> None:
    who = customer()
    created = await http.post(
        f"/api/customers/{who}/orders", json={"items": [{"id": stocked_item, "quantity": 4}]}
    )
    assert (await _levels(admin, stocked_item))["reserved"] == 4

    cancelled = await http.post(f"/api/customers/{who}/orders/{created.json()['id']}/cancel")

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"

    async def released() -> bool:
        return (await _levels(admin, stocked_item))["reserved"] == 0

    await eventually(released)


async def test_short_stock_is_409_with_the_short_items_and_reserves_nothing(
    http: httpx.AsyncClient, admin: httpx.AsyncClient, stocked_item: str
) -> None:
    who = customer()

    response = await http.post(
        f"/api/customers/{who}/orders",
        json={
            "items": [
                {"id": stocked_item, "quantity": 11},
                {"id": "acqua-frizzante", "quantity": 1},
            ]
        },
    )

    assert response.status_code == 409, response.text
    assert error_of(response)["code"] == "insufficient_stock"
    assert response.json()["shortages"] == [{"id": stocked_item, "requested": 11, "available": 10}]
    assert await _levels(admin, stocked_item) == {"on_hand": 10, "reserved": 0, "available": 10}
    assert (await http.get(f"/api/customers/{who}/orders")).json()["orders"] == []


async def test_an_unknown_or_withdrawn_item_is_422_with_the_reason(
    http: httpx.AsyncClient, admin: httpx.AsyncClient, stocked_item: str
) -> None:
    path = f"/api/customers/{customer()}/orders"
    unknown = await http.post(path, json={"items": [{"id": "no-such-dish", "quantity": 1}]})
    await admin.put(f"/api/admin/menu/items/{stocked_item}/offered", json={"offered": False})
    withdrawn = await http.post(path, json={"items": [{"id": stocked_item, "quantity": 1}]})

    assert unknown.status_code == withdrawn.status_code == 422
    assert "no-such-dish" in error_of(unknown)["message"]
    assert stocked_item in error_of(withdrawn)["message"]


@pytest.fixture
async def order_service(
    consul: servers.Consul, platform: LocalPlatform
) -> AsyncIterator[order_pb2_grpc.OrderServiceAsyncStub]:
    discovery = Discovery(consul_settings(consul, platform))
    channels = Channels(GrpcSettings())
    channel = await Balancer("order", discovery.healthy, channels).channel()
    yield order_pb2_grpc.OrderServiceStub(channel)
    await channels.close()
    await discovery.close()


@pytest.fixture
async def broker(platform: LocalPlatform) -> AsyncIterator[Broker]:
    """On the platform's own vhost, where its services consume."""
    connected = Broker(RabbitMQSettings(url=platform.base_env["RABBITMQ_URL"]))
    await connected.connect()
    yield connected
    await connected.close()


async def test_a_paid_order_cannot_be_cancelled(
    http: httpx.AsyncClient,
    stocked_item: str,
    order_service: order_pb2_grpc.OrderServiceAsyncStub,
    broker: Broker,
) -> None:
    """Payment's part is played by hand: attach the link over gRPC, publish `order.paid`."""
    who = customer()
    created = (
        await http.post(
            f"/api/customers/{who}/orders", json={"items": [{"id": stocked_item, "quantity": 1}]}
        )
    ).json()
    link = "https://checkout.stripe.com/c/pay/cs_test_gateway"
    await order_service.AttachPayment(
        order_pb2.AttachPaymentRequest(
            order_id=created["id"], checkout_session_id="cs_test_gateway", payment_link=link
        )
    )
    line = events.Line(item_id=stocked_item, name="Test dish", quantity=1, unit_price_minor=1000)
    paid = events.OrderPaid(
        order_id=created["id"], checkout_session_id="cs_test_gateway", lines=[line]
    )
    await broker.publish(paid.to_event())

    async def is_paid() -> bool:
        order = (await http.get(f"/api/customers/{who}/orders/{created['id']}")).json()
        return bool(order["status"] == "paid" and order["payment_link"] == link)

    await eventually(is_paid)
    response = await http.post(f"/api/customers/{who}/orders/{created['id']}/cancel")

    assert response.status_code == 409
    assert error_of(response)["code"] == "conflict"
    assert "paid" in error_of(response)["message"]
