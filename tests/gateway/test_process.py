"""`python -m oms.gateway`, the command its container runs, as a process of its own.

It registers in Consul with an HTTP check, its HTTP span is the parent of the gRPC calls it
makes (one trace down to Stock, in the real Jaeger), and SIGTERM makes it leave Consul,
finish the requests in flight and exit 0.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import time
from typing import Any

import httpx

from devtools import servers, stripe_webhooks
from devtools.platform import LocalPlatform, ServiceProcess
from oms.platform.discovery import Discovery
from oms.platform.settings import ConsulSettings
from tests.gateway.conftest import StartGateway
from tests.gateway.helpers import Customer, eventually

CREATE_ORDER_SPAN = "POST /api/orders"
CREATE_ORDER = "/oms.contracts.v1.OrderService/CreateOrder"
RESERVE = "/oms.contracts.v1.StockService/Reserve"


async def _registrations(consul: servers.Consul, prefix: str, port: int) -> list[dict[str, Any]]:
    """The gateway's Consul health entries for the process listening on `port`."""
    discovery = Discovery(ConsulSettings(http_addr=consul.http_address, cache_ttl_seconds=0))
    try:
        _, entries = await discovery.client.health.service(f"{prefix}gateway")
    finally:
        await discovery.close()
    return [e for e in entries if e["Service"]["Port"] == port]


async def test_it_registers_with_an_http_check(
    consul: servers.Consul, platform: LocalPlatform, gateway_url: str
) -> None:
    async def check() -> dict[str, Any]:
        (entry,) = await _registrations(consul, platform.consul_prefix, platform.gateway_port)
        assert entry["Service"]["Address"] == "127.0.0.1"
        (found,) = [c for c in entry["Checks"] if c["ServiceID"] == entry["Service"]["ID"]]
        return dict(found)

    assert (await check())["Type"] == "http"

    # Consul runs a new check within its interval: until then the check is "critical".
    async def passing() -> bool:
        status: str = (await check())["Status"]
        return status == "passing"

    await eventually(passing, within=30)


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


def _service_names(trace: Any) -> dict[str, str]:
    return {key: p["serviceName"] for key, p in trace["processes"].items()}


def _spans(trace: Any) -> dict[tuple[str, str], Any]:
    services = _service_names(trace)
    return {(services[s["processID"]], s["operationName"]): s for s in trace["spans"]}


def _ancestry(trace: Any, span: Any) -> list[tuple[str, str]]:
    services = _service_names(trace)
    by_id = {s["spanID"]: s for s in trace["spans"]}
    chain = []
    while span is not None:
        chain.append((services[span["processID"]], span["operationName"]))
        parents = [r["spanID"] for r in span["references"] if r["refType"] == "CHILD_OF"]
        span = by_id.get(parents[0]) if parents else None
    return chain


async def test_one_trace_runs_from_the_http_request_down_to_stock(
    alice: Customer, jaeger: servers.Jaeger, stocked_item: str
) -> None:
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    response = await alice.order((stocked_item, 1), headers={"traceparent": traceparent})
    assert response.status_code == 201, response.text

    # Every span from Stock up to the HTTP request: each process exports in its own batches.
    chain = [
        ("stock", RESERVE),
        ("order", RESERVE),
        ("order", CREATE_ORDER),
        ("gateway", CREATE_ORDER),
        ("gateway", CREATE_ORDER_SPAN),
    ]
    trace = await _trace(jaeger, trace_id, set(chain))

    ancestry = _ancestry(trace, _spans(trace)[("stock", RESERVE)])
    assert ancestry[-1] == ("gateway", CREATE_ORDER_SPAN), ancestry
    assert [link for link in ancestry if link in chain] == chain


async def _in_flight_webhook(
    port: int, payload: bytes, signature: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A webhook whose headers are sent and whose body the gateway is waiting for.

    `Expect: 100-continue` makes the server say when the handler asks for the body, so the
    request is known to be in flight, not merely sent.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /webhooks/stripe HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        + f"Stripe-Signature: {signature}\r\nContent-Length: {len(payload)}\r\n".encode()
        + b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
    )
    await writer.drain()
    async with asyncio.timeout(30):
        assert (await reader.readline()).startswith(b"HTTP/1.1 100")
        await reader.readline()
    return reader, writer


async def test_sigterm_finishes_in_flight_requests_after_leaving_consul(
    consul: servers.Consul, platform: LocalPlatform, start_gateway: StartGateway
) -> None:
    gateway: ServiceProcess = await start_gateway()
    assert gateway.process is not None
    event = stripe_webhooks.checkout_event("checkout.session.expired", "o-5", "cs_test_sigterm")
    payload, signature = stripe_webhooks.delivery(event, platform.webhook_secret)
    url = f"http://127.0.0.1:{gateway.port}"

    async def registered() -> bool:
        return bool(await _registrations(consul, platform.consul_prefix, gateway.port))

    await eventually(registered)
    answer_stream, request = await _in_flight_webhook(gateway.port, payload, signature)
    gateway.process.send_signal(signal.SIGTERM)

    async def refusing_new_connections() -> bool:
        try:
            async with httpx.AsyncClient(base_url=url) as http:
                await http.get("/healthz")
        except httpx.ConnectError:
            return True
        return False

    await eventually(refusing_new_connections)
    request.write(payload)  # the rest of the in-flight request, after the shutdown began
    await request.drain()
    async with asyncio.timeout(30):
        answer = (await answer_stream.read()).decode()
    returncode = await asyncio.to_thread(gateway.process.wait, 30)
    log = gateway.log_path.read_text(errors="replace")

    assert answer.startswith("HTTP/1.1 200"), answer
    assert answer.endswith('{"received":true,"duplicate":false}'), answer
    # 0, not -15: uvicorn did not take SIGTERM over from our lifecycle.
    assert returncode == 0, log
    assert await _registrations(consul, platform.consul_prefix, gateway.port) == []
    assert (
        log.index("consul.deregistered") < log.index("http.stopped") < log.index("lifecycle.exited")
    )
