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
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import NoReturn, TextIO, TypeVar

from aio_pika.abc import AbstractConnection
from aiormq.exceptions import AMQPError

from oms.domain_events import SUBSCRIPTIONS
from oms.ops import render
from oms.ops.parked import ParkedMessage, consumer_queue_of
from oms.ops.parking_pass import ParkingPass, UnknownQueue, Unreachable, connect, require_queue
from oms.ops.selection import (
    BadFilter,
    Selection,
    parse_duration,
    parse_event_id,
    parse_event_type,
)
from oms.platform.consumer import parking_queue_name

PROG = "python -m oms.ops.parking"
T = TypeVar("T")


class OperatorError(Exception):
    """A mistake in how the tool was called: one line on stderr, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line instead of argparse's usage block.
        raise OperatorError(f"{message} (see {PROG} --help)")


def _checked(parse: Callable[[str], T]) -> Callable[[str], T]:
    def convert(text: str) -> T:
        try:
            return parse(text)
        except BadFilter as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--url", help="the broker's AMQP URL (default: RABBITMQ_URL)")
    common.add_argument(
        "--queue",
        action="append",
        default=[],
        metavar="NAME",
        dest="queues",
        help="a consumer queue, e.g. order.payments (repeatable; default: every OMS queue)",
    )
    filters = _Parser(add_help=False)
    filters.add_argument(
        "--type",
        action="append",
        default=[],
        type=_checked(parse_event_type),
        metavar="EVENT_TYPE",
        help="only this event type (repeatable)",
    )
    filters.add_argument(
        "--id",
        action="append",
        default=[],
        type=_checked(parse_event_id),
        metavar="EVENT_ID",
        help="only this event id (repeatable)",
    )
    for flag, when in (("--older-than", "more"), ("--newer-than", "less")):
        filters.add_argument(
            flag,
            type=_checked(parse_duration),
            metavar="DURATION",
            help=f"parked {when} than DURATION ago (90s, 10m, 2h, 1d)",
        )

    top = _Parser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = top.add_subparsers(dest="command", required=True, parser_class=_Parser)
    listing = commands.add_parser("list", parents=[common, filters], help="list them")
    listing.add_argument("--json", action="store_true", help="one JSON document, for machines")
    show = commands.add_parser("show", parents=[common], help="one in full")
    show.add_argument("event_id", type=_checked(parse_event_id), metavar="EVENT_ID")
    commands.add_parser("replay", parents=[common, filters], help="give them back to consumers")
    purge = commands.add_parser("purge", parents=[common, filters], help="delete them")
    purge.add_argument("--yes", action="store_true", help="do not ask (required without a TTY)")
    return top


async def run(argv: Sequence[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        args = parser().parse_args(argv)
        selection = _selection(args)
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
        # In a thread: the event loop keeps the connection's heartbeats going meanwhile.
        answer = await asyncio.to_thread(_ask, prompt, err)
        if answer.strip().lower() not in ("y", "yes"):
            print("parking: nothing deleted", file=err)
            return 1
    for each, message in chosen:
        await each.remove(message)
        print(f"purged {message.queue} {message.event_id} {message.event_type or '-'}", file=out)
    print(f"purged: {len(chosen)}", file=out)
    return 0


def _ask(prompt: str, err: TextIO) -> str:
    print(prompt, end="", file=err, flush=True)
    return sys.stdin.readline()


def _selection(args: argparse.Namespace) -> Selection:
    if args.command == "show":
        return Selection()
    try:
        return Selection.of(args.type, args.id, args.older_than, args.newer_than)
    except BadFilter as exc:
        raise OperatorError(str(exc)) from None


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
