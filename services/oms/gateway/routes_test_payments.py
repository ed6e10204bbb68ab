"""The local test payment page: stripe-mock has no payment page, so this stands in for it.

Served only with stripe-mock in the development mode (Payment then puts this page's link on
the order). "Pay" asks Payment for the webhook Stripe would send and delivers it through the
same verified path a real webhook takes, so the whole journey works offline and nothing here
can mark an order paid without a correctly signed event. Only the order's customer opens
it: with the order's tracking token (in the link Payment gives) or the session that placed
it; anyone else gets 404, as for any order that is not theirs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from oms.contracts.v1 import order_pb2
from oms.gateway.clients import Backends
from oms.gateway.errors import ApiError
from oms.gateway.pages import ScreenOptions, render, short_number
from oms.gateway.params import TrackingToken
from oms.gateway.schemas import Order
from oms.gateway.sessions import Sessions
from oms.limits import ID_PATTERN

OrderPath = Annotated[str, Path(pattern=ID_PATTERN)]
PAYABLE = frozenset({"pending", "awaiting_payment"})


def router(backends: Backends, options: ScreenOptions, sessions: Sessions) -> APIRouter:
    test = APIRouter(prefix="/test-payments", include_in_schema=False)

    async def owned(order_id: str, token: str, customer_id: str | None) -> order_pb2.Order:
        """The order, for its customer only: its tracking token, or the session that placed
        it (404 otherwise, as for any order that is not the caller's)."""
        if token:
            return await backends.order.get(order_id, access_token=token)
        if customer_id is None:
            raise ApiError(404, "not_found", f"no order {order_id}")
        return await backends.order.get(order_id, customer_id=customer_id)

    @test.get("/{order_id}", response_class=HTMLResponse)
    async def payment_page(
        request: Request,
        order_id: OrderPath,
        t: TrackingToken = "",
        customer_id: str | None = sessions.optional(),
    ) -> Response:
        found = await owned(order_id, t, customer_id)
        order = Order.from_proto(found)
        context = {
            "options": options,
            "order": order,
            "number": short_number(order.id),
            "payable": order.status in PAYABLE,
            "token": found.access_token,
            "tracker": f"/orders/{order.id}?t={found.access_token}",
        }
        return render(request, "test_payment.html", context)

    @test.post("/{order_id}/pay")
    async def pay(
        order_id: OrderPath,
        t: TrackingToken = "",
        customer_id: str | None = sessions.optional(),
    ) -> RedirectResponse:
        order = await owned(order_id, t, customer_id)
        payload, signature = await backends.payment.sign_test_completion(order_id)
        await backends.payment.stripe_webhook(payload, signature)
        return RedirectResponse(f"/orders/{order.id}?t={order.access_token}&paid=1", 303)

    return test
