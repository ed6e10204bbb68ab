"""The generated contracts match protos/, and they import and round-trip."""

from __future__ import annotations

import filecmp
import subprocess
from pathlib import Path

from oms.contracts.v1 import common_pb2, order_pb2, order_pb2_grpc

REPO = Path(__file__).resolve().parents[2]
GENERATED = REPO / "services" / "oms" / "contracts"


def _files(root: Path) -> set[str]:
    return {
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_the_committed_generated_code_is_up_to_date(tmp_path: Path) -> None:
    subprocess.run([REPO / "scripts" / "gen-protos", tmp_path], check=True)
    fresh = tmp_path / "oms" / "contracts"

    assert _files(fresh) == _files(GENERATED), "run scripts/gen-protos and commit the result"
    stale = [
        name for name in sorted(_files(fresh)) if not filecmp.cmp(fresh / name, GENERATED / name)
    ]
    assert stale == [], f"stale generated files (run scripts/gen-protos): {stale}"


def test_an_order_survives_the_wire() -> None:
    order = order_pb2.Order(
        id="o-1",
        customer_id="c-1",
        status=order_pb2.ORDER_STATUS_AWAITING_PAYMENT,
        items=[
            order_pb2.OrderItem(
                item_id="margherita",
                name="Margherita",
                quantity=2,
                unit_price=common_pb2.Money(amount_minor=950, currency="EUR"),
                line_total=common_pb2.Money(amount_minor=1900, currency="EUR"),
            )
        ],
        total=common_pb2.Money(amount_minor=1900, currency="EUR"),
    )

    decoded = order_pb2.Order.FromString(order.SerializeToString())

    assert decoded == order
    assert decoded.items[0].unit_price.amount_minor == 950
    assert order_pb2_grpc.OrderServiceStub.__name__ == "OrderServiceStub"
