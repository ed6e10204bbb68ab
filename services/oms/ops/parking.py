"""`python -m oms.ops.parking`: see, replay and purge the messages consumers have parked.

    list   [FILTERS] [--json]   one line per parked message, and the total
    show   EVENT_ID             its properties, headers and pretty-printed body
    replay [FILTERS]            back into its consumer's queue, then off the parking queue
    purge  [FILTERS] [--yes]    deleted, once confirmed on a terminal or with --yes

FILTERS: --queue NAME (a consumer queue such as order.payments; default: every queue of
oms.domain_events), --type EVENT_TYPE and --id EVENT_ID (repeatable), --older-than and
--newer-than DURATION (90s, 10m, 2h, 1d) on when it was parked. The broker is RABBITMQ_URL
or --url. Exit codes: 0 done; 1 nothing found, declined, or a broker failure mid-way (what
was not done stays parked); 2 an operator mistake (bad filter, unknown queue, unreachable
broker). How the queues are read, and what becomes of ordering: oms.ops.parking_pass.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import TextIO

from aio_pika.abc import AbstractConnection
from aiormq.exceptions import AMQPError

from oms.domain_events import SUBSCRIPTIONS
from oms.ops import render
from oms.ops.parked import ParkedMessage, consumer_queue_of
from oms.ops.parking_args import OperatorError, parser, selection_of
from oms.ops.parking_pass import ParkingPass, UnknownQueue, Unreachable, connect, require_queue
from oms.ops.selection import Selection
from oms.platform.consumer import parking_queue_name


async def run(argv: Sequence[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        args = parser(__doc__ or "").parse_args(argv)
        selection = selection_of(args)
        if args.command == "purge" and not args.yes and not sys.stdin.isatty():
            raise OperatorError("purge asks before deleting; without a terminal pass --yes")
        connection = await connect(args.url)
        async with connection:
            return await _command(args, selection, connection, out, err)
    except (OperatorError, UnknownQueue, Unreachable) as exc:
        print(f"parking: {exc}", file=err)
        return 2
    except AMQPError as exc:
        print(f"parking: the broker failed: {exc!r}; what was not done stays parked", file=err)
        return 1


async def _command(
    args: argparse.Namespace,
    selection: Selection,
    connection: AbstractConnection,
    out: TextIO,
    err: TextIO,
) -> int:
    explicit = [consumer_queue_of(name) for name in args.queues]
    queues = list(dict.fromkeys(explicit or [s.queue for s in SUBSCRIPTIONS]))
    now = datetime.now(UTC)
    async with AsyncExitStack() as stack:
        passes: list[ParkingPass] = []
        for queue in queues:
            try:
                passes.append(await stack.enter_async_context(ParkingPass(connection, queue)))
            except UnknownQueue:
                if explicit:
                    raise
                print(f"parking: {parking_queue_name(queue)} is not declared, skipped", file=err)
        chosen = [
            (each, message)
            for each in passes
            for message in each.messages
            if selection.matches(message, now)
        ]
        if args.command == "list":
            messages = [message for _, message in chosen]
            print(
                render.as_json(messages) if args.json else "\n".join(render.table(messages)),
                file=out,
            )
            return 0
        if args.command == "show":
            return _show(args.event_id, [m for p in passes for m in p.messages], out, err)
        if args.command == "replay":
            return await _replay(connection, chosen, out, err)
        return await _purge(chosen, args.yes, out, err)


def _show(event_id: str, messages: list[ParkedMessage], out: TextIO, err: TextIO) -> int:
    found = [message for message in messages if message.event_id == event_id]
    if not found:
        print(f"parking: no parked message has event id {event_id!r}", file=err)
        return 1
    print("\n\n".join("\n".join(render.details(message)) for message in found), file=out)
    return 0


async def _replay(
    connection: AbstractConnection,
    chosen: list[tuple[ParkingPass, ParkedMessage]],
    out: TextIO,
    err: TextIO,
) -> int:
    # Every target first, so a missing consumer queue means nothing is replayed at all.
    for queue in dict.fromkeys(message.queue for _, message in chosen):
        try:
            await require_queue(connection, queue)
        except UnknownQueue:
            raise UnknownQueue(
                f"cannot replay into {queue!r}: no such queue; nothing replayed"
            ) from None
    for done, (each, message) in enumerate(chosen):
        try:
            await each.replay(message)
        except AMQPError as exc:
            print(
                f"parking: replaying {message.event_id} into {message.queue} failed ({exc!r}); "
                f"it and the {len(chosen) - done - 1} after it stay parked",
                file=err,
            )
            return 1
        print(f"replayed {message.queue} {message.event_id} {message.event_type or '-'}", file=out)
    print(f"replayed: {len(chosen)}", file=out)
    return 0


async def _purge(
    chosen: list[tuple[ParkingPass, ParkedMessage]], yes: bool, out: TextIO, err: TextIO
) -> int:
    if not chosen:
        print("purged: 0 (nothing matched)", file=out)
        return 0
    if not yes:
        print("\n".join(render.table([message for _, message in chosen])), file=err)
        prompt = f"Delete these {len(chosen)} parked messages for good? [y/N] "
        answer = await _ask(prompt, err)
        if answer.strip().lower() not in ("y", "yes"):
            print("parking: nothing deleted", file=err)
            return 1
    for each, message in chosen:
        await each.remove(message)
        print(f"purged {message.queue} {message.event_id} {message.event_type or '-'}", file=out)
    print(f"purged: {len(chosen)}", file=out)
    return 0


async def _ask(prompt: str, err: TextIO) -> str:
    """A line from the terminal, read once it is typed: the event loop keeps the connection's
    heartbeats going meanwhile, and Ctrl-C still ends the tool (a thread would hold it)."""
    print(prompt, end="", file=err, flush=True)
    loop = asyncio.get_running_loop()
    typed = asyncio.Event()
    fd = sys.stdin.fileno()
    loop.add_reader(fd, typed.set)
    try:
        await typed.wait()
    finally:
        loop.remove_reader(fd)
    return sys.stdin.readline()


def main() -> int:
    # aiormq logs a failed connect with its traceback; the tool says it in one line instead.
    for name in ("aiormq", "aio_pika"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        return asyncio.run(run(sys.argv[1:]))
    except KeyboardInterrupt:
        print("parking: interrupted; every message not yet acted on stays parked", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
