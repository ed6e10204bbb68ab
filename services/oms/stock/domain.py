"""Stock levels, reservations and the states a reservation moves through.

An item's level is two counters: `on_hand` (what the kitchen has) and `available` (what can
still be sold: on hand minus what unpaid and paid-but-uncounted orders hold). A reservation is
one order's hold on some items; its state machine makes every effect on the counters happen
exactly once (see `oms.stock.handlers`):

    reserving -> held -> committing -> committed -> returning -> returned
        |          |                       `-> written_off
        v          `-> releasing -> released
     rejected -> reserving (a refused order may try again after a restock)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class R(StrEnum):
    RESERVING = "reserving"
    HELD = "held"
    REJECTED = "rejected"
    RELEASING = "releasing"
    RELEASED = "released"
    COMMITTING = "committing"
    COMMITTED = "committed"
    RETURNING = "returning"
    RETURNED = "returned"
    WRITTEN_OFF = "written_off"


# An operation in progress, and the state it ends in.
FINISHES: dict[R, R] = {
    R.RESERVING: R.HELD,
    R.RELEASING: R.RELEASED,
    R.COMMITTING: R.COMMITTED,
    R.RETURNING: R.RETURNED,
}
IN_PROGRESS = frozenset(FINISHES)
# Stock an order holds: counted in on_hand, not in available.
HOLDING = frozenset({R.RESERVING, R.HELD, R.RELEASING, R.COMMITTING})


class Op(StrEnum):
    """An effect on an item's counters, marked on the item while it is being applied."""

    HOLD = "hold"  # available -q
    UNHOLD = "unhold"  # available +q (release, or undoing a refused reservation's holds)
    CONSUME = "consume"  # on_hand -q (the order was paid: the food is sold)
    RESTOCK = "restock"  # on_hand +q and available +q (a refund gives the food back)


# The counters each effect changes, by how much per unit.
DELTAS: dict[Op, dict[str, int]] = {
    Op.HOLD: {"available": -1},
    Op.UNHOLD: {"available": 1},
    Op.CONSUME: {"on_hand": -1},
    Op.RESTOCK: {"on_hand": 1, "available": 1},
}
# The effect an operation in progress applies to every line.
EFFECT: dict[R, Op] = {
    R.RESERVING: Op.HOLD,
    R.RELEASING: Op.UNHOLD,
    R.COMMITTING: Op.CONSUME,
    R.RETURNING: Op.RESTOCK,
}


@dataclass(frozen=True)
class Shortage:
    item_id: str
    requested: int
    available: int


@dataclass(frozen=True)
class Level:
    item_id: str
    on_hand: int
    available: int

    @property
    def reserved(self) -> int:
        return self.on_hand - self.available


@dataclass(frozen=True)
class Reservation:
    order_id: str
    state: R
    lines: tuple[tuple[str, int], ...]  # (item id, quantity)
    # When the operation in progress started (its owner's claim), for taking over a dead one.
    claimed_at: datetime
    # The state the operation in progress started from (a release from reserving undoes the
    # holds that were made; from held it gives back every line).
    came_from: R | None = None
