"""Kitchen tickets: one per paid order, from preparing to ready."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class TicketStatus(StrEnum):
    PREPARING = "preparing"
    READY = "ready"


@dataclass(frozen=True)
class Ticket:
    order_id: str
    status: TicketStatus
    worker: str
    items: int
    started_at: datetime
    finished_at: datetime | None = None
    # How many times a cook started it: more than one means a cook died mid-order.
    attempts: int = 1
