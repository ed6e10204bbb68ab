"""Traces reach Jaeger over OTLP, and their context crosses RabbitMQ, gRPC and HTTP."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import propagate
from pymongo.asynchronous.collection import AsyncCollection

from devtools import servers
from oms.domain_events import EXCHANGE
from oms.platform import grpc_client, mongo, tracing
from oms.platform.broker import Broker
from oms.platform.consumer import Consumer
from oms.platform.events import Event
from oms.platform.grpc_server import GrpcServer
from oms.platform.outbox import Outbox
from oms.platform.settings import GrpcSettings, RabbitMQSettings, TracingSettings
from tests.platform.outbox_support import HeldRelay


@pytest.fixture
def traced(jaeger: servers.Jaeger) -> Iterator[tracing.Tracing]:
    setup = tracing.setup(
        "oms-tracing-test", TracingSettings(exporter_otlp_endpoint=jaeger.otlp_grpc_endpoint)
    )
    yield setup
    setup.flush()


@pytest.fixture
async def traced_broker(
    traced: tracing.Tracing, rabbitmq_settings: RabbitMQSettings
) -> AsyncIterator[Broker]:
    # Created after instrumentation, as services do.
    broker = Broker(rabbitmq_settings, EXCHANGE, name="tracing-test")
    await broker.connect()
    yield broker
    await broker.close()


async def _trace(jaeger: servers.Jaeger, trace_id: str, want_spans: set[str]) -> dict[str, Any]:
    """The trace as Jaeger's query API returns it, once it holds every span we expect."""
    async with httpx.AsyncClient(base_url=jaeger.query_url) as http:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            response = await http.get(f"/api/traces/{trace_id}")
            if response.status_code == 200:
                found: dict[str, Any] = response.json()["data"][0]
                if want_spans <= {span["operationName"] for span in found["spans"]}:
                    return found
            await asyncio.sleep(0.3)
    raise AssertionError(f"trace {trace_id} with {want_spans} never showed up in Jaeger")


def _ancestors(trace: dict[str, Any], span_name: str) -> list[str]:
    """Operation names from `span_name` up to the root, following CHILD_OF references."""
    by_id = {span["spanID"]: span for span in trace["spans"]}
    span = next(s for s in trace["spans"] if s["operationName"] == span_name)
    names = [span["operationName"]]
    while parents := [r for r in span["references"] if r["refType"] == "CHILD_OF"]:
        span = by_id[parents[0]["spanID"]]
        names.append(span["operationName"])
    return names


async def _echo_server(span_name: str) -> GrpcServer:
    """A started gRPC server whose `test.Echo/Echo` opens a span named `span_name`."""

    async def echo(request: bytes, context: Any) -> bytes:
        with tracing.tracer("test").start_as_current_span(span_name):
            return request

    server = GrpcServer(GrpcSettings(port=0), service_names=[])
    server.server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "test.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
            ),
        )
    )
    await server.start()
    return server


async def _echo(channels: grpc_client.Channels, server: GrpcServer, word: bytes) -> bytes:
    call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channels.get(server.address).unary_unary(
        "/test.Echo/Echo"
    )
    return await call(word)


async def test_a_span_in_a_consumer_is_a_descendant_of_the_publishing_span(
    jaeger: servers.Jaeger, traced: tracing.Tracing, traced_broker: Broker
) -> None:
    suffix = uuid.uuid4().hex[:8]
    key = f"trace.t{suffix}"
    handled = asyncio.Event()

    async def handler(event: Event) -> None:
        with tracing.tracer("test").start_as_current_span(f"handle-{suffix}"):
            handled.set()

    consumer = Consumer(traced_broker, f"test.trace.{suffix}", {key: handler})
    await consumer.start()
    with tracing.tracer("test").start_as_current_span(f"place-{suffix}") as root:
        await traced_broker.publish(Event(type=key))
    await asyncio.wait_for(handled.wait(), 10)
    await consumer.stop()
    assert traced.flush()

    trace_id = format(root.get_span_context().trace_id, "032x")
    found = await _trace(jaeger, trace_id, {f"place-{suffix}", f"handle-{suffix}"})

    chain = _ancestors(found, f"handle-{suffix}")
    assert chain[0] == f"handle-{suffix}"
    assert chain[-1] == f"place-{suffix}"
    assert len(chain) >= 3, f"the hop through RabbitMQ should be in the chain: {chain}"


