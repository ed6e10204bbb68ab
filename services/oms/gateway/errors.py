"""Every failure becomes a JSON body `{"error": {"code", "message"}}` with a fitting status.

gRPC statuses from the services map to HTTP here, once: a refusal the service explains
(INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, RESOURCE_EXHAUSTED) keeps its message; an
outage (UNAVAILABLE, DEADLINE_EXCEEDED) is a 503 the client may retry; anything else is a
502 whose details stay in our logs, next to the trace id, and never reach the client.
"""

from __future__ import annotations

from typing import Any, cast

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from google.protobuf.message import DecodeError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from oms.contracts.v1 import stock_pb2
from oms.platform import logs
from oms.platform.grpc_server import DETAILS_KEY

log = logs.get(__name__)
RETRY_AFTER_SECONDS = "1"

# status code, error code; the service's message goes with it.
HTTP_FOR_GRPC: dict[grpc.StatusCode, tuple[int, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (422, "invalid_argument"),
    grpc.StatusCode.NOT_FOUND: (404, "not_found"),
    grpc.StatusCode.FAILED_PRECONDITION: (409, "conflict"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (409, "insufficient_stock"),
}
UNAVAILABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


class FieldError(BaseModel):
    location: str = Field(examples=["body.items[0].quantity"])
    message: str = Field(examples=["Input should be less than or equal to 100"])


class Error(BaseModel):
    code: str = Field(examples=["invalid_request"])
    message: str
    fields: list[FieldError] | None = Field(
        default=None, description="For invalid requests: each offending input and why."
    )


class ErrorBody(BaseModel):
    error: Error


class Shortage(BaseModel):
    id: str
    requested: int
    available: int


class ShortageBody(ErrorBody):
    """409 on placing an order: stock is short (nothing was reserved or stored), or an order
    under the same Idempotency-Key is still being placed."""

    shortages: list[Shortage] = Field(
        default_factory=list, description="With `insufficient_stock`: each item that is short."
    )

    @classmethod
    def from_proto(cls, message: str, details: stock_pb2.CheckStockResponse) -> ShortageBody:
        return cls(
            error=Error(code="insufficient_stock", message=message),
            shortages=[
                Shortage(id=s.item_id, requested=s.requested, available=s.available)
                for s in details.shortages
            ],
        )


class ApiError(Exception):
    """A refusal decided at the gateway itself (auth, a missing header, a body too large)."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = ErrorBody(error=Error(code=code, message=message))
    return JSONResponse(body.model_dump(exclude_none=True), status, headers=headers)


def grpc_error_response(exc: grpc.aio.AioRpcError) -> JSONResponse:
    code = exc.code()
    message = exc.details() or code.name.lower()
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED and (details := _details(exc)) is not None:
        body = ShortageBody.from_proto(message, details)
        return JSONResponse(body.model_dump(exclude_none=True), 409)
    if code in HTTP_FOR_GRPC:
        status, error_code = HTTP_FOR_GRPC[code]
        return error_response(status, error_code, message)
    if code in UNAVAILABLE:
        log.warning("gateway.upstream_unavailable", code=code.name, details=exc.details())
        return error_response(
            503,
            "unavailable",
            "a service is unavailable right now; retry shortly",
            {"Retry-After": RETRY_AFTER_SECONDS},
        )
    log.error("gateway.upstream_failed", code=code.name, details=exc.details())
    return error_response(502, "upstream_error", "a service failed to answer this request")


def _details(exc: grpc.aio.AioRpcError) -> stock_pb2.CheckStockResponse | None:
    for key, value in exc.trailing_metadata() or ():
        if key == DETAILS_KEY and isinstance(value, bytes):
            try:
                return stock_pb2.CheckStockResponse.FromString(value)
            except DecodeError:
                log.warning("gateway.bad_error_details", exc_info=True)
    return None


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not part:
            text += '[""]'  # a parameter without a name: `?=x`
        else:
            text += f".{part}" if text else part
    return text


def validation_response(exc: RequestValidationError) -> JSONResponse:
    problems: list[FieldError] = []
    for error in exc.errors():
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "")
            message = f"not valid JSON ({reason})" if reason else "not valid JSON"
            problems.append(FieldError(location="body", message=message))
            continue
        problems.append(
            FieldError(location=_location(tuple(error.get("loc", ()))), message=message)
        )
    summary = "; ".join(f"{p.location}: {p.message}" for p in problems)
    body = ErrorBody(
        error=Error(code="invalid_request", message=summary or "invalid request", fields=problems)
    )
    return JSONResponse(body.model_dump(exclude_none=True), 422)


def unreadable_body_response(cause: BaseException | None) -> JSONResponse:
    reason = "not UTF-8 text" if isinstance(cause, UnicodeDecodeError) else "unreadable"
    problem = FieldError(location="body", message=f"not valid JSON ({reason})")
    body = ErrorBody(
        error=Error(
            code="invalid_request",
            message=f"{problem.location}: {problem.message}",
            fields=[problem],
        )
    )
    return JSONResponse(body.model_dump(exclude_none=True), 422)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into our error body."""

    # Starlette calls each handler only with the exception type it is registered for.
    async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
        error = cast(ApiError, exc)
        return error_response(error.status, error.code, error.message, error.headers)

    async def on_grpc_error(_: Request, exc: Exception) -> JSONResponse:
        return grpc_error_response(cast(grpc.aio.AioRpcError, exc))

    async def on_invalid(_: Request, exc: Exception) -> JSONResponse:
        return validation_response(cast(RequestValidationError, exc))

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        # Starlette's own: unknown path (404), wrong method (405), body too large (413), and
        # FastAPI's 400 for a body it could not decode: an invalid body like any other.
        error = cast(HTTPException, exc)
        method, path = request.method, request.url.path
        if error.status_code == 400:
            return unreadable_body_response(error.__cause__)
        if error.status_code == 404:
            code, message = "not_found", f"no route {method} {path}"
        elif error.status_code == 405:
            code, message = "method_not_allowed", f"{method} is not allowed on {path}"
        else:
            code = "too_large" if error.status_code == 413 else "http_error"
            message = str(error.detail)
        return error_response(
            error.status_code,
            code,
            message,
            dict(error.headers) if error.headers else None,
        )

    async def on_bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("gateway.unhandled", path=request.url.path, exc_info=exc)
        return error_response(500, "internal", "the gateway failed to handle this request")

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(grpc.aio.AioRpcError, on_grpc_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_bug)


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses a route may answer."""
    descriptions = {
        400: "Bad request (webhook: missing, forged or stale signature, or not a Stripe event)",
        401: "No valid session or bearer token",
        403: "Wrong bearer token",
        404: "Not found",
        409: "Conflict with the current state",
        413: "Body too large",
        422: "Invalid request, with each offending field",
        429: "Too many requests from this client; retry after `Retry-After` seconds",
        502: "A service failed (details are logged with the trace id)",
        503: "A service is unavailable; retry after `Retry-After` seconds",
    }
    return {
        status: {"model": ErrorBody, "description": descriptions[status]} for status in statuses
    }
