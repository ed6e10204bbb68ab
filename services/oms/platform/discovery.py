"""Consul: register this process with a gRPC (or HTTP) health check, and find healthy peers.

Uses py-consul's asyncio client (one aiohttp session per process), so discovery never
blocks the event loop.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import consul
import consul.aio

from oms.platform import logs
from oms.platform.settings import ConsulSettings

log = logs.get(__name__)


@dataclass(frozen=True)
class Registration:
    name: str
    address: str
    port: int
    service_id: str = ""
    tags: tuple[str, ...] = ()
    meta: dict[str, str] = field(default_factory=dict)
    # Set for a process that serves HTTP rather than gRPC (the gateway): Consul GETs this path.
    http_health_path: str = ""

    @property
    def id(self) -> str:
        return self.service_id or f"{self.name}-{self.address}-{self.port}"

    @classmethod
    def unique(cls, name: str, address: str, port: int, **kwargs: Any) -> Registration:
        return cls(name, address, port, service_id=f"{name}-{uuid.uuid4().hex[:12]}", **kwargs)


class Discovery:
    """Registration of this process and a short-lived cache of other services' instances."""

    def __init__(self, settings: ConsulSettings) -> None:
        self.settings = settings
        self.client = consul.aio.Consul(host=settings.host, port=settings.port)
        self._cache: dict[str, tuple[float, list[str]]] = {}

    async def close(self) -> None:
        await self.client.close()

    async def register(self, registration: Registration) -> None:
        """Register with a health check Consul runs: our gRPC health service, or an HTTP GET."""
        address = f"{registration.address}:{registration.port}"
        if registration.http_health_path:
            check = consul.Check.http(
                f"http://{address}{registration.http_health_path}",
                self.settings.check_interval,
                timeout=self.settings.check_timeout,
                deregister=self.settings.deregister_critical_after,
            )
        else:
            check = consul.Check.grpc(
                address,
                self.settings.check_interval,
                timeout=self.settings.check_timeout,
                deregister=self.settings.deregister_critical_after,
            )
        await self.client.agent.service.register(
            self.settings.service_prefix + registration.name,
            service_id=registration.id,
            address=registration.address,
            port=registration.port,
            tags=list(registration.tags),
            meta=registration.meta,
            check=check,
        )
        log.info("consul.registered", service=registration.name, service_id=registration.id)

    async def deregister(self, registration: Registration) -> None:
        await self.client.agent.service.deregister(registration.id)
        log.info("consul.deregistered", service=registration.name, service_id=registration.id)

    async def healthy(self, service: str) -> list[str]:
        """ "host:port" of each instance whose checks pass, cached for `cache_ttl_seconds`.

        If Consul cannot be reached, the last known list is used rather than failing calls.
        """
        now = time.monotonic()
        cached = self._cache.get(service)
        if cached is not None and now - cached[0] < self.settings.cache_ttl_seconds:
            return cached[1]
        try:
            _, entries = await self.client.health.service(
                self.settings.service_prefix + service, passing=True
            )
        except Exception:
            if cached is None:
                raise
            log.warning("consul.unreachable_using_cache", service=service, exc_info=True)
            return cached[1]
        targets = sorted(
            f"{e['Service']['Address'] or e['Node']['Address']}:{e['Service']['Port']}"
            for e in entries
        )
        self._cache[service] = (now, targets)
        return targets

    def forget(self, service: str) -> None:
        """Drop the cached instances, e.g. after a call found one unavailable."""
        self._cache.pop(service, None)
