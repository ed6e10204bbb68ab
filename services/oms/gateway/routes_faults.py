"""Staff routes for demos: add latency or errors to a service's RPCs or consumers, or pause
a consumer, on every instance of the service (`oms.gateway.fault_switch`).

The services decide whether they take faults at all (only in the development mode, or with
`FAULTS_ENABLED=true`): elsewhere the answer is 409, and nothing changes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from oms.gateway.auth import StaffAuth
from oms.gateway.clients import Backends
from oms.gateway.errors import documented
from oms.gateway.fault_switch import FaultSwitch, InstanceState
from oms.gateway.schemas import Request
from oms.platform.faults import ERROR_CODES, Fault

# The services with a gRPC server, each serving its own faults.
FaultyService = Literal["menu", "stock", "order", "payment", "kitchen"]
Service = Annotated[FaultyService, Path(description="The service (every instance of it).")]


class FaultIn(Fault):
    """One fault: `rpc:/<package>.<Service>/<Method>` takes `delay` or `error`;
    `consumer:<queue>` takes `delay`, `error` (the message is retried) or `pause` (it holds
    every message it takes until the fault is lifted)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    code: str = Field(
        default="UNAVAILABLE",
        description="For `error` on an RPC: the gRPC status it answers.",
        json_schema_extra={"enum": list[JsonValue](sorted(ERROR_CODES))},
    )


class FaultsIn(Request):
    faults: list[FaultIn] = Field(
        description="What is in force from now on; [] lifts them all.",
        examples=[[{"target": "rpc:/oms.contracts.v1.StockService/GetLevels", "action": "delay"}]],
    )

    @model_validator(mode="after")
    def _one_fault_per_target(self) -> FaultsIn:
        targets = [fault.target for fault in self.faults]
        twice = sorted({target for target in targets if targets.count(target) > 1})
        if twice:
            raise ValueError(f"one fault per target: {', '.join(twice)} given more than once")
        return self


class InstanceFaults(BaseModel):
    address: str = Field(examples=["10.0.3.7:50051"])
    faults: list[Fault]
    held: dict[str, int] = Field(
        description="Per paused consumer (`consumer:<queue>`), how many messages it holds now."
    )

    @classmethod
    def of(cls, state: InstanceState) -> InstanceFaults:
        return cls(address=state.address, faults=state.faults, held=state.held)


class ServiceFaults(BaseModel):
    service: FaultyService
    instances: list[InstanceFaults] = Field(description="Every healthy instance, by address.")


def router(backends: Backends, staff: StaffAuth) -> APIRouter:
    switch = FaultSwitch(backends)
    faults = APIRouter(
        prefix="/api/admin/faults",
        tags=["admin"],
        dependencies=[staff.required()],
        responses=documented(401, 403, 409, 422, 502, 503),
    )

    @faults.get("/{service}")
    async def read(service: Service) -> ServiceFaults:
        """The faults in force on each instance of `service` (409 if it takes none)."""
        states = await switch.read(service)
        return ServiceFaults(service=service, instances=[InstanceFaults.of(s) for s in states])

    @faults.put("/{service}", responses=documented(413))
    async def replace(service: Service, body: FaultsIn) -> ServiceFaults:
        """Replace the faults of every instance of `service`; 409, changing nothing, if
        one takes none."""
        states = await switch.replace(service, body.faults)
        return ServiceFaults(service=service, instances=[InstanceFaults.of(s) for s in states])

    return faults
