"""Failure injection: add latency or errors to a named RPC or consumer, or pause a consumer.

Off unless allowed: the local development mode allows it, and `FAULTS_ENABLED=true` anywhere
else. Faults come from `FAULTS_RULES` (JSON) at start, and from the `FaultService` every
process then serves (the gateway's admin route forwards to it), so a demo or a chaos test can
change them while the platform runs. The saga tests pause a consumer to hold a message back
and make an interleaving happen on purpose, then wait until the pause holds it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

import grpc
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from oms.platform import logs

log = logs.get(__name__)
Action = Literal["delay", "error", "pause"]


# The API that lifts faults takes none itself: a fault on it could never be lifted.
UNFAULTABLE = "rpc:/oms.contracts.v1.FaultService/"  # faults.proto's service
# `rpc:/oms.contracts.v1.StockService/Reserve` or `consumer:order.payments` (ASCII, as our
# method and queue names are).
TARGET_PATTERN = r"^(rpc:/[A-Za-z0-9_.]+/[A-Za-z0-9_]+|consumer:[A-Za-z0-9_.-]+)$"
# What an RPC error may answer: a failure status, by name.
ERROR_CODES = frozenset(code.name for code in grpc.StatusCode if code is not grpc.StatusCode.OK)


class Fault(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    target: str = Field(pattern=TARGET_PATTERN)
    action: Action
    seconds: float = Field(default=0.0, ge=0, le=600)
    code: str = "UNAVAILABLE"

    @field_validator("target")
    @classmethod
    def _not_the_fault_service(cls, target: str) -> str:
        if target.startswith(UNFAULTABLE):
            raise ValueError("the FaultService itself takes no faults (nothing could lift them)")
        return target

    @field_validator("code")
    @classmethod
    def _a_failure_status(cls, code: str) -> str:
        if code not in ERROR_CODES:
            raise ValueError(f"code must name a gRPC failure status, e.g. UNAVAILABLE: {code!r}")
        return code

    @model_validator(mode="after")
    def _pause_holds_messages(self) -> Fault:
        if self.action == "pause" and not self.target.startswith("consumer:"):
            raise ValueError("pause applies to a consumer (consumer:<queue>), not to an RPC")
        return self


class FaultSettings(BaseSettings):
    """`FAULTS_ENABLED` allows faults outside development; `FAULTS_RULES` sets them at start."""

    model_config = SettingsConfigDict(env_prefix="FAULTS_")

    enabled: bool = False
    rules: list[Fault] = Field(default_factory=list)


class FaultRefused(Exception):
    """Faults were asked for where they are not allowed."""


class InjectedError(Exception):
    """The error a consumer fault raises: retried like any failure."""


class Faults:
    def __init__(self, allowed: bool, rules: Sequence[Fault] = ()) -> None:
        self.allowed = allowed
        self._rules: dict[str, Fault] = {}
        self._changed = asyncio.Event()
        self._held: Counter[str] = Counter()
        self.set(rules)

    def set(self, rules: Sequence[Fault]) -> None:
        if rules and not self.allowed:
            raise FaultRefused("faults are off: set OMS_MODE=development or FAULTS_ENABLED=true")
        self._rules = {rule.target: rule for rule in rules}
        if rules:
            log.warning("faults.set", faults=[rule.model_dump() for rule in rules])
        self._changed.set()
        self._changed = asyncio.Event()

    def lift(self, target: str) -> None:
        """Drop the fault on `target` (a consumer that stops lets its held messages go)."""
        if self._rules.pop(target, None) is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    @property
    def rules(self) -> list[Fault]:
        return list(self._rules.values())

    def held(self) -> dict[str, int]:
        return {target: count for target, count in self._held.items() if count}

    async def before_rpc(self, method: str, context: Any) -> None:
        rule = self._rules.get(f"rpc:{method}")
        if rule is None:
            return
        if rule.action == "delay":
            await asyncio.sleep(rule.seconds)
        elif rule.action == "error":
            await context.abort(grpc.StatusCode[rule.code], f"injected fault on {method}")

    async def before_message(self, queue: str) -> None:
        target = f"consumer:{queue}"
        while (rule := self._rules.get(target)) is not None and rule.action == "pause":
            self._held[target] += 1
            try:
                await self._changed.wait()
            finally:
                self._held[target] -= 1
        if rule is None:
            return
        if rule.action == "delay":
            await asyncio.sleep(rule.seconds)
        elif rule.action == "error":
            raise InjectedError(f"injected fault on {queue}")


NO_FAULTS = Faults(allowed=False)
