"""`FaultService` over gRPC: read and set this process's faults (`oms.platform.faults`).

Apart from the faults themselves so that what only consumes (the operator declares queues
with the consumer's topology) never imports the generated gRPC contracts.
"""

from __future__ import annotations

from typing import Any, get_args

import grpc

from oms.contracts.v1 import faults_pb2, faults_pb2_grpc
from oms.platform.faults import Action, Fault, FaultRefused, Faults
from oms.platform.protobuf import enum_values, inverse

ACTION: dict[Action, faults_pb2.FaultAction.ValueType] = enum_values(
    get_args(Action), faults_pb2.FaultAction, "FAULT_ACTION_"
)
ACTION_NAME = inverse(ACTION)


def _action(proto: faults_pb2.FaultAction.ValueType) -> Action:
    if proto not in ACTION_NAME:
        raise ValueError(f"action must be one of {', '.join(ACTION)} (got {proto})")
    return ACTION_NAME[proto]


def to_proto(rule: Fault) -> faults_pb2.Fault:
    return faults_pb2.Fault(
        target=rule.target, action=ACTION[rule.action], seconds=rule.seconds, code=rule.code
    )


class FaultApi(faults_pb2_grpc.FaultServiceServicer):
    def __init__(self, faults: Faults) -> None:
        self.faults = faults

    def _state(self) -> faults_pb2.FaultState:
        return faults_pb2.FaultState(
            faults=[to_proto(rule) for rule in self.faults.rules], held=self.faults.held()
        )

    async def SetFaults(
        self, request: faults_pb2.SetFaultsRequest, context: Any
    ) -> faults_pb2.FaultState:
        try:
            rules = [
                Fault(
                    target=f.target,
                    action=_action(f.action),
                    seconds=f.seconds,
                    code=f.code or "UNAVAILABLE",
                )
                for f in request.faults
            ]
            self.faults.set(rules)
        except FaultRefused as exc:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(exc))
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return self._state()

    async def GetFaults(
        self, request: faults_pb2.GetFaultsRequest, context: Any
    ) -> faults_pb2.FaultState:
        return self._state()
