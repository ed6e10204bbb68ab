"""Probes: alive without asking anyone; ready only while every service has a serving instance."""

from __future__ import annotations

import asyncio

import httpx

from devtools import stripe_webhooks
from tests.gateway.conftest import OwnPlatform
from tests.gateway.helpers import error_of, eventually

SERVICES = ("menu", "order", "stock", "payment")


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
        "services": dict.fromkeys(SERVICES, "serving"),
        "missing": [],
    }


async def test_readyz_names_a_service_without_an_instance_and_its_calls_are_503(
    own_platform: OwnPlatform,
) -> None:
    # Its own platform: Payment stops and starts again, which the shared one must never see.
    platform = await own_platform(*SERVICES, "gateway")
    (payment,) = platform.running("payment")
    event = stripe_webhooks.checkout_event("checkout.session.completed", "o-1", "cs_test_x")
    payload, signature = stripe_webhooks.delivery(event, platform.webhook_secret)
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as http:

        async def ready_again() -> bool:
            return (await http.get("/readyz")).status_code == 200

        await eventually(ready_again, within=60)  # every service found, before one goes
        await asyncio.to_thread(payment.stop)  # it leaves Consul as it stops

        async def payment_gone() -> bool:
            body = (await http.get("/readyz")).json()
            return bool(body["services"]["payment"] == "no healthy instance")

        await eventually(payment_gone)
        response = await http.get("/readyz")
        webhook = await http.post(
            "/webhooks/stripe", content=payload, headers={"Stripe-Signature": signature}
        )
        await asyncio.to_thread(platform.start_service, "payment")
        await eventually(ready_again, within=30)

    assert response.status_code == 503
    assert response.json() == {
        "ready": False,
        "services": {**dict.fromkeys(SERVICES, "serving"), "payment": "no healthy instance"},
        "missing": ["payment"],
    }
    assert webhook.status_code == 503
    assert webhook.headers["Retry-After"] == "1"
    assert error_of(webhook)["code"] == "unavailable"
