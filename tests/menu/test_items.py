"""The rules every menu item obeys, wherever it comes from (admin, gRPC, seed file)."""

from __future__ import annotations

import pytest

from oms.limits import MAX_DESCRIPTION, MAX_NAME, MAX_PRICE_MINOR
from oms.menu.domain import MenuItem
from oms.platform.errors import InvalidArgument


def _item(**fields: object) -> MenuItem:
    values: dict[str, object] = {
        "id": "margherita",
        "name": "Margherita",
        "description": "Tomato, fior di latte, basil",
        "price_minor": 950,
        "currency": "EUR",
        **fields,
    }
    return MenuItem(**values)  # type: ignore[arg-type]


def test_a_well_formed_item_is_accepted() -> None:
    accepted = _item(id="pizza-2", price_minor=0, name="x" * MAX_NAME, offered=False)

    assert (accepted.id, accepted.price_minor, accepted.offered) == ("pizza-2", 0, False)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"id": ""}, "item id"),
        ({"id": "Margherita"}, "item id"),
        ({"id": "-margherita"}, "item id"),
        ({"id": "margherita\n"}, "item id"),
        ({"id": "pizza/../admin"}, "item id"),
        ({"id": "p" * 65}, "item id"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * (MAX_NAME + 1)}, "name"),
        ({"description": "x" * (MAX_DESCRIPTION + 1)}, "description"),
        ({"price_minor": -1}, "price"),
        ({"price_minor": MAX_PRICE_MINOR + 1}, "price"),
        ({"currency": "eur"}, "currency"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "EUR\n"}, "currency"),
        ({"currency": ""}, "currency"),
    ],
)
def test_an_item_breaking_a_rule_is_refused_with_the_reason(
    fields: dict[str, object], reason: str
) -> None:
    with pytest.raises(InvalidArgument, match=reason):
        _item(**fields)
