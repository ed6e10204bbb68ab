"""The stateful Stripe emulation speaks stripe-mock's shapes for the endpoints Payment calls,
takes the requests Payment's Stripe adapter sends, and remembers what stripe-mock forgets.

Every request here goes to both: the emulation's answers must have stripe-mock's fields (a
subset of them, with the same JSON types) and its errors stripe-mock's envelope.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import stripe

from devtools import servers, stripe_webhooks
from devtools.stripe_emulator import StripeEmulator
from oms.domain_events import PricedLine
from oms.payment.domain import CheckoutRefused
from oms.payment.stripe_gateway import MOCK_API_KEY, StripeCheckout, StripeSettings

Json = dict[str, Any]
AUTH = {"Authorization": f"Bearer {MOCK_API_KEY}"}
SECRET = "whsec_emulator_test"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StripeEmulator]:
    process = StripeEmulator(tmp_path_factory.mktemp("stripe-emulator"))
    process.start()
    yield process
    process.stop()


@pytest.fixture
async def both(
    emulator: StripeEmulator, stripe_mock: servers.StripeMock
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    async with (
        httpx.AsyncClient(base_url=emulator.api_base, headers=AUTH) as ours,
        httpx.AsyncClient(base_url=stripe_mock.api_base, headers=AUTH) as mock,
    ):
        yield ours, mock


def _session_form(order_id: str, expires_in: int = 3600) -> dict[str, str]:
    """A Checkout Session request as stripe-python encodes Payment's (form fields)."""
    return {
        "mode": "payment",
        "client_reference_id": order_id,
        "metadata[order_id]": order_id,
        "expires_at": str(int(time.time()) + expires_in),
        "success_url": f"http://127.0.0.1:8080/orders/{order_id}?t=token&paid=1",
        "cancel_url": f"http://127.0.0.1:8080/orders/{order_id}?t=token",
        "line_items[0][quantity]": "2",
        "line_items[0][price_data][currency]": "eur",
        "line_items[0][price_data][unit_amount]": "950",
        "line_items[0][price_data][product_data][name]": "Margherita",
    }


def _json_type(value: Any) -> str:
    return type(value).__name__


def assert_same_shape(ours: Json, theirs: Json) -> None:
    """Our fields are stripe-mock's fields, each of the same JSON type where both are set."""
    assert ours["object"] == theirs["object"]
    assert set(ours) <= set(theirs), set(ours) - set(theirs)
    for key, value in ours.items():
        if value is not None and theirs[key] is not None:
            assert _json_type(value) == _json_type(theirs[key]), (key, value, theirs[key])


def assert_same_error(ours: httpx.Response, theirs: httpx.Response) -> None:
    assert ours.status_code == theirs.status_code, (ours.text, theirs.text)
    for answer in (ours.json(), theirs.json()):
        assert set(answer) == {"error"}
        assert isinstance(answer["error"]["message"], str)
        assert isinstance(answer["error"]["type"], str)


async def _open(client: httpx.AsyncClient, order_id: str) -> Json:
    created = await client.post("/v1/checkout/sessions", data=_session_form(order_id))
    assert created.status_code == 200, created.text
    session: Json = created.json()
    return session


