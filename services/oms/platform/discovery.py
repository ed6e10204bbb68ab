"""Consul: register this process with a gRPC (or HTTP) health check, and find healthy peers.

Uses py-consul's asyncio client (one aiohttp session per process), so discovery never
blocks the event loop.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import consul
import consul.aio

from oms.platform import logs
from oms.platform.settings import ConsulSettings

log = logs.get(__name__)


@dataclass(frozen=True)
class Registration:
    """An instance at `address:port`; Consul checks it with a GET of `check_url`.

    Its id is derived from the address, so a process that takes over the address of one that
    was killed replaces that registration instead of standing beside a stale one.
    """

    name: str
    address: str
    port: int
    check_url: str
    tags: tuple[str, ...] = ()
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.name}-{self.address}-{self.port}"


class Discovery:
    """Registration of this process and a short-lived cache of other services' instances."""

    def __init__(self, settings: ConsulSettings) -> None:
        self.settings = settings
        self.client = consul.aio.Consul(host=settings.host, port=settings.port)
        self._cache: dict[str, tuple[float, list[str]]] = {}
        # One lookup per service at a time: when the cache expires under load, the callers
        # waiting for it share one request to Consul instead of sending one each.
        self._lookups: dict[str, asyncio.Future[list[str]]] = {}

    async def close(self) -> None:
        await self.client.close()

    def _id(self, registration: Registration) -> str:
        return self.settings.service_prefix + registration.id

    async def register(self, registration: Registration) -> None:
        """Register with an HTTP health check Consul runs (the process's `/readyz`)."""
        check = consul.Check.http(
            registration.check_url,
            self.settings.check_interval,
            timeout=self.settings.check_timeout,
            deregister=self.settings.deregister_critical_after,
        )
        await self.client.agent.service.register(
            self.settings.service_prefix + registration.name,
            service_id=self._id(registration),
            address=registration.address,
            port=registration.port,
            tags=list(registration.tags),
            meta=registration.meta,
            check=check,
        )
        log.info("consul.registered", service=registration.name, id=self._id(registration))

    async def deregister(self, registration: Registration) -> None:
        await self.client.agent.service.deregister(self._id(registration))
        log.info("consul.deregistered", service=registration.name, id=self._id(registration))

    async def healthy(self, service: str) -> list[str]:
        """ "host:port" of each instance whose checks pass, cached for `cache_ttl_seconds`.

        If Consul cannot be reached, the last known list is used rather than failing calls.
        """
        cached = self._cache.get(service)
        if cached is not None and time.monotonic() - cached[0] < self.settings.cache_ttl_seconds:
            return cached[1]
        lookup = self._lookups.get(service)
        if lookup is None:
            lookup = asyncio.ensure_future(self._look_up(service))
            self._lookups[service] = lookup
            lookup.add_done_callback(lambda done: self._looked_up(service, done))
        # Shielded: a caller that gives up does not cancel the lookup the others wait for.
        return await asyncio.shield(lookup)

    def _looked_up(self, service: str, done: asyncio.Future[list[str]]) -> None:
        self._lookups.pop(service, None)
        if not done.cancelled():
            done.exception()  # each waiter has it; retrieved even if they all gave up

    async def _look_up(self, service: str) -> list[str]:
        now = time.monotonic()
        cached = self._cache.get(service)
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
