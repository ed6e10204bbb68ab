"""`python -m oms.platform.healthcheck grpc|http TARGET`: a probe for container health checks.

Exits 0 when the target answers healthy: a gRPC server whose `grpc.health.v1` reports
SERVING (over mutual TLS when `GRPC_TLS_*` are set), or an HTTP URL that answers 2xx, such as
a process's ops `/readyz`. The images carry no grpc_health_probe or curl,
so docker compose (and people) use this.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request

import grpc
from grpc_health.v1 import health_pb2

from oms.platform import grpc_tls
from oms.platform.settings import GrpcSettings


def grpc_serving(target: str, timeout: float, settings: GrpcSettings | None = None) -> bool:
    """With `settings`' TLS files (`GRPC_TLS_*`), over mutual TLS like the services."""
    settings = settings or GrpcSettings(tls_cert_file="", tls_key_file="", tls_ca_file="")
    credentials = grpc_tls.channel_credentials(settings)
    options = grpc_tls.channel_options(settings)
    channel = (
        grpc.insecure_channel(target)
        if credentials is None
        else grpc.secure_channel(target, credentials, options=options)
    )
    with channel:
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
    if args.kind == "grpc":
        healthy = grpc_serving(args.target, args.timeout, GrpcSettings())
    else:
        healthy = http_ok(args.target, args.timeout)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
