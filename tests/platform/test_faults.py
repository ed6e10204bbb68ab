"""Failure injection on a real gRPC server: delay or fail an RPC, refused where faults are
not allowed, and the FaultService that sets and reports them (held messages included)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from pydantic import ValidationError

from oms.contracts.v1 import faults_pb2, faults_pb2_grpc
from oms.platform import grpc_client
from oms.platform.broker import Broker
from oms.platform.consumer import Consumer
from oms.platform.events import Event
from oms.platform.fault_service import FaultApi
from oms.platform.faults import NO_FAULTS, Fault, FaultRefused, Faults
from oms.platform.grpc_server import GrpcServer
from oms.platform.settings import GrpcSettings
from tests.platform.support import event_type, eventually, unique

ECHO = "/test.Echo/Echo"
UNKNOWN_ACTION = faults_pb2.FaultAction.ValueType(7)  # from a newer client, say


def _echo_service() -> grpc.GenericRpcHandler:
    async def echo(request: bytes, context: Any) -> bytes:
        return request

    return grpc.method_handlers_generic_handler(
        "test.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
    )


async def _serve(faults: Faults) -> GrpcServer:
    server = GrpcServer(GrpcSettings(port=0), ["test.Echo"], faults)
    server.server.add_generic_rpc_handlers((_echo_service(),))
    await server.start()
    return server


@pytest.fixture
async def channels() -> AsyncIterator[grpc_client.Channels]:
    opened = grpc_client.Channels(GrpcSettings())
    yield opened
    await opened.close()


def _echo(channel: grpc.aio.Channel) -> grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]:
    return channel.unary_unary(ECHO)


async def test_an_rpc_delay_holds_the_call_back_until_lifted(
    channels: grpc_client.Channels,
) -> None:
    faults = Faults(allowed=True)
    server = await _serve(faults)
    echo = _echo(channels.get(server.address))
    try:
        faults.set([Fault(target=f"rpc:{ECHO}", action="delay", seconds=30)])
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await echo(b"hi", timeout=0.5)
        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

        faults.set([Fault(target=f"rpc:{ECHO}", action="delay", seconds=0.3)])
        started = time.monotonic()
        assert await echo(b"hi", timeout=5) == b"hi"
        assert time.monotonic() - started >= 0.3

        faults.lift(f"rpc:{ECHO}")
        assert await echo(b"hi", timeout=5) == b"hi"
    finally:
        await server.server.stop(0)


async def test_an_rpc_error_answers_the_code_asked_for(channels: grpc_client.Channels) -> None:
    faults = Faults(allowed=True, rules=[Fault(target=f"rpc:{ECHO}", action="error")])
    server = await _serve(faults)
    echo = _echo(channels.get(server.address))
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await echo(b"hi")
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE  # the default
        assert raised.value.details() == f"injected fault on {ECHO}"

        faults.set([Fault(target=f"rpc:{ECHO}", action="error", code="FAILED_PRECONDITION")])
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await echo(b"hi")
        assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        # Other methods, and the health service, are untouched.
        assert await grpc_client.check_health(channels.get(server.address)) == "SERVING"
    finally:
        await server.server.stop(0)


def test_faults_are_refused_where_they_are_not_allowed() -> None:
    faults = Faults(allowed=False)

    with pytest.raises(FaultRefused, match="faults are off"):
        faults.set([Fault(target=f"rpc:{ECHO}", action="error")])
    with pytest.raises(FaultRefused):
        Faults(allowed=False, rules=[Fault(target="consumer:q", action="pause")])
    faults.set([])  # clearing is always allowed
    assert faults.rules == []


async def test_a_server_without_faults_allowed_serves_no_fault_service(
    channels: grpc_client.Channels,
) -> None:
    server = await _serve(NO_FAULTS)
    stub = faults_pb2_grpc.FaultServiceStub(channels.get(server.address))
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.GetFaults(faults_pb2.GetFaultsRequest())
        assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert await _echo(channels.get(server.address))(b"hi") == b"hi"
    finally:
        await server.server.stop(0)


async def test_the_fault_service_refuses_with_permission_denied_when_not_allowed(
    channels: grpc_client.Channels,
) -> None:
    server = GrpcServer(GrpcSettings(port=0), [])
    faults_pb2_grpc.add_FaultServiceServicer_to_server(FaultApi(Faults(False)), server.server)
    await server.start()
    stub = faults_pb2_grpc.FaultServiceStub(channels.get(server.address))
    error = faults_pb2.Fault(target="consumer:q", action=faults_pb2.FAULT_ACTION_ERROR)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.SetFaults(faults_pb2.SetFaultsRequest(faults=[error]))
        assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "faults are off" in (raised.value.details() or "")
    finally:
        await server.server.stop(0)


async def test_the_fault_service_sets_faults_and_reports_what_a_pause_holds(
    broker: Broker, channels: grpc_client.Channels
) -> None:
    faults = Faults(allowed=True)
    server = await _serve(faults)
    stub = faults_pb2_grpc.FaultServiceStub(channels.get(server.address))
    queue, key = unique("test."), event_type()
    handled: list[str] = []

    async def handler(event: Event) -> None:
        handled.append(event.id)

    consumer = Consumer(broker, queue, {key: handler}, faults=faults)
    await consumer.start()
    pause = faults_pb2.Fault(target=f"consumer:{queue}", action=faults_pb2.FAULT_ACTION_PAUSE)
    slow = faults_pb2.Fault(target=f"rpc:{ECHO}", action=faults_pb2.FAULT_ACTION_DELAY, seconds=0.1)
    try:
        state = await stub.SetFaults(faults_pb2.SetFaultsRequest(faults=[pause, slow]))
        assert _named(state) == [
            (f"consumer:{queue}", faults_pb2.FAULT_ACTION_PAUSE, 0.0),
            (f"rpc:{ECHO}", faults_pb2.FAULT_ACTION_DELAY, 0.1),
        ]
        for _ in range(2):
            await broker.publish(Event(type=key))

        async def held_two() -> bool:
            state = await stub.GetFaults(faults_pb2.GetFaultsRequest())
            return dict(state.held) == {f"consumer:{queue}": 2}

        await eventually(held_two, what="two messages held, as GetFaults reports")
        assert handled == []

        state = await stub.SetFaults(faults_pb2.SetFaultsRequest(faults=[slow]))
        assert _named(state) == [(f"rpc:{ECHO}", faults_pb2.FAULT_ACTION_DELAY, 0.1)]
        await eventually(lambda: len(handled) == 2, what="the held messages handled")
        assert dict((await stub.GetFaults(faults_pb2.GetFaultsRequest())).held) == {}
    finally:
        await consumer.stop()
        await server.server.stop(0)


async def test_the_fault_service_rejects_a_target_it_cannot_name(
    channels: grpc_client.Channels,
) -> None:
    server = await _serve(Faults(allowed=True))
    stub = faults_pb2_grpc.FaultServiceStub(channels.get(server.address))
    bad = faults_pb2.Fault(target="the kitchen", action=faults_pb2.FAULT_ACTION_PAUSE)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.SetFaults(faults_pb2.SetFaultsRequest(faults=[bad]))
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "target" in (raised.value.details() or "")
    finally:
        await server.server.stop(0)


def _named(state: faults_pb2.FaultState) -> list[tuple[str, int, float]]:
    return [(fault.target, fault.action, fault.seconds) for fault in state.faults]


async def test_a_fault_on_the_fault_service_itself_cannot_lock_it(
    channels: grpc_client.Channels,
) -> None:
    faults = Faults(allowed=True)
    server = await _serve(faults)
    stub = faults_pb2_grpc.FaultServiceStub(channels.get(server.address))
    set_faults = "/oms.contracts.v1.FaultService/SetFaults"
    lock = faults_pb2.Fault(target=f"rpc:{set_faults}", action=faults_pb2.FAULT_ACTION_ERROR)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.SetFaults(faults_pb2.SetFaultsRequest(faults=[lock]))
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "FaultService itself takes no faults" in (raised.value.details() or "")
        assert faults.rules == []
        with pytest.raises(ValidationError, match="FaultService itself"):  # nor FAULTS_RULES
            Fault(target=f"rpc:{set_faults}", action="error")
        # Faults on other services' methods are still welcome.
        stock = faults_pb2.Fault(
            target="rpc:/oms.contracts.v1.StockService/Reserve",
            action=faults_pb2.FAULT_ACTION_ERROR,
        )
        assert len((await stub.SetFaults(faults_pb2.SetFaultsRequest(faults=[stock]))).faults) == 1
    finally:
        await server.server.stop(0)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (faults_pb2.Fault(target=f"rpc:{ECHO}"), "action"),
        (faults_pb2.Fault(target=f"rpc:{ECHO}", action=UNKNOWN_ACTION), "action"),
        (
            faults_pb2.Fault(
                target=f"rpc:{ECHO}", action=faults_pb2.FAULT_ACTION_ERROR, code="NOT_A_CODE"
            ),
            "code",
        ),
        (
            faults_pb2.Fault(target=f"rpc:{ECHO}", action=faults_pb2.FAULT_ACTION_ERROR, code="OK"),
            "code",
        ),
        (faults_pb2.Fault(target=f"rpc:{ECHO}", action=faults_pb2.FAULT_ACTION_PAUSE), "pause"),
        (
            faults_pb2.Fault(target="consumer:q", action=faults_pb2.FAULT_ACTION_DELAY, seconds=-1),
            "seconds",
        ),
    ],
)
async def test_the_fault_service_rejects_a_fault_it_would_not_apply_as_asked(
    channels: grpc_client.Channels, fault: faults_pb2.Fault, reason: str
) -> None:
    faults = Faults(allowed=True)
    server = await _serve(faults)
    stub = faults_pb2_grpc.FaultServiceStub(channels.get(server.address))
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.SetFaults(faults_pb2.SetFaultsRequest(faults=[fault]))
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert reason in (raised.value.details() or "")
        assert faults.rules == []
    finally:
        await server.server.stop(0)


def test_the_unfaultable_target_names_the_fault_service_of_the_contract() -> None:
    from oms.contracts.v1 import faults_pb2
    from oms.platform.faults import UNFAULTABLE

    service = faults_pb2.DESCRIPTOR.services_by_name["FaultService"].full_name
    assert UNFAULTABLE == f"rpc:/{service}/"
