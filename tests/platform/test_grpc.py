"""The gRPC server helper (health, graceful stop) and the client helpers (deadline, reuse)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse

from devtools.process import free_port
from oms.platform import grpc_client
from oms.platform.discovery import Discovery
from oms.platform.grpc_server import GrpcServer
from oms.platform.settings import ConsulSettings, GrpcSettings

# The health servicer needs a context only to answer NOT_FOUND, for a service it never heard of.
NO_CONTEXT: Any = None


def _echo_service(sleeping: asyncio.Event | None = None) -> grpc.GenericRpcHandler:
    """`test.Echo`: `Echo` answers its request; `Sleep` waits that many seconds first (and
    sets `sleeping` once it has begun)."""

    async def echo(request: bytes, context: Any) -> bytes:
        return request

    async def sleep(request: bytes, context: Any) -> bytes:
        if sleeping is not None:
            sleeping.set()
        await asyncio.sleep(float(request.decode()))
        return request

    return grpc.method_handlers_generic_handler(
        "test.Echo",
        {
            "Echo": grpc.unary_unary_rpc_method_handler(echo),
            "Sleep": grpc.unary_unary_rpc_method_handler(sleep),
        },
    )


def _method(channel: grpc.aio.Channel, name: str) -> grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]:
    """A raw-bytes callable for one of the test service's methods."""
    return channel.unary_unary(f"/test.Echo/{name}")


@pytest.fixture
def sleeping() -> asyncio.Event:
    return asyncio.Event()


@pytest.fixture
async def server(sleeping: asyncio.Event) -> AsyncIterator[GrpcServer]:
    started = GrpcServer(
        GrpcSettings(port=0, shutdown_grace_seconds=5), service_names=["test.Echo"]
    )
    started.server.add_generic_rpc_handlers((_echo_service(sleeping),))
    await started.start()
    yield started
    await started.server.stop(0)


async def test_the_health_service_answers_serving_for_the_server_and_its_services(
    server: GrpcServer,
) -> None:
    channels = grpc_client.Channels(GrpcSettings())
    channel = channels.get(server.address)

    assert await grpc_client.check_health(channel) == "SERVING"
    assert await grpc_client.check_health(channel, "test.Echo") == "SERVING"
    await server.set_serving(False)
    assert await grpc_client.check_health(channel, "test.Echo") == "NOT_SERVING"
    await channels.close()


async def test_a_server_may_start_not_serving_and_never_serves_again_once_stopping() -> None:
    server = GrpcServer(GrpcSettings(port=0), service_names=["test.Echo"])
    await server.start(serving=False)  # as while a dependency is down at start
    channels = grpc_client.Channels(GrpcSettings())
    channel = channels.get(server.address)
    try:
        assert await grpc_client.check_health(channel, "test.Echo") == "NOT_SERVING"
        await server.set_serving(True)  # the dependency is back
        assert await grpc_client.check_health(channel) == "SERVING"
        assert await grpc_client.check_health(channel, "test.Echo") == "SERVING"

        await server.stop()
        await server.set_serving(True)  # a dependency coming back while stopping
        for name in ("", "test.Echo"):
            # Asked of the health servicer itself: the stopped server takes no calls.
            answer = await server.health.Check(HealthCheckRequest(service=name), NO_CONTEXT)
            assert answer.status == HealthCheckResponse.NOT_SERVING, name
    finally:
        await channels.close()


async def test_every_call_gets_the_default_deadline(server: GrpcServer) -> None:
    channels = grpc_client.Channels(GrpcSettings(default_deadline_seconds=0.3))
    sleep = _method(channels.get(server.address), "Sleep")

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await sleep(b"2")

    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert await sleep(b"0.01", timeout=2) == b"0.01"  # an explicit timeout wins
    await channels.close()


async def test_calls_reuse_one_channel_per_target(server: GrpcServer) -> None:
    channels = grpc_client.Channels(GrpcSettings())

    replies = await asyncio.gather(
        *(_method(channels.get(server.address), "Echo")(b"%d" % n) for n in range(200))
    )

    assert replies == [b"%d" % n for n in range(200)]
    assert channels.opened == 1
    await channels.close()


