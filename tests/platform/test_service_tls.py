"""Mutual TLS on real service processes: outside development a process without certificates
refuses to start, and one started with them (Menu, as its container runs, in production
mode) serves only callers whose certificate the platform's CA signed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from devtools import grpc_tls as local_ca
from devtools import servers, start_up
from devtools.platform import LocalPlatform, ServiceProcess
from oms.contracts.v1 import menu_pb2, menu_pb2_grpc
from tests.platform.sample_process import SAMPLE


def test_production_without_certificates_refuses_plaintext_grpc_in_one_line() -> None:
    # Neither GRPC_TLS_* files nor GRPC_TLS_INSECURE: nothing says plaintext is intended.
    done = start_up.run(str(SAMPLE), OMS_MODE="production", SAMPLE_QUEUE="sample.unused")

    assert done.returncode == 78, done.stderr
    assert done.stderr.splitlines() == [
        "sample: refusing to start: gRPC needs mutual TLS outside development: set "
        "GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE and GRPC_TLS_CA_FILE (or GRPC_TLS_INSECURE=true)"
    ]


@pytest.fixture(scope="module")
def menu(
    tmp_path_factory: pytest.TempPathFactory,
    rabbitmq: servers.RabbitMQ,
    ferretdb: servers.FerretDB,
    consul: servers.Consul,
    stripe_mock: servers.StripeMock,
) -> Iterator[tuple[LocalPlatform, ServiceProcess]]:
    """Menu alone, with the platform's certificates, in production mode."""
    platform = LocalPlatform(
        tmp_path_factory.mktemp("menu-tls"),
        rabbitmq,
        ferretdb,
        consul,
        stripe_mock,
        tls=True,
        env={"OMS_MODE": "production"},
    )
    try:
        platform.start(["menu"])
        yield platform, platform.process("menu")
    finally:
        platform.stop()


async def _list_items(channel: grpc.aio.Channel) -> menu_pb2.ListItemsResponse:
    async with channel:
        response: menu_pb2.ListItemsResponse = await menu_pb2_grpc.MenuServiceStub(
            channel
        ).ListItems(menu_pb2.ListItemsRequest(), timeout=10)
        return response


async def test_a_caller_with_the_platforms_certificate_is_served(
    menu: tuple[LocalPlatform, ServiceProcess],
) -> None:
    platform, process = menu

    listed = await _list_items(platform.channel(process))

    assert len(listed.items) > 0  # the demo menu it seeded


async def test_a_plaintext_caller_is_refused(menu: tuple[LocalPlatform, ServiceProcess]) -> None:
    _, process = menu

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _list_items(grpc.aio.insecure_channel(f"127.0.0.1:{process.port}"))

    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


async def test_a_caller_with_a_certificate_from_another_ca_is_refused(
    menu: tuple[LocalPlatform, ServiceProcess], tmp_path: Path
) -> None:
    platform, process = menu
    assert platform.tls is not None
    theirs = local_ca.make(tmp_path / "theirs", name="intruder")
    # It even trusts the platform's CA for the server's side: only its own certificate is foreign.
    credentials = grpc.ssl_channel_credentials(
        root_certificates=platform.tls.ca.read_bytes(),
        private_key=theirs.key.read_bytes(),
        certificate_chain=theirs.cert.read_bytes(),
    )
    options = [("grpc.ssl_target_name_override", local_ca.SERVER_NAME)]
    channel = grpc.aio.secure_channel(f"127.0.0.1:{process.port}", credentials, options=options)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _list_items(channel)

    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
