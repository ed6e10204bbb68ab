"""Which parked messages a command acts on: event types, ids and how long ago they were parked.

Filters of different kinds must all match; the values of one repeated filter are
alternatives. A message without a readable `x-parked-at` never matches an age filter, so a
purge by age never deletes what it cannot date.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from oms.ops.parked import ParkedMessage

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
# The envelope's own rule for event types (oms.platform.events.Event.type).
_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class BadFilter(ValueError):
    """A filter an operator mistyped: reported in one line, exit code 2."""


def parse_duration(text: str) -> timedelta:
    """`90s`, `10m`, `2h`, `1d` or combinations largest first such as `1h30m`."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None:
        raise BadFilter(f"not a duration: {text!r} (use e.g. 90s, 10m, 2h, 1d or 1h30m)")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    parts = [(seconds // 86400, "d"), (seconds // 3600 % 24, "h"), (seconds // 60 % 60, "m")]
    text = "".join(f"{n}{unit}" for n, unit in [*parts, (seconds % 60, "s")] if n)
    return text or "0s"


def parse_event_type(text: str) -> str:
    if not _EVENT_TYPE.match(text):
        raise BadFilter(f"not an event type: {text!r} (e.g. order.paid)")
    return text


def parse_event_id(text: str) -> str:
    if not text.strip():
        raise BadFilter("an event id cannot be empty")
    return text.strip()


@dataclass(frozen=True)
class Selection:
    event_types: frozenset[str] = frozenset()
    event_ids: frozenset[str] = frozenset()
    older_than: timedelta | None = None
    newer_than: timedelta | None = None

    @classmethod
    def of(
        cls,
        event_types: Iterable[str] = (),
        event_ids: Iterable[str] = (),
        older_than: timedelta | None = None,
        newer_than: timedelta | None = None,
    ) -> Selection:
        if older_than is not None and newer_than is not None and older_than >= newer_than:
            raise BadFilter(
                f"--older-than {format_duration(older_than)} and --newer-than "
                f"{format_duration(newer_than)} select nothing: no message is both"
            )
        return cls(frozenset(event_types), frozenset(event_ids), older_than, newer_than)

    def matches(self, message: ParkedMessage, now: datetime) -> bool:
        if self.event_types and message.event_type not in self.event_types:
            return False
        if self.event_ids and message.event_id not in self.event_ids:
            return False
        if self.older_than is None and self.newer_than is None:
            return True
        if message.parked_at is None:
            return False
        age = now - message.parked_at
        if self.older_than is not None and age < self.older_than:
            return False
        return self.newer_than is None or age < self.newer_than
