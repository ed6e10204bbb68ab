"""The FastAPI application: routers, error handlers, body limits and the OpenAPI document."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import SecretStr

from oms.gateway import (
    errors,
    pages,
    routes_admin,
    routes_orders,
    routes_public,
    routes_webhooks,
)
from oms.gateway.clients import Backends
from oms.gateway.middleware import AccessLog, BodyLimit

MAX_BODY_BYTES = 64 * 1024  # an order of 50 lines is about 3 KiB
DESCRIPTION = """\
The public API of OMS: the menu, customers' orders, Stripe's webhook and admin routes.

Money is an integer amount in the currency's minor unit (`price: 950, currency: "EUR"` is
9.50 EUR). Every error is `{"error": {"code": ..., "message": ...}}` with a reason;
invalid requests (422) list each offending field under `error.fields`.
"""


def create_app(backends: Backends, admin_token: SecretStr, readiness_timeout: float) -> FastAPI:
    app = FastAPI(title="OMS Gateway", version="1.0.0", description=DESCRIPTION)
    errors.install(app)
    # Added last runs first: the access log sees every answer, including a 413.
    app.add_middleware(
        BodyLimit,
        default=MAX_BODY_BYTES,
        by_prefix={routes_webhooks.PATH: routes_webhooks.MAX_BODY_BYTES},
    )
    app.add_middleware(AccessLog)
    app.include_router(routes_public.router(backends, readiness_timeout))
    app.include_router(routes_orders.router(backends))
    app.include_router(routes_admin.router(backends, admin_token))
    app.include_router(routes_webhooks.router(backends))
    app.include_router(pages.router(backends))
    return app
