"""Customer routes: create, read, list and cancel one's orders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query

from oms.gateway.clients import Backends
from oms.gateway.errors import documented
from oms.gateway.schemas import ID_PATTERN, Order, OrderIn, OrderPage, ShortageBody

CustomerId = Annotated[
    str, Path(pattern=ID_PATTERN, description="1-64 letters, digits, `-` or `_`.")
]
OrderId = Annotated[str, Path(pattern=ID_PATTERN)]
CREATE_ERRORS = {
    **documented(413, 422, 502, 503),
    409: {"model": ShortageBody, "description": "Not enough stock; nothing was reserved"},
}


def router(backends: Backends) -> APIRouter:
    orders = APIRouter(prefix="/api/customers/{customer_id}/orders", tags=["orders"])

    @orders.post("", status_code=201, responses=CREATE_ERRORS)
    async def create_order(
        customer_id: CustomerId,
        body: OrderIn,
        idempotency_key: Annotated[
            str | None,
            Header(
                min_length=1,
                max_length=128,
                description="Repeating a request with the same key returns the first order.",
            ),
        ] = None,
    ) -> Order:
        """Price the items from the menu, reserve them, store the order and start payment."""
        lines = [(line.id, line.quantity) for line in body.items]
        created = await backends.order.create(customer_id, lines, idempotency_key)
        return Order.from_proto(created)

    @orders.get("", responses=documented(422, 502, 503))
    async def list_orders(
        customer_id: CustomerId,
        page_size: Annotated[int, Query(ge=1, le=100)] = 20,
        page_token: Annotated[str, Query(max_length=256)] = "",
    ) -> OrderPage:
        """The customer's orders, newest first."""
        page = await backends.order.list(customer_id, page_size, page_token)
        return OrderPage(
            orders=[Order.from_proto(order) for order in page.orders],
            next_page_token=page.next_page_token or None,
        )

    @orders.get("/{order_id}", responses=documented(404, 422, 502, 503))
    async def get_order(customer_id: CustomerId, order_id: OrderId) -> Order:
        """One order; 404 for an unknown order or another customer's."""
        return Order.from_proto(await backends.order.get(customer_id, order_id))

    @orders.post("/{order_id}/cancel", responses=documented(404, 409, 422, 502, 503))
    async def cancel_order(customer_id: CustomerId, order_id: OrderId) -> Order:
        """Cancel before payment (the stock is released); 409 once it is paid."""
        return Order.from_proto(await backends.order.cancel(customer_id, order_id))

    return orders
