"""The OpenAPI document is the contract: what it does not declare, a request may not send.

FastAPI validates the parameters a route declares and ignores any others, so a misspelt
`page_sise=5` would silently list 20 orders. Every route of the document therefore refuses a
query parameter the document does not list for it (including one without a name, `?=x`)
with 422 and its name, and every route declares that 422.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from oms.gateway.errors import documented


class DeclaredQuery:
    """Per operation of the document, the names of the query parameters it declares."""

    def __init__(self) -> None:
        self._names: dict[tuple[str, str], frozenset[str]] = {}

    def names(self, app: FastAPI, path: str, method: str) -> frozenset[str]:
        key = (path, method)
        if key not in self._names:
            operation = app.openapi()["paths"].get(path, {}).get(method, {})
            parameters = operation.get("parameters", [])
            self._names[key] = frozenset(p["name"] for p in parameters if p["in"] == "query")
        return self._names[key]


def install(app: FastAPI) -> None:
    """Refuse undeclared query parameters on every documented route included after this."""
    declared = DeclaredQuery()

    async def known_query_only(request: Request) -> None:
        route = request.scope.get("route")
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            return  # the pages take what browsers and Stripe's return links add
        method = "get" if request.method == "HEAD" else request.method.lower()
        allowed = declared.names(request.app, route.path_format, method)
        unknown = sorted({name for name in request.query_params if name not in allowed})
        if unknown:
            raise RequestValidationError([_unknown(name, allowed) for name in unknown])

    app.router.dependencies.append(Depends(known_query_only))
    app.router.responses.update(documented(422))


def _unknown(name: str, allowed: frozenset[str]) -> dict[str, Any]:
    known = ", ".join(sorted(allowed)) or "none"
    what = "a query parameter needs a name" if not name else "not a parameter of this route"
    return {
        "type": "extra_forbidden",
        "loc": ("query", name),
        "msg": f"{what} (it takes: {known})",
        "input": name,
    }
