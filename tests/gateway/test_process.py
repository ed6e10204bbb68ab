"""`python -m oms.gateway`, the command its container runs, as a process of its own.

It registers in Consul with an HTTP check on /healthz, its HTTP span is the parent of the
gRPC calls it makes (one trace down to Stock, in the real Jaeger), and SIGTERM makes it leave
Consul, finish the requests in flight and exit 0. Payment is the in-test double
(`payment_double`), whose slow event type keeps a request in flight on purpose.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from devtools import servers
from devtools.platform import LocalPlatform, ServiceProcess
from oms.platform.discovery import Discovery
from oms.platform.grpc_server import GrpcServer
from oms.platform.settings import ConsulSettings
from tests.gateway.helpers import customer, eventually, sign
from tests.gateway.payment_double import SLOW, PaymentDouble

CREATE_ORDER_SPAN = "POST /api/customers/{customer_id}/orders"
CREATE_ORDER = "/oms.contracts.v1.OrderService/CreateOrder"
RESERVE = "/oms.contracts.v1.StockService/Reserve"
GET_ITEMS = "/oms.contracts.v1.MenuService/GetItems"


@dataclass
class GatewayProcess:
    service: ServiceProcess
    prefix: str
    discovery: Discovery

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.service.port}"

    def log(self) -> str:
        return self.service.log_path.read_text(errors="replace")

    async def registrations(self) -> list[dict[str, Any]]:
        """The gateway's Consul health entries for this process's port."""
        _, entries = await self.discovery.client.health.service(f"{self.prefix}gateway")
        return [e for e in entries if e["Service"]["Port"] == self.service.port]


@pytest.fixture
async def gateway_process(
    consul: servers.Consul, platform: LocalPlatform, payment: tuple[PaymentDouble, GrpcServer]
) -> AsyncIterator[GatewayProcess]:
    # In a thread: this event loop serves the payment double while the gateway starts.
    service = await asyncio.to_thread(platform.start_service, "gateway")
    discovery = Discovery(ConsulSettings(http_addr=consul.http_address, cache_ttl_seconds=0))
    started = GatewayProcess(service, platform.consul_prefix, discovery)
    try:

        async def passing() -> bool:
            entries = await started.registrations()
            return bool(entries) and all(c["Status"] == "passing" for c in entries[0]["Checks"])

        await eventually(passing, within=30)
        yield started
    finally:
        await asyncio.to_thread(service.kill)
        await discovery.close()


async def test_it_registers_with_an_http_check_on_healthz(gateway_process: GatewayProcess) -> None:
    (entry,) = await gateway_process.registrations()

    (check,) = [c for c in entry["Checks"] if c["ServiceID"] == entry["Service"]["ID"]]
    assert check["Type"] == "http"
    assert check["Status"] == "passing"
    async with httpx.AsyncClient(base_url=gateway_process.url) as http:
        assert (await http.get("/readyz")).status_code == 200


async def _trace(jaeger: servers.Jaeger, trace_id: str, want: set[tuple[str, str]]) -> Any:
    """The trace from Jaeger once it holds every (service, operation) in `want`."""
    async with httpx.AsyncClient(base_url=jaeger.query_url) as http:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            response = await http.get(f"/api/traces/{trace_id}")
            if response.status_code == 200:
                trace = response.json()["data"][0]
                if want <= set(_spans(trace)):
                    return trace
            await asyncio.sleep(0.5)
    raise AssertionError(f"trace {trace_id} never held {want}")


def _spans(trace: Any) -> dict[tuple[str, str], Any]:
    services = {key: p["serviceName"] for key, p in trace["processes"].items()}
    return {(services[s["processID"]], s["operationName"]): s for s in trace["spans"]}


def _ancestry(trace: Any, span: Any) -> list[tuple[str, str]]:
    services = {key: p["serviceName"] for key, p in trace["processes"].items()}
    by_id = {s["spanID"]: s for s in trace["spans"]}
    chain = []
    while span is not None:
        chain.append((services[span["processID"]], span["operationName"]))
        parents = [r["spanID"] for r in span["references"] if r["refType"] == "CHILD_OF"]
        span = by_id.get(parents[0]) if parents else None
    return chain


async def test_one_trace_runs_from_the_http_request_down_to_stock(
    gateway_process: GatewayProcess, jaeger: servers.Jaeger
) -> None:
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    async with httpx.AsyncClient(base_url=gateway_process.url) as http:
        response = await http.post(
            f"/api/customers/{customer()}/orders",
            json={"items": [{"id": "margherita", "quantity": 1}]},
            headers={"traceparent": traceparent},
        )
    assert response.status_code == 201, response.text

    # Every span from Stock up to the HTTP request: each process exports in its own batches.
    chain = [
        ("stock", RESERVE),
        ("order", RESERVE),
        ("order", CREATE_ORDER),
        ("gateway", CREATE_ORDER),
        ("gateway", CREATE_ORDER_SPAN),
    ]
    trace = await _trace(jaeger, trace_id, {*chain, ("menu", GET_ITEMS)})

    ancestry = _ancestry(trace, _spans(trace)[("stock", RESERVE)])
    assert ancestry[-1] == ("gateway", CREATE_ORDER_SPAN), ancestry
    assert [link for link in ancestry if link in chain] == chain


async def test_sigterm_finishes_in_flight_requests_after_leaving_consul(
    gateway_process: GatewayProcess, payment: tuple[PaymentDouble, GrpcServer]
) -> None:
    double, _ = payment
    double.slow_seconds = 2.0
    payload = json.dumps({"id": "evt_in_flight", "type": SLOW}).encode()
    arrived = len(double.received)
    try:
        async with httpx.AsyncClient(base_url=gateway_process.url, timeout=30) as http:
            in_flight = asyncio.ensure_future(
                http.post(
                    "/webhooks/stripe", content=payload, headers={"Stripe-Signature": sign(payload)}
                )
            )

            async def reached_payment() -> bool:
                return len(double.received) > arrived

            await eventually(reached_payment)
            process = gateway_process.service.process
            assert process is not None
            process.send_signal(signal.SIGTERM)
            response = await in_flight
            returncode = await asyncio.to_thread(process.wait, 30)
            with pytest.raises(httpx.ConnectError):
                await http.get("/healthz")
    finally:
        double.slow_seconds = 1.0

    log = gateway_process.log()
    assert response.status_code == 200, log
    assert response.json() == {"received": True, "duplicate": False}
    # 0, not -15: uvicorn did not take SIGTERM over from our lifecycle.
    assert returncode == 0, log
    assert await gateway_process.registrations() == []
    assert (
        log.index("consul.deregistered") < log.index("http.stopped") < log.index("lifecycle.exited")
    )
