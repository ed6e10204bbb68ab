"""A Stripe that remembers: the four endpoints Payment calls, with the state stripe-mock lacks.

stripe-mock answers every request from fixtures and forgets it, so a session it "expired" can
still be paid and a refund needs no payment. Races between a customer paying and OMS closing a
checkout need a Stripe that keeps sessions: this emulation keeps them in memory and follows
Stripe's documented rules for what Payment uses: create a Checkout Session (`expires_at` 30
minutes to 24 hours ahead; one idempotency key, one set of parameters), retrieve it, expire it
(only while open), and refund its payment (only once captured, in full, once).
`tests/devtools/test_stripe_emulator.py` checks its requests and answers against stripe-mock's
shapes; the Stripe adapter itself is tested against stripe-mock.

A test drives the other side, the customer and Stripe's own clock, under `/_test/`: complete a
session (paid now, or by a delayed method that settles later), settle it, let it expire. Each
answers the event Stripe would send, for `devtools.stripe_webhooks` to sign and deliver;
`/_test/ledger` says where the money is.

Run as `python -m devtools.stripe_emulator PORT`; `StripeEmulator` starts it as a process.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from devtools.process import ManagedProcess, free_port, http_ok
from devtools.servers import REPO

Json = dict[str, Any]
MIN_EXPIRY, MAX_EXPIRY = 30 * 60, 24 * 3600


class StripeError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", **more: str):
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": kind, **more}}


def _nested(pairs: list[tuple[str, str]]) -> Json:
    """Stripe's form encoding (`a[b][0][c]=v`) as nested objects, lists for numeric keys."""
    root: Json = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    nested: Json = _lists(root)
    return nested


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(key.isdigit() for key in node):
        return [_lists(node[key]) for key in sorted(node, key=int)]
    return {key: _lists(value) for key, value in node.items()}


def _integer(value: Any, name: str) -> int:
    if not isinstance(value, str) or not value.isdigit():
        raise StripeError(400, f"Invalid integer: {value}", param=name)
    return int(value)


@dataclass
class Session:
    id: str
    order_id: str
    created: int
    expires_at: int
    amount_total: int
    currency: str
    params: Json
    status: str = "open"  # open, complete, expired
    payment_status: str = "unpaid"  # unpaid, paid
    payment_intent: str | None = None
    refunds: list[str] = field(default_factory=list)

    def json(self) -> Json:
        return {
            "id": self.id,
            "object": "checkout.session",
            "amount_subtotal": self.amount_total,
            "amount_total": self.amount_total,
            "cancel_url": self.params.get("cancel_url"),
            "client_reference_id": self.params.get("client_reference_id"),
            "created": self.created,
            "currency": self.currency,
            "expires_at": self.expires_at,
            "livemode": False,
            "metadata": self.params.get("metadata", {}),
            "mode": "payment",
            "payment_intent": self.payment_intent,
            "payment_status": self.payment_status,
            "status": self.status,
            "success_url": self.params.get("success_url"),
            "url": f"https://checkout.stripe.com/c/pay/{self.id}"
            if self.status == "open"
            else None,
        }


