"""Probes, the menu as JSON, and a small server-rendered menu page."""

from __future__ import annotations

import html

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse

from oms.contracts.v1 import menu_pb2
from oms.gateway.clients import Backends
from oms.gateway.errors import documented
from oms.gateway.schemas import Alive, Menu, MenuItem, Readiness

# ISO 4217 currencies without a minor unit; every other one is shown with two decimals.
ZERO_DECIMAL = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF"})


def price_text(amount_minor: int, currency: str) -> str:
    if currency in ZERO_DECIMAL:
        return f"{amount_minor} {currency}"
    return f"{amount_minor // 100}.{amount_minor % 100:02d} {currency}"


def _row(item: menu_pb2.MenuItem) -> str:
    name, description = html.escape(item.name), html.escape(item.description)
    price = html.escape(price_text(item.price.amount_minor, item.price.currency))
    return f"<tr><td>{name}</td><td>{description}</td><td class=price>{price}</td></tr>"


def menu_page(items: list[menu_pb2.MenuItem]) -> str:
    rows = "\n".join(_row(item) for item in items)
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>Menu</title>
<meta name=viewport content="width=device-width, initial-scale=1">
<style>body{{font-family:sans-serif;max-width:40em;margin:2em auto}}
td{{padding:.3em .6em}}.price{{text-align:right;white-space:nowrap}}</style></head>
<body><h1>Menu</h1><table>
{rows or "<tr><td>Nothing on the menu right now.</td></tr>"}
</table><p><a href="/docs">API</a></p></body></html>
"""


def router(backends: Backends, readiness_timeout: float) -> APIRouter:
    public = APIRouter()

    @public.get("/healthz", tags=["health"])
    async def alive() -> Alive:
        """The process answers; no dependency is checked (Consul's health check)."""
        return Alive()

    @public.get(
        "/readyz",
        tags=["health"],
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "A service has no healthy instance"}},
    )
    async def ready() -> Readiness | JSONResponse:
        """Ready when menu, order, stock and payment each have an instance answering SERVING."""
        services = await backends.readiness(readiness_timeout)
        missing = [name for name, state in services.items() if state != "serving"]
        readiness = Readiness(ready=not missing, services=services, missing=missing)
        if missing:
            return JSONResponse(readiness.model_dump(), 503)
        return readiness

    @public.get("/api/menu", tags=["menu"], responses=documented(502, 503))
    async def menu() -> Menu:
        """The items on offer now, prices in minor units."""
        items = await backends.menu.list_items(offered_only=True)
        return Menu(items=[MenuItem.from_proto(item) for item in items])

    @public.get("/", include_in_schema=False, response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        return HTMLResponse(menu_page(await backends.menu.list_items(offered_only=True)))

    return public
