"""The OMS services as real processes (`python -m oms.<service>`), wired to the real servers.

Each `LocalPlatform` gets its own RabbitMQ vhost, MongoDB database and Consul service prefix,
so platforms started by different tests never see each other's messages, documents or
instances. Processes are started exactly as their containers run them, with settings only
from environment variables.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import grpc
import httpx

from devtools import grpc_tls, servers
from devtools.process import ManagedProcess, free_port
from oms.platform import healthcheck

GRPC_SERVICES = ("menu", "stock", "order", "payment", "kitchen")
WEBHOOK_SECRET = "whsec_test_" + "e2e" * 8  # a test-only signing secret


class StripeApi(Protocol):
    """Where Payment's Stripe calls go: stripe-mock, or the stateful `devtools.stripe_emulator`."""

    @property
    def api_base(self) -> str: ...


class ServiceProcess(ManagedProcess):
    """One service process with its own log; stopped politely, or killed on purpose."""

    stop_grace = 30.0

    def __init__(
        self, service: str, env: dict[str, str], workdir: Path, port: int, ops_port: int
    ) -> None:
        super().__init__(workdir, cwd=servers.REPO, log_name=f"{service}-{port}")
        self.name = self.service = service
        self.env = env
        self.port = port
        self.ops_port = ops_port

    @property
    def cooks(self) -> str:
        """For a kitchen: the prefix of its cooks' names (`KITCHEN_INSTANCE/`)."""
        return f"{self.env['KITCHEN_INSTANCE']}/"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.ops_port}/metrics"

    def command(self) -> list[str]:
        return [sys.executable, "-m", f"oms.{self.service}"]

    def environment(self) -> dict[str, str]:
        return self.env

    def is_ready(self) -> bool:
        ready = healthcheck.http_ok(f"http://127.0.0.1:{self.ops_port}/readyz", timeout=1)
        if self.service == "gateway":
            # Both of its own ports: on a shared machine another program may have taken the
            # one chosen up front, and answer in its place.
            healthz = f"http://127.0.0.1:{self.port}/healthz"
            return ready and healthcheck.http_ok(healthz, timeout=1) and self.running
        return ready


