"""Stripe's webhooks as anyone could send them: only a recent signature with the endpoint's
secret is believed, and a signed body that is not a Stripe event, however odd, is an invalid
argument (a 400), never an error of another kind (a 5xx)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from devtools import stripe_webhooks
from oms.contracts.v1 import payment_pb2
from oms.payment.domain import PaymentStatus
from oms.payment.grpc_api import PaymentApi
from oms.platform.errors import InvalidArgument, Unauthenticated
from tests.payment.conftest import SECRET, PaymentWorld


@pytest.mark.parametrize("forgery", stripe_webhooks.FORGERIES)
async def test_a_webhook_stripe_did_not_sign_recently_changes_nothing(
    world: PaymentWorld, forgery: str
) -> None:
    placed, payment = await world.opened()
    event = stripe_webhooks.checkout_event(
        "checkout.session.completed",
        placed.order_id,
        payment.checkout_session_id,
        amount_total=placed.total_minor,
        currency="eur",
    )
    payload, header = stripe_webhooks.forged_delivery(event, SECRET, forgery, stale_seconds=3600)

    with pytest.raises(Unauthenticated):
        await world.handlers.apply_webhook(payload, header)

    assert (await world.payment(placed.order_id)).status is PaymentStatus.OPEN
    assert [e.type for e in await world.published()] == ["order.awaiting_payment"]


@pytest.mark.parametrize(
    "body",
    [b"[]", b'[{"id": "evt_1"}]', b'"evt_1"', b"42", b"4.2", b"null", b"true", b"", b"{", b"\xff"],
)
async def test_a_signed_body_that_is_not_a_json_object_is_an_invalid_argument(
    world: PaymentWorld, body: bytes
) -> None:
    with pytest.raises(InvalidArgument):
        await world.handlers.apply_webhook(body, stripe_webhooks.sign(body, SECRET))


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"type": "checkout.session.completed", "data": {"object": {}}},
        {"id": "", "type": "checkout.session.completed", "data": {"object": {}}},
        {"id": 7, "type": "checkout.session.completed", "data": {"object": {}}},
        {"id": "evt_1", "data": {"object": {}}},
        {"id": "evt_1", "type": ["checkout"], "data": {"object": {}}},
        {"id": "evt_1", "type": "checkout.session.completed"},
        {"id": "evt_1", "type": "checkout.session.completed", "data": None},
        {"id": "evt_1", "type": "checkout.session.completed", "data": []},
        {"id": "evt_1", "type": "checkout.session.completed", "data": {}},
        {"id": "evt_1", "type": "checkout.session.completed", "data": {"object": "cs_1"}},
        {"id": "evt_1", "type": "checkout.session.completed", "data": {"object": [1]}},
    ],
)
async def test_a_signed_object_that_is_not_a_stripe_event_is_an_invalid_argument(
    world: PaymentWorld, event: dict[str, Any]
) -> None:
    with pytest.raises(InvalidArgument):
        await world.webhook(event)


# Fields of a Checkout Session, with values no Stripe session has.
ODD_SESSIONS: list[dict[str, Any]] = [
    {"payment_intent": 5},
    {"payment_intent": ["pi_1"]},
    {"payment_intent": {"id": 5}},
    {"payment_intent": {"object": "payment_intent"}},
    {"metadata": ["order"]},
    {"metadata": {"order_id": {"nested": True}}},
    {"client_reference_id": 12},
    {"id": {"session": 1}},
    {"amount_total": True},
    {"amount_total": "1900"},
    {"amount_total": 1900.0},
    {"currency": 978},
    {"payment_status": ["paid"]},
    {"payment_status": {"paid": True}},
]


@pytest.mark.parametrize("odd", ODD_SESSIONS)
async def test_a_signed_event_about_our_session_with_odd_fields_is_answered_or_refused(
    world: PaymentWorld, odd: dict[str, Any]
) -> None:
    placed, payment = await world.opened()
    event = stripe_webhooks.checkout_event(
        "checkout.session.completed",
        placed.order_id,
        payment.checkout_session_id,
        amount_total=placed.total_minor,
        currency="eur",
    )
    event["data"]["object"].update(odd)

    try:
        outcome = await world.webhook(event)
    except InvalidArgument:
        captured = False
    else:
        assert outcome.event_id == event["id"]
        captured = (await world.payment(placed.order_id)).status is PaymentStatus.CAPTURED
    # Money is believed only with exactly the order's amount, as an integer.
    if "amount_total" in odd or "currency" in odd:
        assert not captured


async def test_a_webhook_too_large_to_be_stripes_is_refused_at_the_edge(
    world: PaymentWorld,
) -> None:
    body = orjson.dumps({"id": "evt_1", "padding": "x" * (1 << 20)})
    request = payment_pb2.HandleStripeWebhookRequest(
        payload=body, signature_header=stripe_webhooks.sign(body, SECRET)
    )

    with pytest.raises(InvalidArgument, match="1 MiB"):
        await PaymentApi(world.handlers).HandleStripeWebhook(request, None)
