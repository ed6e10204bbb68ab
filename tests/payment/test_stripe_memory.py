"""Payment against a Stripe that remembers (`stateful_stripe`, in front of stripe-mock): a
retried checkout is the same request under the same key, Stripe's refusals fail the payment
with the reason, a session paid before it could be closed is reported, refunds happen once.
The first tests check the emulation's shapes against stripe-mock itself."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from devtools import servers
from oms import domain_events as events
from oms.order.domain import Status
from oms.payment.domain import PaymentStatus
from oms.payment.handlers import CloseOutcome
from oms.payment.stripe_gateway import MOCK_API_KEY
from tests.order.bus import payloads
from tests.payment.conftest import PaymentWorld
from tests.payment.stateful_stripe import StatefulStripe

AUTH = {"Authorization": f"Bearer {MOCK_API_KEY}"}
SESSION = {
    "mode": "payment",
    "success_url": "https://example.com/ok",
    "line_items[0][quantity]": "2",
    "line_items[0][price_data][currency]": "eur",
    "line_items[0][price_data][unit_amount]": "950",
    "line_items[0][price_data][product_data][name]": "Margherita",
}


async def _post(base: str, path: str, form: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base, headers=AUTH) as http:
        return await http.post(path, data=form)


async def test_the_emulations_sessions_have_stripe_mocks_fields_and_types(
    stripe_mock: servers.StripeMock, stateful_stripe: StatefulStripe
) -> None:
    mocked = await _post(stripe_mock.api_base, "/v1/checkout/sessions", SESSION)
    emulated = await _post(stateful_stripe.api_base, "/v1/checkout/sessions", SESSION)

    assert (mocked.status_code, emulated.status_code) == (200, 200)
    mine, theirs = emulated.json(), mocked.json()
    assert set(mine) == set(theirs)
    for name, value in mine.items():
        assert value is None or theirs[name] is None or type(value) is type(theirs[name]), name
    assert stateful_stripe.violations == []


async def test_the_emulations_errors_have_stripe_mocks_shape(
    stripe_mock: servers.StripeMock, stateful_stripe: StatefulStripe
) -> None:
    bad = {**SESSION, "mode": "not-a-mode"}
    mocked = await _post(stripe_mock.api_base, "/v1/checkout/sessions", bad)
    forwarded = await _post(stateful_stripe.api_base, "/v1/checkout/sessions", bad)
    too_soon = await _post(
        stateful_stripe.api_base, "/v1/checkout/sessions", {**SESSION, "expires_at": "1"}
    )

    # A request stripe-mock's schema refuses is refused as stripe-mock refuses it.
    assert (mocked.status_code, forwarded.status_code) == (400, 400)
    assert forwarded.json() == mocked.json()
    # The errors the emulation adds have the same envelope and type.
    assert too_soon.status_code == 400
    assert set(mocked.json()["error"]) <= set(too_soon.json()["error"])
    assert too_soon.json()["error"]["type"] == mocked.json()["error"]["type"]


async def test_a_retried_checkout_is_the_same_request_under_the_same_key(
    remembering_world: PaymentWorld, stateful_stripe: StatefulStripe
) -> None:
    world = remembering_world
    placed = await world.placed()
    await world.handlers.open_checkout(placed)
    first = await world.payment(placed.order_id)
    # As if that attempt had died right after Stripe answered: nothing of it was stored.
    await world.repository.payments.delete_one({"_id": placed.order_id})
    await world.orders.orders.update_one(
        {"_id": placed.order_id}, {"$set": {"state.status": "pending"}}
    )

    await world.handlers.open_checkout(placed)

    one, two = stateful_stripe.created()
    assert one.params == two.params
    assert one.idempotency_key == two.idempotency_key == f"checkout-session-{placed.order_id}"
    assert one.params["expires_at"] == str(int(placed.checkout_expires_at.timestamp()))
    assert placed.access_token in one.params["success_url"]
    assert placed.order_id in one.params["cancel_url"]
    again = await world.payment(placed.order_id)
    assert again.checkout_session_id == first.checkout_session_id  # Stripe's first answer


@pytest.mark.parametrize("expires_in", [600, 1800])
async def test_a_checkout_stripe_refuses_fails_the_payment_with_stripes_reason(
    remembering_world: PaymentWorld, expires_in: int
) -> None:
    world = remembering_world
    # 1800: the old default window, counted from placement: Stripe creates the session later.
    placed = await world.placed(expires_in=expires_in)

    await world.handlers.open_checkout(placed)

    payment = await world.payment(placed.order_id)
    assert payment.status is PaymentStatus.FAILED
    assert "expires_at" in payment.reason
    (failed,) = payloads(await world.published(), events.PaymentFailed)
    assert (failed.order_id, failed.reason) == (placed.order_id, payment.reason)
    order = await world.orders.get(placed.order_id)
    assert order is not None
    assert order.status is Status.PENDING  # Order expires it when it hears


async def test_a_key_stripe_saw_with_other_terms_fails_the_payment_on_purpose(
    remembering_world: PaymentWorld,
) -> None:
    world = remembering_world
    placed = await world.placed()
    other_terms = placed.model_copy(update={"total_minor": 1, "lines": placed.lines[:1]})
    lines = [line.model_copy(update={"unit_price_minor": 1}) for line in other_terms.lines]
    await world.handlers.open_checkout(other_terms.model_copy(update={"lines": lines}))
    await world.repository.payments.delete_one({"_id": placed.order_id})

    await world.handlers.open_checkout(placed)

    payment = await world.payment(placed.order_id)
    assert payment.status is PaymentStatus.FAILED
    assert "same parameters" in payment.reason


async def test_a_session_found_paid_when_closing_is_reported_and_already_paid(
    remembering_world: PaymentWorld, stateful_stripe: StatefulStripe
) -> None:
    world = remembering_world
    placed, payment = await world.opened()
    intent = stateful_stripe.complete(payment.checkout_session_id)  # paid as Order cancels

    outcome = await world.handlers.close_checkout(placed.order_id)

    assert outcome is CloseOutcome.ALREADY_PAID
    captured = await world.payment(placed.order_id)
    assert (captured.status, captured.payment_intent) == (PaymentStatus.CAPTURED, intent)
    (reported,) = payloads(await world.published(), events.PaymentCaptured)
    assert (reported.order_id, reported.amount_minor) == (placed.order_id, placed.total_minor)


async def test_a_refund_asked_twice_at_once_is_one_refund_recorded_once(
    remembering_world: PaymentWorld, stateful_stripe: StatefulStripe
) -> None:
    world = remembering_world
    placed, payment = await world.opened()
    intent = stateful_stripe.complete(payment.checkout_session_id)
    await world.webhook(world.paid_event(placed, payment, payment_intent=intent))

    await asyncio.gather(
        world.handlers.refund(placed.order_id), world.handlers.refund(placed.order_id)
    )

    refunds = stateful_stripe.created("/v1/refunds")
    assert {r.idempotency_key for r in refunds} == {f"refund-{placed.order_id}"}
    assert {r.params["payment_intent"] for r in refunds} == {intent}
    refunded = await world.payment(placed.order_id)
    assert refunded.status is PaymentStatus.REFUNDED
    (reported,) = payloads(await world.published(), events.PaymentRefunded)
    assert (reported.refund_id, reported.amount_minor) == (refunded.refund_id, placed.total_minor)


async def test_a_refund_reads_the_payment_intent_from_stripe_when_it_was_not_sent(
    remembering_world: PaymentWorld, stateful_stripe: StatefulStripe
) -> None:
    world = remembering_world
    placed, payment = await world.opened()
    intent = stateful_stripe.complete(payment.checkout_session_id)
    event: dict[str, Any] = world.paid_event(placed, payment)
    del event["data"]["object"]["payment_intent"]
    await world.webhook(event)

    await world.handlers.refund(placed.order_id)

    (refund,) = stateful_stripe.created("/v1/refunds")
    assert refund.params["payment_intent"] == intent
    assert (await world.payment(placed.order_id)).refund_id.startswith("re_")


@pytest.mark.parametrize("how", ["order ended meanwhile", "closed before it opened"])
async def test_a_session_nobody_may_pay_is_expired_at_stripe(
    remembering_world: PaymentWorld, stateful_stripe: StatefulStripe, how: str
) -> None:
    world = remembering_world
    if how == "order ended meanwhile":
        placed = await world.placed(Status.CANCELLED)
    else:
        placed = await world.placed()
        await world.handlers.close_checkout(placed.order_id)

    await world.handlers.open_checkout(placed)

    (session,) = stateful_stripe.sessions.values()
    assert session["metadata"] == {"order_id": placed.order_id}
    assert session["status"] == "expired"
    assert (await world.payment(placed.order_id)).status is PaymentStatus.CLOSED
