"""Orders and the transitions their status may take."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from oms.platform.errors import FailedPrecondition, InvalidArgument, ResourceExhausted

CUSTOMER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Status(StrEnum):
    PENDING = "pending"
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    PREPARING = "preparing"
    READY = "ready"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


# The states each status may be entered from; anything else is an illegal transition.
ENTERED_FROM: dict[Status, frozenset[Status]] = {
    Status.AWAITING_PAYMENT: frozenset({Status.PENDING}),
    Status.PAID: frozenset({Status.AWAITING_PAYMENT}),
    Status.PREPARING: frozenset({Status.PAID}),
    Status.READY: frozenset({Status.PREPARING}),
    Status.CANCELLED: frozenset({Status.PENDING, Status.AWAITING_PAYMENT}),
    Status.EXPIRED: frozenset({Status.PENDING, Status.AWAITING_PAYMENT}),
}
# The lifecycle of an order that goes well, in order.
MAIN_LINE: tuple[Status, ...] = (
    Status.PENDING,
    Status.AWAITING_PAYMENT,
    Status.PAID,
    Status.PREPARING,
    Status.READY,
)
# Later in the lifecycle than each status: seeing one of these means the step already happened.
PAST: dict[Status, frozenset[Status]] = {
    Status.AWAITING_PAYMENT: frozenset({Status.PAID, Status.PREPARING, Status.READY}),
    Status.PAID: frozenset({Status.PREPARING, Status.READY}),
    Status.PREPARING: frozenset({Status.READY}),
    Status.READY: frozenset(),
    Status.CANCELLED: frozenset(),
    Status.EXPIRED: frozenset(),
}


class IllegalTransition(FailedPrecondition):
    def __init__(self, order_id: str, current: Status, wanted: Status) -> None:
        super().__init__(f"order {order_id} is {current}; it cannot become {wanted}")
        self.current = current
        self.wanted = wanted


class InsufficientStock(ResourceExhausted):
    pass


def check_customer_id(customer_id: str) -> None:
    if not CUSTOMER_ID.match(customer_id):
        raise InvalidArgument("customer id must be 1-64 letters, digits, '-' or '_'")


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
class Order:
    id: str
    customer_id: str
    status: Status
    items: tuple[OrderItem, ...]
    currency: str
    created_at: datetime
    updated_at: datetime
    payment_link: str = ""
    checkout_session_id: str = ""
    history: tuple[tuple[str, datetime], ...] = field(default=())

    @property
    def total_minor(self) -> int:
        return sum(item.line_total_minor for item in self.items)
