"""Probes and the menu as JSON."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from oms.gateway.catalog import Catalog
from oms.gateway.clients import Backends
from oms.gateway.errors import documented
from oms.gateway.schemas import Alive, Menu, Readiness


def router(backends: Backends, catalog: Catalog, readiness_timeout: float) -> APIRouter:
    public = APIRouter()

    @public.get("/healthz", tags=["health"])
    async def alive() -> Alive:
        """The process answers; no dependency is checked (Consul's health check)."""
        return Alive()

    @public.get(
        "/readyz",
        tags=["health"],
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "A service has no serving instance"}},
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
        """The items on offer now, prices in minor units, and which are sold out."""
        return await catalog.menu()

    return public
