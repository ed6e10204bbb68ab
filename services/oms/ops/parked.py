"""A parked message as the parking tool sees it, and the copy a replay sends back."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, DeliveryMode

from oms.platform.consumer import (
    ATTEMPT_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER,
    PARKED_AT_HEADER,
    PARKED_REASON_HEADER,
    PARKING_SUFFIX,
    parking_queue_name,
)

# What parking added; a replay removes them so the consumer starts the event afresh.
PARKING_HEADERS = (PARKED_REASON_HEADER, PARKED_AT_HEADER, ATTEMPT_HEADER)
# Names a message with neither a message id nor an event id in its body (published by hand,
# from the RabbitMQ UI say), so that it can still be shown and selected.
DIGEST_PREFIX = "sha256:"


def consumer_queue_of(name: str) -> str:
    """`order.payments` for `order.payments` or `order.payments.parking`."""
    return name.removesuffix(PARKING_SUFFIX)


@dataclass(frozen=True)
class ParkedMessage:
    queue: str  # the consumer queue it was parked from, and replays into
    delivery_tag: int  # on the channel of the pass that read it
    event_id: str
    event_type: str | None
    parked_at: datetime | None
    attempts: int | None
    reason: str
    body: bytes
    properties: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, Any] = field(default_factory=dict)

    @property
    def parking_queue(self) -> str:
        return parking_queue_name(self.queue)

    @property
    def original_routing_key(self) -> str | None:
        value = self.headers.get(ORIGINAL_ROUTING_KEY_HEADER)
        return _text(value) if value is not None else None

    @classmethod
    def read(cls, queue: str, message: AbstractIncomingMessage) -> ParkedMessage:
        if message.delivery_tag is None:
            raise ValueError("a parked message is read without auto-ack, so it has a tag")
        headers = dict(message.headers or {})
        attempts = headers.get(ATTEMPT_HEADER)
        return cls(
            queue=queue,
            delivery_tag=message.delivery_tag,
            event_id=message.message_id or _event_id_in(message.body),
            event_type=message.type,
            parked_at=_timestamp(headers.get(PARKED_AT_HEADER)),
            attempts=attempts if isinstance(attempts, int) else None,
            reason=_text(headers.get(PARKED_REASON_HEADER, "")),
            body=message.body,
            properties={
                "message_id": message.message_id,
                "type": message.type,
                "content_type": message.content_type,
                "timestamp": message.timestamp,
                "delivery_mode": int(message.delivery_mode or 0),
            },
            headers=headers,
        )

    def replay_message(self) -> aio_pika.Message:
        """The event as first delivered: same id, type, body and headers, attempts from 1."""
        headers = {k: v for k, v in self.headers.items() if k not in PARKING_HEADERS}
        return aio_pika.Message(
            body=self.body,
            content_type=self.properties.get("content_type"),
            delivery_mode=DeliveryMode.PERSISTENT,
            message_id=self.properties.get("message_id"),
            type=self.properties.get("type"),
            timestamp=self.properties.get("timestamp"),
            headers=headers,
        )


def _event_id_in(body: bytes) -> str:
    try:
        envelope = json.loads(body)
    except ValueError:
        envelope = None
    event_id = envelope.get("id") if isinstance(envelope, dict) else None
    if isinstance(event_id, str) and event_id:
        return event_id
    return DIGEST_PREFIX + hashlib.sha256(body).hexdigest()[:16]


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _timestamp(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(_text(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
