"""Small helpers shared by the gateway tests: customers, errors, waits, SSE, faults."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import grpc
import httpx
import orjson

from devtools.platform import ServiceProcess
from oms.contracts.v1 import faults_pb2, faults_pb2_grpc
from oms.gateway import api
from oms.gateway.auth import StaffAuth
from oms.gateway.catalog import Catalog
from oms.gateway.clients import Backends
from oms.gateway.live import LiveFeed
from oms.gateway.ratelimit import TokenBuckets
from oms.gateway.sessions import Sessions
from oms.limits import MAX_QUANTITY

Json = dict[str, Any]
ACTIVE = ("pending", "awaiting_payment", "paid", "preparing", "ready")


def gateway_document() -> Json:
    """The OpenAPI document as the gateway's code builds it (no part of it asks a service)."""
    edge = api.Edge(
        backends=cast(Backends, None),
        catalog=cast(Catalog, None),
        sessions=Sessions("secret", 60, secure_cookie=False),
        staff=StaffAuth("token", "secret", 60, secure_cookie=False),
        feed=LiveFeed(),
        order_limit=TokenBuckets(1, 1),
        session_limit=TokenBuckets(1, 1),
        webhook_limit=TokenBuckets(1, 1),
        readiness_timeout=1,
        heartbeat_seconds=1,
        test_payments=False,
    )
    return api.create_app(edge).openapi()


def error_of(response: httpx.Response) -> Json:
    """The error object, checking the shape every error shares."""
    body = response.json()
    error: Json = body["error"]
    assert isinstance(error["code"], str), body
    assert error["code"], body
    assert isinstance(error["message"], str), body
    assert error["message"], body
    return error


async def eventually(condition: Callable[[], Awaitable[bool]], within: float = 20) -> None:
    """Poll `condition` until it holds (state settles asynchronously), or fail."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met within {within}s")


@dataclass
class Customer:
    """A customer's client: every request carries the session's bearer token."""

    http: httpx.AsyncClient
    customer_id: str
    token: str

    async def order(self, *lines: tuple[str, int], **kwargs: Any) -> httpx.Response:
        body = {"items": [{"id": item, "quantity": quantity} for item, quantity in lines]}
        return await self.http.post("/api/orders", json=body, **kwargs)

    async def place(self, *lines: tuple[str, int]) -> Json:
        """A new order, checked to be accepted."""
        response = await self.order(*lines)
        assert response.status_code == 201, response.text
        created: Json = response.json()
        return created

    async def get(self, order_id: str) -> Json:
        response = await self.http.get(f"/api/orders/{order_id}")
        assert response.status_code == 200, response.text
        found: Json = response.json()
        return found

    async def wait_for(self, order_id: str, status: str, within: float = 30) -> Json:
        """The order once it has `status` (and its payment link, once awaiting payment)."""
        found: Json = {}

        async def reached() -> bool:
            nonlocal found
            found = await self.get(order_id)
            linked = status != "awaiting_payment" or found["payment_link"] is not None
            return bool(found["status"] == status and linked)

        await eventually(reached, within)
        return found

    async def pay(self, order_id: str) -> None:
        """Pay through the local test payment page, once the checkout is open."""
        waiting = await self.wait_for(order_id, "awaiting_payment")
        token = waiting["tracking_url"].rpartition("?t=")[2]  # the page is the owner's only
        paid = await self.http.post(f"/test-payments/{order_id}/pay", params={"t": token})
        assert paid.status_code == 303, paid.text


async def order_sees(customer: Customer, item_id: str, offered: bool = True) -> None:
    """Wait until Order prices `item_id` as Menu now has it, on the menu or off it.

    Order keeps the menu in a cache that `menu.changed` refreshes asynchronously, so a
    change made a moment ago may not have reached it yet. An order for more than anyone
    holds reserves nothing either way: 409 (short) says Order sells the item, 422 that it
    does not know it or that it is off the menu.
    """

    async def sees() -> bool:
        response = await customer.order((item_id, MAX_QUANTITY))
        return response.status_code == (409 if offered else 422)

    await eventually(sees)


@contextlib.asynccontextmanager
async def new_customer(base_url: str) -> AsyncIterator[Customer]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as anonymous:
        response = await anonymous.post("/api/session")
    assert response.status_code == 201, response.text
    session = response.json()
    headers = {"Authorization": f"Bearer {session['token']}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=30, headers=headers) as client:
        yield Customer(client, session["customer_id"], session["token"])


# --- server-sent events ----------------------------------------------------------------------


@dataclass(frozen=True)
class SseEvent:
    id: str
    event: str
    data: Any


@dataclass
class SseReader:
    """Parses a `text/event-stream` body as it arrives; comments (heartbeats) are skipped."""

    response: httpx.Response
    _lines: AsyncIterator[str] = field(init=False)

    def __post_init__(self) -> None:
        self._lines = self.response.aiter_lines()

    async def next(self, within: float = 30) -> SseEvent:
        fields: dict[str, str] = {}
        data: list[str] = []
        async with asyncio.timeout(within):
            async for line in self._lines:
                if not line:
                    if data:
                        return SseEvent(
                            fields.get("id", ""),
                            fields.get("event", "message"),
                            orjson.loads("\n".join(data)),
                        )
                    continue
                if line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "data":
                    data.append(value)
                else:
                    fields[name] = value
        raise AssertionError("the stream ended")

    async def until(self, done: Callable[[SseEvent], bool], within: float = 30) -> list[SseEvent]:
        """Every event up to and including the first `done` one."""
        seen: list[SseEvent] = []
        async with asyncio.timeout(within):
            while not seen or not done(seen[-1]):
                seen.append(await self.next(within))
        return seen


@contextlib.asynccontextmanager
async def sse(
    http: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None, **params: str
) -> AsyncIterator[SseReader]:
    async with http.stream("GET", path, headers=headers, params=params) as response:
        assert response.status_code == 200, (await response.aread()).decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield SseReader(response)


# --- faults ---------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def faults(process: ServiceProcess, *rules: faults_pb2.Fault) -> AsyncIterator[None]:
    """Faults in one service process for the block's duration (set, then lifted)."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{process.port}") as channel:
        service = faults_pb2_grpc.FaultServiceStub(channel)
        await service.SetFaults(faults_pb2.SetFaultsRequest(faults=rules), timeout=10)
        try:
            yield
        finally:
            await service.SetFaults(faults_pb2.SetFaultsRequest(), timeout=10)


def rpc_fault(method: str, action: str, seconds: float = 0, code: str = "") -> faults_pb2.Fault:
    actions = {"delay": faults_pb2.FAULT_ACTION_DELAY, "error": faults_pb2.FAULT_ACTION_ERROR}
    return faults_pb2.Fault(
        target=f"rpc:{method}", action=actions[action], seconds=seconds, code=code
    )


# --- the gateway process's own sockets -------------------------------------------------------


def established_to(pid: int, ports: Iterable[int]) -> dict[int, int]:
    """How many established TCP connections process `pid` holds to each loopback port."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = fd.readlink().as_posix()
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    wanted = set(ports)
    counts = dict.fromkeys(wanted, 0)
    for table in ("tcp", "tcp6"):
        for row in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            columns = row.split()
            remote_port = int(columns[2].rsplit(":", 1)[1], 16)
            if columns[3] == "01" and columns[9] in inodes and remote_port in wanted:
                counts[remote_port] += 1
    return counts
