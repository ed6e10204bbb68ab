"""The gateway under test, in front of the real services.

Menu, Stock, Order, Payment, Kitchen and the gateway run as processes (`python -m
oms.<name>`, as their containers do, through `devtools.platform`) on the real RabbitMQ,
FerretDB, Consul, stripe-mock and Jaeger, in a vhost, database and Consul prefix of their
own. Tests that need a gateway configured differently (low rate limits, a short deadline)
start one more of their own on the same platform; a test that stops or adds a service's
process runs on a platform of its own (`own_platform`), with only the services it needs, so
the shared one stays as every other test expects it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from devtools import servers
from devtools.platform import LocalPlatform, ServiceProcess
from tests.gateway.helpers import Customer, eventually, new_customer, order_sees

StartGateway = Callable[..., Awaitable[ServiceProcess]]
OwnPlatform = Callable[..., Awaitable[LocalPlatform]]


@pytest.fixture(scope="session")
def platform(
    servers_dir: Path,
    rabbitmq: servers.RabbitMQ,
    ferretdb: servers.FerretDB,
    consul: servers.Consul,
    jaeger: servers.Jaeger,
    stripe_mock: servers.StripeMock,
) -> Iterator[LocalPlatform]:
    """Every service as a process, the gateway last; ready once it finds all of them."""
    started = LocalPlatform(
        servers_dir / "oms-gateway", rabbitmq, ferretdb, consul, stripe_mock, jaeger=jaeger
    )
    try:
        started.start()
        yield started
    finally:
        started.stop()


@pytest.fixture
async def own_platform(
    servers_dir: Path,
    rabbitmq: servers.RabbitMQ,
    ferretdb: servers.FerretDB,
    consul: servers.Consul,
    stripe_mock: servers.StripeMock,
) -> AsyncIterator[OwnPlatform]:
    """Start a platform of the test's own (a vhost, database and Consul prefix nobody else
    sees) running only the given services, the gateway last; stopped after the test."""
    started: list[LocalPlatform] = []

    async def start(*services: str) -> LocalPlatform:
        name = f"oms-gateway-own-{uuid.uuid4().hex[:6]}"
        own = LocalPlatform(servers_dir / name, rabbitmq, ferretdb, consul, stripe_mock)
        started.append(own)
        # In a thread: starting polls each process until it answers.
        await asyncio.to_thread(own.start, services)
        return own

    yield start
    for own in started:
        await asyncio.to_thread(own.stop)


@pytest.fixture(scope="session")
async def gateway_url(platform: LocalPlatform) -> str:
    async with httpx.AsyncClient(base_url=platform.gateway_url) as http:

        async def ready() -> bool:
            return (await http.get("/readyz")).status_code == 200

        await eventually(ready, within=60)
    return platform.gateway_url


@pytest.fixture
async def http(gateway_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client with no session and no staff credentials."""
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        yield client


@pytest.fixture
async def admin(gateway_url: str, platform: LocalPlatform) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {platform.admin_token}"}
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30, headers=headers) as client:
        yield client


@pytest.fixture
async def alice(gateway_url: str) -> AsyncIterator[Customer]:
    """A customer with a session of her own (its bearer token on every request)."""
    async with new_customer(gateway_url) as customer:
        yield customer


@pytest.fixture
async def bob(gateway_url: str) -> AsyncIterator[Customer]:
    """Another customer, who must never see alice's orders."""
    async with new_customer(gateway_url) as customer:
        yield customer


@pytest.fixture
async def stocked_item(admin: httpx.AsyncClient, gateway_url: str) -> str:
    """A menu item of this test's own, 10 on hand, so no other test moves its stock."""
    item_id = f"dish-{uuid.uuid4().hex[:8]}"
    body = {"name": "Test dish", "description": "", "price": 1000, "currency": "EUR"}
    created = await admin.put(f"/api/admin/menu/items/{item_id}", json=body)
    assert created.status_code == 200, created.text
    response = await admin.put(f"/api/admin/stock/{item_id}", json={"on_hand": 10})
    assert response.status_code == 200, response.text
    async with new_customer(gateway_url) as someone:
        await order_sees(someone, item_id)
    return item_id


@pytest.fixture
async def start_gateway(platform: LocalPlatform) -> AsyncIterator[StartGateway]:
    """Start one more gateway process, with settings of the test's own; ready when returned."""
    started: list[ServiceProcess] = []

    async def start(**env: str) -> ServiceProcess:
        # In a thread: starting polls the process until it answers.
        process = await asyncio.to_thread(platform.start_service, "gateway", **env)
        started.append(process)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{process.port}") as http:

            async def ready() -> bool:
                return (await http.get("/readyz")).status_code == 200

            await eventually(ready, within=60)
        return process

    yield start
    for process in started:
        await asyncio.to_thread(process.stop)
