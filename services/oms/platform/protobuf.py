"""Conversions between Python values and protobuf well-known types, shared by every gRPC edge."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp


def timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def optional_timestamp(value: datetime | None) -> Timestamp | None:
    """`timestamp`, or None (the field left unset) for no time."""
    return None if value is None else timestamp(value)
