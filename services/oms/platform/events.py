"""The envelope every event travels in, and the errors a consumer can raise about it.

The body is the JSON envelope (self-describing, readable in the RabbitMQ UI); its id, type and
time are mirrored into the AMQP properties so tools can filter without parsing the body.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from oms.platform.clock import utc_now


class MalformedMessage(Exception):
    """The message cannot be read as an event: it is parked at once, never retried."""


class PermanentError(Exception):
    """A handler's way to say "retrying cannot help": the message is parked at once."""


class HandBack(Exception):
    """A handler's way to say "not here, not now": the message goes back to its queue at once
    (no attempt counted), for another consumer."""


def _new_id() -> str:
    return str(uuid.uuid4())


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=_new_id, min_length=1)
    type: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
    version: int = Field(default=1, ge=1)
    occurred_at: datetime = Field(default_factory=utc_now)
    data: dict[str, Any] = Field(default_factory=dict)

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump())

    @classmethod
    def from_json(cls, body: bytes) -> Event:
        try:
            return cls.model_validate(orjson.loads(body))
        except (orjson.JSONDecodeError, ValidationError) as exc:
            raise MalformedMessage(f"not an OMS event: {exc}") from exc
