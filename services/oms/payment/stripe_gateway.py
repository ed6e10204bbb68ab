"""Stripe Checkout through stripe-python's async client, and webhook verification.

With the placeholder key, calls go to a local stripe-mock (`STRIPE_MOCK_URL`), so development
and tests need no Stripe account. Set `STRIPE_API_KEY` to a real (test mode) key and
`STRIPE_WEBHOOK_SECRET` to the endpoint's secret, and calls go to Stripe itself;
`STRIPE_API_BASE` overrides both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from oms.platform.errors import InvalidArgument, Unauthenticated

MOCK_API_KEY = "sk_test_123"  # stripe-mock's documented key, not a secret
STRIPE_API = "https://api.stripe.com"


class StripeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STRIPE_")

    api_key: str = MOCK_API_KEY
    # Empty: stripe-mock for the placeholder key, Stripe for a real one.
    api_base: str = ""
    mock_url: str = "http://127.0.0.1:12111"
    # Signs local and test webhooks only; every real deployment sets its own.
    webhook_secret: str = "whsec_oms_local_test_secret"  # noqa: S105
    # How old a webhook's signature may be, against replays.
    webhook_tolerance_seconds: int = Field(default=300, ge=1, le=3600)
    # Stripe accepts a Checkout expiry between 30 minutes and 24 hours from creation.
    checkout_expiry_minutes: int = Field(default=30, ge=30, le=24 * 60)
    success_url: str = "http://127.0.0.1:8080/customers/{customer_id}/orders/{order_id}?paid=1"
    cancel_url: str = "http://127.0.0.1:8080/customers/{customer_id}/orders/{order_id}"
    max_network_retries: int = Field(default=2, ge=0, le=10)

    @property
    def base_url(self) -> str:
        if self.api_base:
            return self.api_base
        return self.mock_url if self.api_key == MOCK_API_KEY else STRIPE_API


@dataclass(frozen=True)
class CheckoutLine:
    name: str
    unit_amount_minor: int
    quantity: int


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


def _session(session: stripe.checkout.Session) -> CheckoutSession:
    data = session.to_dict()
    intent = data.get("payment_intent") or ""
    return CheckoutSession(
        id=data["id"],
        url=data.get("url") or "",
        expires_at=datetime.fromtimestamp(data["expires_at"], UTC),
        status=data.get("status") or "open",
        payment_status=data.get("payment_status") or "unpaid",
        payment_intent=intent if isinstance(intent, str) else str(intent.get("id", "")),
    )


class StripeCheckout:
    """Stripe calls for payments; one HTTP client (and its connection pool) per process."""

    def __init__(self, settings: StripeSettings) -> None:
        self.settings = settings
        self._http = stripe.HTTPXClient()
        self._client = stripe.StripeClient(
            settings.api_key,
            base_addresses={"api": settings.base_url},
            http_client=self._http,
            max_network_retries=settings.max_network_retries,
        )

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def create_session(
        self,
        order_id: str,
        currency: str,
        lines: Sequence[CheckoutLine],
        customer_id: str = "",
    ) -> CheckoutSession:
        """A payment-mode session for the order; retries of the same order reuse the session
        Stripe already made (the idempotency key is the order id)."""
        expires_at = datetime.now(UTC) + timedelta(minutes=self.settings.checkout_expiry_minutes)
        urls = {"order_id": order_id, "customer_id": customer_id}
        session = await self._client.v1.checkout.sessions.create_async(
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
                            "unit_amount": line.unit_amount_minor,
                            "product_data": {"name": line.name},
                        },
                    }
                    for line in lines
                ],
            },
            {"idempotency_key": f"checkout-session-{order_id}"},
        )
        return _session(session)

    async def retrieve_session(self, session_id: str) -> CheckoutSession:
        return _session(await self._client.v1.checkout.sessions.retrieve_async(session_id))

    async def expire_session(self, session_id: str) -> CheckoutSession:
        """Close an open session so it can no longer be paid."""
        return _session(await self._client.v1.checkout.sessions.expire_async(session_id))

    async def refund(self, payment_intent: str, order_id: str) -> str:
        """Refund a payment in full; the id of the refund (one per order, however often)."""
        refund = await self._client.v1.refunds.create_async(
            {"payment_intent": payment_intent, "metadata": {"order_id": order_id}},
            {"idempotency_key": f"refund-{order_id}"},
        )
        return str(refund.id)

    def verify(self, payload: bytes, signature_header: str) -> WebhookEvent:
        """The event in `payload` if `signature_header` proves Stripe sent it recently.

        Raises `Unauthenticated` for a missing, forged or stale signature and
        `InvalidArgument` for a payload that is not a Stripe event.
        """
        if not signature_header:
            raise Unauthenticated("the Stripe-Signature header is missing")
        try:
            event = self._client.construct_event(
                payload,
                signature_header,
                self.settings.webhook_secret,
                tolerance=self.settings.webhook_tolerance_seconds,
            )
        except stripe.SignatureVerificationError as exc:
            raise Unauthenticated(f"the Stripe signature does not verify: {exc}") from exc
        except ValueError as exc:
            raise InvalidArgument(f"the payload is not a Stripe event: {exc}") from exc
        raw = event.to_dict()
        obj = (raw.get("data") or {}).get("object")
        if not raw.get("id") or not raw.get("type") or not isinstance(obj, dict):
            raise InvalidArgument("the Stripe event has no id, type or data.object")
        return WebhookEvent(id=str(raw["id"]), type=str(raw["type"]), object=obj)
