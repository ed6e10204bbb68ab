"""Rate limits: a token bucket per customer session on order creation, per client address on
new sessions (else a session per order gets around the first) and on webhooks.

A gateway of these tests' own runs with small buckets. Past its burst a client gets 429 with
a reason and `Retry-After`; another client is not held back; once the wait it was told is
over, the client gets through again. The waits are the ones the gateway asks for: the
behaviour under test is time passing, so the tests wait exactly that long.

The client address is the TCP peer's, unless that peer is a proxy the gateway is told to
trust (GATEWAY_TRUSTED_PROXIES): then it is the client the proxy names in X-Forwarded-For.
Anyone else's X-Forwarded-For is ignored, so a client cannot forge its way to new buckets.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from devtools import stripe_webhooks
from devtools.platform import LocalPlatform
from oms.gateway.app import GatewaySettings
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
# Documentation addresses (RFC 5737): clients a proxy may name, never these tests' peers.
CLIENT_A, CLIENT_B = "203.0.113.7", "203.0.113.8"


@pytest.fixture
async def limited(start_gateway: StartGateway) -> str:
    """A gateway with small buckets that trusts no proxy (the default)."""
    process = await start_gateway(**LIMITS)
    return f"http://127.0.0.1:{process.port}"


@pytest.fixture
async def behind_a_proxy(start_gateway: StartGateway) -> str:
    """A gateway with small buckets whose proxy is 127.0.0.1 (127.0.0.2 is a client)."""
    process = await start_gateway(**LIMITS, GATEWAY_TRUSTED_PROXIES="127.0.0.1")
    return f"http://127.0.0.1:{process.port}"


def _client(base_url: str, local_address: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=local_address)
    return httpx.AsyncClient(base_url=base_url, timeout=30, transport=transport)


def _for(client: str) -> dict[str, str]:
    return {"X-Forwarded-For": client}


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


async def test_a_forged_forwarded_for_from_an_untrusted_peer_changes_nothing(
    limited: str,
) -> None:
    async with _client(limited) as forger:
        # Each request claims to come from someone new.
        claims = [f"198.51.100.{n}" for n in range(SESSION_BURST + 1)]
        answers = [await forger.post("/api/session", headers=_for(ip)) for ip in claims]

    assert [a.status_code for a in answers[:SESSION_BURST]] == [201] * SESSION_BURST
    _refused(answers[SESSION_BURST])  # still one client: the peer


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_buckets(
    behind_a_proxy: str, platform: LocalPlatform
) -> None:
    secret = platform.webhook_secret
    async with _client(behind_a_proxy) as proxy, _client(behind_a_proxy, "127.0.0.2") as peer:
        sessions_a = [
            await proxy.post("/api/session", headers=_for(CLIENT_A))
            for _ in range(SESSION_BURST + 1)
        ]
        session_b = await proxy.post("/api/session", headers=_for(CLIENT_B))
        # Not the proxy: its claim to be the exhausted client A is ignored.
        not_a_proxy = await peer.post("/api/session", headers=_for(CLIENT_A))
        proxy.headers.update(_for(CLIENT_A))
        webhooks_a = [await _deliver(proxy, secret) for _ in range(WEBHOOK_BURST + 1)]
        proxy.headers.update(_for(CLIENT_B))
        webhook_b = await _deliver(proxy, secret)

    assert [r.status_code for r in sessions_a[:SESSION_BURST]] == [201] * SESSION_BURST
    _refused(sessions_a[SESSION_BURST])
    assert session_b.status_code == 201, session_b.text
    assert not_a_proxy.status_code == 201, not_a_proxy.text
    assert [r.status_code for r in webhooks_a[:WEBHOOK_BURST]] == [200] * WEBHOOK_BURST
    _refused(webhooks_a[WEBHOOK_BURST])
    assert webhook_b.status_code == 200, webhook_b.text


def test_trusted_proxies_are_addresses_or_networks() -> None:
    settings = GatewaySettings(trusted_proxies=" 10.244.0.0/16, 192.168.1.5 ,fd00::1")

    assert settings.trusted_proxy_list == ["10.244.0.0/16", "192.168.1.5", "fd00::1"]
    assert GatewaySettings().trusted_proxy_list == []  # nobody, by default
    with pytest.raises(ValueError, match="'ingress' is not an IP address or network"):
        GatewaySettings(trusted_proxies="10.0.0.1,ingress")
