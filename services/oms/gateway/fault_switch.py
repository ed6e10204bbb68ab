"""The staff's failure switch for demos: the faults of every instance of one service.

Each service process serves `FaultService` only where faults are allowed (the development
mode, or `FAULTS_ENABLED=true`), and each process has faults of its own, so a switch for
"the stock service" reads and sets them on every healthy instance Consul knows. Setting asks
every instance first, so a refusal (faults off there) changes nothing anywhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import grpc

from oms.contracts.v1 import faults_pb2, faults_pb2_grpc
from oms.gateway.clients import Backends
from oms.gateway.errors import ApiError
from oms.platform import grpc_client
from oms.platform.fault_service import ACTION_NAME, to_proto
from oms.platform.faults import Fault

# Where faults are off, the service does not serve FaultService at all (UNIMPLEMENTED);
# PERMISSION_DENIED is its answer to faults it may not take.
REFUSED = frozenset({grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.PERMISSION_DENIED})


@dataclass(frozen=True)
class InstanceState:
    address: str
    faults: list[Fault]
    held: dict[str, int]


class FaultSwitch:
    def __init__(self, backends: Backends) -> None:
        self.backends = backends  # its Consul resolution and the process's channels

    async def read(self, service: str) -> list[InstanceState]:
        targets = await self._instances(service)
        return list(await asyncio.gather(*(self._get(service, t) for t in targets)))

    async def replace(self, service: str, faults: Sequence[Fault]) -> list[InstanceState]:
        """Replace the faults of every instance of `service` with `faults`."""
        targets = await self._instances(service)
        await asyncio.gather(*(self._get(service, t) for t in targets))  # each one allows them
        request = faults_pb2.SetFaultsRequest(faults=[to_proto(fault) for fault in faults])
        return list(await asyncio.gather(*(self._set(service, t, request) for t in targets)))

    async def _instances(self, service: str) -> list[str]:
        targets = await self.backends.resolve(service)
        if not targets:
            raise grpc_client.unavailable(f"no healthy instance of {service}")
        return targets

    def _stub(self, target: str) -> faults_pb2_grpc.FaultServiceAsyncStub:
        return faults_pb2_grpc.FaultServiceStub(self.backends.channels.get(target))

    async def _get(self, service: str, target: str) -> InstanceState:
        try:
            state = await self._stub(target).GetFaults(faults_pb2.GetFaultsRequest())
        except grpc.aio.AioRpcError as exc:
            if exc.code() in REFUSED:
                raise _faults_disabled(service, target) from exc
            raise
        return _state(target, state)

    async def _set(
        self, service: str, target: str, request: faults_pb2.SetFaultsRequest
    ) -> InstanceState:
        try:
            state = await self._stub(target).SetFaults(request)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in REFUSED:
                raise _faults_disabled(service, target) from exc
            raise
        return _state(target, state)


def _faults_disabled(service: str, target: str) -> ApiError:
    return ApiError(
        409,
        "faults_disabled",
        f"{service} at {target} takes no faults: it allows them only in the development "
        "mode (OMS_MODE=development) or with FAULTS_ENABLED=true",
    )


def _state(target: str, state: faults_pb2.FaultState) -> InstanceState:
    faults = [
        Fault(
            target=f.target,
            action=ACTION_NAME[f.action],
            seconds=f.seconds,
            code=f.code or "UNAVAILABLE",
        )
        for f in state.faults
    ]
    return InstanceState(target, faults, dict(state.held))
