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

import secrets
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from devtools.process import LoopbackServer, http_ok
from devtools.servers import REPO
from devtools.stripe_emulation import Json, Stripe, StripeError, form_fields


def app() -> Starlette:
    stripe = Stripe()

    async def form(request: Request) -> Json:
        if not request.headers.get("authorization", "").startswith("Bearer sk_"):
            raise StripeError(401, "You did not provide an API key.")
        if request.method == "GET":
            return {}
        if request.headers.get("content-type", "") != "application/x-www-form-urlencoded":
            raise StripeError(400, "Expected `application/x-www-form-urlencoded` content.")
        return form_fields(parse_qsl((await request.body()).decode(), keep_blank_values=True))

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


class StripeEmulator(LoopbackServer):
    """The emulation as a process of its own on a loopback port."""

    name = "stripe-emulator"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        super().__init__(workdir, port, cwd=REPO)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "devtools.stripe_emulator", str(self.port)]

    def is_ready(self) -> bool:
        return http_ok(f"{self.api_base}/_test/ledger")

    @property
    def api_base(self) -> str:
        return f"http://{self.address}"

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
