"""A customer of the shop, as the public HTTP API sees one: a session, orders, payments.

Payments go the way Stripe's would: a `checkout.session.completed` webhook signed with the
endpoint's secret, carrying the checkout session id, amount and currency the order shows.
Waiting for an order follows its live updates (server-sent events), so waiting customers do
not load the platform the way polling ones would.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
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

    @contextlib.asynccontextmanager
    async def tracking(self, order_id: str, within: float = 120) -> AsyncIterator[Tracker]:
        """The order's live updates on one stream, as a tracker page open throughout."""
        url = f"/api/orders/{order_id}/events"
        client_timeout = aiohttp.ClientTimeout(total=within, sock_read=within)
        async with self.http.get(url, headers=self.auth, timeout=client_timeout) as response:
            if response.status != 200:
                raise Refused("events", response.status, await response.text())
            yield Tracker(response)

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


class Tracker:
    """An order's event stream, read up to the status a step waits for."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.state: Json = {}

    async def until(self, until: set[str]) -> Json:
        if self._reached(until):
            return self.state
        async for line in self.response.content:
            if not line.startswith(b"data:"):
                continue
            data = orjson.loads(line[5:])
            update = data if "status" in data else {}
            if update and update.get("step", 0) >= self.state.get("step", 0):
                self.state = {**self.state, **update}
            if self._reached(until):
                return self.state
        raise Refused("events", 0, f"stream ended before {until}")

    def _reached(self, until: set[str]) -> bool:
        status = self.state.get("status")
        return status in until and (
            status != "awaiting_payment" or bool(self.state.get("payment_link"))
        )
