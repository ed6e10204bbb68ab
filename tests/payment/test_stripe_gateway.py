"""The Stripe adapter against stripe-mock (Stripe's API schema, served locally): every call
Payment makes is one Stripe accepts, and webhook signatures are Stripe's scheme."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import stripe

from devtools import servers, stripe_webhooks
from devtools.process import free_port
from oms.domain_events import PricedLine
from oms.payment.stripe_gateway import StripeCheckout, StripeSettings
from oms.platform.errors import InvalidArgument, Unauthenticated, Unavailable

SECRET = "whsec_adapter_tests"
LINES = [
    PricedLine(item_id="margherita", name="Margherita", quantity=2, unit_price_minor=950),
    PricedLine(item_id="tiramisu", name="Tiramisu", quantity=1, unit_price_minor=600),
]


@pytest.fixture
async def checkout(stripe_mock: servers.StripeMock) -> AsyncIterator[StripeCheckout]:
    adapter = StripeCheckout(StripeSettings(api_base=stripe_mock.api_base, webhook_secret=SECRET))
    yield adapter
    await adapter.close()


async def test_a_checkout_session_is_created_with_the_expiry_it_was_given(
    checkout: StripeCheckout,
) -> None:
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)

    session = await checkout.create_session("order-123", "EUR", LINES, expires_at, "t" * 32)

    assert session.id.startswith("cs_")
    assert session.url.startswith("https://")
    assert session.expires_at == expires_at  # stripe-mock echoes what it was sent
    assert (session.status, session.payment_status) == ("open", "unpaid")


async def test_a_session_is_read_back_and_expired_through_stripes_schema(
    checkout: StripeCheckout,
) -> None:
    expires_at = datetime.now(UTC) + timedelta(hours=1)
    created = await checkout.create_session("order-124", "EUR", LINES, expires_at, "t" * 32)

    read = await checkout.retrieve_session(created.id)
    expired = await checkout.expire_session(created.id)

    assert read.id == created.id
    assert read.expires_at.tzinfo is not None
    assert expired.id.startswith("cs_")  # stripe-mock keeps no state: its status is not ours


async def test_a_refund_is_created_for_a_payment_intent(checkout: StripeCheckout) -> None:
    refund_id = await checkout.refund("pi_123", "order-125")

    assert refund_id.startswith("re_")


async def test_a_key_stripe_does_not_accept_is_an_error_to_retry_not_a_refusal(
    stripe_mock: servers.StripeMock,
) -> None:
    # A configuration fault, not the order's: it must not expire the order (CheckoutRefused).
    adapter = StripeCheckout(StripeSettings(api_base=stripe_mock.api_base, api_key="not-a-key"))
    try:
        with pytest.raises(stripe.AuthenticationError):
            await adapter.create_session(
                "order-126", "EUR", LINES, datetime.now(UTC) + timedelta(hours=1), "t" * 32
            )
    finally:
        await adapter.close()


async def test_stripe_out_of_reach_is_unavailable_for_every_call() -> None:
    # Payment's callers (Order closing a checkout) may retry an outage; not a refusal.
    unreachable = StripeSettings(api_base=f"http://127.0.0.1:{free_port()}", max_network_retries=0)
    adapter = StripeCheckout(unreachable)
    expires_at = datetime.now(UTC) + timedelta(hours=1)
    try:
        with pytest.raises(Unavailable):
            await adapter.create_session("order-127", "EUR", LINES, expires_at, "t" * 32)
        with pytest.raises(Unavailable):
            await adapter.expire_session("cs_test_1")
        with pytest.raises(Unavailable):
            await adapter.retrieve_session("cs_test_1")
        with pytest.raises(Unavailable):
            await adapter.refund("pi_1", "order-127")
    finally:
        await adapter.close()


def test_a_webhook_signed_as_stripe_documents_is_verified(checkout: StripeCheckout) -> None:
    event = stripe_webhooks.checkout_event("checkout.session.completed", "order-1", "cs_1")
    payload, header = stripe_webhooks.delivery(event, SECRET)

    verified = checkout.verify(payload, header)

    assert (verified.id, verified.type) == (event["id"], "checkout.session.completed")
    assert verified.object["id"] == "cs_1"


def test_our_own_signature_is_the_one_stripe_would_send(checkout: StripeCheckout) -> None:
    payload, at = b'{"id": "evt_1"}', int(time.time())

    assert checkout.sign(payload, at) == stripe_webhooks.sign(payload, SECRET, at)


@pytest.mark.parametrize("forgery", stripe_webhooks.FORGERIES)
def test_a_webhook_stripe_did_not_sign_recently_is_unauthenticated(
    checkout: StripeCheckout, forgery: str
) -> None:
    event = stripe_webhooks.checkout_event("checkout.session.completed", "order-1", "cs_1")
    payload, header = stripe_webhooks.forged_delivery(event, SECRET, forgery, stale_seconds=301)

    with pytest.raises(Unauthenticated):
        checkout.verify(payload, header)


def test_a_signed_body_that_is_not_utf8_json_is_an_invalid_argument(
    checkout: StripeCheckout,
) -> None:
    for payload in (b"\xff\xfe{}", b"not json"):
        with pytest.raises(InvalidArgument):
            checkout.verify(payload, stripe_webhooks.sign(payload, SECRET))


def test_stripe_mock_serves_the_placeholder_key_and_stripe_a_real_one() -> None:
    assert StripeSettings().base_url == "http://127.0.0.1:12111"
    assert StripeSettings(mock_url="http://stripe-mock:12111").base_url == (
        "http://stripe-mock:12111"
    )
    assert StripeSettings(api_key="sk_test_realkey").base_url == "https://api.stripe.com"
    assert StripeSettings(api_key="sk_test_realkey", api_base="http://x").base_url == "http://x"
