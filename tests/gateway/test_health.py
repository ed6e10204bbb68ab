"""Probes, readiness turning 503 when a service has no healthy instance, and the OpenAPI document.

Payment is the in-test double (see `payment_double`): a real gRPC server in the real Consul,
so making it unhealthy is exactly what Consul and the gateway would see of the real one.
"""

from __future__ import annotations

import json

import httpx

from oms.platform.grpc_server import GrpcServer
from tests.gateway.helpers import error_of, eventually, sign
from tests.gateway.payment_double import PaymentDouble


async def test_healthz_answers_without_asking_anyone(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_200_when_every_service_has_a_serving_instance(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "ready": True,
        "services": dict.fromkeys(("menu", "order", "stock", "payment"), "serving"),
        "missing": [],
    }


async def test_without_a_healthy_payment_readyz_is_503_and_its_calls_are_503(
    http: httpx.AsyncClient, payment: tuple[PaymentDouble, GrpcServer]
) -> None:
    _, server = payment
    await server.set_serving(False)  # Consul's gRPC check now fails
    try:

        async def payment_gone() -> bool:
            body = (await http.get("/readyz")).json()
            return bool(body["services"]["payment"] == "no healthy instance")

        await eventually(payment_gone)
        response = await http.get("/readyz")
        body = json.dumps({"id": "evt_1", "type": "checkout.session.completed"}).encode()
        webhook = await http.post(
            "/webhooks/stripe", content=body, headers={"Stripe-Signature": sign(body)}
        )
    finally:
        await server.set_serving(True)

    assert response.status_code == 503
    assert response.json()["ready"] is False
    assert response.json()["missing"] == ["payment"]
    assert webhook.status_code == 503
    assert webhook.headers["Retry-After"] == "1"
    assert error_of(webhook)["code"] == "unavailable"

    async def ready_again() -> bool:
        return (await http.get("/readyz")).status_code == 200

    await eventually(ready_again)


async def test_the_openapi_document_describes_bodies_and_errors(http: httpx.AsyncClient) -> None:
    response = await http.get("/openapi.json")

    assert response.status_code == 200
    document = response.json()
    create = document["paths"]["/api/customers/{customer_id}/orders"]["post"]
    assert set(create["responses"]) >= {"201", "409", "413", "422", "502", "503"}
    assert create["responses"]["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ShortageBody"
    }
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Order"
    }
    schemas = document["components"]["schemas"]
    assert schemas["Order"]["properties"]["total"]["type"] == "integer"
    assert schemas["OrderLineIn"]["properties"]["quantity"]["maximum"] == 100
    assert schemas["OrderLineIn"]["additionalProperties"] is False
    admin = document["paths"]["/api/admin/stock/{item_id}"]["put"]
    assert {"401", "403", "404", "422"} <= set(admin["responses"])
    assert admin["security"] == [{"HTTPBearer": []}]
    webhook = document["paths"]["/webhooks/stripe"]["post"]
    assert {"200", "400", "413"} <= set(webhook["responses"])
    assert "requestBody" in webhook
