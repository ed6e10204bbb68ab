"""One way to run a program we depend on: a subprocess with its own log file, a readiness
probe polled until a deadline, and a stop that asks first and then insists.

Every server, OMS service process and control-plane component derives from `ManagedProcess`.
Each runs in a session of its own, so its children die with it (not with our terminal), and
signals go to the whole process group.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

_EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_handed_out: set[int] = set()


def _ports_outside_ephemeral_range() -> Sequence[int]:
    """Ports the kernel never picks for an outgoing connection's source or a bind to port 0.

    A port from the ephemeral range can be taken by any client's connection between the
    moment we choose it and the moment a server binds it ("Failed to bind to address").
    """
    try:
        low, high = (int(part) for part in _EPHEMERAL_RANGE_FILE.read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    if low - 1024 >= 8192:
        return range(max(1024, low - 12288), low)
    return range(high + 1, 65536)


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A loopback port nothing listens on, not handed out before by this process, and
    outside the ephemeral range so that no connection can take it before its server binds.

    The search starts at an offset drawn from the process id, so that two test runs on
    one machine rarely try the same ports.
    """
    ports = _ports_outside_ephemeral_range()
    start = (os.getpid() * 7919) % len(ports)
    for step in range(len(ports)):
        port = ports[(start + step) % len(ports)]
        if port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free loopback port among {len(ports)} outside the ephemeral range")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a live process, from /proc/<pid>/stat (fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def cpu_per_call(pid: int, call: Callable[[], Awaitable[object]], count: int) -> float:
    """CPU seconds process `pid` spends per `call`, over `count` calls one after another;
    never under two clock ticks over all calls (the resolution of /proc), so that a cheap
    call measured as zero still gives a bound to compare with."""
    before = cpu_seconds(pid)
    for _ in range(count):
        await call()
    return max(cpu_seconds(pid) - before, 2 / os.sysconf("SC_CLK_TCK")) / count


def port_open(port: int) -> bool:
    """Whether something accepts TCP connections on the loopback `port`."""
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _get(url: str, **options: Any) -> httpx.Response | None:
    """GET `url`; None when it cannot be reached (a probe: connection errors are a plain no)."""
    try:
        return httpx.get(url, **options)
    except httpx.HTTPError:
        return None


def http_ok(
    url: str,
    *,
    auth: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
    verify: ssl.SSLContext | bool = True,
    timeout: float = 1,
) -> bool:
    """Whether `url` answers 200."""
    response = _get(url, auth=auth, headers=headers, verify=verify, timeout=timeout)
    return response is not None and response.status_code == 200


def http_json(url: str, *, timeout: float = 1) -> Any:
    """The JSON body `url` answers 200 with; None when it answers anything else, or nothing."""
    response = _get(url, timeout=timeout)
    return response.json() if response is not None and response.status_code == 200 else None


def _signal_group(process: subprocess.Popen[bytes], number: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, number)


class ManagedProcess:
    """A subprocess: `command()` run in `cwd` with `environment()`, logging to `log_path`.

    `start` returns once `is_ready()` holds, and raises with the log's tail when the process
    exits first or is not ready within `ready_timeout`. `stop` sends SIGTERM and, after
    `stop_grace`, SIGKILL; `kill` sends SIGKILL at once, as a node failure would.
    """

    name = "process"
    ready_timeout = 60.0
    stop_grace = 20.0
    poll_seconds = 0.2

    def __init__(self, workdir: Path, *, cwd: Path | None = None, log_name: str = "") -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.cwd = cwd or workdir
        self.log_path = workdir / f"{log_name or self.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def is_ready(self) -> bool:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        command = self.command()
        if shutil.which(command[0]) is None:
            raise RuntimeError(f"{command[0]} is missing: run scripts/provision-servers first")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.cwd,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_until_ready(self.process)

    def _wait_until_ready(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while True:
            code = process.poll()
            if code is not None:
                tail = self.log_tail()
                raise RuntimeError(f"{self.name} exited early (exit code {code}):\n{tail}")
            if self.is_ready():
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(self.poll_seconds)
        self.stop()
        raise RuntimeError(f"{self.name} not ready in {self.ready_timeout}s:\n{self.log_tail()}")

    def stop(self) -> int | None:
        """SIGTERM, as Kubernetes sends it, then SIGKILL after the grace; the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            _signal_group(self.process, signal.SIGTERM)
            try:
                self.process.wait(self.stop_grace)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: the process dies mid-flight, as on a node failure."""
        if self.process is not None and self.process.poll() is None:
            _signal_group(self.process, signal.SIGKILL)
            self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class LoopbackServer(ManagedProcess):
    """A server on one loopback port: the one it is given, else a free one."""

    def __init__(self, workdir: Path, port: int | None = None, *, cwd: Path | None = None) -> None:
        super().__init__(workdir, cwd=cwd)
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
