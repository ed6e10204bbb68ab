"""OpenTelemetry: export spans over OTLP/gRPC to Jaeger and instrument our client libraries.

Trace context crosses gRPC through the gRPC instrumentation and RabbitMQ through message
headers (the aio-pika instrumentation injects on publish and extracts on consume; the broker
module also injects explicitly so every message carries the headers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
from opentelemetry.instrumentation.grpc import (
    GrpcAioInstrumentorClient,
    GrpcAioInstrumentorServer,
)
from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from oms.platform.settings import TracingSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

_INSTRUMENTORS = (
    GrpcAioInstrumentorClient,
    GrpcAioInstrumentorServer,
    AioPikaInstrumentor,
    PymongoInstrumentor,
)


class Tracing:
    """Owns the process's tracer provider; `shutdown` flushes what is still buffered."""

    def __init__(self, provider: TracerProvider | None) -> None:
        self._provider = provider

    def flush(self, timeout_millis: int = 5_000) -> bool:
        return self._provider.force_flush(timeout_millis) if self._provider else True

    def shutdown(self) -> None:
        if self._provider is None:
            return
        self._provider.shutdown()
        for instrumentor in _INSTRUMENTORS:
            if instrumentor().is_instrumented_by_opentelemetry:
                instrumentor().uninstrument()


def sampler(settings: TracingSettings) -> sampling.Sampler:
    """The sampler `OTEL_TRACES_SAMPLER` names, with `OTEL_TRACES_SAMPLER_ARG` as its ratio."""
    name = settings.traces_sampler
    root: sampling.Sampler
    if name.endswith("traceidratio"):
        root = sampling.TraceIdRatioBased(settings.traces_sampler_arg)
    elif name.endswith("always_off"):
        root = sampling.ALWAYS_OFF
    else:
        root = sampling.ALWAYS_ON
    return sampling.ParentBased(root) if name.startswith("parentbased_") else root


def setup(service: str, settings: TracingSettings) -> Tracing:
    """Install the global tracer provider once per process (a second call reuses it)."""
    if settings.sdk_disabled:
        return Tracing(None)
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return Tracing(current)
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: service}), sampler=sampler(settings)
    )
    exporter = OTLPSpanExporter(endpoint=settings.exporter_otlp_endpoint, insecure=True)
    # Spans leave in batches from a background thread; a full queue drops, never blocks.
    provider.add_span_processor(
        BatchSpanProcessor(exporter, schedule_delay_millis=500, max_export_batch_size=512)
    )
    trace.set_tracer_provider(provider)
    for instrumentor in _INSTRUMENTORS:
        if not instrumentor().is_instrumented_by_opentelemetry:
            instrumentor().instrument(tracer_provider=provider)
    return Tracing(provider)


def instrument_fastapi(app: FastAPI, excluded_paths: str = "/healthz,/readyz") -> None:
    """Give every HTTP request a server span, the parent of the gRPC calls made for it.

    Probes (Consul checks `/healthz` every few seconds) are left out so traces stay readable.
    """
    # Imported here: only the gateway serves HTTP, the other services never load FastAPI.
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, excluded_urls=excluded_paths, exclude_spans=["receive", "send"]
    )


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)
