"""The gateway opens one gRPC channel per service instance for the whole process."""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack

import httpx

from devtools import servers
from devtools.platform import LocalPlatform
from oms.gateway.app import open_gateway
from oms.platform.grpc_server import GrpcServer
from tests.gateway.helpers import ADMIN_TOKEN, customer, eventually, gateway_settings, sign
from tests.gateway.payment_double import PaymentDouble


async def test_many_requests_share_one_channel_per_target(
    consul: servers.Consul,
    platform: LocalPlatform,
    payment: tuple[PaymentDouble, GrpcServer],
) -> None:
    async with AsyncExitStack() as stack:
        # A gateway of its own, so the count starts at zero.
        gateway = await open_gateway(stack, gateway_settings(consul, platform))
        http = await stack.enter_async_context(
            httpx.AsyncClient(
                base_url=gateway.url,
                timeout=30,
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
        )

        async def ready() -> bool:
            return (await http.get("/readyz")).status_code == 200

        await eventually(ready)
        who = customer()
        event = json.dumps({"id": "evt_channels", "type": "checkout.session.expired"}).encode()
        requests = [
            *(http.get("/api/menu") for _ in range(60)),
            *(http.get("/api/admin/stock") for _ in range(30)),
            *(http.get(f"/api/customers/{who}/orders") for _ in range(30)),
            *(http.get("/readyz") for _ in range(10)),
            *(
                http.post(
                    "/webhooks/stripe", content=event, headers={"Stripe-Signature": sign(event)}
                )
                for _ in range(20)
            ),
        ]

        responses = await asyncio.gather(*requests)

        assert {response.status_code for response in responses} == {200}
        # menu, stock, order and payment: one instance each, so one channel each.
        assert gateway.channels.opened == 4
