"""Open order streams cost the database nothing: the gateway has no database, each stream
reads its order once from the Order service when it connects, and from then on the events
Order publishes reach every stream through the gateway's one queue. So Order's MongoDB
commands (PyMongo's command monitoring, on its ops /metrics) grow with the number of
streams only at connect: not while they are idle, and not while an order's events flow to
all of them. A gateway that polled Order (and so MongoDB) per subscriber would spend at
least one command per stream in each window.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import orjson
import pytest
from pymongo import AsyncMongoClient

from devtools import metrics
from devtools.platform import LocalPlatform
from oms.platform import mongo
from tests.e2e.conftest import Customer, Json, Shop, eventually, shop_of

pytestmark = pytest.mark.timeout(180)
STREAMS = 50
# What Order itself spends on one order from paid to ready, however many watch it: a
# compare-and-set per step (paid, preparing, ready) and an outbox clear per event at most.
EVENTS_BUDGET = {"findAndModify": 3, "update": 3}


@dataclass
class Stream:
    """What one tracker has seen so far."""

    snapshots: int = 0
    heartbeats: int = 0
    status: str = ""
    step: int = 0


async def test_open_streams_read_nothing_while_idle_or_while_events_flow(
    quiet_platform: LocalPlatform,
) -> None:
    async with shop_of(quiet_platform) as shop:
        dish = await shop.new_item(on_hand=10)
        customer = await shop.customer()
        order = await shop.place(customer, [(dish, 1)])
        await _outbox_cleared(quiet_platform, order["id"])  # Order is done with it for now
        streams = [Stream() for _ in range(STREAMS)]

        before_connect = await _order_commands(quiet_platform)
        async with _following(shop, customer, order["id"], streams):
            await eventually("every stream's snapshot", lambda: _all(streams, snapshots=1))
            connected = await _order_commands(quiet_platform)

            # Idle: every stream gets two heartbeats, nothing else.
            seen = min(s.heartbeats for s in streams)
            await eventually("two heartbeats each", lambda: _all(streams, heartbeats=seen + 2))
            idle = await _order_commands(quiet_platform)

            # Events: the order is paid, cooked and ready, and every stream sees each step.
            paid = await shop.stripe_says("checkout.session.completed", order)
            assert paid.status_code == 200, paid.text
            await eventually("every stream at ready", lambda: _all(streams, status="ready"))
            await _outbox_cleared(quiet_platform, order["id"])
            flowed = await _order_commands(quiet_platform)

    at_connect, while_idle = connected - before_connect, idle - connected
    while_events = flowed - idle
    print(
        f"Order's commands with {STREAMS} streams: at connect {dict(at_connect)}, "
        f"idle {dict(while_idle)}, while events flowed {dict(while_events)}"
    )
    assert at_connect == Counter({"find": STREAMS})  # one read of the order per stream
    assert +while_idle == Counter()
    over = {c: n for c, n in while_events.items() if n > EVENTS_BUDGET.get(c, 0)}
    assert not over, f"over budget (spent): {over}; budget {EVENTS_BUDGET}"
    assert sum(while_events.values()) < STREAMS
    assert _gateway_has_no_database(await metrics.scrape(quiet_platform.process("gateway")))


async def _all(streams: list[Stream], **least: int | str) -> bool:
    """Whether every stream has at least `snapshots`/`heartbeats`, or has `status`."""
    for stream in streams:
        for field, wanted in least.items():
            value = getattr(stream, field)
            if value != wanted if isinstance(wanted, str) else value < wanted:
                return False
    return True


@contextlib.asynccontextmanager
async def _following(
    shop: Shop, customer: Customer, order_id: str, streams: list[Stream]
) -> AsyncIterator[None]:
    """Every stream open on the order (as many trackers), until the block ends."""
    limits = httpx.Limits(max_connections=len(streams) + 1)
    url = f"/api/orders/{order_id}/events"
    async with httpx.AsyncClient(base_url=str(shop.http.base_url), limits=limits) as http:
        readers = [
            asyncio.create_task(_read(http, url, customer.headers, stream)) for stream in streams
        ]
        try:
            yield
        finally:
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
    for reader in readers:
        if not reader.cancelled() and reader.exception() is not None:
            raise AssertionError("a stream failed") from reader.exception()


async def _read(http: httpx.AsyncClient, url: str, headers: dict[str, str], into: Stream) -> None:
    timeout = httpx.Timeout(30, read=None)
    async with http.stream("GET", url, headers=headers, timeout=timeout) as response:
        assert response.status_code == 200
        kind = ""
        async for line in response.aiter_lines():
            if line.startswith(":"):
                into.heartbeats += 1
            elif line.startswith("event:"):
                kind = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                data: Json = orjson.loads(line.removeprefix("data:"))
                into.snapshots += kind == "snapshot"
                if data["step"] >= into.step:
                    into.status, into.step = data["status"], data["step"]


async def _order_commands(platform: LocalPlatform) -> Counter[str]:
    """Order's MongoDB commands so far, by command (its readiness pings left out)."""
    samples = await metrics.scrape(platform.process("order"))
    counts = samples.by("oms_mongo_commands_total", "command")
    return Counter({command: int(n) for command, n in counts.items() if command != "ping"})


def _gateway_has_no_database(samples: metrics.Samples) -> bool:
    return samples.value("oms_mongo_commands_total") == 0


async def _outbox_cleared(platform: LocalPlatform, order_id: str) -> None:
    """Until Order has cleared the order's outbox: its last writes fall in the window."""
    client: AsyncMongoClient[mongo.Document] = AsyncMongoClient(platform.base_env["MONGODB_URL"])
    orders = client[platform.database_name("order")].orders
    try:

        async def cleared() -> bool:
            found = await orders.find_one({"_id": order_id})
            return found is not None and not found.get("outbox")

        await eventually(f"{order_id}'s outbox cleared", cleared)
    finally:
        await client.close()
