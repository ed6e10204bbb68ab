"""Process lifecycle: run a service until SIGTERM/SIGINT, then shut it down in order.

A service's `main(lifecycle)` enters its parts into an `AsyncExitStack` in dependency order
(tracing, storage, broker, consumers, gRPC server, Consul registration), marks itself ready,
and awaits `lifecycle.stopped()`. Unwinding the stack then reverses that order: leave Consul,
stop taking calls and messages, finish the in-flight ones, close connections, flush traces.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import NoReturn

import uvloop

from oms.platform import logs

log = logs.get(__name__)
# CPython collects its youngest generation every 700 allocations net of frees, which a
# service makes in a request or two; almost all of them die by reference counting anyway.
GC_THRESHOLDS = (10_000, 20, 20)


class Lifecycle:
    def __init__(self) -> None:
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()

    def request_stop(self) -> None:
        if not self._stop.is_set():
            log.info("lifecycle.stop_requested")
        self._stop.set()

    def mark_ready(self) -> None:
        self._ready.set()
        log.info("lifecycle.ready")

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and not self._stop.is_set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def stopped(self) -> None:
        await self._stop.wait()


async def serve(main: Callable[[Lifecycle], Awaitable[None]]) -> None:
    """Run `main` with a lifecycle whose stop is requested by SIGTERM or SIGINT."""
    lifecycle = Lifecycle()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lifecycle.request_stop)
    try:
        await main(lifecycle)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    log.info("lifecycle.exited")


def settle_heap() -> None:
    """Once a service has started: what start-up built (modules, protobuf descriptors,
    clients, caches) lives as long as the process, so it is frozen out of the collector's
    sight, and young objects are collected less often.

    Under load (`scripts/bench --only closed --concurrency 32`) the cyclic collector took
    4-9% of each service's CPU, most of it full collections walking the start-up heap;
    after this, 1-3%.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run(main: Callable[[Lifecycle], Awaitable[None]]) -> None:
    """Entrypoint for `__main__` modules, on uvloop's event loop (libuv: cheaper I/O)."""
    uvloop.run(serve(main))


def refuse_to_start(service: str, reason: str) -> NoReturn:
    """Stop before starting anything, with one line saying why (exit status 78, EX_CONFIG)."""
    print(f"{service}: refusing to start: {reason}", file=sys.stderr, flush=True)
    raise SystemExit(78)
