"""A customer of the shop, as the public HTTP API sees one: a session, orders, payments.

Payments go the way Stripe's would: a `checkout.session.completed` webhook signed with the
endpoint's secret, carrying the checkout session id, amount and currency the order shows.
Waiting for an order follows its live updates (server-sent events), so waiting customers do
not load the platform the way polling ones would.
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import orjson

from devtools import stripe_webhooks

Json = dict[str, Any]


class Refused(Exception):
    """The shop answered with a status the step did not expect."""

    def __init__(self, what: str, status: int, body: str) -> None:
        super().__init__(f"{what}: {status} {body[:200]}")
        self.status = status


class Customer:
    def __init__(self, http: aiohttp.ClientSession, token: str) -> None:
        self.http = http
        self.auth = {"Authorization": f"Bearer {token}"}

    @classmethod
    async def sign_up(cls, http: aiohttp.ClientSession) -> Customer:
        async with http.post("/api/session") as response:
            if response.status != 201:
                raise Refused("session", response.status, await response.text())
            return cls(http, (await response.json())["token"])

    async def order(self, items: list[Json]) -> Json:
        body = orjson.dumps({"items": items})
        headers = {**self.auth, "Content-Type": "application/json"}
        async with self.http.post("/api/orders", data=body, headers=headers) as response:
            if response.status != 201:
                raise Refused("create", response.status, await response.text())
            order: Json = orjson.loads(await response.read())
            return order

    async def follow(self, order_id: str, until: set[str], within: float = 120) -> Json:
        """The order's newest state once its status is one of `until` (by its live events)."""
        url = f"/api/orders/{order_id}/events"
        state: Json = {}
        client_timeout = aiohttp.ClientTimeout(total=within, sock_read=within)
        async with self.http.get(url, headers=self.auth, timeout=client_timeout) as response:
            if response.status != 200:
                raise Refused("events", response.status, await response.text())
            async for line in response.content:
                if not line.startswith(b"data:"):
                    continue
                data = orjson.loads(line[5:])
                update = data if "status" in data else {}
                if update and update.get("step", 0) >= state.get("step", 0):
                    state = {**state, **update}
                if state.get("status") in until and (
                    state["status"] != "awaiting_payment" or state.get("payment_link")
                ):
                    return state
        raise Refused("events", 0, f"stream ended before {until}")

    async def pay(self, order: Json, session_id: str, secret: str) -> float:
        """Deliver Stripe's "paid" webhook for the order; when it was accepted (perf time)."""
        event = stripe_webhooks.checkout_event(
            "checkout.session.completed",
            order["id"],
            session_id,
            amount_total=order["total"],
            currency=order["currency"],
        )
        payload, signature = stripe_webhooks.delivery(event, secret)
        headers = {"Stripe-Signature": signature, "Content-Type": "application/json"}
        async with self.http.post("/webhooks/stripe", data=payload, headers=headers) as response:
            if response.status != 200:
                raise Refused("webhook", response.status, await response.text())
        return time.perf_counter()

    async def get(self, order_id: str) -> Json:
        async with self.http.get(f"/api/orders/{order_id}", headers=self.auth) as response:
            if response.status != 200:
                raise Refused("get", response.status, await response.text())
            order: Json = orjson.loads(await response.read())
            return order
