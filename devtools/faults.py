"""Failure injection from outside: the `FaultService` of one running service process.

Tests make an interleaving happen on purpose by pausing a consumer (`consumer:<queue>`), doing
what must come first, and lifting the pause. `until_held` waits until the paused consumer
holds the message (the count `GetFaults` reports), so nothing here waits a fixed time.
`SetFaults` replaces a process's faults: `pause` and `lift` read what is in force and change
only their own target.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from devtools.platform import LocalPlatform, ServiceProcess
from oms.contracts.v1 import faults_pb2, faults_pb2_grpc
from oms.platform.fault_service import ACTION_NAME, to_proto
from oms.platform.faults import Action, Fault


def consumer(queue: str) -> str:
    return f"consumer:{queue}"


def rpc(method: str) -> str:
    """`rpc("StockService/Reserve")`: the target of one of our gRPC methods."""
    return f"rpc:/oms.contracts.v1.{method}"


class ProcessFaults:
    """The faults of one process, set and read over its gRPC port."""

    def __init__(self, platform: LocalPlatform, process: ServiceProcess) -> None:
        self.platform = platform
        self.process = process

    async def state(self) -> faults_pb2.FaultState:
        async with self.platform.channel(self.process) as channel:
            stub = faults_pb2_grpc.FaultServiceStub(channel)
            state: faults_pb2.FaultState = await stub.GetFaults(
                faults_pb2.GetFaultsRequest(), timeout=10
            )
            return state

    async def rules(self) -> list[Fault]:
        return [
            Fault(
                target=f.target,
                action=ACTION_NAME[f.action],
                seconds=f.seconds,
                code=f.code or "UNAVAILABLE",
            )
            for f in (await self.state()).faults
        ]

    async def set(self, rules: Sequence[Fault]) -> faults_pb2.FaultState:
        """Replace the process's faults with `rules`."""
        request = faults_pb2.SetFaultsRequest(faults=[to_proto(rule) for rule in rules])
        async with self.platform.channel(self.process) as channel:
            stub = faults_pb2_grpc.FaultServiceStub(channel)
            state: faults_pb2.FaultState = await stub.SetFaults(request, timeout=10)
            return state

    async def add(
        self, target: str, action: Action, seconds: float = 0.0, code: str = "UNAVAILABLE"
    ) -> None:
        """Add (or replace) the fault on `target`, keeping the others."""
        others = [rule for rule in await self.rules() if rule.target != target]
        await self.set([*others, Fault(target=target, action=action, seconds=seconds, code=code)])

    async def pause(self, queue: str) -> None:
        """Hold every message the consumer of `queue` takes until `lift`."""
        await self.add(consumer(queue), "pause")

    async def lift(self, target: str) -> None:
        """Drop the fault on `target` (`consumer:<queue>` or `rpc:<method>`)."""
        await self.set([rule for rule in await self.rules() if rule.target != target])

    async def resume(self, queue: str) -> None:
        await self.lift(consumer(queue))

    async def clear(self) -> None:
        await self.set([])

    async def held(self, queue: str) -> int:
        return int((await self.state()).held.get(consumer(queue), 0))

    async def until_held(self, queue: str, count: int = 1, within: float = 30.0) -> None:
        """Until the paused consumer of `queue` holds `count` messages."""
        deadline = time.monotonic() + within
        while (held := await self.held(queue)) != count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.process.service} held {held} of {queue}, not {count}, in {within}s"
                )
            await asyncio.sleep(0.05)
