"""A Stripe that remembers its Checkout Sessions and refunds, in front of stripe-mock.

stripe-mock serves Stripe's API schema but keeps no state: every session it returns is open,
and it honours no idempotency key. Some of Payment's behaviour depends on exactly that state
(a session the customer completed cannot be expired; a repeated key gets the first answer;
Stripe refuses an expiry less than 30 minutes away), so this emulation adds it and nothing
else. Every request is first forwarded to stripe-mock, so Stripe's schema validates it; the
answer is stripe-mock's own, with only the remembered fields written over, and each of those
must exist in stripe-mock's answer with a JSON type it allows (else `violations` says so).
The few errors it makes itself take the shape of stripe-mock's errors (see the tests).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson
from aiohttp import web

from devtools.process import free_port

Json = dict[str, Any]
SHORTEST, LONGEST = 30 * 60, 24 * 3600  # what Stripe accepts for a session's expiry


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    params: dict[str, str]
    idempotency_key: str


@dataclass
class StatefulStripe:
    stripe_mock: str  # stripe-mock's base URL
    sessions: dict[str, Json] = field(default_factory=dict)  # id -> remembered fields
    requests: list[Recorded] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    _answers: dict[str, tuple[dict[str, str], int, Json]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/checkout/sessions", self._create)
        app.router.add_get("/v1/checkout/sessions/{id}", self._retrieve)
        app.router.add_post("/v1/checkout/sessions/{id}/expire", self._expire)
        app.router.add_post("/v1/refunds", self._refund)
        self._http = httpx.AsyncClient(base_url=self.stripe_mock, timeout=10)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        await self._http.aclose()

    # --- what the customer does at Stripe -----------------------------------------------

    def complete(self, session_id: str) -> str:
        """The customer paid: the session is complete; its payment intent's id."""
        intent = f"pi_{uuid.uuid4().hex[:24]}"
        self.sessions[session_id].update(
            status="complete", payment_status="paid", payment_intent=intent
        )
        return intent

    def created(self, path: str = "/v1/checkout/sessions") -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path == path]

    # --- the API ------------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        params, mocked = await self._forward(request)
        if mocked.status_code != 200:
            return _answer(mocked.status_code, mocked.json())
        repeated = self._repeat(request, params)
        if repeated is not None:
            return repeated
        expires_at = int(params.get("expires_at", time.time() + LONGEST))
        if not SHORTEST <= expires_at - time.time() <= LONGEST:
            message = "The `expires_at` timestamp must be between 30 minutes and 24 hours."
            return self._remember(request, params, 400, _error(message, "expires_at"))
        session_id = f"cs_test_{uuid.uuid4().hex}"
        self.sessions[session_id] = {
            "id": session_id,
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
            "status": "open",
            "payment_status": "unpaid",
            "payment_intent": None,
            "expires_at": expires_at,
            "client_reference_id": params.get("client_reference_id"),
            "metadata": {"order_id": params.get("metadata[order_id]")},
            "currency": params.get("line_items[0][price_data][currency]"),
            "amount_total": _amount_total(params),
        }
        body = self._overlay(mocked.json(), self.sessions[session_id])
        return self._remember(request, params, 200, body)

    async def _retrieve(self, request: web.Request) -> web.Response:
        _, mocked = await self._forward(request)
        remembered = self.sessions.get(request.match_info["id"])
        if remembered is None:
            return _answer(404, _error("No such checkout.session", "session", "resource_missing"))
        return _answer(200, self._overlay(mocked.json(), remembered))

    async def _expire(self, request: web.Request) -> web.Response:
        _, mocked = await self._forward(request)
        remembered = self.sessions.get(request.match_info["id"])
        if remembered is None:
            return _answer(404, _error("No such checkout.session", "session", "resource_missing"))
        if remembered["status"] != "open":
            message = 'Only Checkout Sessions with a status in ["open"] can be expired.'
            return _answer(400, _error(message, None))
        remembered["status"] = "expired"
        return _answer(200, self._overlay(mocked.json(), remembered))

    async def _refund(self, request: web.Request) -> web.Response:
        params, mocked = await self._forward(request)
        if mocked.status_code != 200:
            return _answer(mocked.status_code, mocked.json())
        repeated = self._repeat(request, params)
        if repeated is not None:
            return repeated
        refund = {"id": f"re_{uuid.uuid4().hex[:24]}", "payment_intent": params["payment_intent"]}
        return self._remember(request, params, 200, self._overlay(mocked.json(), refund))

    # --- plumbing -----------------------------------------------------------------------

    async def _forward(self, request: web.Request) -> tuple[dict[str, str], httpx.Response]:
        body = await request.read()
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
        key = request.headers.get("Idempotency-Key", "")
        self.requests.append(Recorded(request.method, request.path, params, key))
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() in ("authorization", "content-type", "stripe-version")
        }
        mocked = await self._http.request(
            request.method, request.path, content=body or None, headers=headers
        )
        return params, mocked

    def _repeat(self, request: web.Request, params: dict[str, str]) -> web.Response | None:
        """Stripe's answer to a key it has seen: the first answer, or an idempotency error."""
        key = request.headers.get("Idempotency-Key", "")
        if key not in self._answers:
            return None
        first_params, status, body = self._answers[key]
        if first_params != params:
            message = "Keys for idempotent requests can only be used with the same parameters."
            return _answer(400, {"error": {"message": message, "type": "idempotency_error"}})
        return _answer(status, body)

    def _remember(
        self, request: web.Request, params: dict[str, str], status: int, body: Json
    ) -> web.Response:
        key = request.headers.get("Idempotency-Key", "")
        if key:
            self._answers[key] = (params, status, body)
        return _answer(status, body)

    def _overlay(self, mocked: Json, remembered: Json) -> Json:
        for name, value in remembered.items():
            if name not in mocked:
                self.violations.append(f"stripe-mock's {mocked.get('object')} has no {name}")
            elif not _same_json_type(mocked[name], value):
                self.violations.append(f"{name}={value!r} is not like stripe-mock's")
        return {**mocked, **remembered}


def _amount_total(params: dict[str, str]) -> int:
    """What the form-encoded `line_items[n][...]` of a create request add up to."""
    lines = {key.split("]")[0] + "]" for key in params if key.startswith("line_items[")}
    return sum(
        int(params[f"{line}[quantity]"]) * int(params[f"{line}[price_data][unit_amount]"])
        for line in lines
    )


def _same_json_type(mocked: Any, value: Any) -> bool:
    if mocked is None or value is None:
        return True  # nullable in Stripe's schema, as stripe-mock's null says
    return type(mocked) is type(value)


def _error(message: str, param: str | None, code: str | None = None) -> Json:
    error: Json = {"message": message, "type": "invalid_request_error"}
    if param:
        error["param"] = param
    if code:
        error["code"] = code
    return {"error": error}


def _answer(status: int, body: Json) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")
