"""Stripe Checkout through stripe-python's async client.

Defaults point at a local stripe-mock, so development and tests need no Stripe account; set
`STRIPE_API_KEY` (a test key) and `STRIPE_API_BASE=https://api.stripe.com` for the real thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import stripe
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StripeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STRIPE_")

    api_key: str = "sk_test_123"
    api_base: str = "http://127.0.0.1:12111"
    # Signs stripe-mock-era local webhooks only; every real deployment sets its own.
    webhook_secret: str = "whsec_oms_local_test_secret"  # noqa: S105
    # Stripe accepts a Checkout expiry between 30 minutes and 24 hours from creation.
    checkout_expiry_minutes: int = Field(default=30, ge=30, le=24 * 60)
    success_url: str = "http://127.0.0.1:8080/orders/{order_id}?paid=1"
    cancel_url: str = "http://127.0.0.1:8080/orders/{order_id}"
    max_network_retries: int = Field(default=2, ge=0, le=10)


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


class StripeCheckout:
    """Creates Checkout Sessions; one HTTP client (and its connection pool) per process."""

    def __init__(self, settings: StripeSettings) -> None:
        self.settings = settings
        self._http = stripe.HTTPXClient()
        self._client = stripe.StripeClient(
            settings.api_key,
            base_addresses={"api": settings.api_base},
            http_client=self._http,
            max_network_retries=settings.max_network_retries,
        )

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def create_session(
        self, order_id: str, currency: str, lines: Sequence[CheckoutLine]
    ) -> CheckoutSession:
        """A payment-mode session for the order; retries of the same order reuse the session
        Stripe already made (the idempotency key is the order id)."""
        expires_at = datetime.now(UTC) + timedelta(minutes=self.settings.checkout_expiry_minutes)
        session = await self._client.v1.checkout.sessions.create_async(
            {
                "mode": "payment",
                "client_reference_id": order_id,
                "metadata": {"order_id": order_id},
                "expires_at": int(expires_at.timestamp()),
                "success_url": self.settings.success_url.format(order_id=order_id),
                "cancel_url": self.settings.cancel_url.format(order_id=order_id),
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
        return CheckoutSession(
            id=session.id,
            url=session.url or "",
            expires_at=datetime.fromtimestamp(session.expires_at, UTC),
        )
