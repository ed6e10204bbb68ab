"""The Payment service's composition root."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from oms import domain_events as events
from oms.payment import consumers, grpc_api
from oms.payment.clients import OrderClient
from oms.payment.grpc_api import PaymentApi
from oms.payment.handlers import PaymentHandlers
from oms.payment.repository import COLLECTION, INDEXES, STRIPE_EVENTS, MongoPaymentRepository
from oms.payment.stripe_gateway import StripeCheckout, StripeSettings
from oms.platform import runner
from oms.platform.bootstrap import Platform, PlatformSettings, run_service
from oms.platform.runner import Lifecycle
from oms.platform.settings import OutboxSettings

NAME = "payment"


class PaymentSettings(OutboxSettings):
    """`PAYMENT_TEST_PAGE_URL`: with stripe-mock in development, the local test payment page
    (`{order_id}` in it) replaces Stripe's, which stripe-mock does not serve."""

    model_config = SettingsConfigDict(env_prefix="PAYMENT_")

    test_page_url: str = "http://127.0.0.1:8080/test-payments/{order_id}"
    # Ids of Stripe events about no payment of ours are kept this long, so that Stripe's
    # retries of one are answered as duplicates. Stripe retries a webhook for up to 3 days:
    # a week outlasts every retry with room to spare, and less than 3 days is refused.
    stripe_events_retention_seconds: float = Field(default=7 * 24 * 3600, ge=3 * 24 * 3600)
    stripe_events_cleanup_seconds: float = Field(default=3600.0, gt=0)


class Settings(PlatformSettings):
    payment: PaymentSettings = Field(default_factory=PaymentSettings)
    stripe: StripeSettings = Field(default_factory=StripeSettings)


def check(settings: Settings) -> None:
    """Refuse to start, in one line, with the documented placeholder outside development."""
    if settings.stripe.placeholder_secret and not settings.runtime.development:
        runner.refuse_to_start(
            NAME,
            "STRIPE_WEBHOOK_SECRET is the documented placeholder; set your endpoint's "
            "secret, or OMS_MODE=development for a local run",
        )


async def build(platform: Platform, settings: Settings) -> None:
    stripe = StripeCheckout(settings.stripe)
    platform.stack.push_async_callback(stripe.close)
    outbox = await platform.outbox(
        platform.db[COLLECTION], events.must_be_routed, settings.payment.outbox_sweep_seconds
    )
    repository = MongoPaymentRepository(platform.db[COLLECTION], platform.db[STRIPE_EVENTS], outbox)
    retention = timedelta(seconds=settings.payment.stripe_events_retention_seconds)
    await platform.every(
        "payment-stripe-events-cleanup",
        settings.payment.stripe_events_cleanup_seconds,
        lambda: repository.forget_foreign_events(retention),
    )
    test_page = settings.runtime.development and settings.stripe.mocked
    handlers = PaymentHandlers(
        repository,
        stripe,
        OrderClient(platform.service("order")),
        settings.payment.test_page_url if test_page else "",
    )
    await platform.consume(events.PAYMENT_ORDERS.queue, consumers.orders(handlers))
    await platform.serve(grpc_api.CONTRACT, PaymentApi(handlers))


async def main(lifecycle: Lifecycle, settings: Settings) -> None:
    check(settings)
    await run_service(lifecycle, NAME, settings, events.EXCHANGE, build, INDEXES)