async def test_an_event_the_outbox_publishes_later_continues_the_trace_of_its_change(
    jaeger: servers.Jaeger,
    traced: tracing.Tracing,
    traced_broker: Broker,
    things: AsyncCollection[mongo.Document],
) -> None:
    suffix = uuid.uuid4().hex[:8]
    key = f"trace.t{suffix}"
    handled = asyncio.Event()

    async def handler(event: Event) -> None:
        with tracing.tracer("test").start_as_current_span(f"handle-{suffix}"):
            handled.set()

    consumer = Consumer(traced_broker, f"test.trace.{suffix}", {key: handler})
    await consumer.start()
    relay = HeldRelay(things, traced_broker)
    with tracing.tracer("test").start_as_current_span(f"change-{suffix}") as root:
        await Outbox(things, relay).insert({"_id": "o-1"}, [Event(type=key)])
    relay.release()  # published outside the change's span: only the stored context links them
    await relay.drain()
    await asyncio.wait_for(handled.wait(), 10)
    await consumer.stop()
    assert traced.flush()

    trace_id = format(root.get_span_context().trace_id, "032x")
    found = await _trace(jaeger, trace_id, {f"change-{suffix}", f"handle-{suffix}"})

    chain = _ancestors(found, f"handle-{suffix}")
    assert chain[-1] == f"change-{suffix}"
    assert f"outbox publish {key}" in chain


async def test_a_grpc_server_span_is_a_child_of_the_calling_span(
    jaeger: servers.Jaeger, traced: tracing.Tracing
) -> None:
    suffix = uuid.uuid4().hex[:8]

    server = await _echo_server(f"serve-{suffix}")
    channels = grpc_client.Channels(GrpcSettings())
    with tracing.tracer("test").start_as_current_span(f"call-{suffix}") as root:
        await _echo(channels, server, b"hi")
    await channels.close()
    await server.server.stop(0)
    assert traced.flush()

    trace_id = format(root.get_span_context().trace_id, "032x")
    found = await _trace(jaeger, trace_id, {f"call-{suffix}", f"serve-{suffix}"})

    chain = _ancestors(found, f"serve-{suffix}")
    assert chain[-1] == f"call-{suffix}"
    assert len(chain) >= 3, f"client and server spans should sit between: {chain}"


async def test_an_instrumented_fastapi_request_is_the_parent_of_its_grpc_calls(
    jaeger: servers.Jaeger, traced: tracing.Tracing
) -> None:
    suffix = uuid.uuid4().hex[:8]

    server = await _echo_server(f"serve-{suffix}")
    channels = grpc_client.Channels(GrpcSettings())
    app = FastAPI()

    @app.get("/echo/{word}")
    async def call_echo(word: str) -> dict[str, str]:
        return {"echo": (await _echo(channels, server, word.encode())).decode()}

    @app.get("/healthz")
    async def alive() -> dict[str, str]:
        return {}

    tracing.instrument_fastapi(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        with tracing.tracer("test").start_as_current_span(f"client-{suffix}") as root:
            headers: dict[str, str] = {}
            propagate.inject(headers)  # as an instrumented HTTP client would
            response = await http.get(f"/echo/{suffix}", headers=headers)
            probe = await http.get("/healthz", headers=headers)  # a probe: no span
    await channels.close()
    await server.server.stop(0)
    assert traced.flush()

    assert response.json() == {"echo": suffix}
    assert probe.status_code == 200
    trace_id = format(root.get_span_context().trace_id, "032x")
    found = await _trace(jaeger, trace_id, {f"serve-{suffix}", "GET /echo/{word}"})
    chain = _ancestors(found, f"serve-{suffix}")
    assert chain[-1] == f"client-{suffix}"
    assert chain.index("/test.Echo/Echo") < chain.index("GET /echo/{word}"), chain
    assert "GET /healthz" not in {span["operationName"] for span in found["spans"]}