async def test_creating_reading_and_expiring_a_session_answer_stripe_mocks_shapes(
    both: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    ours, mock = both
    session, fixture = await _open(ours, "o-shapes"), await _open(mock, "o-shapes")
    assert_same_shape(session, fixture)
    assert (session["status"], session["payment_status"]) == ("open", "unpaid")
    assert (session["amount_total"], session["currency"]) == (1900, "eur")
    assert session["metadata"] == {"order_id": "o-shapes"}

    path = f"/v1/checkout/sessions/{session['id']}"
    read, read_fixture = await ours.get(path), await mock.get(path)
    assert read.status_code == read_fixture.status_code == 200
    assert_same_shape(read.json(), read_fixture.json())
    assert read.json()["id"] == session["id"]

    form = {"Content-Type": "application/x-www-form-urlencoded"}  # as stripe-python sends it
    expired = await ours.post(f"{path}/expire", headers=form)
    expired_fixture = await mock.post(f"{path}/expire", headers=form)
    assert expired.status_code == expired_fixture.status_code == 200
    assert_same_shape(expired.json(), expired_fixture.json())
    assert expired.json()["status"] == "expired"


async def test_a_refund_answers_stripe_mocks_shape(
    both: tuple[httpx.AsyncClient, httpx.AsyncClient], emulator: StripeEmulator
) -> None:
    ours, mock = both
    session = await _open(ours, "o-refund")
    event = (await emulator.complete(session["id"])).json()
    intent = event["data"]["object"]["payment_intent"]
    form = {"payment_intent": intent, "metadata[order_id]": "o-refund"}

    refund, fixture = (
        await ours.post("/v1/refunds", data=form),
        await mock.post("/v1/refunds", data=form),
    )

    assert refund.status_code == fixture.status_code == 200
    assert_same_shape(refund.json(), fixture.json())
    assert (refund.json()["amount"], refund.json()["status"]) == (1900, "succeeded")


async def test_requests_both_refuse_get_stripes_error_envelope(
    both: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    ours, mock = both
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/v1/checkout/sessions", {"headers": {"Authorization": ""}}),
        ("POST", "/v1/refunds", {"content": b"payment_intent=pi_1"}),  # no form content type
    ]
    for method, path, kwargs in cases:
        assert_same_error(
            await ours.request(method, path, **kwargs), await mock.request(method, path, **kwargs)
        )


async def test_payments_stripe_adapter_works_against_both(
    emulator: StripeEmulator, stripe_mock: servers.StripeMock
) -> None:
    expires = datetime.now(UTC) + timedelta(hours=1)
    lines = [PricedLine(item_id="margherita", name="Margherita", quantity=2, unit_price_minor=950)]
    for base, remembers in ((stripe_mock.api_base, False), (emulator.api_base, True)):
        adapter = StripeCheckout(StripeSettings(api_base=base))
        try:
            session = await adapter.create_session("o-adapter", "EUR", lines, expires, "t" * 16)
            read = await adapter.retrieve_session(session.id)
            expired = await adapter.expire_session(session.id)
        finally:
            await adapter.close()
        assert session.id.startswith("cs_")
        if remembers:  # stripe-mock answers from fixtures, with ids of their own
            assert (read.id, expired.id, expired.status) == (session.id, session.id, "expired")


async def test_it_remembers_what_stripe_mock_forgets(emulator: StripeEmulator) -> None:
    adapter = StripeCheckout(StripeSettings(api_base=emulator.api_base))
    expires = datetime.now(UTC) + timedelta(hours=1)
    lines = [PricedLine(item_id="margherita", name="Margherita", quantity=1, unit_price_minor=950)]
    try:
        session = await adapter.create_session("o-memory", "EUR", lines, expires, "t" * 16)
        again = await adapter.create_session("o-memory", "EUR", lines, expires, "t" * 16)
        assert again.id == session.id, "one idempotency key, one session"
        with pytest.raises(CheckoutRefused, match="same parameters"):
            await adapter.create_session(
                "o-memory", "EUR", lines, expires + timedelta(minutes=5), "t" * 16
            )
        soon = datetime.now(UTC) + timedelta(minutes=29)
        with pytest.raises(CheckoutRefused, match="30 minutes"):
            await adapter.create_session("o-too-soon", "EUR", lines, soon, "t" * 16)
        with pytest.raises(stripe.InvalidRequestError):
            await adapter.refund("pi_never_paid", "o-memory")

        completed = await emulator.complete(session.id)
        assert completed.status_code == 200
        # Paid: it can no longer be expired, and the adapter reads back why.
        closed = await adapter.expire_session(session.id)
        assert (closed.status, closed.payment_status) == ("complete", "paid")
        assert (await emulator.complete(session.id)).status_code == 409
        refund = await adapter.refund(closed.payment_intent, "o-memory")
        assert await adapter.refund(closed.payment_intent, "o-memory") == refund
        ledger = {s["id"]: s for s in await emulator.ledger()}
        assert (ledger[session.id]["amount_total"], ledger[session.id]["refunded"]) == (950, 950)
    finally:
        await adapter.close()


async def test_its_events_are_stripe_events_payment_verifies(emulator: StripeEmulator) -> None:
    adapter = StripeCheckout(StripeSettings(api_base=emulator.api_base, webhook_secret=SECRET))
    expires = datetime.now(UTC) + timedelta(hours=1)
    try:
        session = await adapter.create_session(
            "o-event",
            "EUR",
            [PricedLine(item_id="tiramisu", name="Tiramisu", quantity=1, unit_price_minor=650)],
            expires,
            "t" * 16,
        )
    finally:
        await adapter.close()
    event = (await emulator.complete(session.id, paid=False)).json()
    settled = (await emulator.settle(session.id)).json()
    reference = stripe_webhooks.checkout_event("checkout.session.completed", "o-event", session.id)

    for sent in (event, settled):
        assert set(reference) <= set(sent)
        verified = adapter.verify(*stripe_webhooks.delivery(sent, SECRET))
        assert verified.object["id"] == session.id
        assert verified.object["metadata"] == {"order_id": "o-event"}
    assert (event["type"], event["data"]["object"]["payment_status"]) == (
        "checkout.session.completed",
        "unpaid",
    )
    assert settled["type"] == "checkout.session.async_payment_succeeded"
    assert settled["data"]["object"]["amount_total"] == 650
