"""`python -m oms.ops.parking` and its operator's mistakes: each is one line, exit status 2,
no traceback, and nothing touched."""

from __future__ import annotations

import socket

import pytest

from tests.ops.parked_samples import (
    Parked,
    amqp_url,
    depth,
    tool,
    tool_process,
)


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (["--older-than", "5x"], "argument --older-than: not a duration: '5x'"),
        (["--newer-than", "1w"], "argument --newer-than: not a duration: '1w'"),
        (["--type", "Order Paid"], "argument --type: not an event type: 'Order Paid'"),
        (["--id", " "], "argument --id: an event id cannot be empty"),
        (["--older-than", "1h", "--newer-than", "10m"], "--older-than 1h and --newer-than 10m"),
        (["--queue", "no.such.queue"], "no parking queue 'no.such.queue.parking' on this broker"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
)
async def test_a_bad_filter_exits_2_with_the_reason_in_one_line(
    parked: Parked, arguments: list[str], reason: str
) -> None:
    result = await tool(amqp_url(parked.broker), "list", *arguments)

    assert result.code == 2
    assert result.err.startswith(f"parking: {reason}")
    assert result.err.count("\n") == 1
    assert await depth(parked.broker, parked.parking_queue) == 3


async def test_a_process_reports_operator_mistakes_in_one_line_without_a_traceback(
    parked: Parked,
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    unreachable = f"amqp://guest:s3cret@127.0.0.1:{closed_port}/"

    cases = {
        "unreachable": await tool_process("list", "--url", unreachable),
        "unknown queue": await tool_process(
            "replay", "--queue", "no.such.queue", url=amqp_url(parked.broker)
        ),
        "bad filter": await tool_process("purge", "--older-than", "soon", "--yes"),
        "not amqp": await tool_process("list", url="http://127.0.0.1:15672/"),
    }

    for name, result in cases.items():
        assert result.code == 2, name
        assert result.err.startswith("parking: "), result.err
        assert result.err.count("\n") == 1, result.err
        assert "Traceback" not in result.err, name
    assert cases["unreachable"].err.startswith(
        f"parking: cannot connect to RabbitMQ at amqp://guest:***@127.0.0.1:{closed_port}/"
    )
