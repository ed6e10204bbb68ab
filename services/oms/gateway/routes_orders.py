"""Customer routes: a session, then one's own orders (create, list, read, cancel).

The customer is who the session says, never a path segment: another customer's order is
404, and no session is 401. An order's tracking link (`?t=<token>`) opens it without a
session, for the customer back from Stripe on another device.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from oms.gateway.clients import Backends
from oms.gateway.errors import ShortageBody, documented
from oms.gateway.params import OR_TRACKING_LINK, PageSize, PageToken, TrackingToken
from oms.gateway.params import OrderId as OrderId  # the pages' too
from oms.gateway.ratelimit import TokenBuckets, client_address
from oms.gateway.schemas import CustomerOrder, OrderIn, OrderPage, SessionOut
from oms.gateway.sessions import Sessions, require
from oms.limits import MAX_IDEMPOTENCY_KEY

CREATE_ERRORS = {
    **documented(401, 413, 422, 429, 502, 503),
    409: {
        "model": ShortageBody,
        "description": "Not enough stock (nothing was reserved), or the same Idempotency-Key "
        "is still being placed",
    },
}


def router(
    backends: Backends, sessions: Sessions, order_limit: TokenBuckets, session_limit: TokenBuckets
) -> APIRouter:
    orders = APIRouter(prefix="/api", tags=["orders"])

    @orders.post("/session", status_code=201, response_model=SessionOut, responses=documented(429))
    async def new_session(request: Request) -> JSONResponse:
        """A new customer session: its token, also set as an HTTP-only cookie.

        Limited per client address: order creation is limited per session, and a session
        per order would otherwise get around that."""
        session_limit.check(client_address(request), "new sessions")
        session = sessions.issue()
        body = SessionOut(
            customer_id=session.customer_id, token=session.token, expires_at=session.expires_at
        )
        response = JSONResponse(body.model_dump(mode="json"), 201)
        sessions.set_cookie(response, session)
        return response

    @orders.post("/orders", status_code=201, responses=CREATE_ERRORS)
    async def create_order(
        *,
        customer_id: str = sessions.required(),
        body: OrderIn,
        idempotency_key: Annotated[
            str | None,
            Header(
                min_length=1,
                max_length=MAX_IDEMPOTENCY_KEY,
                description="Repeating a request with the same key returns the first order.",
            ),
        ] = None,
    ) -> CustomerOrder:
        """Price the items from the menu, reserve them, store the order and start payment."""
        order_limit.check(customer_id, "orders")
        lines = [(line.id, line.quantity) for line in body.items]
        return CustomerOrder.owned(await backends.order.create(customer_id, lines, idempotency_key))

    @orders.get("/orders", responses=documented(401, 502, 503))
    async def list_orders(
        *,
        customer_id: str = sessions.required(),
        page_size: PageSize = 20,
        page_token: PageToken = "",
    ) -> OrderPage:
        """The session's orders, newest first."""
        page = await backends.order.list(customer_id, page_size, page_token)
        return OrderPage(
            orders=[CustomerOrder.owned(order) for order in page.orders],
            next_page_token=page.next_page_token or None,
        )

    @orders.get(
        "/orders/{order_id}",
        responses=documented(401, 404, 502, 503),
        openapi_extra=OR_TRACKING_LINK,
    )
    async def get_order(
        *,
        customer_id: str | None = sessions.optional(),
        order_id: OrderId,
        t: TrackingToken = "",
    ) -> CustomerOrder:
        """One of the session's orders (or any order, with its tracking token)."""
        owner = "" if t else require(customer_id)
        return CustomerOrder.owned(await backends.order.get(order_id, owner, t))

    @orders.post("/orders/{order_id}/cancel", responses=documented(401, 404, 409, 502, 503))
    async def cancel_order(
        order_id: OrderId, customer_id: str = sessions.required()
    ) -> CustomerOrder:
        """Cancel before payment (its checkout is closed, its stock released); 409 once paid."""
        return CustomerOrder.owned(await backends.order.cancel(customer_id, order_id))

    return orders
