"""The ops HTTP server every process runs beside its real work: metrics and probes.

`/metrics` (Prometheus text format), `/healthz` (the process answers) and `/readyz` (200 when
every required dependency answers, else 503 naming the ones that fail; a degrading one that
is down is named under `degraded`, with a 200). Kubernetes probes and
Prometheus use it; it is separate from the gRPC port, so it needs no client certificate.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from oms.platform import logs

log = logs.get(__name__)
# Check name -> True while it is usable; and the names the process cannot serve without.
Readiness = Callable[[], tuple[dict[str, bool], frozenset[str]]]


class OpsServer:
    def __init__(self, host: str, port: int, readiness: Readiness) -> None:
        self.host = host
        self.port = port
        self.readiness = readiness
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._alive)
        app.router.add_get("/readyz", self._ready)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        # Bound here, so port 0 gives a free port we can report (and register).
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.create_server((self.host, self.port), family=family)
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        log.info("ops_http.started", port=self.port)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _metrics(self, _: web.Request) -> web.Response:
        response = web.Response(body=generate_latest())
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return response

    async def _alive(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _ready(self, _: web.Request) -> web.Response:
        checks, required = self.readiness()
        down = sorted(name for name, ok in checks.items() if not ok)
        failing = [name for name in down if name in required]
        degraded = [name for name in down if name not in required]
        body = {"ready": not failing, "checks": checks, "failing": failing, "degraded": degraded}
        return web.json_response(body, status=503 if failing else 200)
