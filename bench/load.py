"""The loads: closed loop, open loop, full lifecycles, and live-update subscribers.

- Closed loop: `concurrency` customers, each placing its next order as soon as the last one
  was answered: the throughput the platform sustains at that concurrency.
- Open loop: orders start at a fixed rate, each at its scheduled time whatever the earlier
  ones are doing, and its latency counts from that scheduled time, so a stall shows up as the
  queue it really causes (no coordinated omission).
- Lifecycle: create, wait for the payment link, pay by webhook, follow until ready (cook
  time 0), also closed loop; paid to ready is timed from the webhook's answer.
- Subscribers: many open order streams while lifecycles run, and the kitchen display's
  stream, timing how long a payment takes to show up there.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from bench.client import Customer, Json, Refused


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    second_ms: list[float] = field(default_factory=list)  # lifecycle: paid -> ready
    done: int = 0
    refused: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def refuse(self, status: int) -> None:
        self.refused[status] = self.refused.get(status, 0) + 1

    def record(self, started: float) -> float:
        """One more done, timed from `started` (a `perf_counter` reading); returns now."""
        now = time.perf_counter()
        self.latencies_ms.append((now - started) * 1000)
        self.done += 1
        return now

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.refused.items() if status >= 500)


async def _customers(http: aiohttp.ClientSession, count: int) -> list[Customer]:
    return list(await asyncio.gather(*(Customer.sign_up(http) for _ in range(count))))


async def _guarded(tally: Tally, step: Callable[[float], Awaitable[None]], started: float) -> None:
    try:
        await step(started)
    except Refused as exc:
        tally.refuse(exc.status)
        if exc.status == 0 or exc.status >= 500:
            tally.errors.append(str(exc))
    except (aiohttp.ClientError, TimeoutError) as exc:
        tally.errors.append(repr(exc)[:200])


async def _crowd(
    http: aiohttp.ClientSession,
    tally: Tally,
    concurrency: int,
    seconds: float,
    step: Callable[[Customer, float], Awaitable[None]],
) -> Tally:
    """Closed loop: `concurrency` customers, each starting its next `step` (given the time it
    starts) as soon as its last one ended, for `seconds`."""
    crowd = await _customers(http, concurrency)
    stop_at = time.perf_counter() + seconds

    async def shop(customer: Customer) -> None:
        async def one(started: float) -> None:
            await step(customer, started)

        while time.perf_counter() < stop_at:
            await _guarded(tally, one, time.perf_counter())

    await asyncio.gather(*(shop(customer) for customer in crowd))
    return tally


async def closed_loop(
    http: aiohttp.ClientSession, items: list[Json], concurrency: int, seconds: float
) -> Tally:
    tally = Tally()

    async def create(customer: Customer, started: float) -> None:
        await customer.order(items)
        tally.record(started)

    return await _crowd(http, tally, concurrency, seconds, create)


async def open_loop(
    http: aiohttp.ClientSession, items: list[Json], rate: float, seconds: float
) -> Tally:
    tally = Tally()
    crowd = await _customers(http, max(8, int(rate)))
    total = int(rate * seconds)
    begin = time.perf_counter() + 0.1
    tasks = []

    async def one(n: int) -> None:
        scheduled = begin + n / rate
        # The schedule, not the last answer, says when an order starts.
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))

        async def create(started: float) -> None:
            await crowd[n % len(crowd)].order(items)
            tally.record(started)

        await _guarded(tally, create, scheduled)

    for n in range(total):
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)
    return tally


async def lifecycles(
    http: aiohttp.ClientSession,
    items: list[Json],
    concurrency: int,
    seconds: float,
    webhook_secret: str,
) -> Tally:
    tally = Tally()

    async def life(customer: Customer, started: float) -> None:
        order = await customer.order(items)
        async with customer.tracking(order["id"]) as tracker:
            waiting = await tracker.until({"awaiting_payment"})
            session = waiting.get("checkout_session_id") or ""
            paid_at = await customer.pay(order, session, webhook_secret)
            await tracker.until({"ready"})
        now = tally.record(started)
        tally.second_ms.append((now - paid_at) * 1000)

    return await _crowd(http, tally, concurrency, seconds, life)


@dataclass
class LiveResult:
    subscribers: int
    connected: int
    updates_received: int
    kitchen_delays_ms: list[float]
    connect_seconds: float  # until every subscriber's stream was open


async def with_subscribers(
    http: aiohttp.ClientSession,
    admin_token: str,
    subscribers: int,
    items: list[Json],
    orders: int,
    webhook_secret: str,
) -> LiveResult:
    """`subscribers` open order streams (trackers of real orders) while `orders` lifecycles
    run; the kitchen display's stream times each payment's ticket appearing. Payments start
    once every stream is open: what is timed is a kitchen display among that many open
    streams, not the burst of opening them (timed on its own)."""
    watchers = await _customers(http, min(subscribers, 50))
    tracked = [await watchers[n % len(watchers)].order(items) for n in range(subscribers)]
    received = 0
    connected = 0
    paid_at: dict[str, float] = {}
    delays: list[float] = []
    kitchen_ready = asyncio.Event()
    all_connected = asyncio.Event()

    async def tracker(order: Json, customer: Customer) -> None:
        nonlocal received, connected
        url = f"/api/orders/{order['id']}/events"
        with contextlib.suppress(aiohttp.ClientError, TimeoutError, asyncio.CancelledError):
            async with http.get(
                url, headers=customer.auth, timeout=aiohttp.ClientTimeout(total=None)
            ) as r:
                connected += 1
                if connected == len(tracked):
                    all_connected.set()
                async for line in r.content:
                    if line.startswith(b"data:"):
                        received += 1

    async def kitchen() -> None:
        headers = {"Authorization": f"Bearer {admin_token}"}
        url = "/api/admin/events"
        async with http.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=None)) as r:
            kitchen_ready.set()
            async for line in r.content:
                if not line.startswith(b"data:"):
                    continue
                data: dict[str, Any] = orjson.loads(line[5:])
                order_id = data.get("order_id", "")
                if data.get("status") == "paid" and order_id in paid_at:
                    delays.append((time.perf_counter() - paid_at.pop(order_id)) * 1000)

    opening = time.perf_counter()
    watch = [
        asyncio.create_task(tracker(order, watchers[n % len(watchers)]))
        for n, order in enumerate(tracked)
    ]
    display = asyncio.create_task(kitchen())
    await kitchen_ready.wait()
    # A stream that fails to open is counted as not connected; payments wait a minute at most.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_connected.wait(), timeout=60)
    connect_seconds = time.perf_counter() - opening
    buyers = await _customers(http, 8)

    async def buy(customer: Customer, count: int) -> None:
        for _ in range(count):
            order = await customer.order(items)
            async with customer.tracking(order["id"]) as tracker:
                waiting = await tracker.until({"awaiting_payment"})
                session = waiting.get("checkout_session_id") or ""
                paid_at[order["id"]] = time.perf_counter()
                await customer.pay(order, session, webhook_secret)
                await tracker.until({"ready"})

    await asyncio.gather(*(buy(c, max(1, orders // len(buyers))) for c in buyers))
    for task in [*watch, display]:
        task.cancel()
    await asyncio.gather(*watch, display, return_exceptions=True)
    return LiveResult(subscribers, connected, received, delays, connect_seconds)
