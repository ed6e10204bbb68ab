"""Menu items and the rules they obey."""

from __future__ import annotations

import re
from dataclasses import dataclass

from oms.platform.errors import InvalidArgument

ITEM_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_PRICE_MINOR = 10_000_000


@dataclass(frozen=True)
class MenuItem:
    id: str
    name: str
    description: str
    price_minor: int
    currency: str
    offered: bool = True

    def __post_init__(self) -> None:
        if not ITEM_ID.match(self.id):
            raise InvalidArgument(
                f"item id {self.id!r} must be 1-64 lower-case letters, digits or dashes"
            )
        if not 1 <= len(self.name.strip()) <= 100:
            raise InvalidArgument("item name must be 1-100 characters")
        if len(self.description) > 1000:
            raise InvalidArgument("item description must be at most 1000 characters")
        if not 0 <= self.price_minor <= MAX_PRICE_MINOR:
            raise InvalidArgument(f"item price must be 0..{MAX_PRICE_MINOR} minor units")
        if not CURRENCY.match(self.currency):
            raise InvalidArgument("currency must be an ISO 4217 code such as EUR")
