"""The gateway keeps one gRPC connection per service instance for the whole process.

Seen from the outside, as the kernel sees it: after many concurrent requests of every kind,
the gateway process holds exactly one established TCP connection to each instance it calls.
"""

from __future__ import annotations

import asyncio

import httpx

from devtools import stripe_webhooks
from devtools.platform import LocalPlatform
from tests.gateway.helpers import Customer, established_to


async def test_many_requests_share_one_connection_per_instance(
    platform: LocalPlatform, admin: httpx.AsyncClient, alice: Customer
) -> None:
    event = stripe_webhooks.checkout_event("checkout.session.expired", "o-4", "cs_test_channels")
    payload, signature = stripe_webhooks.delivery(event, platform.webhook_secret)
    requests = [
        *(admin.get("/api/menu") for _ in range(40)),
        *(admin.get("/api/admin/stock") for _ in range(30)),
        *(alice.http.get("/api/orders") for _ in range(30)),
        *(admin.get("/readyz") for _ in range(10)),
        *(
            admin.post("/webhooks/stripe", content=payload, headers={"Stripe-Signature": signature})
            for _ in range(20)
        ),
    ]

    responses = await asyncio.gather(*requests)

    assert {response.status_code for response in responses} == {200}
    (gateway,) = [p for p in platform.running("gateway") if p.port == platform.gateway_port]
    assert gateway.process is not None
    instances = {
        p.port: p.service
        for name in ("menu", "stock", "order", "payment")
        for p in platform.running(name)
    }
    connections = established_to(gateway.process.pid, instances)
    assert connections == dict.fromkeys(instances, 1), {
        instances[port]: count for port, count in connections.items()
    }
