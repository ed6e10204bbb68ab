"""uvicorn run inside our lifecycle instead of owning the process.

`uvicorn.Server.serve` installs its own SIGTERM/SIGINT handlers; ours (`oms.platform.runner`)
must stay in charge so shutdown follows the composition root's order. So signal capture is
off, and `stop` asks uvicorn to exit: it stops accepting, lets in-flight requests finish
(up to the grace period), then returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator, Sequence

import uvicorn
from starlette.types import ASGIApp

from oms.platform import logs

log = logs.get(__name__)


class _Uvicorn(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    def __init__(
        self,
        app: ASGIApp,
        host: str,
        port: int,
        grace_seconds: int,
        trusted_proxies: Sequence[str] = (),
    ) -> None:
        self.host = host
        self.port = port
        self.config = uvicorn.Config(
            app,
            # The client is who these proxies say it is (X-Forwarded-For, -Proto), and the
            # TCP peer otherwise. uvicorn's own default would believe 127.0.0.1 (anything
            # on the pod's loopback); with no proxy named, nobody's headers are believed.
            proxy_headers=bool(trusted_proxies),
            forwarded_allow_ips=list(trusted_proxies),
            lifespan="off",  # the composition root opens and closes what the app uses
            log_config=None,  # our structlog setup renders uvicorn's records too
            access_log=False,  # AccessLog middleware logs inside the request's span
            server_header=False,
            # The C parser: h11, uvicorn's pure-Python one, cost the gateway a fifth of its CPU.
            http="httptools",
            timeout_graceful_shutdown=grace_seconds,
            # Longer than the usual client and load balancer idle timeouts (60 s), so the
            # server never closes a kept-alive connection a client is about to reuse.
            timeout_keep_alive=75,
        )
        self._server = _Uvicorn(self.config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> int:
        """Bind (port 0 picks a free one), serve in a task; returns the bound port."""
        # Binding here makes a busy port an OSError for the caller, not uvicorn's sys.exit.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.create_server((self.host, self.port), family=family, backlog=2048)
        self.port = sock.getsockname()[1]
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        log.info("http.started", host=self.host, port=self.port)
        return self.port

    async def stop(self) -> None:
        """Stop accepting, finish in-flight requests within the grace period, close."""
        if self._task is None:
            return
        self._server.should_exit = True
        await self._task
        log.info("http.stopped", port=self.port)
