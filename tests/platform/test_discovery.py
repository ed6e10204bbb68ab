"""Consul: registration with a gRPC or HTTP health check, resolution of healthy instances."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from devtools import servers
from devtools.process import free_port
from oms.platform.discovery import Discovery, Registration
from oms.platform.grpc_server import GrpcServer
from oms.platform.settings import ConsulSettings, GrpcSettings


@pytest.fixture
async def discovery(consul: servers.Consul) -> AsyncIterator[Discovery]:
    # Checks every 500ms and no caching, so state changes show within the test's patience.
    client = Discovery(
        ConsulSettings(http_addr=consul.http_address, check_interval="500ms", cache_ttl_seconds=0)
    )
    yield client
    await client.close()


async def _eventually(condition: Callable[[], Awaitable[bool]], within: float = 15) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"condition not met within {within}s")


async def _check_status(discovery: Discovery, name: str) -> str | None:
    _, checks = await discovery.client.health.checks(name)
    return str(checks[0]["Status"]) if checks else None


async def test_a_registered_service_is_resolved_healthy_then_critical_then_gone(
    discovery: Discovery,
) -> None:
    name = f"svc-{uuid.uuid4().hex[:8]}"
    server = GrpcServer(GrpcSettings(port=0), service_names=[name])
    await server.start()
    registration = Registration.unique(name, "127.0.0.1", server.port)
    await discovery.register(registration)
    try:

        async def resolved() -> bool:
            return await discovery.healthy(name) == [server.address]

        await _eventually(resolved)
        assert await _check_status(discovery, name) == "passing"

        await server.set_serving(False)  # the gRPC health check now fails

        async def critical() -> bool:
            return await _check_status(discovery, name) == "critical"

        await _eventually(critical)
        assert await discovery.healthy(name) == []
    finally:
        await discovery.deregister(registration)
        await server.server.stop(0)

    _, catalog = await discovery.client.catalog.service(name)
    assert catalog == []


async def test_only_the_healthy_one_of_two_instances_is_resolved(discovery: Discovery) -> None:
    name = f"svc-{uuid.uuid4().hex[:8]}"
    healthy, sick = (GrpcServer(GrpcSettings(port=0), service_names=[name]) for _ in range(2))
    registrations = []
    for server in (healthy, sick):
        await server.start()
        registrations.append(Registration.unique(name, "127.0.0.1", server.port))
        await discovery.register(registrations[-1])
    try:

        async def both() -> bool:
            return len(await discovery.healthy(name)) == 2

        await _eventually(both)
        await sick.set_serving(False)

        async def only_healthy() -> bool:
            return await discovery.healthy(name) == [healthy.address]

        await _eventually(only_healthy)
    finally:
        for registration in registrations:
            await discovery.deregister(registration)
        for server in (healthy, sick):
            await server.server.stop(0)


async def test_resolution_is_cached_and_survives_consul_outages(consul: servers.Consul) -> None:
    name = f"svc-{uuid.uuid4().hex[:8]}"
    server = GrpcServer(GrpcSettings(port=0), service_names=[name])
    await server.start()
    live = Discovery(ConsulSettings(http_addr=consul.http_address, check_interval="500ms"))
    registration = Registration.unique(name, "127.0.0.1", server.port)
    await live.register(registration)
    try:

        async def resolved() -> bool:
            live.forget(name)
            return await live.healthy(name) == [server.address]

        await _eventually(resolved)
        # Point the same cache at a dead Consul: the last known instances still answer.
        live.client.http.base_uri = "http://127.0.0.1:9"
        live.settings = live.settings.model_copy(update={"cache_ttl_seconds": 0})
        assert await live.healthy(name) == [server.address]
    finally:
        live.client.http.base_uri = f"http://{consul.http_address}"
        await live.deregister(registration)
        await live.close()
        await server.server.stop(0)


async def test_an_http_registration_is_checked_with_a_get_on_its_path(
    discovery: Discovery,
) -> None:
    name = f"web-{uuid.uuid4().hex[:8]}"
    healthy = True

    async def health(request: web.Request) -> web.Response:
        return web.Response(status=200 if healthy else 503)

    app = web.Application()
    app.router.add_get("/healthz", health)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    registration = Registration.unique(name, "127.0.0.1", port, http_health_path="/healthz")
    await discovery.register(registration)
    try:

        async def resolved() -> bool:
            return await discovery.healthy(name) == [f"127.0.0.1:{port}"]

        await _eventually(resolved)
        _, checks = await discovery.client.health.checks(name)
        assert checks[0]["Type"] == "http"

        healthy = False

        async def critical() -> bool:
            return await _check_status(discovery, name) == "critical"

        await _eventually(critical)
        assert await discovery.healthy(name) == []
    finally:
        await discovery.deregister(registration)
        await runner.cleanup()
