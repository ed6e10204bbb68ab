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
MAX_IDEMPOTENCY_KEY = 128  # characters of a client's Idempotency-Key
MAX_ORDER_QUERY = 64  # characters of a staff search: the start of an order or customer id
ID_PREFIX_PATTERN = rf"^[A-Za-z0-9_-]{{0,{MAX_ORDER_QUERY}}}$"
MAX_WEBHOOK_BYTES = 1 << 20  # a Stripe event as delivered

# Checked at the HTTP edge only (the services never see these inputs this way).
MAX_BODY_BYTES = 64 * 1024  # any other request body; an order of 50 lines is about 3 KiB
# An order's tracking token (`?t=`), a page token: URL-safe base64 text (empty: none).
TOKEN_PATTERN = r"^[A-Za-z0-9_=-]{0,256}$"  # noqa: S105 - a pattern, not a secret
MAX_EVENT_ID = 64  # a live stream's `Last-Event-ID`
MAX_SIGNATURE_HEADER = 4096  # Stripe-Signature
MAX_ITEM_IDS = 200  # item ids in one stock query
MAX_RETURN_PATH = 32  # characters of the staff page a sign-in returns to (`?next=`)