class LocalPlatform:
    """Every OMS service as its own process against the real servers."""

    def __init__(
        self,
        workdir: Path,
        rabbitmq: servers.RabbitMQ,
        ferretdb: servers.FerretDB,
        consul: servers.Consul,
        stripe: StripeApi,
        jaeger: servers.Jaeger | None = None,
        seconds_per_item: float = 0.2,
        kitchen_workers: int = 2,
        tls: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """`env` adds to (or overrides) every process's settings, e.g. short deadlines."""
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.rabbitmq = rabbitmq
        self.jaeger = jaeger
        self.run_id = uuid.uuid4().hex[:8]
        self.vhost = f"oms-{self.run_id}"
        self.database = f"oms_{self.run_id}"
        self.consul_prefix = f"t{self.run_id}-"
        self.admin_token = f"admin-{self.run_id}"
        self.webhook_secret = WEBHOOK_SECRET
        self.processes: list[ServiceProcess] = []
        # Chosen up front: Payment puts the gateway's pages in its links.
        self.gateway_port = free_port()
        gateway = f"http://127.0.0.1:{self.gateway_port}"
        self.base_env = {
            **os.environ,
            "RABBITMQ_URL": f"amqp://guest:guest@127.0.0.1:{rabbitmq.port}/{quote(self.vhost)}",
            # Quick retries: a message that must wait for another service waits briefly.
            "RABBITMQ_RETRY_DELAYS_MS": "[200, 500, 1000, 2000, 4000]",
            "MONGODB_URL": ferretdb.mongodb_url,
            "MONGODB_DATABASE": self.database,
            "CONSUL_HTTP_ADDR": consul.http_address,
            "CONSUL_SERVICE_PREFIX": self.consul_prefix,
            "CONSUL_CHECK_INTERVAL": "1s",
            "CONSUL_CACHE_TTL_SECONDS": "1",
            "GRPC_HOST": "127.0.0.1",
            # Tests race hundreds of orders on two shared cores; correctness is what they
            # check here, and bench/ measures latency. Production keeps the 5 s default.
            "GRPC_DEFAULT_DEADLINE_SECONDS": "20",
            "GRPC_ADVERTISE_HOST": "127.0.0.1",
            "STRIPE_API_BASE": stripe.api_base,
            "STRIPE_WEBHOOK_SECRET": self.webhook_secret,
            "KITCHEN_SECONDS_PER_ITEM": str(seconds_per_item),
            "KITCHEN_WORKERS": str(kitchen_workers),
            "GATEWAY_ADMIN_TOKEN": self.admin_token,
            "GATEWAY_SESSION_SECRET": f"session-{uuid.uuid4().hex}",
            # Tests race hundreds of orders from one address; the limits have tests of their own.
            "GATEWAY_ORDER_BURST": "10000",
            "GATEWAY_SESSION_BURST": "10000",
            "GATEWAY_SESSION_RATE_PER_MINUTE": "10000",
            "GATEWAY_WEBHOOK_BURST": "10000",
            "GATEWAY_WEBHOOK_RATE_PER_SECOND": "10000",
            # The local mode: stripe-mock's test payment page is served by the gateway.
            "OMS_MODE": "development",
            "PAYMENT_TEST_PAGE_URL": f"{gateway}/test-payments/{{order_id}}",
            "STRIPE_SUCCESS_URL": f"{gateway}/orders/{{order_id}}?t={{access_token}}&paid=1",
            "STRIPE_CANCEL_URL": f"{gateway}/orders/{{order_id}}?t={{access_token}}",
            "ORDER_OUTBOX_SWEEP_SECONDS": "2",
            "PAYMENT_OUTBOX_SWEEP_SECONDS": "2",
            "KITCHEN_OUTBOX_SWEEP_SECONDS": "2",
            "OPS_CHECK_INTERVAL_SECONDS": "0.5",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
        self.tls = grpc_tls.make(workdir / "tls") if tls else None
        if self.tls is not None:
            self.base_env.update(self.tls.environment())
        if jaeger is not None:
            self.base_env["OTEL_EXPORTER_OTLP_ENDPOINT"] = jaeger.otlp_grpc_endpoint
        else:
            self.base_env["OTEL_SDK_DISABLED"] = "true"
        self.base_env.update(env or {})

    @property
    def amqp_url(self) -> str:
        """The platform's own vhost on the broker."""
        return self.base_env["RABBITMQ_URL"]

    def database_name(self, service: str) -> str:
        """The database `service` keeps its documents in (`oms.platform.mongo.database`)."""
        return f"{self.database}_{service}"

    def channel(self, process: ServiceProcess) -> grpc.aio.Channel:
        """A gRPC channel to one process, over the platform's mutual TLS when it has one."""
        target = f"127.0.0.1:{process.port}"
        if self.tls is None:
            return grpc.aio.insecure_channel(target)
        credentials = grpc.ssl_channel_credentials(
            root_certificates=self.tls.ca.read_bytes(),
            private_key=self.tls.key.read_bytes(),
            certificate_chain=self.tls.cert.read_bytes(),
        )
        options = [("grpc.ssl_target_name_override", grpc_tls.SERVER_NAME)]
        return grpc.aio.secure_channel(target, credentials, options=options)

    def create_vhost(self) -> None:
        url = f"{self.rabbitmq.management_url}/api/vhosts/{quote(self.vhost, safe='')}"
        auth = ("guest", "guest")
        httpx.put(url, auth=auth, timeout=10).raise_for_status()
        permissions = (
            f"{self.rabbitmq.management_url}/api/permissions/{quote(self.vhost, safe='')}/guest"
        )
        body = {"configure": ".*", "write": ".*", "read": ".*"}
        httpx.put(permissions, json=body, auth=auth, timeout=10).raise_for_status()

    def start_service(self, service: str, **extra_env: str) -> ServiceProcess:
        """Start one more instance of `service` (the gateway on the platform's own port)."""
        gateway = service == "gateway" and not self.running("gateway")
        port = self.gateway_port if gateway else free_port()
        ops_port = free_port()
        env = {**self.base_env, "OPS_PORT": str(ops_port), **extra_env}
        if service == "gateway":
            env["GATEWAY_PORT"] = str(port)
        else:
            env["GRPC_PORT"] = str(port)
        if service == "kitchen":
            # Every process here shares the host name: its cooks need names of their own.
            env.setdefault("KITCHEN_INSTANCE", f"kitchen-{port}")
        process = ServiceProcess(service, env, self.workdir, port, ops_port)
        self.processes.append(process)
        process.start()
        return process

    def start(self, services: Sequence[str] = (*GRPC_SERVICES, "gateway")) -> None:
        """Start `services` (all of them by default), the gateway last."""
        self.create_vhost()
        for service in services:
            self.start_service(service)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def running(self, service: str) -> list[ServiceProcess]:
        return [p for p in self.processes if p.service == service and p.running]

    def process(self, service: str) -> ServiceProcess:
        """The first running instance of `service`."""
        running = self.running(service)
        if not running:
            raise LookupError(f"no {service} process is running")
        return running[0]

    def logs(self) -> str:
        """Every process's log tail, for a failure message."""
        return "\n\n".join(f"== {p.service}:{p.port}\n{p.log_tail(30)}" for p in self.processes)
