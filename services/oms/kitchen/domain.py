"""Kitchen tickets: one per order Order confirmed, from cooking to cooked, or voided.

The kitchen reports what it did (`kitchen.ticket_started`, `kitchen.ticket_ready`,
`kitchen.ticket_voided`); Order decides what that means for the order. A ticket is voided when
Order refunds the order: a voided ticket is never cooked (again), whatever arrives later, and
the void reports whether a cook had started it (the food is used) or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class TicketStatus(StrEnum):
    COOKING = "cooking"
    COOKED = "cooked"
    VOIDED = "voided"


@dataclass(frozen=True)
class Ticket:
    order_id: str
    status: TicketStatus
    cook: str
    items: int
    started_at: datetime
    finished_at: datetime | None = None
    # How many times a cook started it: more than one means a cook stopped mid-order.
    attempts: int = 1


@dataclass(frozen=True)
class CookTimes:
    """How long cooking takes: `per_item` seconds an item, never longer than `longest`."""

    per_item: float
    longest: float

    def for_items(self, items: int) -> float:
        return min(items * self.per_item, self.longest)


def cook_names(instance: str, workers: int) -> list[str]:
    """The names a process's cooks go by on tickets and events: `<instance>/cook-<n>`."""
    return [f"{instance}/cook-{number}" for number in range(1, workers + 1)]
