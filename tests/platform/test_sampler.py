"""`OTEL_TRACES_SAMPLER` (and `OTEL_TRACES_SAMPLER_ARG`, the ratio) choose the sampler: each
standard name decides as the OpenTelemetry specification says."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import sampling
from pydantic import ValidationError

from oms.platform import tracing
from oms.platform.settings import TracingSettings

# With a ratio of 1/4, a trace id in the bottom quarter of the 64-bit range is kept.
LOW_ID, HIGH_ID = 1, 2**64 - 1
SAMPLED, DROPPED = sampling.Decision.RECORD_AND_SAMPLE, sampling.Decision.DROP


def _parent(sampled: bool) -> Context:
    flags = trace.TraceFlags(trace.TraceFlags.SAMPLED if sampled else trace.TraceFlags.DEFAULT)
    span = trace.NonRecordingSpan(trace.SpanContext(HIGH_ID, 7, is_remote=True, trace_flags=flags))
    return trace.set_span_in_context(span)


def _decisions(name: str) -> tuple[sampling.Decision, ...]:
    """Root span with a low id, root with a high id, child of a sampled and of a dropped span."""
    settings = TracingSettings.model_validate({"traces_sampler": name, "traces_sampler_arg": 0.25})
    chosen = tracing.sampler(settings)
    return (
        chosen.should_sample(None, LOW_ID, "root").decision,
        chosen.should_sample(None, HIGH_ID, "root").decision,
        chosen.should_sample(_parent(True), HIGH_ID, "child").decision,
        chosen.should_sample(_parent(False), LOW_ID, "child").decision,
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("always_on", (SAMPLED, SAMPLED, SAMPLED, SAMPLED)),
        ("always_off", (DROPPED, DROPPED, DROPPED, DROPPED)),
        ("traceidratio", (SAMPLED, DROPPED, DROPPED, SAMPLED)),  # the id alone decides
        ("parentbased_always_on", (SAMPLED, SAMPLED, SAMPLED, DROPPED)),
        ("parentbased_always_off", (DROPPED, DROPPED, SAMPLED, DROPPED)),
        ("parentbased_traceidratio", (SAMPLED, DROPPED, SAMPLED, DROPPED)),
    ],
)
def test_each_sampler_name_decides_as_the_specification_says(
    name: str, expected: tuple[sampling.Decision, ...]
) -> None:
    assert _decisions(name) == expected


def test_the_ratio_is_the_sampler_argument() -> None:
    chosen = tracing.sampler(
        TracingSettings(traces_sampler="parentbased_traceidratio", traces_sampler_arg=0.01)
    )
    assert chosen.get_description().startswith("ParentBased{root:TraceIdRatioBased{0.01}")


def test_the_variables_are_read_from_the_environment_and_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.5")
    assert tracing.sampler(TracingSettings()).get_description() == "TraceIdRatioBased{0.5}"

    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "sometimes")
    with pytest.raises(ValidationError, match="traces_sampler"):
        TracingSettings()
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "2")
    with pytest.raises(ValidationError, match="traces_sampler_arg"):
        TracingSettings()


def test_the_default_keeps_every_trace_and_follows_the_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    monkeypatch.delenv("OTEL_TRACES_SAMPLER_ARG", raising=False)
    assert _decisions(TracingSettings().traces_sampler) == (SAMPLED, SAMPLED, SAMPLED, DROPPED)
