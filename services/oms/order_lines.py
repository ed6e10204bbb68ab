"""What a customer asks for: item ids and quantities, checked the same way everywhere."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from oms.limits import MAX_ITEMS, MAX_QUANTITY
from oms.platform.errors import InvalidArgument


@dataclass(frozen=True)
class Line:
    item_id: str
    quantity: int


def merge_lines(lines: Iterable[Line]) -> list[Line]:
    """One line per item (quantities added), sorted by item id, each within bounds."""
    totals: dict[str, int] = {}
    for line in lines:
        if not line.item_id:
            raise InvalidArgument("every line needs an item id")
        if not 1 <= line.quantity <= MAX_QUANTITY:
            raise InvalidArgument(f"quantity of {line.item_id!r} must be 1..{MAX_QUANTITY}")
        totals[line.item_id] = totals.get(line.item_id, 0) + line.quantity
    if not totals:
        raise InvalidArgument("an order needs at least one item")
    if len(totals) > MAX_ITEMS:
        raise InvalidArgument(f"at most {MAX_ITEMS} different items per order")
    if any(quantity > MAX_QUANTITY for quantity in totals.values()):
        raise InvalidArgument(f"at most {MAX_QUANTITY} of one item per order")
    return [Line(item_id, quantity) for item_id, quantity in sorted(totals.items())]
