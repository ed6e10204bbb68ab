"""The real servers OMS runs against, as subprocesses on loopback ports.

The binaries come from `scripts/provision-servers` (cached under `.cache/servers/bin`), except
RabbitMQ, which is Debian's package run as a private node. Every server keeps its data and
log in the working directory it is given, so a failed run can be read afterwards. Ports are
free ones unless given (`scripts/dev` gives the usual ones).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from pathlib import Path

from devtools.process import (
    LoopbackServer,
    ManagedProcess,
    free_port,
    http_json,
    http_ok,
    port_open,
)

REPO = Path(__file__).resolve().parents[1]
BIN_DIR = REPO / ".cache" / "servers" / "bin"
RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


class RabbitMQ(ManagedProcess):
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
        overview = f"{self.management_url}/api/overview"
        return port_open(self.port) and http_ok(overview, auth=("guest", "guest"))


class FerretDB(LoopbackServer):
    name = "ferretdb"

    def command(self) -> list[str]:
        return [
            str(BIN_DIR / "ferretdb"),
            f"-listen-addr={self.address}",
            f"-sqlite-dir={self.workdir / 'data'}",
        ]

    def is_ready(self) -> bool:
        return port_open(self.port)

    @property
    def mongodb_url(self) -> str:
        return f"mongodb://{self.address}/"

    def has_index(self, database: str, collection: str, suffix: str) -> bool:
        """Whether the SQLite table of `collection` has an index named `...suffix` (our
        wrapper adds its partial indexes a quarter of a second after a table is made)."""
        path = self.workdir / "data" / f"{database}.sqlite"
        if not path.exists():
            return False
        query = (
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND tbl_name LIKE ? AND name LIKE ?"
        )
        with contextlib.closing(sqlite3.connect(path, timeout=10)) as file:
            return file.execute(query, (f"{collection}_%", f"%{suffix}")).fetchone() is not None

    async def until_indexed(self, database: str, collection: str, suffix: str) -> None:
        """Returns once `collection` has its index `...suffix` (callers bound the wait)."""
        while True:
            if self.has_index(database, collection, suffix):
                return
            await asyncio.sleep(0.05)  # the wrapper checks four times a second


class Consul(ManagedProcess):
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
        # The leader's address; "" while the agent has not elected itself yet.
        return http_json(f"http://{self.http_address}/v1/status/leader") not in ("", None)


class Jaeger(ManagedProcess):
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
        return http_ok(f"{self.query_url}/api/services")


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


class StripeMock(LoopbackServer):
    name = "stripe-mock"

    def command(self) -> list[str]:
        return [str(BIN_DIR / "stripe-mock"), f"-http-port={self.port}"]

    def is_ready(self) -> bool:
        return http_ok(
            f"{self.api_base}/v1/customers", headers={"Authorization": "Bearer sk_test_123"}
        )

    @property
    def api_base(self) -> str:
        return f"http://{self.address}"
