"""The state of the Stripe emulation (`devtools.stripe_emulator`): sessions, refunds and the
answers given under each idempotency key, following Stripe's documented rules for the calls
Payment makes. A refused call raises `StripeError` with Stripe's error envelope.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from devtools import stripe_webhooks

Json = dict[str, Any]
MIN_EXPIRY, MAX_EXPIRY = 30 * 60, 24 * 3600


class StripeError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", **more: str):
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": kind, **more}}


def form_fields(pairs: list[tuple[str, str]]) -> Json:
    """Stripe's form encoding (`a[b][0][c]=v`) as nested objects, lists for numeric keys."""
    root: Json = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    nested: Json = _lists(root)
    return nested


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(key.isdigit() for key in node):
        return [_lists(node[key]) for key in sorted(node, key=int)]
    return {key: _lists(value) for key, value in node.items()}


def _integer(value: Any, name: str) -> int:
    if not isinstance(value, str) or not value.isdigit():
        raise StripeError(400, f"Invalid integer: {value}", param=name)
    return int(value)


@dataclass
class Session:
    id: str
    order_id: str
    created: int
    expires_at: int
    amount_total: int
    currency: str
    params: Json
    status: str = "open"  # open, complete, expired
    payment_status: str = "unpaid"  # unpaid, paid
    payment_intent: str | None = None
    refunds: list[str] = field(default_factory=list)

    def json(self) -> Json:
        return {
            "id": self.id,
            "object": "checkout.session",
            "amount_subtotal": self.amount_total,
            "amount_total": self.amount_total,
            "cancel_url": self.params.get("cancel_url"),
            "client_reference_id": self.params.get("client_reference_id"),
            "created": self.created,
            "currency": self.currency,
            "expires_at": self.expires_at,
            "livemode": False,
            "metadata": self.params.get("metadata", {}),
            "mode": "payment",
            "payment_intent": self.payment_intent,
            "payment_status": self.payment_status,
            "status": self.status,
            "success_url": self.params.get("success_url"),
            "url": f"https://checkout.stripe.com/c/pay/{self.id}"
            if self.status == "open"
            else None,
        }


class Stripe:
    """The state: sessions, refunds and the answers given under each idempotency key."""

    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}
        self.refunds: dict[str, Json] = {}
        self.answered: dict[str, tuple[str, int, Json]] = {}  # key -> (params digest, answer)

    def idempotent(self, key: str, params: Json, make: Any) -> tuple[int, Json]:
        digest = hashlib.sha256(repr(sorted(params.items())).encode()).hexdigest()
        if key and key in self.answered:
            seen, status, body = self.answered[key]
            if seen != digest:
                raise StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with.",
                    "idempotency_error",
                )
            return status, body
        body = make(params)  # a refused request saves nothing: it may be sent again
        if key:
            self.answered[key] = (digest, 200, body)
        return 200, body

    def create_session(self, params: Json) -> Json:
        if params.get("mode") != "payment":
            raise StripeError(400, "Only `payment` mode is emulated.", param="mode")
        lines = params.get("line_items")
        if not isinstance(lines, list) or not lines:
            raise StripeError(400, "Missing required param: line_items.", param="line_items")
        now = int(time.time())
        expires_at = _integer(params.get("expires_at", str(now + MAX_EXPIRY)), "expires_at")
        if not MIN_EXPIRY <= expires_at - now <= MAX_EXPIRY:
            raise StripeError(
                400,
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from now.",
                param="expires_at",
            )
        currencies = {line["price_data"]["currency"] for line in lines}
        total = sum(
            _integer(x["price_data"]["unit_amount"], "unit_amount") * _integer(x["quantity"], "q")
            for x in lines
        )
        session = Session(
            id=f"cs_test_{secrets.token_hex(12)}",
            order_id=str(params.get("metadata", {}).get("order_id", "")),
            created=now,
            expires_at=expires_at,
            amount_total=total,
            currency=currencies.pop(),
            params=params,
        )
        self.sessions[session.id] = session
        return session.json()

    def session(self, session_id: str) -> Session:
        if session_id not in self.sessions:
            raise StripeError(
                404, f"No such checkout.session: '{session_id}'", code="resource_missing"
            )
        return self.sessions[session_id]

    def expire(self, session_id: str) -> Json:
        session = self.session(session_id)
        if session.status != "open":
            raise StripeError(
                400,
                f"Only Checkout Sessions with a status of open can be expired; this one is "
                f"{session.status}.",
            )
        session.status = "expired"
        return session.json()

    def refund(self, params: Json) -> Json:
        intent = params.get("payment_intent", "")
        session = next(
            (s for s in self.sessions.values() if s.payment_intent == intent and intent), None
        )
        if session is None or session.payment_status != "paid":
            raise StripeError(400, f"No such payment_intent: '{intent}'", code="resource_missing")
        if session.refunds:
            raise StripeError(
                400, "This charge has already been refunded.", code="charge_already_refunded"
            )
        refund = {
            "id": f"re_{secrets.token_hex(12)}",
            "object": "refund",
            "amount": session.amount_total,
            "charge": f"ch_{intent.removeprefix('pi_')}",
            "created": int(time.time()),
            "currency": session.currency,
            "metadata": params.get("metadata", {}),
            "payment_intent": intent,
            "reason": None,
            "status": "succeeded",
        }
        self.refunds[refund["id"]] = refund
        session.refunds.append(refund["id"])
        return refund

    def event(self, event_type: str, session: Session) -> Json:
        return stripe_webhooks.event(event_type, session.json())
