"""Stripe's webhook through the gateway, and how Payment's gRPC failures reach the client.

Payment is the in-test double (`payment_double`) on a real gRPC server found through the real
Consul: it verifies signatures with stripe-python as the real service will, and fails on
purpose for the `test.*` event types.
"""

from __future__ import annotations

import json

import httpx

from oms.platform.grpc_server import GrpcServer
from tests.gateway.helpers import error_of, sign
from tests.gateway.payment_double import CRASH, SECRET_DETAIL, SLOW, PaymentDouble


def _event(event_type: str, event_id: str) -> bytes:
    # Odd spacing, key order and non-ASCII on purpose: the signature covers these exact bytes.
    body = {"type": event_type, "id": event_id, "data": {"object": {"note": "café  ☕"}}}
    return json.dumps(body, indent=3, ensure_ascii=False).encode() + b"\n\n"


async def test_the_webhook_forwards_the_exact_bytes_and_reports_duplicates(
    http: httpx.AsyncClient, payment: tuple[PaymentDouble, GrpcServer]
) -> None:
    double, _ = payment
    payload = _event("checkout.session.completed", "evt_forwarded")
    signature = sign(payload)

    first = await http.post(
        "/webhooks/stripe",
        content=payload,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )
    again = await http.post(
        "/webhooks/stripe", content=payload, headers={"Stripe-Signature": signature}
    )

    assert first.status_code == 200, first.text
    assert first.json() == {"received": True, "duplicate": False}
    assert again.status_code == 200
    assert again.json() == {"received": True, "duplicate": True}
    assert double.received[-1] == (payload, signature)


async def test_a_failing_service_is_a_502_that_keeps_its_details_to_itself(
    http: httpx.AsyncClient,
) -> None:
    payload = _event(CRASH, "evt_crash")

    response = await http.post(
        "/webhooks/stripe", content=payload, headers={"Stripe-Signature": sign(payload)}
    )

    assert response.status_code == 502
    assert error_of(response)["code"] == "upstream_error"
    assert SECRET_DETAIL not in response.text
    assert "Traceback" not in response.text


async def test_a_service_past_the_deadline_is_a_503_to_retry(
    http: httpx.AsyncClient, payment: tuple[PaymentDouble, GrpcServer]
) -> None:
    double, _ = payment
    double.slow_seconds = 3.0  # the gateway under test gives each call 2 seconds
    payload = _event(SLOW, "evt_slow")
    try:
        response = await http.post(
            "/webhooks/stripe", content=payload, headers={"Stripe-Signature": sign(payload)}
        )
    finally:
        double.slow_seconds = 1.0

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert error_of(response)["code"] == "unavailable"
