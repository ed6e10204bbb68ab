"""How the parking tool prints parked messages: a table, JSON, or one message in full."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from oms.ops.parked import ParkedMessage

REASON_WIDTH = 60
_COLUMNS = ("QUEUE", "EVENT ID", "TYPE", "PARKED AT", "ATTEMPTS", "REASON")


def table(messages: Sequence[ParkedMessage]) -> list[str]:
    rows = [
        (
            m.queue,
            m.event_id,
            m.event_type or "-",
            _when(m.parked_at),
            "-" if m.attempts is None else str(m.attempts),
            _shorten(m.reason),
        )
        for m in messages
    ]
    lines = []
    if rows:
        widths = [max(len(row[i]) for row in [_COLUMNS, *rows]) for i in range(len(_COLUMNS))]
        for row in [_COLUMNS, *rows]:
            lines.append(
                "  ".join(
                    cell.ljust(width) for cell, width in zip(row, widths, strict=True)
                ).rstrip()
            )
    lines.append(f"total: {len(rows)}")
    return lines


def as_json(messages: Sequence[ParkedMessage]) -> str:
    return json.dumps(
        {
            "total": len(messages),
            "messages": [
                {
                    "queue": m.queue,
                    "parking_queue": m.parking_queue,
                    "event_id": m.event_id,
                    "event_type": m.event_type,
                    "parked_at": m.parked_at.isoformat() if m.parked_at else None,
                    "attempts": m.attempts,
                    "reason": m.reason,
                    "original_routing_key": m.original_routing_key,
                }
                for m in messages
            ],
        },
        indent=2,
    )


def details(message: ParkedMessage) -> list[str]:
    lines = [
        f"event {message.event_id} in {message.parking_queue} (replays into {message.queue})",
        "properties:",
        *_fields(message.properties),
        "headers:",
        *_fields(message.headers),
        "body:",
        body_text(message.body),
    ]
    return lines


def body_text(body: bytes) -> str:
    """The body pretty-printed when it is JSON, else as text (a malformed body is often not)."""
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body.decode(errors="replace")


def _fields(values: dict[str, Any]) -> list[str]:
    if not values:
        return ["  (none)"]
    width = max(len(name) for name in values)
    # A value's further lines (a reason quoting a pydantic error, say) line up under its first.
    under = "\n" + " " * (width + 4)
    return [
        f"  {name.ljust(width)}  {under.join(_plain(value).splitlines()) or '-'}"
        for name, value in sorted(values.items())
    ]


def _plain(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "-"


def _shorten(reason: str) -> str:
    # Reasons quote exceptions, which may span lines (pydantic's do).
    flat = " ".join(reason.split()) or "-"
    return flat if len(flat) <= REASON_WIDTH else flat[: REASON_WIDTH - 1] + "…"
