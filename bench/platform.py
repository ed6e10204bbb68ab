"""What the bench runs against: a platform it starts here, or one already running.

A local platform is every server (RabbitMQ, FerretDB, Consul, Jaeger, stripe-mock) and every
service as a process on this machine, as the tests start them, tuned for measuring: cooks
take no time, rate limits are out of the way, and one trace in a hundred is kept. Each
process's group id is known, so the bench can read what CPU each one used.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.client import Json
from devtools import platform, servers
from devtools.process import ManagedProcess

ITEMS = 2  # each order: one of each of the first two menu items


@dataclass
class Target:
    gateway: str
    webhook_secret: str
    admin_token: str
    process_groups: dict[str, int] = field(default_factory=dict)
    metrics_urls: dict[str, str] = field(default_factory=dict)
    service_pids: dict[str, int] = field(default_factory=dict)
    note: str = ""

    @classmethod
    def remote(cls, gateway: str, webhook_secret: str, admin_token: str) -> Target:
        return cls(gateway, webhook_secret, admin_token, note="a running platform (CPU not read)")

    def describe(self) -> str:
        return f"{self.gateway} {self.note}".strip()

    async def stocked_items(self, http: aiohttp.ClientSession) -> list[Json]:
        """The first menu items, restocked so that the run measures orders, not refusals."""
        async with http.get("/api/menu") as response:
            menu = (await response.json())["items"][:ITEMS]
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        for item in menu:
            url = f"/api/admin/stock/{item['id']}"
            async with http.put(url, json={"on_hand": 1_000_000}, headers=headers) as response:
                response.raise_for_status()
        return [{"id": item["id"], "quantity": 1} for item in menu]


def _group(process: ManagedProcess) -> int:
    if process.process is None:
        raise RuntimeError(f"{process.name} is not running")
    return process.process.pid


@contextlib.contextmanager
def local_target(sample_ratio: float) -> Iterator[Target]:
    workdir = Path(tempfile.mkdtemp(prefix="oms-bench-"))
    started: list[ManagedProcess] = []
    local: platform.LocalPlatform | None = None
    try:
        rabbitmq = servers.RabbitMQ(workdir / "rabbitmq")
        ferretdb = servers.FerretDB(workdir / "ferretdb")
        consul = servers.Consul(workdir / "consul")
        jaeger = servers.Jaeger(workdir / "jaeger")
        stripe_mock = servers.StripeMock(workdir / "stripe-mock")
        for server in (rabbitmq, ferretdb, consul, jaeger, stripe_mock):
            server.start()
            started.append(server)
        local = platform.LocalPlatform(
            workdir / "oms",
            rabbitmq,
            ferretdb,
            consul,
            stripe_mock,
            jaeger=jaeger,
            seconds_per_item=0,
            kitchen_workers=8,
            tls=True,
        )
        local.base_env.update(
            {
                "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                "OTEL_TRACES_SAMPLER_ARG": str(sample_ratio),
                "GATEWAY_ORDER_RATE_PER_MINUTE": "1000000",
                # Every simulated customer signs up from this one address (600 or so a run).
                "GATEWAY_SESSION_RATE_PER_MINUTE": "1000000",
                "LOG_LEVEL": "WARNING",
                # Steps stay independent: no placement deadline falls due during a run.
                "ORDER_PENDING_SECONDS": "900",
                # Production's pace for the background work the tests speed up.
                "ORDER_OUTBOX_SWEEP_SECONDS": "30",
                "PAYMENT_OUTBOX_SWEEP_SECONDS": "30",
                "KITCHEN_OUTBOX_SWEEP_SECONDS": "30",
            }
        )
        local.base_env.pop("OPS_CHECK_INTERVAL_SECONDS", None)
        local.start()
        groups = {process.name: _group(process) for process in started}
        services = {service.service: _group(service) for service in local.processes}
        groups.update(services)
        print(f"bench: platform up (logs in {workdir})", flush=True)
        yield Target(
            local.gateway_url,
            local.webhook_secret,
            local.admin_token,
            groups,
            {process.service: process.metrics_url for process in local.processes},
            services,
            note="(local: every server and service on this machine)",
        )
    finally:
        if local is not None:
            local.stop()
        for process in reversed(started):
            process.stop()
