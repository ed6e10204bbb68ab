"""Rate limits: a token bucket per customer session on order creation, per client address on
new sessions (else a session per order gets around the first) and on webhooks.

A gateway of these tests' own runs with small buckets. Past its burst a client gets 429 with
a reason and `Retry-After`; another client is not held back; once the wait it was told is
over, the client gets through again. The waits are the ones the gateway asks for: the
behaviour under test is time passing, so the tests wait exactly that long.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from devtools import stripe_webhooks
from devtools.platform import LocalPlatform
from tests.gateway.conftest import StartGateway
from tests.gateway.helpers import error_of, new_customer

ORDERS_PER_MINUTE, ORDER_BURST = 12, 2  # a token every 5 s
WEBHOOKS_PER_SECOND, WEBHOOK_BURST = 0.2, 2  # a token every 5 s
SESSIONS_PER_MINUTE, SESSION_BURST = 12, 2  # a token every 5 s (alice and bob fit in 2)
LIMITS = {
    "GATEWAY_ORDER_RATE_PER_MINUTE": str(ORDERS_PER_MINUTE),
    "GATEWAY_ORDER_BURST": str(ORDER_BURST),
    "GATEWAY_WEBHOOK_RATE_PER_SECOND": str(WEBHOOKS_PER_SECOND),
    "GATEWAY_WEBHOOK_BURST": str(WEBHOOK_BURST),
    "GATEWAY_SESSION_RATE_PER_MINUTE": str(SESSIONS_PER_MINUTE),
    "GATEWAY_SESSION_BURST": str(SESSION_BURST),
}


@pytest.fixture
async def limited(start_gateway: StartGateway) -> str:
    process = await start_gateway(**LIMITS)
    return f"http://127.0.0.1:{process.port}"


def _client(base_url: str, local_address: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=local_address)
    return httpx.AsyncClient(base_url=base_url, timeout=30, transport=transport)


def _refused(response: httpx.Response) -> int:
    """The seconds a 429 asks the client to wait, checking its shape."""
    assert response.status_code == 429, response.text
    assert error_of(response)["code"] == "rate_limited"
    assert "try again in" in error_of(response)["message"]
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= 5
    return wait


async def test_orders_past_the_burst_wait_for_the_bucket_to_refill(
    limited: str, stocked_item: str
) -> None:
    async with new_customer(limited) as alice, new_customer(limited) as bob:
        accepted = [await alice.order((stocked_item, 1)) for _ in range(ORDER_BURST)]
        refused = await alice.order((stocked_item, 1))
        other_customer = await bob.order((stocked_item, 1))
        wait = _refused(refused)
        await asyncio.sleep(wait)
        later = await alice.order((stocked_item, 1))
        listed = (await alice.http.get("/api/orders")).json()["orders"]

    assert [response.status_code for response in accepted] == [201] * ORDER_BURST
    assert other_customer.status_code == 201, other_customer.text
    assert later.status_code == 201, later.text
    # The refused request never reached Order: nothing was placed for it.
    assert len(listed) == ORDER_BURST + 1


async def _deliver(client: httpx.AsyncClient, secret: str) -> httpx.Response:
    """A correctly signed event about a checkout OMS never opened (answered 200)."""
    event = stripe_webhooks.checkout_event(
        "checkout.session.completed", "no-such-order", "cs_test_not_ours"
    )
    payload, signature = stripe_webhooks.delivery(event, secret)
    return await client.post(
        "/webhooks/stripe", content=payload, headers={"Stripe-Signature": signature}
    )


async def test_webhooks_past_the_burst_wait_per_address(
    limited: str, platform: LocalPlatform
) -> None:
    secret = platform.webhook_secret
    elsewhere = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with (
        httpx.AsyncClient(base_url=limited, timeout=30) as stripe,
        httpx.AsyncClient(base_url=limited, timeout=30, transport=elsewhere) as other,
    ):
        accepted = [await _deliver(stripe, secret) for _ in range(WEBHOOK_BURST)]
        refused = await _deliver(stripe, secret)
        other_address = await _deliver(other, secret)
        wait = _refused(refused)
        await asyncio.sleep(wait)
        later = await _deliver(stripe, secret)

    assert [response.status_code for response in accepted] == [200] * WEBHOOK_BURST
    assert [response.json()["duplicate"] for response in accepted] == [False] * WEBHOOK_BURST
    assert other_address.status_code == 200, other_address.text
    assert later.status_code == 200, later.text


async def test_new_sessions_past_the_burst_wait_per_address(limited: str) -> None:
    async with _client(limited) as browser, _client(limited, "127.0.0.2") as other:
        accepted = [await browser.post("/api/session") for _ in range(SESSION_BURST)]
        refused = await browser.post("/api/session")
        other_address = await other.post("/api/session")
        wait = _refused(refused)
        await asyncio.sleep(wait)
        later = await browser.post("/api/session")

    assert [response.status_code for response in accepted] == [201] * SESSION_BURST
    assert "set-cookie" not in refused.headers  # no session was issued
    assert other_address.status_code == 201, other_address.text
    assert later.status_code == 201, later.text
