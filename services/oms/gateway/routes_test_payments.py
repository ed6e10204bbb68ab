"""The local test payment page: stripe-mock has no payment page, so this stands in for it.

Served only with stripe-mock in the development mode (Payment then puts this page's link on
the order). "Pay" asks Payment for the webhook Stripe would send and delivers it through the
same verified path a real webhook takes, so the whole journey works offline and nothing here
can mark an order paid without a correctly signed event.
"""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse, RedirectResponse

from oms.gateway.clients import Backends
from oms.gateway.pages import page, price_text
from oms.gateway.schemas import Order
from oms.limits import ID_PATTERN

OrderPath = Annotated[str, Path(pattern=ID_PATTERN)]


def router(backends: Backends) -> APIRouter:
    test = APIRouter(prefix="/test-payments", include_in_schema=False)

    @test.get("/{order_id}", response_class=HTMLResponse)
    async def payment_page(order_id: OrderPath) -> HTMLResponse:
        order = Order.from_proto(await backends.order.get(order_id))
        total = html.escape(price_text(order.total, order.currency))
        body = f"""
<div class="test-banner" role="note">TEST PAYMENT: no real money moves. This page stands in
for Stripe's, which the local stripe-mock does not serve.</div>
<h1>Pay {total}</h1>
<p>Order <code>{html.escape(order.id[:8])}</code></p>
<form method="post" action="/test-payments/{html.escape(order.id)}/pay">
  <button type="submit" class="primary">Pay {total} (test)</button>
</form>"""
        return HTMLResponse(page("Test payment", body))

    @test.post("/{order_id}/pay")
    async def pay(order_id: OrderPath) -> RedirectResponse:
        payload, signature = await backends.payment.sign_test_completion(order_id)
        await backends.payment.stripe_webhook(payload, signature)
        order = await backends.order.get(order_id)
        return RedirectResponse(f"/orders/{order.id}?t={order.access_token}&paid=1", 303)

    return test
