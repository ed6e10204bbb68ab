"""What the outbox stores: an event in its document's `outbox.<event id>` entry, with the
trace context of the change that caused it (see `oms.platform.outbox`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import propagate

from oms.platform.events import Event

FIELD = "outbox"


@dataclass(frozen=True)
class Delayed:
    """An event to deliver `seconds` after it is published: a timer (`oms.platform.timers`)
    stored with the change, for when it could not be set before it."""

    event: Event
    seconds: float


@dataclass(frozen=True)
class Staged:
    """One stored event and the trace context of the change that caused it."""

    document_id: Any
    event: Event
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float | None = None

    def entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "event": self.event.model_dump(mode="json"),
            "headers": self.headers,
        }
        if self.delay_seconds is not None:
            entry["delay_seconds"] = self.delay_seconds
        return entry

    @classmethod
    def from_entry(cls, document_id: Any, entry: dict[str, Any]) -> Staged:
        event = Event.model_validate(entry["event"])
        return cls(document_id, event, entry.get("headers") or {}, entry.get("delay_seconds"))


def stage(document_id: Any, events: Iterable[Event | Delayed]) -> list[Staged]:
    staged = []
    for item in events:
        headers: dict[str, str] = {}
        propagate.inject(headers)  # the publish continues the trace of the change
        if isinstance(item, Delayed):
            staged.append(Staged(document_id, item.event, headers, item.seconds))
        else:
            staged.append(Staged(document_id, item, headers))
    return staged


def paths(event_ids: Iterable[str]) -> list[str]:
    return [f"{FIELD}.{event_id}" for event_id in event_ids]