async def test_a_client_builds_one_stub_per_channel(server: GrpcServer) -> None:
    channels = grpc_client.Channels(GrpcSettings())

    async def resolve(service: str) -> list[str]:
        return [server.address]

    built: list[grpc.aio.Channel] = []

    def stub(channel: grpc.aio.Channel) -> grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]:
        built.append(channel)
        return _method(channel, "Echo")

    client = grpc_client.Client(grpc_client.Balancer("echo", resolve, channels), stub)
    replies = []
    for request in (b"0", b"1", b"2", b"3", b"4"):
        replies.append(await client.call(lambda echo: echo(request)))  # noqa: B023 - awaited here

    assert replies == [b"0", b"1", b"2", b"3", b"4"]
    assert built == [channels.get(server.address)]
    await channels.close()


async def test_stop_finishes_in_flight_calls_and_refuses_new_ones(
    server: GrpcServer, sleeping: asyncio.Event
) -> None:
    channels = grpc_client.Channels(GrpcSettings())
    channel = channels.get(server.address)
    in_flight = asyncio.ensure_future(_method(channel, "Sleep")(b"0.5"))
    await asyncio.wait_for(sleeping.wait(), 5)

    await server.stop()

    assert await in_flight == b"0.5"
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _method(channel, "Echo")(b"late", timeout=1)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    await channels.close()


async def test_the_balancer_spreads_calls_over_the_resolved_instances() -> None:
    servers = [GrpcServer(GrpcSettings(port=0), service_names=[]) for _ in range(2)]
    for each in servers:
        await each.start()
    channels = grpc_client.Channels(GrpcSettings())

    async def resolve(service: str) -> list[str]:
        return [each.address for each in servers]

    balancer = grpc_client.Balancer("echo", resolve, channels)
    picked = [await balancer.channel() for _ in range(4)]

    assert picked[0] is picked[2]
    assert picked[1] is picked[3]
    assert picked[0] is not picked[1]
    assert channels.opened == 2
    await channels.close()
    for each in servers:
        await each.server.stop(0)


async def test_calls_fail_over_from_a_dead_instance_and_stop_trying_it() -> None:
    live, dead = (GrpcServer(GrpcSettings(port=0), service_names=[]) for _ in range(2))
    for each in (live, dead):
        each.server.add_generic_rpc_handlers((_echo_service(),))
        await each.start()
    dead_address = dead.address
    await dead.server.stop(0)  # gone, but still listed, as until Consul's next check
    attempts: list[str] = []

    class Recorded(grpc_client.Channels):
        def get(self, target: str) -> grpc.aio.Channel:
            attempts.append(target)
            return super().get(target)

    channels = Recorded(GrpcSettings())

    async def resolve(service: str) -> list[str]:
        return sorted([live.address, dead_address])

    balancer = grpc_client.Balancer("echo", resolve, channels)

    async def echo(channel: grpc.aio.Channel) -> bytes:
        return await _method(channel, "Echo")(b"hi", timeout=2)

    replies = [await balancer.call(echo) for _ in range(10)]

    assert replies == [b"hi"] * 10
    assert attempts.count(dead_address) == 1, "the dead instance is quarantined after one try"
    assert await balancer.pick() == live.address
    await channels.close()
    await live.server.stop(0)


async def test_a_lookup_that_fails_reaches_the_caller_as_unavailable() -> None:
    # Consul is not there and nothing is cached: the balancer's callers see UNAVAILABLE, as
    # for a dead instance, and may retry.
    dead = Discovery(ConsulSettings(http_addr=f"127.0.0.1:{free_port()}"))
    resolve = grpc_client.resolving_as_unavailable(dead.healthy)
    balancer = grpc_client.Balancer("stock", resolve, grpc_client.Channels(GrpcSettings()))

    async def never(channel: grpc.aio.Channel) -> bytes:
        raise AssertionError("no instance to call")

    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await balancer.call(never)
    finally:
        await dead.close()

    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert (raised.value.details() or "").startswith("cannot look up stock: ")


async def test_a_lookup_that_finds_nobody_is_unavailable_too() -> None:
    async def nobody(service: str) -> list[str]:
        return []

    resolve = grpc_client.resolving_as_unavailable(nobody)
    balancer = grpc_client.Balancer("stock", resolve, grpc_client.Channels(GrpcSettings()))

    assert await resolve("stock") == []
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await balancer.pick()
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert raised.value.details() == "no healthy instance of stock"
