"""Stripe Checkout through stripe-python's async client, and webhook verification.

With the placeholder key, calls go to a local stripe-mock (`STRIPE_MOCK_URL`), so development
and tests need no Stripe account. Set `STRIPE_API_KEY` to a real (test mode) key and
`STRIPE_WEBHOOK_SECRET` to the endpoint's secret, and calls go to Stripe itself;
`STRIPE_API_BASE` overrides both.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import stripe
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from oms.domain_events import PricedLine
from oms.payment.domain import CheckoutRefused
from oms.platform.errors import InvalidArgument, Unauthenticated, Unavailable

MOCK_API_KEY = "sk_test_123"  # stripe-mock's documented key, not a secret
PLACEHOLDER_WEBHOOK_SECRET = "whsec_oms_local_test_secret"  # noqa: S105 - documented placeholder
STRIPE_API = "https://api.stripe.com"
# A Checkout Session's `payment_status` once its money is there.
PAID_STATES = ("paid", "no_payment_required")


class StripeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STRIPE_")

    api_key: str = MOCK_API_KEY
    # Empty: stripe-mock for the placeholder key, Stripe for a real one.
    api_base: str = ""
    mock_url: str = "http://127.0.0.1:12111"
    # Signs local and test webhooks only; only the development mode accepts it.
    webhook_secret: str = PLACEHOLDER_WEBHOOK_SECRET
    # How old a webhook's signature may be, against replays.
    webhook_tolerance_seconds: int = Field(default=300, ge=1, le=3600)
    # Where Stripe sends the customer back: the order's page, with its unguessable token.
    success_url: str = "http://127.0.0.1:8080/orders/{order_id}?t={access_token}&paid=1"
    cancel_url: str = "http://127.0.0.1:8080/orders/{order_id}?t={access_token}"
    max_network_retries: int = Field(default=2, ge=0, le=10)

    @property
    def base_url(self) -> str:
        if self.api_base:
            return self.api_base
        return self.mock_url if self.mocked else STRIPE_API

    @property
    def mocked(self) -> bool:
        """True with stripe-mock's placeholder key: no real money, no payment page."""
        return self.api_key == MOCK_API_KEY

    @property
    def placeholder_secret(self) -> bool:
        return self.webhook_secret == PLACEHOLDER_WEBHOOK_SECRET


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str
    expires_at: datetime
    status: str = "open"  # open, complete or expired
    payment_status: str = "unpaid"  # paid, unpaid or no_payment_required
    payment_intent: str = ""


@dataclass(frozen=True)
class WebhookEvent:
    """A verified Stripe event: its id, type and the object it is about."""

    id: str
    type: str
    object: dict[str, Any]


def _session(data: dict[str, Any]) -> CheckoutSession:
    intent = data.get("payment_intent") or ""
    return CheckoutSession(
        id=data["id"],
        url=data.get("url") or "",
        expires_at=datetime.fromtimestamp(data["expires_at"], UTC),
        status=data.get("status") or "open",
        payment_status=data.get("payment_status") or "unpaid",
        payment_intent=intent if isinstance(intent, str) else str(intent.get("id", "")),
    )


@contextmanager
def _outage_is_unavailable() -> Iterator[None]:
    """Stripe unreachable, overloaded or failing (after stripe-python's own retries) is an
    outage callers may retry (UNAVAILABLE), not an error of Payment's own."""
    try:
        yield
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        raise Unavailable(f"Stripe is unavailable: {exc.user_message or exc}") from exc


