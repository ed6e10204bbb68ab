"""A payment: the Stripe Checkout Session of one order, the money it brought, and its states.

Payment reports facts about money to Order (captured, failed, refunded) and never decides an
order's fate. Its own states are compare-and-set, so a webhook delivered twice at once, or a
close racing a capture, has one effect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from oms.platform.errors import DomainError


class PaymentStatus(StrEnum):
    OPEN = "open"  # the customer can pay at the session's URL
    CAPTURED = "captured"  # the money arrived (reported to Order)
    CLOSED = "closed"  # closed before it was paid (or never opened: a tombstone)
    FAILED = "failed"  # could not be opened, expired, or its delayed payment failed
    REFUNDED = "refunded"  # captured, then given back


S = PaymentStatus
# The states each status may be entered from (compare-and-set in the repository).
ENTERED_FROM: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    # Money can still arrive after we closed a session (a payment already under way).
    S.CAPTURED: frozenset({S.OPEN, S.CLOSED, S.FAILED}),
    S.CLOSED: frozenset({S.OPEN}),
    S.FAILED: frozenset({S.OPEN}),
    S.REFUNDED: frozenset({S.CAPTURED}),
}


class CheckoutRefused(DomainError):
    """Stripe refused to open the checkout (a 4xx answer): asking again gets the same answer."""


@dataclass(frozen=True)
class Payment:
    order_id: str
    status: PaymentStatus
    customer_id: str = ""
    checkout_session_id: str = ""
    url: str = ""
    expires_at: datetime | None = None
    currency: str = ""
    amount_minor: int = 0
    payment_intent: str = ""
    refund_id: str = ""
    reason: str = ""
    # Stripe event ids already applied to this payment (each answers "duplicate" next time).
    stripe_events: tuple[str, ...] = ()
    # The trace context of the order's placement: what happens to the payment continues it.
    trace_headers: dict[str, str] = field(default_factory=dict)
