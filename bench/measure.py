"""What a run measures besides latency: CPU seconds of every process, and database commands.

CPU comes from /proc: user plus system time of every process in a server's or service's
process group (RabbitMQ's Erlang VM, say, runs under a shell), read before and after a step.
Database commands come from each service's `oms_mongo_commands_total` (its ops `/metrics`).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from devtools import metrics

TICKS = os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(leader: int) -> float:
    """CPU seconds used by the live processes of `leader`'s process group (and reaped kids)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        pgrp = int(fields[2])
        if pgrp != leader:
            continue
        utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
        total += utime + stime + cutime + cstime
    return total / TICKS


@dataclass
class CpuMeter:
    """CPU seconds per named process group between `start` and `stop`."""

    groups: Mapping[str, int]
    before: dict[str, float] | None = None

    def start(self) -> None:
        self.before = {name: group_cpu_seconds(pid) for name, pid in self.groups.items()}

    def stop(self) -> dict[str, float]:
        before = self.before or {}
        return {
            name: max(0.0, group_cpu_seconds(pid) - before.get(name, 0.0))
            for name, pid in self.groups.items()
        }


# At most this many commands in a quiet second: a sweep or a clean-up, not orders.
QUIET_COMMANDS = 3


def mongo_commands(metrics_urls: Mapping[str, str]) -> Counter[str]:
    """`oms_mongo_commands_total` of every service, as "service command collection" (pings
    left out: they are the readiness check's, not the orders')."""
    counts: Counter[str] = Counter()
    for service, url in metrics_urls.items():
        try:
            text = httpx.get(url, timeout=5).text
        except httpx.HTTPError:
            continue
        for name, labels, value in metrics.parse(text).samples:
            found = dict(labels)
            if name == "oms_mongo_commands_total" and found["command"] != "ping":
                counts[f"{service} {found['command']} {found['collection']}".strip()] += int(value)
    return counts


async def settle(metrics_urls: Mapping[str, str], within: float = 180.0) -> float:
    """Wait until the services send MongoDB nothing for a second (the work a step left
    behind, such as an overload's backlog, is done), so that a step does not pay for the one
    before it; the seconds it took."""
    started = time.perf_counter()
    before = await asyncio.to_thread(mongo_commands, metrics_urls)
    while time.perf_counter() - started < within:
        await asyncio.sleep(1.0)  # the quiet interval being looked for, not a wait for work
        now = await asyncio.to_thread(mongo_commands, metrics_urls)
        if sum((now - before).values()) <= QUIET_COMMANDS:
            break
        before = now
    return time.perf_counter() - started


def percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {"p50": values[0] if values else 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": max(values)}