class Stripe:
    """The state: sessions, refunds and the answers given under each idempotency key."""

    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}
        self.refunds: dict[str, Json] = {}
        self.answered: dict[str, tuple[str, int, Json]] = {}  # key -> (params digest, answer)

    def idempotent(self, key: str, params: Json, make: Any) -> tuple[int, Json]:
        digest = hashlib.sha256(repr(sorted(params.items())).encode()).hexdigest()
        if key and key in self.answered:
            seen, status, body = self.answered[key]
            if seen != digest:
                raise StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with.",
                    "idempotency_error",
                )
            return status, body
        body = make(params)  # a refused request saves nothing: it may be sent again
        if key:
            self.answered[key] = (digest, 200, body)
        return 200, body

    def create_session(self, params: Json) -> Json:
        if params.get("mode") != "payment":
            raise StripeError(400, "Only `payment` mode is emulated.", param="mode")
        lines = params.get("line_items")
        if not isinstance(lines, list) or not lines:
            raise StripeError(400, "Missing required param: line_items.", param="line_items")
        now = int(time.time())
        expires_at = _integer(params.get("expires_at", str(now + MAX_EXPIRY)), "expires_at")
        if not MIN_EXPIRY <= expires_at - now <= MAX_EXPIRY:
            raise StripeError(
                400,
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from now.",
                param="expires_at",
            )
        currencies = {line["price_data"]["currency"] for line in lines}
        total = sum(
            _integer(x["price_data"]["unit_amount"], "unit_amount") * _integer(x["quantity"], "q")
            for x in lines
        )
        session = Session(
            id=f"cs_test_{secrets.token_hex(12)}",
            order_id=str(params.get("metadata", {}).get("order_id", "")),
            created=now,
            expires_at=expires_at,
            amount_total=total,
            currency=currencies.pop(),
            params=params,
        )
        self.sessions[session.id] = session
        return session.json()

    def session(self, session_id: str) -> Session:
        if session_id not in self.sessions:
            raise StripeError(
                404, f"No such checkout.session: '{session_id}'", code="resource_missing"
            )
        return self.sessions[session_id]

    def expire(self, session_id: str) -> Json:
        session = self.session(session_id)
        if session.status != "open":
            raise StripeError(
                400,
                f"Only Checkout Sessions with a status of open can be expired; this one is "
                f"{session.status}.",
            )
        session.status = "expired"
        return session.json()

    def refund(self, params: Json) -> Json:
        intent = params.get("payment_intent", "")
        session = next(
            (s for s in self.sessions.values() if s.payment_intent == intent and intent), None
        )
        if session is None or session.payment_status != "paid":
            raise StripeError(400, f"No such payment_intent: '{intent}'", code="resource_missing")
        if session.refunds:
            raise StripeError(
                400, "This charge has already been refunded.", code="charge_already_refunded"
            )
        refund = {
            "id": f"re_{secrets.token_hex(12)}",
            "object": "refund",
            "amount": session.amount_total,
            "charge": f"ch_{intent.removeprefix('pi_')}",
            "created": int(time.time()),
            "currency": session.currency,
            "metadata": params.get("metadata", {}),
            "payment_intent": intent,
            "reason": None,
            "status": "succeeded",
        }
        self.refunds[refund["id"]] = refund
        session.refunds.append(refund["id"])
        return refund

    def event(self, event_type: str, session: Session) -> Json:
        return {
            "id": f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "livemode": False,
            "type": event_type,
            "data": {"object": session.json()},
        }


