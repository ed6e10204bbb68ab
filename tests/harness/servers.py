"""Real servers for the test-suite, started as subprocesses on free loopback ports.

The binaries come from `scripts/provision-servers` (cached under `.cache/servers/bin`), except
RabbitMQ, which is Debian's package run as a private node. Every server keeps its data and
log in the working directory it is given, so a failed run can be read afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
BIN_DIR = REPO / ".cache" / "servers" / "bin"
RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _http_ok(url: str, **kwargs: object) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            return httpx.get(url, timeout=1, **kwargs).status_code == 200  # type: ignore[arg-type]
        except httpx.HTTPError:
            return False

    return probe


class Server:
    """A subprocess with a log file, a readiness probe and a polite stop."""

    name = "server"
    ready_timeout = 60.0
    stop_grace = 20.0

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"{self.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def is_ready(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        executable = Path(self.command()[0])
        if not executable.exists():
            raise RuntimeError(f"{executable} is missing: run scripts/provision-servers first")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.workdir,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its children die with it, not with our terminal
            )
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            if self.is_ready():
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} not ready in {self.ready_timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(self.stop_grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class RabbitMQ(Server):
    """A private node of Debian's rabbitmq-server, restartable with its durable data."""

    name = "rabbitmq"

    def __init__(
        self, workdir: Path, port: int | None = None, management_port: int | None = None
    ) -> None:
        super().__init__(workdir)
        self.port, self.dist_port = port or free_port(), free_port()
        self.management_port = management_port or free_port()
        self.node = f"oms-test-{self.port}@localhost"
        self.amqp_url = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        self.management_url = f"http://127.0.0.1:{self.management_port}"
        (workdir / "enabled_plugins").write_text("[rabbitmq_management].\n")
        (workdir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            f"management.tcp.ip = 127.0.0.1\n"
            f"management.tcp.port = {self.management_port}\n"
            # Tests fill queues fast; never block publishers on this shared machine's disk.
            "disk_free_limit.absolute = 50MB\n"
            "collect_statistics_interval = 1000\n"
        )

    def command(self) -> list[str]:
        return [str(RABBITMQ_SERVER)]

    def environment(self) -> dict[str, str]:
        base = self.workdir
        return {
            **os.environ,
            "HOME": str(base),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
            "RABBITMQ_LOGS": "-",
        }

    def is_ready(self) -> bool:
        return (
            _port_open(self.port)
            and _http_ok(f"{self.management_url}/api/overview", auth=("guest", "guest"))()
        )


class FerretDB(Server):
    name = "ferretdb"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        super().__init__(workdir)
        self.port = port or free_port()
        self.mongodb_url = f"mongodb://127.0.0.1:{self.port}/"

    def command(self) -> list[str]:
        return [
            str(BIN_DIR / "ferretdb"),
            f"-listen-addr=127.0.0.1:{self.port}",
            f"-sqlite-dir={self.workdir / 'data'}",
        ]

    def is_ready(self) -> bool:
        return _port_open(self.port)


class Consul(Server):
    name = "consul"

    def __init__(self, workdir: Path, http_port: int | None = None) -> None:
        super().__init__(workdir)
        self.ports = {
            "http": http_port or free_port(),
            "dns": free_port(),
            "grpc": free_port(),
            # Every port explicit: two agents on one machine must not share a default one.
            "grpc_tls": free_port(),
            "serf_lan": free_port(),
            "serf_wan": free_port(),
            "server": free_port(),
        }
        self.http_address = f"127.0.0.1:{self.ports['http']}"
        ports = ", ".join(f"{key} = {value}" for key, value in self.ports.items())
        (workdir / "ports.hcl").write_text(f"ports {{ {ports} }}\n")

    def command(self) -> list[str]:
        return [
            str(BIN_DIR / "consul"),
            "agent",
            "-dev",
            "-bind=127.0.0.1",
            "-client=127.0.0.1",
            f"-node=oms-test-{self.ports['http']}",
            f"-config-file={self.workdir / 'ports.hcl'}",
            "-log-level=warn",
        ]

    def is_ready(self) -> bool:
        try:
            response = httpx.get(f"http://{self.http_address}/v1/status/leader", timeout=1)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.json() not in ("", None)


class Jaeger(Server):
    """Jaeger v2 all-in-one: OTLP in, memory storage, the query API out."""

    name = "jaeger"
    stop_grace = 2.0  # in-memory storage: nothing to flush, and its drain takes 10s

    def __init__(
        self, workdir: Path, otlp_port: int | None = None, query_port: int | None = None
    ) -> None:
        super().__init__(workdir)
        self.otlp_port, self.query_port = otlp_port or free_port(), query_port or free_port()
        self.otlp_grpc_endpoint = f"http://127.0.0.1:{self.otlp_port}"
        self.query_url = f"http://127.0.0.1:{self.query_port}"
        (workdir / "config.yaml").write_text(
            _JAEGER_CONFIG.format(otlp=self.otlp_port, query=self.query_port)
        )

    def command(self) -> list[str]:
        return [str(BIN_DIR / "jaeger"), f"--config={self.workdir / 'config.yaml'}"]

    def is_ready(self) -> bool:
        return _http_ok(f"{self.query_url}/api/services")()


_JAEGER_CONFIG = """\
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memory
    http:
      endpoint: 127.0.0.1:{query}
    grpc:
      endpoint: 127.0.0.1:0
  jaeger_storage:
    backends:
      memory:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{otlp}
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memory
"""


class StripeMock(Server):
    name = "stripe-mock"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        super().__init__(workdir)
        self.port = port or free_port()
        self.api_base = f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [str(BIN_DIR / "stripe-mock"), f"-http-port={self.port}"]

    def is_ready(self) -> bool:
        return _http_ok(
            f"{self.api_base}/v1/customers", headers={"Authorization": "Bearer sk_test_123"}
        )()
