"""The local test payment page: stripe-mock has no payment page, so this stands in for it.

Served only with stripe-mock in the development mode (Payment then puts this page's link on
the order). "Pay" asks Payment for the webhook Stripe would send and delivers it through the
same verified path a real webhook takes, so the whole journey works offline and nothing here
can mark an order paid without a correctly signed event.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from oms.gateway.clients import Backends
from oms.gateway.pages import ScreenOptions, render, short_number
from oms.gateway.schemas import Order
from oms.limits import ID_PATTERN

OrderPath = Annotated[str, Path(pattern=ID_PATTERN)]
PAYABLE = frozenset({"pending", "awaiting_payment"})


def router(backends: Backends, options: ScreenOptions) -> APIRouter:
    test = APIRouter(prefix="/test-payments", include_in_schema=False)

    @test.get("/{order_id}", response_class=HTMLResponse)
    async def payment_page(request: Request, order_id: OrderPath) -> Response:
        found = await backends.order.get(order_id)
        order = Order.from_proto(found)
        context = {
            "options": options,
            "order": order,
            "number": short_number(order.id),
            "payable": order.status in PAYABLE,
            "tracker": f"/orders/{order.id}?t={found.access_token}",
        }
        return render(request, "test_payment.html", context)

    @test.post("/{order_id}/pay")
    async def pay(order_id: OrderPath) -> RedirectResponse:
        payload, signature = await backends.payment.sign_test_completion(order_id)
        await backends.payment.stripe_webhook(payload, signature)
        order = await backends.order.get(order_id)
        return RedirectResponse(f"/orders/{order.id}?t={order.access_token}&paid=1", 303)

    return test
