"""The customer's screens: the menu with its cart and checkout, and the live order tracker.

The menu is rendered from the same cached catalogue as `/api/menu` (sold-out flags from
Stock); the cart lives in the browser (localStorage), and checkout uses the public API with
the customer's session cookie (`static/menu.js`). The tracker opens with the order's
tracking token (`?t=`), or the session that placed it, and follows its event stream
(`static/order.js`), so it never reloads.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import grpc
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from oms.gateway.catalog import Catalog
from oms.gateway.clients import Backends
from oms.gateway.pages import ScreenOptions, error_page, render, short_number, status_of
from oms.gateway.params import TrackingToken
from oms.gateway.routes_orders import OrderId
from oms.gateway.schemas import CustomerOrder
from oms.gateway.sessions import Sessions

# The tracker's timeline, in order; an order that ends otherwise shows how it ended.
TIMELINE = (
    ("pending", "Order placed"),
    ("awaiting_payment", "Awaiting payment"),
    ("paid", "Paid"),
    ("preparing", "Preparing"),
    ("ready", "Ready for pick-up"),
    ("picked_up", "Picked up"),
)
ENDINGS = {"cancelled": "Cancelled", "expired": "Expired", "refunded": "Refunded"}


def router(
    backends: Backends, catalog: Catalog, sessions: Sessions, options: ScreenOptions
) -> APIRouter:
    pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @pages.get("/")
    async def menu(request: Request) -> Response:
        try:
            items = (await catalog.menu()).items
        except grpc.aio.AioRpcError as exc:
            return error_page(request, options, status_of(exc))
        context = {
            "options": options,
            "items": items,
            "menu": [item.model_dump() for item in items],
        }
        return render(request, "menu.html", context)

    @pages.get("/orders/{order_id}")
    async def order(
        request: Request,
        order_id: OrderId,
        t: TrackingToken = "",
        paid: Annotated[str, Query(max_length=1)] = "",
    ) -> Response:
        customer_id = "" if t else (sessions.from_request(request, None) or "")
        if not t and not customer_id:
            # Neither the link's token nor the session that placed it: nothing to show.
            return error_page(request, options, 404)
        try:
            found = await backends.order.get(order_id, customer_id, t)
        except grpc.aio.AioRpcError as exc:
            return error_page(request, options, status_of(exc))
        shown = CustomerOrder.owned(found)
        events = f"/api/orders/{shown.id}/events" + (f"?t={quote(t)}" if t else "")
        context = {
            "options": options,
            "order": shown,
            "number": short_number(shown.id),
            "timeline": TIMELINE,
            "endings": ENDINGS,
            "events_url": events,
            "paid_return": paid == "1",
        }
        return render(request, "order.html", context)

    return pages
