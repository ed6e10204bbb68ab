"""Readiness that tells the truth: a process is ready while what it needs answers.

`DependencyMonitor` runs each check every few seconds (MongoDB answers a ping, the RabbitMQ
connection is open) and reports a change to its listeners: the gRPC health service turns
NOT_SERVING while a *required* dependency fails (so Consul and callers stop sending us work)
and SERVING again when it recovers; `/readyz` reads the same state.

A dependency the process can do without for a while is *degrading*, not required: `/readyz`
and the metrics say it is down, but the process keeps serving. MongoDB is always required.
RabbitMQ is required by default; `OPS_READY_WITHOUT_BROKER=true` makes it degrading for the
services that write through an outbox (Order, Stock, Payment, Menu, the gateway), which then
keep taking orders and store the events they cannot publish yet. For a process that only
consumes (the kitchen), the broker is required whatever that setting says.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from oms.platform import logs
from oms.platform.periodic import Periodic

log = logs.get(__name__)
Check = Callable[[], Awaitable[bool]]
Listener = Callable[[bool], Awaitable[None]]


class DependencyMonitor:
    """A dependency counts as down after `failures` checks in a row fail (a slow answer
    under load is not an outage: every instance turning unready at once would be one)."""

    def __init__(self, interval: float, timeout: float = 3.0, failures: int = 3) -> None:
        self.interval = interval
        self.timeout = timeout
        self.failures = failures
        self._checks: dict[str, Check] = {}
        self._state: dict[str, bool] = {}
        self._failed: dict[str, int] = {}
        self._required: set[str] = set()
        self._listeners: list[Listener] = []
        self._periodic = Periodic("dependency-monitor", interval, self.check_once)

    def add(self, name: str, check: Check, required: bool = True) -> None:
        self._checks[name] = check
        self._state[name] = True
        if required:
            self._required.add(name)

    def required(self) -> frozenset[str]:
        return frozenset(self._required)

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def state(self) -> dict[str, bool]:
        return dict(self._state)

    @property
    def healthy(self) -> bool:
        """Every required dependency is up (a degrading one may be down)."""
        return all(self._state[name] for name in self._required)

    async def start(self) -> None:
        await self.check_once()
        await self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def check_once(self) -> None:
        before = self.healthy
        for name, check in self._checks.items():
            try:
                async with asyncio.timeout(self.timeout):
                    ok = await check()
            except Exception:
                ok = False
            self._failed[name] = 0 if ok else self._failed.get(name, 0) + 1
            ok = ok or (self._state[name] and self._failed[name] < self.failures)
            if ok != self._state[name]:
                log.warning("dependency.changed", dependency=name, up=ok)
            self._state[name] = ok
        if self.healthy != before:
            for listener in self._listeners:
                await listener(self.healthy)
