"""ASGI middleware: a cap on request bodies, and one access-log line per request."""

from __future__ import annotations

import time

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oms.gateway.errors import error_response
from oms.platform import logs, metrics

log = logs.get(__name__)
PROBES = frozenset({"/healthz", "/readyz"})  # asked every few seconds: logged at debug


class BodyLimit:
    """Refuses bodies over a per-path-prefix limit with 413, before they fill our memory.

    A declared Content-Length over the limit is refused before the app runs; a chunked body
    is counted as it arrives, and the read that crosses the limit raises a 413 that the
    exception handlers render.
    """

    def __init__(self, app: ASGIApp, default: int, by_prefix: dict[str, int]) -> None:
        self.app = app
        self.default = default
        self.by_prefix = by_prefix

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.by_prefix.items():
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            response = error_response(413, "too_large", f"the body must be at most {limit} bytes")
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise HTTPException(413, f"the body must be at most {limit} bytes")
            return message

        await self.app(scope, counted, send)


class AccessLog:
    """`http.request` with method, path, status and milliseconds (and the trace id)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            seconds = time.perf_counter() - started
            # The route's template (`/api/orders/{order_id}`), never the raw path: one
            # series per route, however many orders there are.
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics.HTTP_SECONDS.labels(scope["method"], route, str(status)).observe(seconds)
            write = log.debug if scope["path"] in PROBES else log.info
            write(
                "http.request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round(seconds * 1000, 2),
            )
