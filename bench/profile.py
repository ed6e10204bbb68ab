"""py-spy profiles of the services during a bench step, summed up as hot spots.

`scripts/bench --profile DIR` samples every service process (py-spy, 100 Hz, without pausing
it) for the length of the first step it runs, writes each one's collapsed stacks to
`DIR/<service>.txt` (open them with speedscope or flamegraph tools) and prints, per service,
where its busy time goes: by library (the innermost frame that belongs to one), and the
functions that hold the most samples themselves. Idle threads are not sampled, so shares are
of busy time.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# Path fragments (py-spy runs with full file names) that name a library; the first that a
# frame's file matches wins.
AREAS = (
    ("/opentelemetry/", "opentelemetry"),
    ("/grpc/", "grpc"),
    ("/google/protobuf/", "protobuf"),
    ("/pymongo/", "pymongo"),
    ("/bson/", "pymongo"),
    ("/aio_pika/", "aio-pika"),
    ("/aiormq/", "aio-pika"),
    ("/pamqp/", "aio-pika"),
    ("/structlog/", "logging"),
    ("/logging/", "logging"),
    ("/prometheus_client/", "prometheus"),
    ("/pydantic/", "pydantic"),
    ("/pydantic_core/", "pydantic"),
    ("/fastapi/", "fastapi"),
    ("/starlette/", "fastapi"),
    ("/uvicorn/", "fastapi"),
    ("/httpx/", "httpx"),
    ("/httpcore/", "httpx"),
    ("/aiohttp/", "aiohttp"),
    ("/stripe/", "stripe"),
    ("/asyncio/", "asyncio"),
    ("/uvloop/", "asyncio"),
    ("/oms/", "oms"),
    # A thread with no Python frame of its own below this: gRPC's completion-queue poller.
    ("/threading.py", "threads"),
)


@dataclass
class Profile:
    service: str
    samples: int
    areas: Counter[str]
    functions: Counter[str]

    def top(self, counter: Counter[str], n: int = 5) -> list[tuple[str, float]]:
        total = max(1, self.samples)
        return [(name, round(100 * count / total, 1)) for name, count in counter.most_common(n)]


def _area(frame: str) -> str | None:
    for fragment, area in AREAS:
        if fragment in frame:
            return area
    return None


def summarise(service: str, collapsed: str) -> Profile:
    """Shares of one process's samples from py-spy's raw (collapsed stack) output."""
    areas: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    samples = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        samples += count
        functions[frames[-1]] += count
        area = next((a for f in reversed(frames) if (a := _area(f)) is not None), "other")
        areas[area] += count
    return Profile(service, samples, areas, functions)


class Recorder:
    """py-spy on each process for `seconds`, started together."""

    def __init__(self, directory: Path, pids: Mapping[str, int], seconds: float) -> None:
        beside = Path(sys.executable).with_name("py-spy")  # the venv's, found without PATH
        found = str(beside) if beside.exists() else shutil.which("py-spy")
        if found is None:
            raise SystemExit("bench: --profile needs py-spy (scripts/bootstrap installs it)")
        self.py_spy = found
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.pids = dict(pids)
        self.seconds = max(1, round(seconds))
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        for service, pid in self.pids.items():
            self.running[service] = subprocess.Popen(  # noqa: S603 (the venv's py-spy)
                [
                    self.py_spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(self.seconds),
                    "--rate",
                    "100",
                    "--nonblocking",
                    "--function",
                    # Whole paths: shortened ones lose the package (OpenTelemetry's gRPC
                    # instrumentation shows as `grpc/_aio_server.py`) and its time goes astray.
                    "--full-filenames",
                    "--format",
                    "raw",
                    "--output",
                    str(self.directory / f"{service}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    def finish(self) -> list[Profile]:
        profiles = []
        for service, process in self.running.items():
            process.wait(timeout=self.seconds + 60)
            path = self.directory / f"{service}.txt"
            text = path.read_text() if path.exists() else ""
            profiles.append(summarise(service, text))
        return profiles


def report(profiles: list[Profile]) -> None:
    for profile in profiles:
        areas = ", ".join(f"{name} {share}%" for name, share in profile.top(profile.areas, 8))
        print(f"profile {profile.service:<8} {profile.samples} samples: {areas}")
        for name, share in profile.top(profile.functions):
            print(f"{'':<17} {share:5.1f}%  {name}")
