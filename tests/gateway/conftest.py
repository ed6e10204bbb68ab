"""The gateway under test, in front of real services.

Menu, Stock and Order run as real processes (`python -m oms.<name>`, as their containers do,
through `devtools.platform`) on the real RabbitMQ, FerretDB and Consul, in a vhost, database
and Consul prefix of their own, exporting traces to the real Jaeger. Payment is played by
`payment_double.PaymentDouble` on a real gRPC server registered in the same Consul, so these
tests can make it fail on purpose; the real Payment behind the gateway is covered in
tests/e2e. The gateway itself runs in this process (`open_gateway`: a real uvicorn server on
a free port) so tests can look at its channels; `test_process.py` runs it as a process.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from devtools import servers
from devtools.platform import LocalPlatform
from oms.contracts.v1 import payment_pb2_grpc
from oms.gateway.app import Gateway, open_gateway
from oms.platform.discovery import Discovery, Registration
from oms.platform.grpc_server import GrpcServer
from oms.platform.settings import GrpcSettings
from tests.gateway.helpers import (
    ADMIN_TOKEN,
    WEBHOOK_SECRET,
    consul_settings,
    eventually,
    gateway_settings,
)
from tests.gateway.payment_double import SERVICE_NAME, PaymentDouble


@pytest.fixture(scope="session")
def platform(
    servers_dir: Path,
    rabbitmq: servers.RabbitMQ,
    ferretdb: servers.FerretDB,
    consul: servers.Consul,
    jaeger: servers.Jaeger,
    stripe_mock: servers.StripeMock,
) -> Iterator[LocalPlatform]:
    """Menu, Stock and Order as processes; no Payment, Kitchen or gateway processes."""
    started = LocalPlatform(
        servers_dir / "oms-gateway", rabbitmq, ferretdb, consul, stripe_mock, jaeger=jaeger
    )
    try:
        started.start(("menu", "stock", "order"))
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="session")
async def payment(
    consul: servers.Consul, platform: LocalPlatform
) -> AsyncIterator[tuple[PaymentDouble, GrpcServer]]:
    double = PaymentDouble(WEBHOOK_SECRET)
    server = GrpcServer(GrpcSettings(port=0, shutdown_grace_seconds=1), [SERVICE_NAME])
    payment_pb2_grpc.add_PaymentServiceServicer_to_server(double, server.server)
    await server.start()
    discovery = Discovery(consul_settings(consul, platform))
    registration = Registration.unique("payment", "127.0.0.1", server.port)
    await discovery.register(registration)
    yield double, server
    await discovery.deregister(registration)
    await discovery.close()
    await server.stop()


@pytest.fixture(scope="session")
async def gateway(
    consul: servers.Consul,
    platform: LocalPlatform,
    payment: tuple[PaymentDouble, GrpcServer],
) -> AsyncIterator[Gateway]:
    async with AsyncExitStack() as stack:
        opened = await open_gateway(stack, gateway_settings(consul, platform))
        async with httpx.AsyncClient(base_url=opened.url) as http:

            async def ready() -> bool:
                return (await http.get("/readyz")).status_code == 200

            await eventually(ready, within=30)
        yield opened


@pytest.fixture
async def http(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=15) as client:
        yield client


@pytest.fixture
async def admin(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=gateway.url, timeout=15, headers=headers) as client:
        yield client


@pytest.fixture
async def stocked_item(admin: httpx.AsyncClient) -> str:
    """A menu item of this test's own, 10 on hand, so no other test moves its stock."""
    item_id = f"dish-{uuid.uuid4().hex[:8]}"
    body = {"name": "Test dish", "description": "", "price": 1000, "currency": "EUR"}
    assert (await admin.put(f"/api/admin/menu/items/{item_id}", json=body)).status_code == 200
    response = await admin.put(f"/api/admin/stock/{item_id}", json={"on_hand": 10})
    assert response.status_code == 200, response.text
    return item_id
