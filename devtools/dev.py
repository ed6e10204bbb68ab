"""`scripts/dev`: the whole platform on this machine, each service reloaded when code changes.

Starts the servers `scripts/provision-servers` built on their usual ports (skipping any port
something already listens on, e.g. your own RabbitMQ), keeping their data in `.cache/dev/`,
then runs every service with the same command its container runs, `python -m oms.<name>`,
under watchfiles, which restarts it when a file under `services/oms` changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import sys

import watchfiles

from devtools import servers
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


def _command(service: str) -> str:
    python = shlex.quote(sys.executable)
    if service == "gateway":
        return f"env GATEWAY_PORT={GATEWAY_PORT} LOG_FORMAT=console {python} -m oms.gateway"
    port = GRPC_PORTS[service]
    return f"env GRPC_PORT={port} LOG_FORMAT=console {python} -m oms.{service}"


async def run_services() -> None:
    services = [*GRPC_PORTS, "gateway"]
    await asyncio.gather(
        *(
            watchfiles.arun_process(
                CODE,
                target=_command(service),
                target_type="command",
                watch_filter=watchfiles.PythonFilter(),
            )
            for service in services
        )
    )


def main() -> None:
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
        for server in reversed(started):
            server.stop()


if __name__ == "__main__":
    main()
