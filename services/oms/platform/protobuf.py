"""Conversions between Python values and protobuf well-known types and enums, shared by every
gRPC edge."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from google.protobuf.timestamp_pb2 import Timestamp

if TYPE_CHECKING:
    from google.protobuf.internal.enum_type_wrapper import _EnumTypeWrapper

Name = TypeVar("Name", bound=str)
Value = TypeVar("Value", bound=int)
Key = TypeVar("Key")
Mapped = TypeVar("Mapped")


def timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def optional_timestamp(value: datetime | None) -> Timestamp | None:
    """`timestamp`, or None (the field left unset) for no time."""
    return None if value is None else timestamp(value)


def enum_values(
    names: Iterable[Name], proto_enum: _EnumTypeWrapper[Value], prefix: str
) -> dict[Name, Value]:
    """Each name (a `StrEnum` member or a literal) to the value of the proto enum that spells it
    `<prefix><NAME>`: `"awaiting_payment"` -> `ORDER_STATUS_AWAITING_PAYMENT`. A name the
    proto lacks fails at import, so a new state cannot be forgotten at the edge."""
    return {name: proto_enum.Value(prefix + name.upper()) for name in names}


def inverse(mapping: Mapping[Key, Mapped]) -> dict[Mapped, Key]:
    """The other direction of a one-to-one mapping (proto value back to name)."""
    return {value: key for key, value in mapping.items()}
