"""The public API's JSON: request bodies (strict, unknown fields refused) and responses.

Money is always an integer amount in the currency's minor unit (cents for EUR) beside an
ISO 4217 code, never a float. The limits here are the HTTP contract; the services check
their own rules again behind it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from oms import domain_events as events
from oms.contracts.v1 import menu_pb2, order_pb2, stock_pb2
from oms.limits import (
    CURRENCY_PATTERN,
    ITEM_ID_PATTERN,
    MAX_DESCRIPTION,
    MAX_ITEMS,
    MAX_NAME,
    MAX_ON_HAND,
    MAX_PRICE_MINOR,
    MAX_QUANTITY,
    MAX_REASON,
)
from oms.platform.protobuf import enum_values, inverse

ItemId = Annotated[str, Field(pattern=ITEM_ID_PATTERN, examples=["margherita"])]
Minor = Annotated[int, Field(description="An amount in the currency's minor unit (cents).")]
OrderStatus = events.Status
STATUS_CODE: dict[OrderStatus, order_pb2.OrderStatus.ValueType] = enum_values(
    get_args(OrderStatus), order_pb2.OrderStatus, "ORDER_STATUS_"
)
STATUS = inverse(STATUS_CODE)


class Request(BaseModel):
    # `strict`: "5" is not a quantity and true is not 1; `forbid`: a misspelt field is an error.
    model_config = ConfigDict(extra="forbid", strict=True)


# --- menu ----------------------------------------------------------------------------------


class MenuItem(BaseModel):
    id: str
    name: str
    description: str
    price: Minor
    currency: str = Field(examples=["EUR"])
    sold_out: bool = Field(default=False, description="Nothing left to order right now.")

    @classmethod
    def from_proto(cls, item: menu_pb2.MenuItem, sold_out: bool = False) -> MenuItem:
        return cls(
            id=item.id,
            name=item.name,
            description=item.description,
            price=item.price.amount_minor,
            currency=item.price.currency,
            sold_out=sold_out,
        )


class Menu(BaseModel):
    items: list[MenuItem]


class AdminMenuItem(MenuItem):
    offered: bool

    @classmethod
    def from_proto(cls, item: menu_pb2.MenuItem, sold_out: bool = False) -> AdminMenuItem:
        return cls(**MenuItem.from_proto(item, sold_out).model_dump(), offered=item.offered)


class AdminMenu(BaseModel):
    items: list[AdminMenuItem]


class MenuItemIn(Request):
    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    price: int = Field(ge=0, le=MAX_PRICE_MINOR, description="Minor units (cents).")
    currency: str = Field(pattern=CURRENCY_PATTERN, examples=["EUR"])
    offered: bool = True


class OfferedIn(Request):
    offered: bool


# --- stock ---------------------------------------------------------------------------------


class StockLevel(BaseModel):
    id: str
    on_hand: int = Field(description="What the kitchen has.")
    reserved: int = Field(description="Held by orders: counted on hand, not available.")
    available: int = Field(description="What can still be ordered.")

    @classmethod
    def from_proto(cls, level: stock_pb2.StockLevel) -> StockLevel:
        return cls(
            id=level.item_id,
            on_hand=level.on_hand,
            reserved=level.reserved,
            available=level.available,
        )


class StockLevels(BaseModel):
    levels: list[StockLevel]


class StockIn(Request):
    on_hand: int = Field(ge=0, le=MAX_ON_HAND)


# --- orders --------------------------------------------------------------------------------


class OrderLineIn(Request):
    id: ItemId
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


class OrderIn(Request):
    items: list[OrderLineIn] = Field(min_length=1, max_length=MAX_ITEMS)


class ReasonIn(Request):
    reason: str = Field(default="", max_length=MAX_REASON)


class OrderItem(BaseModel):
    id: str
    name: str
    quantity: int
    unit_price: Minor
    line_total: Minor


class StatusChange(BaseModel):
    status: OrderStatus
    at: datetime


class Order(BaseModel):
    id: str
    customer_id: str
    status: OrderStatus
    step: int = Field(description="Position along the lifecycle; a later state is higher.")
    items: list[OrderItem]
    total: Minor
    currency: str
    payment_link: str | None = Field(description="Stripe Checkout; null until it is known.")
    checkout_session_id: str | None = Field(
        description="The Stripe Checkout Session behind `payment_link`; null until it is known."
    )
    reason: str | None = Field(description="Why it was cancelled, expired or refunded.")
    cook: str | None = Field(description="The cook who has it, once one started it.")
    refunded: bool = Field(description="Its money went back to the customer.")
    history: list[StatusChange]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_proto(cls, order: order_pb2.Order) -> Order:
        return cls(
            id=order.id,
            customer_id=order.customer_id,
            status=STATUS[order.status],
            step=order.step,
            items=[
                OrderItem(
                    id=item.item_id,
                    name=item.name,
                    quantity=item.quantity,
                    unit_price=item.unit_price.amount_minor,
                    line_total=item.line_total.amount_minor,
                )
                for item in order.items
            ],
            total=order.total.amount_minor,
            currency=order.total.currency,
            payment_link=order.payment_link or None,
            checkout_session_id=order.checkout_session_id or None,
            reason=order.reason or None,
            cook=order.cook or None,
            refunded=order.refunded,
            history=[
                StatusChange(status=STATUS[h.status], at=h.at.ToDatetime(tzinfo=UTC))
                for h in order.history
            ],
            created_at=order.created_at.ToDatetime(tzinfo=UTC),
            updated_at=order.updated_at.ToDatetime(tzinfo=UTC),
        )


class CustomerOrder(Order):
    """An order as its customer sees it, with the link that follows it anywhere."""

    tracking_url: str = Field(description="This order's page; it needs no session to open.")

    @classmethod
    def owned(cls, order: order_pb2.Order) -> CustomerOrder:
        base = Order.from_proto(order).model_dump()
        return cls(**base, tracking_url=f"/orders/{order.id}?t={order.access_token}")


class OrderPage(BaseModel):
    orders: list[CustomerOrder]
    next_page_token: str | None = Field(description="Pass as `page_token`; null on the last page.")


# --- health and webhooks -------------------------------------------------------------------


class Alive(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    ready: bool
    services: dict[str, str] = Field(examples=[{"menu": "serving", "payment": "no instance"}])
    missing: list[str]


class SessionOut(BaseModel):
    customer_id: str
    token: str = Field(description="Send as `Authorization: Bearer <token>`.")
    expires_at: datetime


class StaffOrderPage(BaseModel):
    orders: list[Order]
    next_page_token: str | None = Field(description="Pass as `page_token`; null on the last page.")


class WebhookReceived(BaseModel):
    received: Literal[True] = True
    duplicate: bool = Field(description="True when this event was delivered before.")
