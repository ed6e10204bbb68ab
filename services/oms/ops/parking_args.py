"""The parking tool's command line: its commands, filters and one-line usage errors."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NoReturn, TypeVar

from oms.ops.selection import (
    BadFilter,
    Selection,
    parse_duration,
    parse_event_id,
    parse_event_type,
)

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


def parser(description: str) -> argparse.ArgumentParser:
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
    for flag, parse, metavar, what in (
        ("--type", parse_event_type, "EVENT_TYPE", "event type"),
        ("--id", parse_event_id, "EVENT_ID", "event id"),
    ):
        filters.add_argument(
            flag,
            action="append",
            default=[],
            type=_checked(parse),
            metavar=metavar,
            help=f"only this {what} (repeatable)",
        )
    for flag, when in (("--older-than", "more"), ("--newer-than", "less")):
        filters.add_argument(
            flag,
            type=_checked(parse_duration),
            metavar="DURATION",
            help=f"parked {when} than DURATION ago (90s, 10m, 2h, 1d)",
        )

    top = _Parser(
        prog=PROG, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
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


def selection_of(args: argparse.Namespace) -> Selection:
    if args.command == "show":
        return Selection()
    try:
        return Selection.of(args.type, args.id, args.older_than, args.newer_than)
    except BadFilter as exc:
        raise OperatorError(str(exc)) from None
