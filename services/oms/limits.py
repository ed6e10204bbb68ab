"""The rules every edge checks the same way: one source for the services and the gateway.

The services enforce these on every call; the gateway validates the same limits at the
HTTP edge (its OpenAPI document states them), so a bad request is refused with a reason
before it costs a call.
"""

from __future__ import annotations

# Item ids: lower-case letters, digits and dashes (they appear in URLs).
ITEM_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
# Customer and order ids: letters, digits, `-` and `_`.
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
MAX_QUANTITY = 100  # of one item in one order
MAX_ITEMS = 50  # different items in one order
MAX_PRICE_MINOR = 10_000_000
MAX_ON_HAND = 1_000_000
MAX_NAME = 100
MAX_DESCRIPTION = 1000
MAX_REASON = 500
MAX_PAGE_SIZE = 100
