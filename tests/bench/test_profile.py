"""py-spy's stacks summed up by library: a sample counts for the innermost frame whose file
belongs to one, so OMS code calling a library is the library's time."""

from __future__ import annotations

from bench.profile import summarise

SITE = "/venv/lib/python3.11/site-packages"
OURS = "/repo/services/oms"
STACKS = "\n".join(
    [
        # OpenTelemetry's gRPC instrumentation is OpenTelemetry's, not gRPC's.
        f"run ({OURS}/platform/runner.py:64);"
        f"_unary_interceptor ({SITE}/opentelemetry/instrumentation/grpc/_aio_server.py:93) 3",
        # Our module named after a library is ours.
        f"run ({OURS}/platform/runner.py:64);create ({OURS}/payment/stripe_gateway.py:140) 1",
        f"run ({OURS}/platform/runner.py:64);"
        f"create ({OURS}/payment/stripe_gateway.py:140);"
        f"request_async ({SITE}/stripe/_http_client.py:900) 4",
        "Thread.run (/usr/lib/python3.11/threading.py:971) 2",
        "not a stack line",
    ]
)


def test_each_sample_counts_for_the_innermost_library_it_ran_in() -> None:
    profile = summarise("payment", STACKS)

    assert profile.samples == 10
    assert dict(profile.areas) == {"opentelemetry": 3, "oms": 1, "stripe": 4, "threads": 2}
    assert profile.top(profile.areas, 1) == [("stripe", 40.0)]
