"""`python -m oms.ops.parking purge`: it deletes only what was selected, and only once asked
(on a terminal) or told (`--yes`)."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from tests.ops.parked_samples import (
    Parked,
    amqp_url,
    depth,
    spawn_tool,
    tool,
    tool_process,
)


async def test_purge_without_a_terminal_and_without_yes_refuses(parked: Parked) -> None:
    result = await tool_process("purge", "--queue", parked.queue, url=amqp_url(parked.broker))

    assert result.code == 2
    assert result.err == "parking: purge asks before deleting; without a terminal pass --yes\n"
    assert await depth(parked.broker, parked.parking_queue) == 3


async def test_purge_yes_deletes_only_the_selected_and_keeps_the_rest_in_order(
    parked: Parked,
) -> None:
    url, queue = amqp_url(parked.broker), parked.queue

    result = await tool_process(
        "purge", "--queue", queue, "--id", parked.cancelled.id, "--yes", url=url
    )

    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        f"purged {queue} {parked.cancelled.id} {parked.cancelled.type}",
        "purged: 1",
    ]
    remaining = await tool(url, "list", "--queue", queue, "--json")
    assert remaining.listed_ids() == [parked.paid.id, parked.malformed_id]
    assert await depth(parked.broker, parked.parking_queue) == 2


@pytest.mark.parametrize(("answer", "deleted"), [("n\n", False), ("yes\n", True)])
async def test_purge_on_a_terminal_asks_first(parked: Parked, answer: str, deleted: bool) -> None:
    controller, terminal = os.openpty()
    try:
        os.write(controller, answer.encode())
        result = await tool_process(
            "purge",
            "--queue",
            parked.queue,
            "--type",
            parked.paid.type,
            url=amqp_url(parked.broker),
            stdin=terminal,
        )
    finally:
        os.close(terminal)
        os.close(controller)

    assert parked.paid.id in result.err  # the table of what would go
    assert "Delete these 1 parked messages for good? [y/N]" in result.err
    expected = [parked.cancelled.id, parked.malformed_id]
    remaining = await tool(amqp_url(parked.broker), "list", "--queue", parked.queue, "--json")
    if deleted:
        assert result.code == 0, result.err
        assert remaining.listed_ids() == expected
    else:
        assert result.code == 1
        assert result.err.endswith("parking: nothing deleted\n")
        assert remaining.listed_ids() == [parked.paid.id, *expected]


async def test_ctrl_c_at_the_prompt_ends_the_tool_and_deletes_nothing(parked: Parked) -> None:
    controller, terminal = os.openpty()
    process = await spawn_tool(
        "purge", "--queue", parked.queue, url=amqp_url(parked.broker), stdin=terminal
    )
    try:
        assert process.stderr is not None
        shown = b""
        while b"[y/N]" not in shown:
            chunk = await asyncio.wait_for(process.stderr.read(4096), 30)
            assert chunk, f"the tool ended before asking: {shown!r}"
            shown += chunk
        process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), 30)
        rest = (await process.stderr.read()).decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        os.close(terminal)
        os.close(controller)

    assert code == 130
    assert rest.endswith("parking: interrupted; every message not yet acted on stays parked\n")
    assert await depth(parked.broker, parked.parking_queue) == 3
