"""Mutual TLS between services: every server asks for a client certificate signed by the
platform's CA, and every client presents its own and checks the server's.

Certificates come from files (`GRPC_TLS_*`): on Kubernetes a Secret in cert-manager's layout
mounted at `/etc/oms/tls`, locally the CA `scripts/dev` and the test platform make. Peers are
reached by address, so certificates are checked against one shared name
(`GRPC_TLS_SERVER_NAME`, a SAN of every service certificate) rather than the address.
"""

from __future__ import annotations

from pathlib import Path

import grpc

from oms.platform.settings import GrpcSettings


def _read(settings: GrpcSettings) -> tuple[bytes, bytes, bytes]:
    return (
        Path(settings.tls_cert_file).read_bytes(),
        Path(settings.tls_key_file).read_bytes(),
        Path(settings.tls_ca_file).read_bytes(),
    )


def server_credentials(settings: GrpcSettings) -> grpc.ServerCredentials | None:
    if not settings.tls:
        return None
    cert, key, ca = _read(settings)
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=True
    )


def channel_credentials(settings: GrpcSettings) -> grpc.ChannelCredentials | None:
    if not settings.tls:
        return None
    cert, key, ca = _read(settings)
    return grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )


def channel_options(settings: GrpcSettings) -> list[tuple[str, str]]:
    return [("grpc.ssl_target_name_override", settings.tls_server_name)] if settings.tls else []
