"""Consul: registration checked over HTTP against the process's real ops server, resolution
of the healthy instances, the cache that outlives Consul, and one id per address."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from devtools import servers
from oms.platform.discovery import Discovery, Registration
from oms.platform.ops_http import OpsServer
from oms.platform.settings import ConsulSettings
from tests.platform.support import eventually, unique


class Ops:
    """A real ops server whose dependencies the test turns up and down."""

    def __init__(self) -> None:
        self.ready = True
        self.server = OpsServer(
            "127.0.0.1", 0, lambda: ({"mongodb": self.ready}, frozenset({"mongodb"}))
        )

    async def start(self) -> Ops:
        await self.server.start()
        return self

    @property
    def readyz(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/readyz"

    async def stop(self) -> None:
        await self.server.stop()


@pytest.fixture
def prefix() -> str:
    """A Consul prefix per test: no test resolves another's instances."""
    return f"{unique()}-"


@pytest.fixture
async def discovery(consul: servers.Consul, prefix: str) -> AsyncIterator[Discovery]:
    # Checks every 500ms and no caching, so state changes show within the test's patience.
    client = Discovery(_settings(consul, prefix, cache_ttl_seconds=0))
    yield client
    await client.close()


def _settings(consul: servers.Consul, prefix: str, **changes: object) -> ConsulSettings:
    return ConsulSettings(
        http_addr=consul.http_address,
        check_interval="500ms",
        service_prefix=prefix,
        **changes,  # type: ignore[arg-type]
    )


async def _statuses(discovery: Discovery, name: str) -> list[str]:
    _, checks = await discovery.client.health.checks(discovery.settings.service_prefix + name)
    return [str(check["Status"]) for check in checks]


async def test_an_instance_is_resolved_while_its_readyz_passes_and_gone_once_deregistered(
    discovery: Discovery,
) -> None:
    ops = await Ops().start()
    registration = Registration("svc", "127.0.0.1", 7001, check_url=ops.readyz)
    await discovery.register(registration)
    try:
        await eventually(lambda: _resolves(discovery, "svc", ["127.0.0.1:7001"]))
        _, checks = await discovery.client.health.checks(f"{discovery.settings.service_prefix}svc")
        assert [(c["Type"], c["Status"]) for c in checks] == [("http", "passing")]

        ops.ready = False  # /readyz answers 503 now

        await eventually(lambda: _has_statuses(discovery, "svc", ["critical"]))
        assert await discovery.healthy("svc") == []
    finally:
        await discovery.deregister(registration)
        await ops.stop()

    _, catalog = await discovery.client.catalog.service(f"{discovery.settings.service_prefix}svc")
    assert catalog == []


async def test_only_the_ready_one_of_two_instances_is_resolved(discovery: Discovery) -> None:
    ready, sick = await Ops().start(), await Ops().start()
    registrations = [
        Registration("svc", "127.0.0.1", 7001, check_url=ready.readyz),
        Registration("svc", "127.0.0.1", 7002, check_url=sick.readyz),
    ]
    for registration in registrations:
        await discovery.register(registration)
    try:
        await eventually(lambda: _resolves(discovery, "svc", ["127.0.0.1:7001", "127.0.0.1:7002"]))
        sick.ready = False

        await eventually(lambda: _resolves(discovery, "svc", ["127.0.0.1:7001"]))
    finally:
        for registration in registrations:
            await discovery.deregister(registration)
        await ready.stop()
        await sick.stop()


async def test_a_restart_on_the_same_address_replaces_the_registration(
    consul: servers.Consul, prefix: str
) -> None:
    first_ops = await Ops().start()
    first = Discovery(_settings(consul, prefix, cache_ttl_seconds=0))
    await first.register(Registration("svc", "127.0.0.1", 7001, check_url=first_ops.readyz))
    await eventually(lambda: _resolves(first, "svc", ["127.0.0.1:7001"]))
    # Killed: it never deregisters, and the process after it listens on other ops ports.
    await first.close()
    await first_ops.stop()

    ops = await Ops().start()
    again = Discovery(_settings(consul, prefix, cache_ttl_seconds=0))
    registration = Registration("svc", "127.0.0.1", 7001, check_url=ops.readyz)
    await again.register(registration)
    try:
        _, catalog = await again.client.catalog.service(f"{prefix}svc")
        assert [entry["ServiceID"] for entry in catalog] == [f"{prefix}svc-127.0.0.1-7001"]
        # The one check left is the new process's, and it passes against its ops server.
        _, checks = await again.client.health.checks(f"{prefix}svc")
        assert len(checks) == 1
        await eventually(lambda: _has_statuses(again, "svc", ["passing"]))
        assert await again.healthy("svc") == ["127.0.0.1:7001"]
        ops.ready = False
        await eventually(lambda: _has_statuses(again, "svc", ["critical"]))
    finally:
        await again.deregister(registration)
        await again.close()
        await ops.stop()


async def test_resolution_is_cached_and_survives_consul_outages(
    consul: servers.Consul, prefix: str
) -> None:
    ops = await Ops().start()
    live = Discovery(_settings(consul, prefix))
    registration = Registration("svc", "127.0.0.1", 7001, check_url=ops.readyz)
    await live.register(registration)
    try:

        async def resolved() -> bool:
            live.forget("svc")
            return await live.healthy("svc") == ["127.0.0.1:7001"]

        await eventually(resolved)
        # Point the same cache at a dead Consul: the last known instances still answer.
        live.client.http.base_uri = "http://127.0.0.1:9"
        live.settings = live.settings.model_copy(update={"cache_ttl_seconds": 0})
        assert await live.healthy("svc") == ["127.0.0.1:7001"]
        live.forget("svc")  # and with nothing cached, the failure is the caller's
        with pytest.raises(aiohttp.ClientError):
            await live.healthy("svc")
    finally:
        live.client.http.base_uri = f"http://{consul.http_address}"
        await live.deregister(registration)
        await live.close()
        await ops.stop()


async def test_callers_that_find_the_cache_expired_share_one_lookup(
    discovery: Discovery,
) -> None:
    ops = await Ops().start()
    registration = Registration("svc", "127.0.0.1", 7002, check_url=ops.readyz)
    await discovery.register(registration)
    try:
        await eventually(lambda: _resolves(discovery, "svc", ["127.0.0.1:7002"]))
        asked = 0
        ask_consul = discovery.client.health.service

        async def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal asked
            asked += 1
            return await ask_consul(*args, **kwargs)

        discovery.client.health.service = counted

        at_once = await asyncio.gather(*(discovery.healthy("svc") for _ in range(20)))
        assert at_once == [["127.0.0.1:7002"]] * 20
        assert asked == 1, "twenty callers, one request to Consul"
        assert await discovery.healthy("svc") == ["127.0.0.1:7002"]
        assert asked == 2  # nothing cached (TTL 0): the next caller asks again
    finally:
        await discovery.deregister(registration)
        await ops.stop()


async def _resolves(discovery: Discovery, name: str, expected: list[str]) -> bool:
    return await discovery.healthy(name) == expected


async def _has_statuses(discovery: Discovery, name: str, expected: list[str]) -> bool:
    return await _statuses(discovery, name) == expected
