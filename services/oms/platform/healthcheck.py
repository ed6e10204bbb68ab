"""`python -m oms.platform.healthcheck grpc|http TARGET`: a probe for container health checks.

Exits 0 when the target answers healthy: a gRPC server whose `grpc.health.v1` reports
SERVING, or an HTTP URL that answers 2xx. The images carry no grpc_health_probe or curl,
so docker compose (and people) use this.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request

import grpc
from grpc_health.v1 import health_pb2


def grpc_serving(target: str, timeout: float) -> bool:
    with grpc.insecure_channel(target) as channel:
        check = channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString,
        )
        try:
            reply = check(health_pb2.HealthCheckRequest(), timeout=timeout)
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def http_ok(url: str, timeout: float) -> bool:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, TimeoutError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m oms.platform.healthcheck")
    parser.add_argument("kind", choices=["grpc", "http"])
    parser.add_argument("target", help="host:port for grpc, a URL for http")
    parser.add_argument("--timeout", type=float, default=2.0)
    args = parser.parse_args(argv)
    healthy = (grpc_serving if args.kind == "grpc" else http_ok)(args.target, args.timeout)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
