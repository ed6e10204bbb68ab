"""Names to proto enum values, and back, by the proto's own spelling."""

from __future__ import annotations

from enum import StrEnum

import pytest

from oms.contracts.v1 import order_pb2
from oms.platform.protobuf import enum_values, inverse


class Stage(StrEnum):
    PENDING = "pending"
    AWAITING_PAYMENT = "awaiting_payment"


def test_each_name_maps_to_the_value_the_proto_spells_with_the_prefix() -> None:
    values = enum_values(Stage, order_pb2.OrderStatus, "ORDER_STATUS_")

    assert values == {
        Stage.PENDING: order_pb2.ORDER_STATUS_PENDING,
        Stage.AWAITING_PAYMENT: order_pb2.ORDER_STATUS_AWAITING_PAYMENT,
    }
    assert inverse(values) == {
        order_pb2.ORDER_STATUS_PENDING: Stage.PENDING,
        order_pb2.ORDER_STATUS_AWAITING_PAYMENT: Stage.AWAITING_PAYMENT,
    }


def test_a_name_the_proto_does_not_declare_fails_at_once() -> None:
    with pytest.raises(ValueError, match="ORDER_STATUS_LOST"):
        enum_values(["lost"], order_pb2.OrderStatus, "ORDER_STATUS_")
