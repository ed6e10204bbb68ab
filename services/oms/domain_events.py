"""Every event OMS publishes: the one place that names its routing key, version and payload.

All events travel on the durable topic exchange `oms.events` inside the platform envelope
(`oms.platform.events.Event`: id, type = routing key, version, occurred_at, data).

- `order.created` v1, by order: payment (`payment.orders`)
- `order.cancelled` v1, by order: stock (`stock.orders`), payment (`payment.orders`)
- `order.paid` v1, by payment: order (`order.payments`), stock, kitchen (`kitchen.orders`)
- `order.expired` v1, by payment: order (`order.payments`), stock (`stock.orders`)
- `kitchen.order_preparing` v1, by kitchen: order (`order.kitchen`)
- `kitchen.order_ready` v1, by kitchen: order (`order.kitchen`)

A payload that does not match its schema is a poison message: `parse` raises
`PermanentError`, and the consumer parks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from oms.platform.events import Event, PermanentError

EXCHANGE = "oms.events"


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    ROUTING_KEY: ClassVar[str]
    VERSION: ClassVar[int] = 1

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


class Line(BaseModel):
    model_config = ConfigDict(frozen=True)
    item_id: str = Field(min_length=1)
    name: str
    quantity: int = Field(ge=1)
    unit_price_minor: int = Field(ge=0)


class OrderCreated(Payload):
    ROUTING_KEY: ClassVar[str] = "order.created"
    order_id: str = Field(min_length=1)
    customer_id: str = Field(min_length=1)
    currency: str = Field(min_length=3, max_length=3)
    total_minor: int = Field(ge=0)
    lines: list[Line] = Field(min_length=1)


class OrderCancelled(Payload):
    ROUTING_KEY: ClassVar[str] = "order.cancelled"
    order_id: str = Field(min_length=1)


class OrderPaid(Payload):
    ROUTING_KEY: ClassVar[str] = "order.paid"
    order_id: str = Field(min_length=1)
    checkout_session_id: str
    lines: list[Line] = Field(min_length=1)


class OrderExpired(Payload):
    ROUTING_KEY: ClassVar[str] = "order.expired"
    order_id: str = Field(min_length=1)


class KitchenOrderPreparing(Payload):
    ROUTING_KEY: ClassVar[str] = "kitchen.order_preparing"
    order_id: str = Field(min_length=1)
    worker: str


class KitchenOrderReady(Payload):
    ROUTING_KEY: ClassVar[str] = "kitchen.order_ready"
    order_id: str = Field(min_length=1)
    worker: str


@dataclass(frozen=True)
class Subscription:
    """A durable queue a service consumes, and the routing keys bound to it."""

    service: str
    queue: str
    routing_keys: tuple[str, ...]


PAYMENT_ORDERS = Subscription(
    "payment", "payment.orders", (OrderCreated.ROUTING_KEY, OrderCancelled.ROUTING_KEY)
)
STOCK_ORDERS = Subscription(
    "stock",
    "stock.orders",
    (OrderPaid.ROUTING_KEY, OrderCancelled.ROUTING_KEY, OrderExpired.ROUTING_KEY),
)
ORDER_PAYMENTS = Subscription(
    "order", "order.payments", (OrderPaid.ROUTING_KEY, OrderExpired.ROUTING_KEY)
)
ORDER_KITCHEN = Subscription(
    "order",
    "order.kitchen",
    (KitchenOrderPreparing.ROUTING_KEY, KitchenOrderReady.ROUTING_KEY),
)
KITCHEN_ORDERS = Subscription("kitchen", "kitchen.orders", (OrderPaid.ROUTING_KEY,))
# Every queue of the platform: services consume them, the operator declares them up front.
SUBSCRIPTIONS = (PAYMENT_ORDERS, STOCK_ORDERS, ORDER_PAYMENTS, ORDER_KITCHEN, KITCHEN_ORDERS)
