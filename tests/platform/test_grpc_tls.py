"""Mutual TLS on a real gRPC server: only a client with a certificate from our CA gets in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from devtools import grpc_tls as local_ca
from oms.platform import grpc_tls
from oms.platform.grpc_client import Channels, check_health
from oms.platform.grpc_server import GrpcServer
from oms.platform.settings import GrpcSettings


def _settings(credentials: local_ca.Credentials | None = None) -> GrpcSettings:
    if credentials is None:
        return GrpcSettings(
            host="127.0.0.1", port=0, tls_cert_file="", tls_key_file="", tls_ca_file=""
        )
    return GrpcSettings(
        host="127.0.0.1",
        port=0,
        tls_cert_file=str(credentials.cert),
        tls_key_file=str(credentials.key),
        tls_ca_file=str(credentials.ca),
    )


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[GrpcServer]:
    served = GrpcServer(_settings(local_ca.make(tmp_path / "ours")), ["oms.test.Nothing"])
    await served.start()
    yield served
    await served.stop()


async def _health(settings: GrpcSettings, port: int) -> str:
    channels = Channels(settings)
    try:
        return await check_health(channels.get(f"127.0.0.1:{port}"))
    finally:
        await channels.close()


async def test_a_client_with_a_certificate_from_our_ca_is_served(
    server: GrpcServer, tmp_path: Path
) -> None:
    ours = local_ca.make(tmp_path / "ours")
    assert await _health(_settings(ours), server.port) == "SERVING"


async def test_a_plaintext_client_is_refused(server: GrpcServer) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _health(_settings(), server.port)
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


async def test_a_client_with_a_certificate_from_another_ca_is_refused(
    server: GrpcServer, tmp_path: Path
) -> None:
    theirs = local_ca.make(tmp_path / "theirs", name="intruder")
    # It even trusts our CA for the server's side: only its own certificate is foreign.
    mixed = local_ca.Credentials(theirs.cert, theirs.key, local_ca.make(tmp_path / "ours").ca)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _health(_settings(mixed), server.port)
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


async def test_a_client_without_any_certificate_is_refused(
    server: GrpcServer, tmp_path: Path
) -> None:
    ca = Path(local_ca.make(tmp_path / "ours").ca).read_bytes()
    credentials = grpc.ssl_channel_credentials(root_certificates=ca)
    options = grpc_tls.channel_options(_settings(local_ca.make(tmp_path / "ours")))
    async with grpc.aio.secure_channel(f"127.0.0.1:{server.port}", credentials, options) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await check_health(channel)
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


def test_tls_settings_come_all_three_or_none() -> None:
    with pytest.raises(ValueError, match="go together"):
        GrpcSettings(tls_cert_file="a.crt", tls_key_file="", tls_ca_file="")
