"""A payment: the Stripe Checkout Session of one order, and the states it may move through."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class PaymentStatus(StrEnum):
    OPEN = "open"  # the customer can pay at the session's URL
    PAID = "paid"
    EXPIRED = "expired"  # the session expired, or its delayed payment failed
    CANCELLED = "cancelled"  # the order was cancelled; the session is expired at Stripe


# The states each status may be entered from (compare-and-set in the repository).
ENTERED_FROM: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.PAID: frozenset({PaymentStatus.OPEN}),
    PaymentStatus.EXPIRED: frozenset({PaymentStatus.OPEN}),
    PaymentStatus.CANCELLED: frozenset({PaymentStatus.OPEN}),
}


@dataclass(frozen=True)
class Payment:
    order_id: str
    status: PaymentStatus
    checkout_session_id: str = ""
    url: str = ""
    expires_at: datetime | None = None
    currency: str = ""
    total_minor: int = 0
    # Set when money arrived for an order that can no longer be served (see handlers).
    refund_id: str = ""
    # The trace context of the order's creation: what happens to the payment continues it.
    trace_headers: dict[str, str] = field(default_factory=dict)
