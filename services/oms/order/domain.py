"""Orders, the transitions their status may take, and the deadline of each state.

Order is the one authority on an order's state. Every transition is a compare-and-set from
the states it may be entered from; each status is entered at most once (the graph has no
cycle), so an order's `step` (the rank of its status) only grows and tells any observer which
of two reports about the same order is newer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from oms.limits import ID_PATTERN
from oms.platform.errors import FailedPrecondition, InvalidArgument, ResourceExhausted

# Checked with `fullmatch`: the pattern's `$` alone would let a trailing newline through.
CUSTOMER_ID = re.compile(ID_PATTERN)


class Status(StrEnum):
    PENDING = "pending"  # stored, stock held, no checkout yet
    AWAITING_PAYMENT = "awaiting_payment"  # the checkout is open
    PAID = "paid"  # Order accepted the captured payment: confirmed for the kitchen
    PREPARING = "preparing"
    READY = "ready"
    PICKED_UP = "picked_up"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUNDED = "refunded"


S = Status
# The states each status may be entered from; anything else is an illegal transition.
ENTERED_FROM: dict[Status, frozenset[Status]] = {
    S.AWAITING_PAYMENT: frozenset({S.PENDING}),
    # A capture can overtake the checkout's link reaching us.
    S.PAID: frozenset({S.PENDING, S.AWAITING_PAYMENT}),
    S.PREPARING: frozenset({S.PAID}),
    # A cook's "ready" can overtake its "started".
    S.READY: frozenset({S.PAID, S.PREPARING}),
    S.PICKED_UP: frozenset({S.READY}),
    S.CANCELLED: frozenset({S.PENDING, S.AWAITING_PAYMENT}),
    S.EXPIRED: frozenset({S.PENDING, S.AWAITING_PAYMENT}),
    S.REFUNDED: frozenset({S.PAID, S.PREPARING}),
}
STEP: dict[Status, int] = {
    S.PENDING: 1,
    S.AWAITING_PAYMENT: 2,
    S.PAID: 3,
    S.PREPARING: 4,
    S.READY: 5,
    S.PICKED_UP: 6,
    S.CANCELLED: 7,
    S.EXPIRED: 7,
    S.REFUNDED: 7,
}
TERMINAL = frozenset({S.PICKED_UP, S.CANCELLED, S.EXPIRED, S.REFUNDED})
UNPAID = frozenset({S.PENDING, S.AWAITING_PAYMENT})
# Money captured and kept: the states in which the restaurant owes the customer food.
SERVED = frozenset({S.PAID, S.PREPARING, S.READY, S.PICKED_UP})


class IllegalTransition(FailedPrecondition):
    def __init__(self, order_id: str, current: Status, wanted: Status) -> None:
        super().__init__(f"order {order_id} is {current}; it cannot become {wanted}")
        self.current = current
        self.wanted = wanted


@dataclass(frozen=True)
class Shortage:
    item_id: str
    requested: int
    available: int


class ReservationClosed(Exception):
    """The order's reservation was held once and has since been released or committed."""


class CheckoutClosed(StrEnum):
    """What closing an order's checkout at Stripe found."""

    CLOSED = "closed"  # nobody can pay it any more
    NO_CHECKOUT = "no_checkout"  # none was opened, and none will be
    ALREADY_PAID = "already_paid"  # the customer paid first


@dataclass(frozen=True)
class PricedItem:
    id: str
    name: str
    price_minor: int
    currency: str
    offered: bool


class InsufficientStock(ResourceExhausted):
    def __init__(self, shortages: list[Shortage]) -> None:
        short = ", ".join(
            f"{s.item_id} ({s.available} left, {s.requested} asked)" for s in shortages
        )
        super().__init__(f"not enough stock: {short}")
        self.shortages = shortages


def check_customer_id(customer_id: str) -> None:
    if not CUSTOMER_ID.fullmatch(customer_id):
        raise InvalidArgument("customer id must be 1-64 letters, digits, '-' or '_'")


@dataclass(frozen=True)
class Deadlines:
    """How long an order may stay in each non-terminal state (`ORDER_*_SECONDS`)."""

    pending: timedelta  # for a checkout to be opened
    checkout_window: timedelta  # how long the customer may take to pay (the session's expiry)
    payment_grace: timedelta  # after the checkout expired, for Stripe's last word
    kitchen_start: timedelta  # paid, for a cook to start it
    cooking: timedelta  # for the cook to finish it
    pickup: timedelta  # ready, for the customer to pick it up

    def of(self, status: Status, entered_at: datetime, checkout_expires_at: datetime) -> datetime:
        """When an order that entered `status` at `entered_at` is overdue there."""
        if status is S.PENDING:
            return entered_at + self.pending
        if status is S.AWAITING_PAYMENT:
            return checkout_expires_at + self.payment_grace
        if status is S.PAID:
            return entered_at + self.kitchen_start
        if status is S.PREPARING:
            return entered_at + self.cooking
        if status is S.READY:
            return entered_at + self.pickup
        raise ValueError(f"{status} has no deadline: it is terminal")


@dataclass(frozen=True)
class OrderItem:
    item_id: str
    name: str
    quantity: int
    unit_price_minor: int

    @property
    def line_total_minor(self) -> int:
        return self.quantity * self.unit_price_minor


@dataclass(frozen=True)
class Checkout:
    session_id: str = ""
    link: str = ""


@dataclass(frozen=True)
class OrderFacts:
    """What never changes once an order is placed: enough to decide and announce a
    transition without reading the order first."""

    id: str
    customer_id: str
    items: tuple[OrderItem, ...]
    currency: str
    checkout_expires_at: datetime  # fixed at placement: the awaiting-payment deadline's base

    @property
    def total_minor(self) -> int:
        return sum(item.line_total_minor for item in self.items)


@dataclass(frozen=True)
class Order:
    id: str
    customer_id: str
    status: Status
    items: tuple[OrderItem, ...]
    currency: str
    created_at: datetime
    updated_at: datetime
    access_token: str
    checkout_expires_at: datetime
    checkout: Checkout = Checkout()
    reason: str = ""
    cook: str = ""
    refund_required: bool = False
    refunded: bool = False
    # A refund's stock, once the kitchen voided the ticket: "return" or "write_off".
    refund_stock: str = ""
    history: tuple[tuple[Status, datetime], ...] = field(default=())

    @property
    def total_minor(self) -> int:
        return sum(item.line_total_minor for item in self.items)

    @property
    def step(self) -> int:
        return STEP[self.status]

    @property
    def facts(self) -> OrderFacts:
        return OrderFacts(
            self.id, self.customer_id, self.items, self.currency, self.checkout_expires_at
        )

    def entered_at(self, status: Status) -> datetime:
        """When the order entered `status` (its last change, if history does not say)."""
        return next((at for seen, at in reversed(self.history) if seen is status), self.updated_at)

    def deadline(self, deadlines: Deadlines) -> datetime | None:
        """When its current state is overdue; None once it is terminal."""
        if self.status in TERMINAL:
            return None
        return deadlines.of(self.status, self.entered_at(self.status), self.checkout_expires_at)
