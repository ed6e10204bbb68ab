"""The few server-rendered pages people see: the menu, and an order (Stripe's return page).

Every value is escaped; the pages need no JavaScript. An order page refreshes itself until
the order is ready or closed, so a customer back from Stripe watches it reach the pass.
"""

from __future__ import annotations

import html

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from oms.contracts.v1 import menu_pb2
from oms.gateway.clients import Backends
from oms.gateway.routes_orders import OrderId
from oms.gateway.schemas import Order

# ISO 4217 currencies without a minor unit; every other one is shown with two decimals.
ZERO_DECIMAL = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF"})
FINAL = frozenset({"ready", "cancelled", "expired"})
STYLE = (
    "body{font-family:sans-serif;max-width:40em;margin:2em auto}"
    "td{padding:.3em .6em}.price{text-align:right;white-space:nowrap}"
)


def price_text(amount_minor: int, currency: str) -> str:
    if currency in ZERO_DECIMAL:
        return f"{amount_minor} {currency}"
    return f"{amount_minor // 100}.{amount_minor % 100:02d} {currency}"


def page(title: str, body: str, refresh_seconds: int = 0) -> str:
    refresh = f'<meta http-equiv="refresh" content="{refresh_seconds}">' if refresh_seconds else ""
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>{refresh}
<meta name=viewport content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body>{body}</body></html>
"""


def _row(*cells: str, price: str) -> str:
    escaped = "".join(f"<td>{html.escape(cell)}</td>" for cell in cells)
    return f"<tr>{escaped}<td class=price>{html.escape(price)}</td></tr>"


def menu_page(items: list[menu_pb2.MenuItem]) -> str:
    rows = "\n".join(
        _row(
            item.name,
            item.description,
            price=price_text(item.price.amount_minor, item.price.currency),
        )
        for item in items
    )
    table = rows or "<tr><td>Nothing on the menu right now.</td></tr>"
    return page("Menu", f"<h1>Menu</h1><table>{table}</table><p><a href=/docs>API</a></p>")


def order_page(order: Order) -> str:
    rows = "\n".join(
        _row(f"{item.quantity} x", item.name, price=price_text(item.line_total, order.currency))
        for item in order.items
    )
    total = _row("", "Total", price=price_text(order.total, order.currency))
    pay = ""
    if order.status == "awaiting_payment" and order.payment_link:
        pay = f'<p><a href="{html.escape(order.payment_link)}">Pay now</a></p>'
    body = (
        f"<h1>Order {html.escape(order.id)}</h1>"
        f"<p>Status: <strong>{html.escape(order.status.replace('_', ' '))}</strong></p>"
        f"<table>{rows}{total}</table>{pay}"
    )
    return page("Your order", body, refresh_seconds=0 if order.status in FINAL else 3)


def router(backends: Backends) -> APIRouter:
    pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @pages.get("/")
    async def menu() -> HTMLResponse:
        return HTMLResponse(menu_page(await backends.menu.list_items(offered_only=True)))

    @pages.get("/orders/{order_id}")
    async def order(order_id: OrderId, t: str = "") -> HTMLResponse:
        found = await backends.order.get(order_id, access_token=t or "-")
        return HTMLResponse(order_page(Order.from_proto(found)))

    return pages