class StripeCheckout:
    """Stripe calls for payments; one HTTP client (and its connection pool) per process."""

    def __init__(self, settings: StripeSettings) -> None:
        self.settings = settings
        # aiohttp: the same calls cost a quarter less CPU than through httpx (`scripts/bench`).
        self._http = stripe.AIOHTTPClient()
        self._client = stripe.StripeClient(
            settings.api_key,
            base_addresses={"api": settings.base_url},
            http_client=self._http,
            max_network_retries=settings.max_network_retries,
        )

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def _call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        idempotency_key: str = "",
    ) -> dict[str, Any]:
        """The JSON object Stripe answers, through the SDK's raw request: its retries,
        idempotency and typed errors, without building the SDK's objects for a reply that is
        read once (about a fifth of Payment's CPU per order went to that, py-spy)."""
        options = {"idempotency_key": idempotency_key} if idempotency_key else {}
        response = await self._client.raw_request_async(method, path, **(params or {}), **options)
        data = response.data
        if not isinstance(data, dict):
            raise Unavailable(f"Stripe answered {path} with no JSON object")
        return data

    async def create_session(
        self,
        order_id: str,
        currency: str,
        lines: Sequence[PricedLine],
        expires_at: datetime,
        access_token: str,
    ) -> CheckoutSession:
        """A payment-mode session for the order.

        Every argument comes from the order as it was placed, so a retry sends exactly the
        same request under the same idempotency key (the order id), and Stripe answers it
        with the session it already made. Raises `CheckoutRefused` for a 4xx answer.
        """
        urls = {"order_id": order_id, "access_token": access_token}
        try:
            with _outage_is_unavailable():
                session = await self._call(
                    "post",
                    "/v1/checkout/sessions",
                    {
                        "mode": "payment",
                        "client_reference_id": order_id,
                        "metadata": {"order_id": order_id},
                        "expires_at": int(expires_at.timestamp()),
                        "success_url": self.settings.success_url.format(**urls),
                        "cancel_url": self.settings.cancel_url.format(**urls),
                        "line_items": [
                            {
                                "quantity": line.quantity,
                                "price_data": {
                                    "currency": currency.lower(),
                                    "unit_amount": line.unit_price_minor,
                                    "product_data": {"name": line.name},
                                },
                            }
                            for line in lines
                        ],
                    },
                    f"checkout-session-{order_id}",
                )
        except (stripe.InvalidRequestError, stripe.IdempotencyError) as exc:
            raise CheckoutRefused(
                f"Stripe refused the checkout: {exc.user_message or exc}"
            ) from exc
        return _session(session)

    async def retrieve_session(self, session_id: str) -> CheckoutSession:
        with _outage_is_unavailable():
            return _session(await self._call("get", f"/v1/checkout/sessions/{session_id}"))

    async def expire_session(self, session_id: str) -> CheckoutSession:
        """Close a session so it can no longer be paid; what Stripe then says of it.

        Stripe refuses to expire a session that is not open (already complete or expired):
        then the session is read back, and its status says which.
        """
        try:
            with _outage_is_unavailable():
                expired = await self._call("post", f"/v1/checkout/sessions/{session_id}/expire")
            return _session(expired)
        except stripe.InvalidRequestError:
            session = await self.retrieve_session(session_id)
            if session.status == "open":
                raise
            return session

    async def refund(self, payment_intent: str, order_id: str) -> str:
        """Refund a payment in full; the id of the refund (one per order, however often)."""
        with _outage_is_unavailable():
            refund = await self._call(
                "post",
                "/v1/refunds",
                {"payment_intent": payment_intent, "metadata": {"order_id": order_id}},
                f"refund-{order_id}",
            )
        return str(refund["id"])

    def sign(self, payload: bytes, at: int) -> str:
        """The `Stripe-Signature` header Stripe would send with `payload` (test payments)."""
        digest = hmac.new(
            self.settings.webhook_secret.encode(), f"{at}.".encode() + payload, hashlib.sha256
        ).hexdigest()
        return f"t={at},v1={digest}"

    def verify(self, payload: bytes, signature_header: str) -> WebhookEvent:
        """The event in `payload` if `signature_header` proves Stripe sent it recently.

        Raises `Unauthenticated` for a missing, forged or stale signature and
        `InvalidArgument` for a payload that is not a Stripe event.
        """
        if not signature_header:
            raise Unauthenticated("the Stripe-Signature header is missing")
        try:
            stripe.WebhookSignature.verify_header(
                payload.decode("utf-8"),
                signature_header,
                self.settings.webhook_secret,
                self.settings.webhook_tolerance_seconds,
            )
        except stripe.SignatureVerificationError as exc:
            raise Unauthenticated(f"the Stripe signature does not verify: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise InvalidArgument("the payload is not UTF-8 JSON") from exc
        # Signed, so Stripe (or whoever holds the secret) sent it; its shape is still checked.
        try:
            raw = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise InvalidArgument(f"the payload is not JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise InvalidArgument("a Stripe event is a JSON object")
        data = raw.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        event_id, event_type = raw.get("id"), raw.get("type")
        if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str):
            raise InvalidArgument("the Stripe event has no id or type")
        if not isinstance(obj, dict):
            raise InvalidArgument("the Stripe event has no data.object")
        return WebhookEvent(id=event_id, type=event_type, object=obj)
