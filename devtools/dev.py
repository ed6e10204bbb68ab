"""`scripts/dev`: the whole platform on this machine, each service reloaded when code changes.

Starts the servers `scripts/provision-servers` built on their usual ports (skipping any port
something already listens on, e.g. your own RabbitMQ), keeping their data in `.cache/dev/`,
then runs every service with the same command its container runs, `python -m oms.<name>`,
under watchfiles, which restarts it when a file under `services/oms` changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import sys

import watchfiles

from devtools import grpc_tls, servers
from devtools.process import ManagedProcess, port_open

DATA = servers.REPO / ".cache" / "dev"
CODE = servers.REPO / "services" / "oms"
GRPC_PORTS = {"menu": 50051, "stock": 50052, "order": 50053, "payment": 50054, "kitchen": 50055}
GATEWAY_PORT = 8080


def local_servers() -> list[ManagedProcess]:
    """The servers to start, each on the port the services' defaults point at."""
    return [
        servers.RabbitMQ(DATA / "rabbitmq", port=5672, management_port=15672),
        servers.FerretDB(DATA / "ferretdb", port=27017),
        servers.Consul(DATA / "consul", http_port=8500),
        servers.Jaeger(DATA / "jaeger", otlp_port=4317, query_port=16686),
        servers.StripeMock(DATA / "stripe-mock", port=12111),
    ]


def _port(server: ManagedProcess) -> int:
    if isinstance(server, servers.Consul):
        return server.ports["http"]
    if isinstance(server, servers.Jaeger):
        return server.otlp_port
    port: int = getattr(server, "port")  # noqa: B009 - every other server has one `port`
    return port


# Each process's ops server (`/metrics`, `/readyz`), side by side on one machine.
OPS_PORTS = {"menu": 9461, "stock": 9462, "order": 9463, "payment": 9464, "kitchen": 9465}
OPS_PORTS["gateway"] = 9466


def _command(service: str, tls: grpc_tls.Credentials) -> str:
    python = shlex.quote(sys.executable)
    port = (
        f"GATEWAY_PORT={GATEWAY_PORT}"
        if service == "gateway"
        else f"GRPC_PORT={GRPC_PORTS[service]}"
    )
    settings = {
        "OMS_MODE": "development",
        "OPS_PORT": str(OPS_PORTS[service]),
        "LOG_FORMAT": "console",
        **tls.environment(),
    }
    pairs = " ".join(f"{name}={shlex.quote(value)}" for name, value in settings.items())
    return f"env {port} {pairs} {python} -m oms.{service}"


async def run_services() -> None:
    services = [*GRPC_PORTS, "gateway"]
    # The development mode's own CA: services call each other over mutual TLS here too.
    tls = grpc_tls.make(DATA / "tls", name="oms-dev")
    await asyncio.gather(
        *(
            watchfiles.arun_process(
                CODE,
                target=_command(service, tls),
                target_type="command",
                watch_filter=watchfiles.PythonFilter(),
            )
            for service in services
        )
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # SIGTERM (a supervisor, `kill`) stops everything as Ctrl-C does, and Ctrl-C works even
    # when the shell that started us in the background left SIGINT ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    started: list[ManagedProcess] = []
    try:
        for server in local_servers():
            if port_open(_port(server)):
                print(f"dev: {server.name} already listens on {_port(server)}; using it")
                continue
            print(f"dev: starting {server.name} (log: {server.log_path})")
            server.start()
            started.append(server)
        print(f"dev: the shop is at http://127.0.0.1:{GATEWAY_PORT} (Ctrl-C stops everything)")
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_services())
    finally:
        # A SIGTERM reaches this process alone, and watchfiles does not pass it on: the
        # services are in our process group (the servers have sessions of their own).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.killpg(0, signal.SIGTERM)
        for server in reversed(started):
            server.stop()


if __name__ == "__main__":
    main()
