"""Every event OMS publishes: the one place that names its routing key, version and payload,
and every queue that consumes them.

All events travel on the durable topic exchange `EXCHANGE` inside the platform envelope
(`oms.platform.events.Event`: id, type = routing key, version, occurred_at, data).

Order is the one authority on an order's state: every `order.*` event is the outcome of a
decision Order took with a compare-and-set, and carries the order's `step` along its
lifecycle (a later state has a higher step), so an observer keeps only the newest. The other
services report facts (`payment.*`, `kitchen.*`) and act on Order's decisions. The README has
the table and the diagram.

A payload that does not match its schema is a poison message: `parse` raises
`PermanentError`, and the consumer parks it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from oms.platform.events import Event, PermanentError

EXCHANGE = "oms.events"


class Payload(BaseModel):
    """An event's data. Each event declares its routing key and version with its class:
    `class OrderPlaced(OrderEvent, routing_key="order.placed")` (version 1 unless given)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    ROUTING_KEY: ClassVar[str]
    VERSION: ClassVar[int]

    def __init_subclass__(cls, routing_key: str = "", version: int = 1, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if routing_key:
            cls.ROUTING_KEY = routing_key
        cls.VERSION = version

    def to_event(self, event_id: str | None = None) -> Event:
        """The envelope for this payload; pass `event_id` to make a redelivery detectable."""
        event = Event(
            type=self.ROUTING_KEY, version=self.VERSION, data=self.model_dump(mode="json")
        )
        return event.model_copy(update={"id": event_id}) if event_id else event


P = TypeVar("P", bound=Payload)


def parse(payload_type: type[P], event: Event) -> P:
    if event.type != payload_type.ROUTING_KEY or event.version != payload_type.VERSION:
        raise PermanentError(f"expected {payload_type.ROUTING_KEY} v{payload_type.VERSION}")
    try:
        return payload_type.model_validate(event.data)
    except ValidationError as exc:
        raise PermanentError(f"bad {event.type} payload: {exc}") from exc


def route(
    payload_type: type[P], handler: Callable[[P], Awaitable[None]]
) -> tuple[str, Callable[[Event], Awaitable[None]]]:
    """`(routing key, consumer handler)`: the event parsed as `payload_type`, then `handler`."""

    async def handle(event: Event) -> None:
        await handler(parse(payload_type, event))

    return payload_type.ROUTING_KEY, handle


Status = Literal[
    "pending",
    "awaiting_payment",
    "paid",
    "preparing",
    "ready",
    "picked_up",
    "cancelled",
    "expired",
    "refunded",
]


class PricedLine(BaseModel):
    """An order line as Order priced it from Menu (never from the client)."""

    model_config = ConfigDict(frozen=True)
    item_id: str = Field(min_length=1)
    name: str
    quantity: int = Field(ge=1)
    unit_price_minor: int = Field(ge=0)


# --- by order: the outcome of each decision ---------------------------------------------


class AboutOrder(Payload):
    """Every event names its order, and never with an empty id."""

    order_id: str = Field(min_length=1)


class OrderEvent(AboutOrder):
    """What every order event says: whose order, the status it is in, at which step."""

    customer_id: str = Field(min_length=1)
    status: Status
    step: int = Field(ge=1)


class OrderPlaced(OrderEvent, routing_key="order.placed"):
    """Stored with its stock held; Payment opens the checkout with exactly these terms."""

    currency: str = Field(min_length=3, max_length=3)
    total_minor: int = Field(ge=0)
    lines: list[PricedLine] = Field(min_length=1)
    # Fixed at placement, so every retry of the checkout sends the same request to Stripe.
    checkout_expires_at: datetime
    # The unguessable token of the customer's return link (`/orders/<id>?t=<token>`).
    access_token: str = Field(min_length=16)


class OrderAwaitingPayment(OrderEvent, routing_key="order.awaiting_payment"):
    payment_link: str
    checkout_session_id: str


class OrderConfirmed(OrderEvent, routing_key="order.confirmed"):
    """Paid, and Order accepted the payment: the kitchen cooks it, Stock commits it."""

    lines: list[PricedLine] = Field(min_length=1)


class OrderPreparing(OrderEvent, routing_key="order.preparing"):
    cook: str


class OrderReady(OrderEvent, routing_key="order.ready"):
    cook: str


class OrderPickedUp(OrderEvent, routing_key="order.picked_up"):
    """Handed over at the counter: the order's last step."""


class OrderCancelled(OrderEvent, routing_key="order.cancelled", version=2):
    """v2: decided by Order after its checkout (if any) was closed; `by` customer or staff."""

    by: Literal["customer", "staff"]
    reason: str = ""


class OrderExpired(OrderEvent, routing_key="order.expired", version=2):
    """v2: decided by Order (a deadline passed, or the checkout could not be opened)."""

    reason: str


class OrderRefunded(OrderEvent, routing_key="order.refunded", version=2):
    """v2: staff refunded a paid order before it was ready: Payment refunds, the kitchen voids
    the ticket. The stock is decided once the ticket is void (`order.refund_stock`)."""

    reason: str = ""


class RefundStock(OrderEvent, routing_key="order.refund_stock"):
    """What a refunded order's stock becomes, decided once the kitchen voided its ticket: back
    on hand (`return`) when no cook had started it, else written off (`write_off`)."""

    stock: Literal["return", "write_off"]


class RefundRequired(OrderEvent, routing_key="order.refund_required"):
    """Money was captured for an order that had already ended (cancelled or expired)."""

    reason: str


class DeadlineDue(AboutOrder, routing_key="order.deadline_due"):
    """A timer Order set for itself: look at the order's deadlines (`oms.platform.timers`)."""


# --- by payment: facts about money -------------------------------------------------------


class PaymentCaptured(AboutOrder, routing_key="payment.captured"):
    checkout_session_id: str = Field(min_length=1)
    amount_minor: int = Field(ge=0)
    currency: str = Field(min_length=3, max_length=3)


class PaymentFailed(AboutOrder, routing_key="payment.failed"):
    """No money will come: the checkout could not be opened, expired, or its payment failed."""

    reason: str


class PaymentRefunded(AboutOrder, routing_key="payment.refunded"):
    refund_id: str = Field(min_length=1)
    amount_minor: int = Field(ge=0)


# --- by kitchen: facts about cooking -----------------------------------------------------


class TicketStarted(AboutOrder, routing_key="kitchen.ticket_started"):
    cook: str
    attempt: int = Field(ge=1)


class TicketReady(AboutOrder, routing_key="kitchen.ticket_ready"):
    cook: str


class TicketVoided(AboutOrder, routing_key="kitchen.ticket_voided"):
    """A refunded order's ticket is void: nobody cooks it (any more). `food_used`: a cook's
    start reached the ticket before the void did (one compare-and-set on the ticket)."""

    food_used: bool


# --- by menu -------------------------------------------------------------------------------


class MenuChanged(Payload, routing_key="menu.changed"):
    """An item was added, changed or taken off: caches of the menu drop it."""

    item_id: str = Field(min_length=1)


@dataclass(frozen=True)
class Subscription:
    """A durable queue a service consumes, the event types bound to it, and the routing keys
    an older version bound to it and no longer takes (`retired`: unbound wherever the queue
    is declared, so an upgraded broker stops routing them here to be parked)."""

    service: str
    queue: str
    events: tuple[type[Payload], ...]
    retired: tuple[str, ...] = ()

    @property
    def routing_keys(self) -> tuple[str, ...]:
        return tuple(event.ROUTING_KEY for event in self.events)


PAYMENT_ORDERS = Subscription(
    "payment",
    "payment.orders",
    (OrderPlaced, OrderCancelled, OrderExpired, RefundRequired, OrderRefunded),
)
STOCK_ORDERS = Subscription(
    "stock",
    "stock.orders",
    (OrderConfirmed, OrderCancelled, OrderExpired, RefundStock),
    # v1 `order.refunded` told Stock what the stock became; `order.refund_stock` does now.
    retired=("order.refunded",),
)
ORDER_PAYMENTS = Subscription(
    "order", "order.payments", (PaymentCaptured, PaymentFailed, PaymentRefunded)
)
ORDER_KITCHEN = Subscription("order", "order.kitchen", (TicketStarted, TicketReady, TicketVoided))
ORDER_DEADLINES = Subscription("order", "order.deadlines", (DeadlineDue,))
KITCHEN_ORDERS = Subscription("kitchen", "kitchen.orders", (OrderConfirmed,))
# Voids have a queue of their own: they must not wait behind orders for a free cook.
KITCHEN_VOIDS = Subscription("kitchen", "kitchen.voids", (OrderRefunded,))
# Every durable queue of the platform: services consume them, the operator declares them.
SUBSCRIPTIONS = (
    PAYMENT_ORDERS,
    STOCK_ORDERS,
    ORDER_PAYMENTS,
    ORDER_KITCHEN,
    ORDER_DEADLINES,
    KITCHEN_ORDERS,
    KITCHEN_VOIDS,
)
# What the gateway's live screens follow: each of Order's decisions, not its own timers.
ORDER_DECISIONS = tuple(sorted(kind.ROUTING_KEY for kind in OrderEvent.__subclasses__()))
# Observers that follow events with a queue per process (the gateway's live screens, the
# menu caches): an event only they take is published without `mandatory`.
DURABLY_ROUTED = frozenset(key for sub in SUBSCRIPTIONS for key in sub.routing_keys)


def must_be_routed(routing_key: str) -> bool:
    """True when a durable queue consumes this event, so the broker must route it."""
    return routing_key in DURABLY_ROUTED
