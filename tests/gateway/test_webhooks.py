"""Stripe's webhook through the gateway to the real Payment, and how Payment's failures reach
the sender: the exact bytes are forwarded (the signature covers them), a redelivery is
`duplicate`, a wrong amount is 400, and an outage or a failure is a 503 or a 502 that keeps
its details to itself. Failures are injected into Payment (`FaultService`), never faked.
"""

from __future__ import annotations

import json

import httpx

from devtools import stripe_webhooks
from devtools.platform import LocalPlatform
from tests.gateway.conftest import StartGateway
from tests.gateway.helpers import Customer, Json, error_of, faults, rpc_fault

WEBHOOK = "/oms.contracts.v1.PaymentService/HandleStripeWebhook"


def _completed(order: Json, secret: str, amount: int | None = None) -> tuple[bytes, str]:
    """Stripe's `checkout.session.completed` for the order, with odd spacing, key order and
    non-ASCII on purpose: the signature covers these exact bytes."""
    event = stripe_webhooks.checkout_event(
        "checkout.session.completed",
        order["id"],
        order["checkout_session_id"],
        amount_total=order["total"] if amount is None else amount,
        currency=order["currency"],
    )
    event["data"]["object"]["custom_text"] = {"submit": {"message": "café  ☕"}}
    payload = json.dumps(event, indent=3, ensure_ascii=False).encode() + b"\n\n"
    return payload, stripe_webhooks.sign(payload, secret)


async def _post(http: httpx.AsyncClient, payload: bytes, signature: str) -> httpx.Response:
    headers = {"Stripe-Signature": signature, "Content-Type": "application/json"}
    return await http.post("/webhooks/stripe", content=payload, headers=headers)


async def test_a_payment_is_applied_once_and_its_redelivery_is_a_duplicate(
    http: httpx.AsyncClient, platform: LocalPlatform, alice: Customer, stocked_item: str
) -> None:
    placed = await alice.place((stocked_item, 2))
    order = await alice.wait_for(placed["id"], "awaiting_payment")
    payload, signature = _completed(order, platform.webhook_secret)

    first = await _post(http, payload, signature)
    again = await _post(http, payload, signature)
    ready = await alice.wait_for(order["id"], "ready")

    assert first.status_code == 200, first.text
    assert first.json() == {"received": True, "duplicate": False}
    assert again.status_code == 200, again.text
    assert again.json() == {"received": True, "duplicate": True}
    assert [change["status"] for change in ready["history"]].count("paid") == 1


async def test_a_payment_of_another_amount_is_400_and_the_order_stays_unpaid(
    http: httpx.AsyncClient, platform: LocalPlatform, alice: Customer, stocked_item: str
) -> None:
    placed = await alice.place((stocked_item, 1))
    order = await alice.wait_for(placed["id"], "awaiting_payment")

    response = await _post(http, *_completed(order, platform.webhook_secret, amount=1))

    assert response.status_code == 400, response.text
    assert error_of(response)["code"] == "bad_event"
    assert (await alice.get(order["id"]))["status"] == "awaiting_payment"


async def test_an_event_about_a_checkout_oms_never_opened_is_answered_and_remembered(
    http: httpx.AsyncClient, platform: LocalPlatform
) -> None:
    event = stripe_webhooks.checkout_event("checkout.session.expired", "o-1", "cs_test_foreign")
    payload, signature = stripe_webhooks.delivery(event, platform.webhook_secret)

    first = await _post(http, payload, signature)
    again = await _post(http, payload, signature)

    assert first.json() == {"received": True, "duplicate": False}
    assert again.json() == {"received": True, "duplicate": True}


async def test_a_failing_payment_is_a_502_that_keeps_its_details_to_itself(
    http: httpx.AsyncClient, platform: LocalPlatform
) -> None:
    event = stripe_webhooks.checkout_event("checkout.session.completed", "o-2", "cs_test_502")
    payload, signature = stripe_webhooks.delivery(event, platform.webhook_secret)

    async with faults(platform.running("payment")[0], rpc_fault(WEBHOOK, "error", code="INTERNAL")):
        response = await _post(http, payload, signature)

    assert response.status_code == 502, response.text
    assert error_of(response)["code"] == "upstream_error"
    assert "injected" not in response.text
    assert "HandleStripeWebhook" not in response.text


async def test_a_payment_past_the_deadline_is_a_503_to_retry(
    start_gateway: StartGateway, platform: LocalPlatform
) -> None:
    gateway = await start_gateway(GRPC_DEFAULT_DEADLINE_SECONDS="1")
    event = stripe_webhooks.checkout_event("checkout.session.completed", "o-3", "cs_test_503")
    payload, signature = stripe_webhooks.delivery(event, platform.webhook_secret)
    slow = rpc_fault(WEBHOOK, "delay", seconds=2)

    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}", timeout=30) as http,
        faults(platform.running("payment")[0], slow),
    ):
        response = await _post(http, payload, signature)

    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "1"
    assert error_of(response)["code"] == "unavailable"
