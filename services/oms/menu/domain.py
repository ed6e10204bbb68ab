"""Menu items and the rules they obey."""

from __future__ import annotations

import re
from dataclasses import dataclass

from oms.limits import (
    CURRENCY_PATTERN,
    ITEM_ID_PATTERN,
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_PRICE_MINOR,
)
from oms.platform.errors import InvalidArgument

# Checked with `fullmatch`: the patterns' `$` alone would let a trailing newline through.
ITEM_ID = re.compile(ITEM_ID_PATTERN)
CURRENCY = re.compile(CURRENCY_PATTERN)


@dataclass(frozen=True)
class MenuItem:
    id: str
    name: str
    description: str
    price_minor: int
    currency: str
    offered: bool = True

    def __post_init__(self) -> None:
        if not ITEM_ID.fullmatch(self.id):
            raise InvalidArgument(
                f"item id {self.id!r} must be 1-64 lower-case letters, digits or dashes"
            )
        if not 1 <= len(self.name.strip()) <= MAX_NAME:
            raise InvalidArgument(f"item name must be 1-{MAX_NAME} characters")
        if len(self.description) > MAX_DESCRIPTION:
            raise InvalidArgument(f"item description must be at most {MAX_DESCRIPTION} characters")
        if not 0 <= self.price_minor <= MAX_PRICE_MINOR:
            raise InvalidArgument(f"item price must be 0..{MAX_PRICE_MINOR} minor units")
        if not CURRENCY.fullmatch(self.currency):
            raise InvalidArgument("currency must be an ISO 4217 code such as EUR")
