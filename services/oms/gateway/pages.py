"""The web screens' shared parts: templates, static files, money, and the pages' headers.

Screens are server-rendered Jinja2 templates with a little hand-written JavaScript (fetch for
actions, EventSource for live updates) served from `static/`: no build step, and nothing is
fetched from the internet. Each screen's routes live in a module of its own (`pages_customer`,
`pages_staff`, `pages_docs`); `install` mounts them all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from oms.gateway.errors import HTTP_FOR_GRPC, UNAVAILABLE

HERE = Path(__file__).parent
STATIC_PATH = "/static"
# ISO 4217 currencies without a minor unit; every other one is shown with two decimals.
ZERO_DECIMAL = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF"})
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}
# Pages run only our own scripts and styles, and talk only to this gateway. Tracking links
# carry the order's token, so no page tells another site where it came from.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class ScreenOptions:
    """What the screens show beyond the API's data (`GATEWAY_SHOP_NAME`, `GATEWAY_KDS_*`)."""

    shop_name: str = "OMS"
    # A kitchen ticket turns amber, then red, once paid this long ago.
    kds_warn_seconds: float = 300.0
    kds_late_seconds: float = 600.0


def money(amount_minor: int, currency: str) -> str:
    """`950, "EUR"` is "€9.50", as the screens' JavaScript (Intl, English) writes it too."""
    if currency in ZERO_DECIMAL:
        number = f"{amount_minor:,}"
    else:
        number = f"{amount_minor // 100:,}.{amount_minor % 100:02d}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{currency} {number}"


def short_number(order_id: str) -> str:
    """What the kitchen calls out and the customer's tracker shows: "#4D74"."""
    return "#" + order_id.replace("-", "")[:4].upper()


def tint(item_id: str) -> int:
    """One of the menu's six tile colours, the same for an item every time."""
    return hashlib.sha256(item_id.encode()).digest()[0] % 6


def status_label(status: str) -> str:
    return status.replace("_", " ").capitalize()


def _assets_version() -> str:
    """Changes whenever a static file does, so browsers never run a stale script."""
    digest = hashlib.sha256()
    for path in sorted((HERE / "static").rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:10]


ASSETS_VERSION = _assets_version()


def asset(name: str) -> str:
    return f"{STATIC_PATH}/{name}?v={ASSETS_VERSION}"


templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals["asset"] = asset
templates.env.filters["money"] = money
templates.env.filters["short_number"] = short_number
templates.env.filters["status_label"] = status_label
templates.env.filters["tint"] = tint


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    return templates.TemplateResponse(
        request, name, context, status_code=status_code, headers=PAGE_HEADERS
    )


def error_page(request: Request, options: ScreenOptions, status: int) -> Response:
    """A refusal or an outage as a page a person can read (the API answers JSON)."""
    messages = {
        404: ("Not found", "We could not find that order. Check the link you followed."),
        503: ("Back in a moment", "We are busy right now. Please try again in a few seconds."),
    }
    title, message = messages.get(status, ("Something went wrong", "Please try again shortly."))
    context = {"options": options, "title": title, "message": message}
    return render(request, "error.html", context, status)


def status_of(exc: grpc.aio.AioRpcError) -> int:
    """The HTTP status the API answers for a service's error (`oms.gateway.errors`)."""
    code = exc.code()
    if code in HTTP_FOR_GRPC:
        return HTTP_FOR_GRPC[code][0]
    return 503 if code in UNAVAILABLE else 502


def install(app: FastAPI, routers: list[Any]) -> None:
    """Mount the static files and include the screens' routers."""
    app.mount(STATIC_PATH, StaticFiles(directory=HERE / "static"), name="static")
    for router in routers:
        app.include_router(router)
