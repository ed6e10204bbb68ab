"""The soak's crowd: customers, Stripe and staff doing what each does, on one platform.

Each journey is one customer's order and one random action on it; every call is retried
while a service is away (a killed process restarting), as a real client retries.
"""

# A seeded generator is the point here (a soak's choices can be made again), not secrecy.
from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from devtools import stripe_webhooks
from devtools.platform import LocalPlatform
from devtools.stripe_emulator import StripeEmulator
from tests.e2e.conftest import Json

ACTIONS = {
    "pay": 30,
    "pay twice at once": 8,
    "pay late by bank": 6,
    "cancel": 12,
    "cancel, bank payment settles after": 7,
    "pay and cancel at once": 6,
    "Stripe lets it expire": 7,
    "staff refund": 12,
    "walk away": 7,
    "pick up": 5,
}
RETRIED = {502, 503, 504}


class Crowd:
    """Customers, Stripe and staff on one platform; every call retried as a client would."""

    def __init__(
        self, platform: LocalPlatform, stripe: StripeEmulator, http: httpx.AsyncClient
    ) -> None:
        self.platform, self.stripe, self.http = platform, stripe, http
        self.admin = {"Authorization": f"Bearer {platform.admin_token}"}
        self.answers: Counter[str] = Counter()
        self.late: list[Json] = []  # webhooks Stripe will deliver once more, at the end

    async def ask(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Answered by the platform, retrying while a service is away (bounded)."""
        deadline = time.monotonic() + 90
        while True:
            try:
                response = await self.http.request(method, path, **kwargs)
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code not in RETRIED:
                self.answers[f"{method} {response.status_code}"] += 1
                return response
            self.answers["retried"] += 1
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} {path} unanswered for 90 s")
            await asyncio.sleep(0.3)

    async def order_state(self, order_id: str) -> Json:
        found: Json = (
            await self.ask("GET", f"/api/admin/orders/{order_id}", headers=self.admin)
        ).json()
        return found

    async def until(self, order_id: str, done: Callable[[Json], bool], within: float = 90) -> Json:
        deadline = time.monotonic() + within
        while not done(order := await self.order_state(order_id)):
            if time.monotonic() > deadline:
                raise AssertionError(f"{order_id} stuck at {order['status']}")
            await asyncio.sleep(0.2)
        return order

    async def webhook(self, event: Json) -> None:
        payload, header = stripe_webhooks.delivery(event, self.platform.webhook_secret)
        headers = {"Stripe-Signature": header, "Content-Type": "application/json"}
        answer = await self.ask("POST", "/webhooks/stripe", content=payload, headers=headers)
        assert answer.status_code == 200, answer.text

    async def stripe_event(self, call: Awaitable[httpx.Response]) -> Json | None:
        answer = await call
        self.answers[f"stripe {answer.status_code}"] += 1
        return answer.json() if answer.status_code == 200 else None

    async def journey(self, rng: random.Random, items: list[str]) -> None:
        session = (await self.ask("POST", "/api/session")).json()
        customer = {"Authorization": f"Bearer {session['token']}"}
        lines = [{"id": item, "quantity": rng.randint(1, 2)} for item in rng.sample(items, 2)]
        key = {"Idempotency-Key": uuid.uuid4().hex, **customer}
        created = await self.ask("POST", "/api/orders", json={"items": lines}, headers=key)
        if created.status_code != 201:
            return
        order_id = created.json()["id"]
        order = await self.until(order_id, lambda o: o["status"] != "pending" or o["payment_link"])
        if order["status"] != "awaiting_payment":
            return  # expired before its checkout opened (Payment away, or held back)
        session_id = order["checkout_session_id"]
        action = rng.choices(list(ACTIONS), weights=list(ACTIONS.values()))[0]

        async def cancel() -> httpx.Response:
            return await self.ask("POST", f"/api/orders/{order_id}/cancel", headers=customer)

        if action in ("pay", "pay twice at once", "staff refund", "pick up"):
            event = await self.stripe_event(self.stripe.complete(session_id))
            if event is None:
                return
            copies = 2 if action == "pay twice at once" else 1
            await asyncio.gather(*(self.webhook(event) for _ in range(copies)))
            if rng.random() < 0.3:
                self.late.append(event)
            if action == "staff refund":
                await self.until(order_id, lambda o: o["status"] in ("paid", "preparing", "ready"))
                await self.ask(
                    "POST", f"/api/admin/orders/{order_id}/refund", json={}, headers=self.admin
                )
            elif action == "pick up":
                await self.until(order_id, lambda o: o["status"] == "ready")
                await self.ask("POST", f"/api/admin/orders/{order_id}/pick-up", headers=self.admin)
        elif action == "pay late by bank":
            event = await self.stripe_event(self.stripe.complete(session_id, paid=False))
            if event is not None:
                await self.webhook(event)
                settled = await self.stripe_event(self.stripe.settle(session_id))
                if settled is not None:
                    await self.webhook(settled)
        elif action == "cancel":
            await cancel()
        elif action == "cancel, bank payment settles after":
            event = await self.stripe_event(self.stripe.complete(session_id, paid=False))
            if event is not None:
                await self.webhook(event)
            await cancel()
            settled = await self.stripe_event(self.stripe.settle(session_id))
            if settled is not None:
                await self.webhook(settled)
        elif action == "pay and cancel at once":
            event = await self.stripe_event(self.stripe.complete(session_id))
            if event is not None:
                await asyncio.gather(self.webhook(event), cancel())
        elif action == "Stripe lets it expire":
            event = await self.stripe_event(self.stripe.lapse(session_id))
            if event is not None:
                await self.webhook(event)
        self.answers[f"action {action}"] += 1