def app() -> Starlette:
    stripe = Stripe()

    async def form(request: Request) -> Json:
        if not request.headers.get("authorization", "").startswith("Bearer sk_"):
            raise StripeError(401, "You did not provide an API key.")
        if request.method == "GET":
            return {}
        if request.headers.get("content-type", "") != "application/x-www-form-urlencoded":
            raise StripeError(400, "Expected `application/x-www-form-urlencoded` content.")
        return _nested(parse_qsl((await request.body()).decode(), keep_blank_values=True))

    def answer(status: int, body: Json) -> JSONResponse:
        return JSONResponse(body, status, headers={"Request-Id": f"req_{secrets.token_hex(8)}"})

    def endpoint(handle: Any) -> Any:
        async def run(request: Request) -> JSONResponse:
            try:
                return answer(*await handle(request))
            except StripeError as exc:
                return answer(exc.status, exc.body)

        return run

    async def create(request: Request) -> tuple[int, Json]:
        key = request.headers.get("idempotency-key", "")
        return stripe.idempotent(key, await form(request), stripe.create_session)

    async def retrieve(request: Request) -> tuple[int, Json]:
        await form(request)
        return 200, stripe.session(request.path_params["id"]).json()

    async def expire(request: Request) -> tuple[int, Json]:
        await form(request)
        return 200, stripe.expire(request.path_params["id"])

    async def refund(request: Request) -> tuple[int, Json]:
        key = request.headers.get("idempotency-key", "")
        return stripe.idempotent(key, await form(request), stripe.refund)

    async def complete(request: Request) -> tuple[int, Json]:
        """The customer pays: by card (paid now) or by a delayed method (`paid: false`)."""
        session = stripe.session(request.path_params["id"])
        if session.status != "open":
            raise StripeError(409, f"the session is {session.status}: nobody can pay it")
        paid = bool((await request.json()).get("paid", True))
        session.status = "complete"
        session.payment_intent = f"pi_{secrets.token_hex(12)}"
        session.payment_status = "paid" if paid else "unpaid"
        return 200, stripe.event("checkout.session.completed", session)

    async def settle(request: Request) -> tuple[int, Json]:
        """A delayed payment arrives after the session completed."""
        session = stripe.session(request.path_params["id"])
        if (session.status, session.payment_status) != ("complete", "unpaid"):
            raise StripeError(409, f"the session is {session.status}, {session.payment_status}")
        session.payment_status = "paid"
        return 200, stripe.event("checkout.session.async_payment_succeeded", session)

    async def lapse(request: Request) -> tuple[int, Json]:
        """Stripe's clock: the session reached its `expires_at` unpaid."""
        stripe.expire(request.path_params["id"])
        return 200, stripe.event(
            "checkout.session.expired", stripe.session(request.path_params["id"])
        )

    async def ledger(request: Request) -> tuple[int, Json]:
        sessions = [
            {
                "id": s.id,
                "order_id": s.order_id,
                "status": s.status,
                "payment_status": s.payment_status,
                "amount_total": s.amount_total,
                "refunded": sum(stripe.refunds[r]["amount"] for r in s.refunds),
            }
            for s in stripe.sessions.values()
        ]
        return 200, {"sessions": sessions, "requests": len(stripe.answered)}

    session = "/v1/checkout/sessions/{id}"
    control = "/_test/checkout/sessions/{id}"
    return Starlette(
        routes=[
            Route("/v1/checkout/sessions", endpoint(create), methods=["POST"]),
            Route(session, endpoint(retrieve), methods=["GET"]),
            Route(f"{session}/expire", endpoint(expire), methods=["POST"]),
            Route("/v1/refunds", endpoint(refund), methods=["POST"]),
            Route(f"{control}/complete", endpoint(complete), methods=["POST"]),
            Route(f"{control}/settle", endpoint(settle), methods=["POST"]),
            Route(f"{control}/expire", endpoint(lapse), methods=["POST"]),
            Route("/_test/ledger", endpoint(ledger), methods=["GET"]),
        ]
    )


class StripeEmulator(ManagedProcess):
    """The emulation as a process of its own on a loopback port."""

    name = "stripe-emulator"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        super().__init__(workdir, cwd=REPO)
        self.port = port or free_port()
        self.api_base = f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "devtools.stripe_emulator", str(self.port)]

    def is_ready(self) -> bool:
        return http_ok(f"{self.api_base}/_test/ledger")

    async def _control(self, path: str, body: Json | None = None) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.api_base, timeout=10) as http:
            return await http.post(path, json=body or {})

    async def complete(self, session_id: str, paid: bool = True) -> httpx.Response:
        """The customer pays the session; the response carries Stripe's event (or a 409)."""
        return await self._control(
            f"/_test/checkout/sessions/{session_id}/complete", {"paid": paid}
        )

    async def settle(self, session_id: str) -> httpx.Response:
        return await self._control(f"/_test/checkout/sessions/{session_id}/settle")

    async def lapse(self, session_id: str) -> httpx.Response:
        return await self._control(f"/_test/checkout/sessions/{session_id}/expire")

    async def ledger(self) -> list[Json]:
        async with httpx.AsyncClient(base_url=self.api_base, timeout=10) as http:
            response = await http.get("/_test/ledger")
        response.raise_for_status()
        sessions: list[Json] = response.json()["sessions"]
        return sessions


if __name__ == "__main__":
    uvicorn.run(app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
