"""A background task that runs a coroutine every `interval` seconds until stopped."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from oms.platform import logs

log = logs.get(__name__)


class Periodic:
    """Runs `job` every `interval` seconds; a failure is logged and the next run goes ahead."""

    def __init__(self, name: str, interval: float, job: Callable[[], Awaitable[object]]) -> None:
        self.name = name
        self.interval = interval
        self.job = job
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.job()
            except Exception:
                log.warning("periodic.failed", job=self.name, exc_info=True)
