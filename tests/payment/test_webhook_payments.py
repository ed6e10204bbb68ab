"""What Stripe's verified webhooks do to a payment: money is captured once, for exactly the
order's amount, however often and however concurrently Stripe delivers it; an expired or
failed checkout is reported failed; money arriving after a close is still reported."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from devtools import stripe_webhooks
from oms import domain_events as events
from oms.payment.domain import PaymentStatus
from oms.platform.errors import InvalidArgument
from tests.order.bus import payloads
from tests.payment.conftest import PaymentWorld

AWAITING = ["order.awaiting_payment"]


async def test_a_paid_checkout_is_captured_and_reported_once(world: PaymentWorld) -> None:
    placed, payment = await world.opened()
    event = world.paid_event(placed, payment, payment_intent="pi_test_1")

    first = await world.webhook(event)
    repeat = await world.webhook(event)

    assert (first.duplicate, repeat.duplicate) == (False, True)
    assert (first.event_id, first.event_type) == (event["id"], "checkout.session.completed")
    captured = await world.payment(placed.order_id)
    assert (captured.status, captured.payment_intent) == (PaymentStatus.CAPTURED, "pi_test_1")
    assert captured.stripe_events == (event["id"],)
    published = await world.published()
    (reported,) = payloads(published, events.PaymentCaptured)
    assert (reported.order_id, reported.checkout_session_id) == (
        placed.order_id,
        payment.checkout_session_id,
    )
    assert (reported.amount_minor, reported.currency) == (placed.total_minor, "EUR")


async def test_twenty_concurrent_deliveries_are_applied_once(world: PaymentWorld) -> None:
    placed, payment = await world.opened()
    event = world.paid_event(placed, payment)

    outcomes = await asyncio.gather(*(world.webhook(event) for _ in range(20)))

    assert sorted(outcome.duplicate for outcome in outcomes) == [False] + [True] * 19
    assert len(payloads(await world.published(), events.PaymentCaptured)) == 1


@pytest.mark.parametrize(
    "session",
    [
        {"amount_total": None},
        {"currency": None},
        {"amount_total": 1},
        {"amount_total": 1899},
        {"currency": "usd"},
    ],
)
async def test_a_payment_that_does_not_say_or_match_the_orders_amount_is_refused(
    world: PaymentWorld, session: dict[str, Any]
) -> None:
    placed, payment = await world.opened()
    event = world.paid_event(placed, payment)
    for name, value in session.items():
        if value is None:
            del event["data"]["object"][name]
        else:
            event["data"]["object"][name] = value

    with pytest.raises(InvalidArgument):
        await world.webhook(event)

    assert (await world.payment(placed.order_id)).status is PaymentStatus.OPEN
    assert [e.type for e in await world.published()] == AWAITING


async def test_a_json_boolean_is_not_an_amount(world: PaymentWorld) -> None:
    placed, payment = await world.opened(unit_minor=0)  # a free order: 0 to pay
    event = world.paid_event(placed, payment, amount_total=False)  # and False == 0

    with pytest.raises(InvalidArgument):
        await world.webhook(event)

    assert (await world.payment(placed.order_id)).status is PaymentStatus.OPEN


@pytest.mark.parametrize(
    "stripe_event", ["checkout.session.expired", "checkout.session.async_payment_failed"]
)
async def test_a_checkout_that_expired_or_failed_is_reported_failed(
    world: PaymentWorld, stripe_event: str
) -> None:
    placed, payment = await world.opened()
    event = stripe_webhooks.checkout_event(
        stripe_event, placed.order_id, payment.checkout_session_id, payment_status="unpaid"
    )

    outcome = await world.webhook(event)
    again = await world.webhook(event)

    assert (outcome.duplicate, again.duplicate) == (False, True)
    assert (await world.payment(placed.order_id)).status is PaymentStatus.FAILED
    (failed,) = payloads(await world.published(), events.PaymentFailed)
    assert (failed.order_id, failed.reason) == (placed.order_id, f"Stripe: {stripe_event}")


async def test_money_captured_after_the_checkout_was_closed_is_still_reported(
    world: PaymentWorld,
) -> None:
    placed, payment = await world.opened()
    await world.handlers.close_checkout(placed.order_id)

    outcome = await world.webhook(world.paid_event(placed, payment))

    assert outcome.duplicate is False
    assert (await world.payment(placed.order_id)).status is PaymentStatus.CAPTURED
    assert len(payloads(await world.published(), events.PaymentCaptured)) == 1


async def test_stripes_own_expiry_after_we_closed_the_checkout_changes_nothing(
    world: PaymentWorld,
) -> None:
    placed, payment = await world.opened()
    await world.handlers.close_checkout(placed.order_id)
    event = stripe_webhooks.checkout_event(
        "checkout.session.expired", placed.order_id, payment.checkout_session_id
    )

    assert (await world.webhook(event)).duplicate is False
    assert (await world.webhook(event)).duplicate is True
    assert (await world.payment(placed.order_id)).status is PaymentStatus.CLOSED
    assert [e.type for e in await world.published()] == AWAITING


async def test_a_delayed_payment_is_captured_when_it_succeeds_not_when_completed(
    world: PaymentWorld,
) -> None:
    placed, payment = await world.opened()
    completed = world.paid_event(placed, payment, payment_status="unpaid")
    succeeded = world.paid_event(placed, payment)
    succeeded["type"] = "checkout.session.async_payment_succeeded"

    await world.webhook(completed)
    assert (await world.payment(placed.order_id)).status is PaymentStatus.OPEN
    await world.webhook(succeeded)

    assert (await world.payment(placed.order_id)).status is PaymentStatus.CAPTURED
    assert len(payloads(await world.published(), events.PaymentCaptured)) == 1


async def test_an_event_about_a_session_oms_did_not_open_is_answered_and_remembered(
    world: PaymentWorld,
) -> None:
    placed, _ = await world.opened()
    for order_id, session in [("not-ours", "cs_other"), (placed.order_id, "cs_other")]:
        event = stripe_webhooks.checkout_event("checkout.session.completed", order_id, session)

        assert (await world.webhook(event)).duplicate is False
        assert (await world.webhook(event)).duplicate is True

    assert (await world.payment(placed.order_id)).status is PaymentStatus.OPEN
    assert await world.repository.payments.count_documents({}) == 1
    assert [e.type for e in await world.published()] == AWAITING
