"""The FastAPI application: routers, error handlers, body limits and the OpenAPI document."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI

from oms.gateway import (
    contract,
    errors,
    pages,
    pages_customer,
    pages_docs,
    pages_staff,
    routes_admin,
    routes_faults,
    routes_live,
    routes_orders,
    routes_public,
    routes_test_payments,
    routes_webhooks,
)
from oms.gateway.auth import StaffAuth
from oms.gateway.catalog import Catalog
from oms.gateway.clients import Backends
from oms.gateway.live import LiveFeed
from oms.gateway.middleware import AccessLog, BodyLimit
from oms.gateway.pages import ScreenOptions
from oms.gateway.ratelimit import TokenBuckets
from oms.gateway.sessions import Sessions
from oms.limits import MAX_BODY_BYTES, MAX_WEBHOOK_BYTES

DESCRIPTION = """\
The public API of OMS: the menu, customers' orders, live updates, Stripe's webhook and staff
routes.

A customer first asks for a session (`POST /api/session`) and sends its token as
`Authorization: Bearer <token>` (pages use its HTTP-only cookie). Money is an integer amount
in the currency's minor unit (`price: 950, currency: "EUR"` is 9.50 EUR). Every error is
`{"error": {"code": ..., "message": ...}}` with a reason; invalid requests (422) list each
offending field under `error.fields`. A query parameter an operation does not declare is
an invalid request too.
"""


@dataclass(frozen=True)
class Edge:
    """What the routes need, built once by the composition root."""

    backends: Backends
    catalog: Catalog
    sessions: Sessions
    staff: StaffAuth
    feed: LiveFeed
    order_limit: TokenBuckets
    session_limit: TokenBuckets
    webhook_limit: TokenBuckets
    readiness_timeout: float
    heartbeat_seconds: float
    test_payments: bool
    screens: ScreenOptions = field(default_factory=ScreenOptions)


def create_app(edge: Edge) -> FastAPI:
    app = FastAPI(
        title="OMS Gateway",
        version="2.0.0",
        description=DESCRIPTION,
        # Served from an installed package instead of a CDN (`pages_docs`).
        docs_url=None,
        redoc_url=None,
    )
    errors.install(app)
    contract.install(app)  # before the routers: it applies to the routes included after it
    # Added last runs first: the access log sees every answer, including a 413.
    app.add_middleware(
        BodyLimit,
        default=MAX_BODY_BYTES,
        by_prefix={routes_webhooks.PATH: MAX_WEBHOOK_BYTES},
    )
    app.add_middleware(AccessLog)
    backends = edge.backends
    app.include_router(routes_public.router(backends, edge.catalog, edge.readiness_timeout))
    app.include_router(
        routes_orders.router(backends, edge.sessions, edge.order_limit, edge.session_limit)
    )
    app.include_router(
        routes_live.router(backends, edge.sessions, edge.staff, edge.feed, edge.heartbeat_seconds)
    )
    app.include_router(routes_admin.router(backends, edge.catalog, edge.staff))
    app.include_router(routes_faults.router(backends, edge.staff))
    app.include_router(routes_webhooks.router(backends, edge.webhook_limit))
    if edge.test_payments:
        app.include_router(routes_test_payments.router(backends, edge.screens, edge.sessions))
    pages_docs.install(app)  # before `pages`: its /static mount would take /static/docs
    pages.install(
        app,
        [
            pages_customer.router(backends, edge.catalog, edge.sessions, edge.screens),
            pages_staff.router(edge.staff, edge.screens),
        ],
    )
    return app
