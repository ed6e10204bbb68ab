"""Stock lines, shortages and reservation states."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReservationState(StrEnum):
    RESERVING = "reserving"
    RESERVED = "reserved"
    REJECTED = "rejected"
    RELEASED = "released"
    COMMITTED = "committed"


@dataclass(frozen=True)
class Shortage:
    item_id: str
    requested: int
    available: int


@dataclass(frozen=True)
class Level:
    item_id: str
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved
