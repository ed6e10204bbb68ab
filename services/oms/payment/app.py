"""The Payment service's composition root."""

from __future__ import annotations

from contextlib import AsyncExitStack

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from oms import domain_events as events
from oms.contracts.v1 import payment_pb2, payment_pb2_grpc
from oms.payment.clients import OrderClient
from oms.payment.consumers import PaymentConsumers
from oms.payment.grpc_api import PaymentApi
from oms.payment.handlers import PaymentHandlers
from oms.payment.repository import INDEXES, MongoPaymentRepository
from oms.payment.stripe_gateway import StripeCheckout, StripeSettings
from oms.platform.bootstrap import PlatformSettings, open_platform
from oms.platform.runner import Lifecycle

NAME = "payment"


class PaymentSettings(BaseSettings):
    """How often stored events and overdue checkouts are looked at."""

    model_config = SettingsConfigDict(env_prefix="PAYMENT_")

    outbox_interval_seconds: float = Field(default=5.0, gt=0)
    # Checkouts whose expiry passed without a webhook are settled with Stripe this often.
    reconcile_interval_seconds: float = Field(default=60.0, gt=0)


class Settings(PlatformSettings):
    payment: PaymentSettings = Field(default_factory=PaymentSettings)
    stripe: StripeSettings = Field(default_factory=StripeSettings)


async def main(lifecycle: Lifecycle, settings: Settings) -> None:
    async with AsyncExitStack() as stack:
        platform = await open_platform(stack, NAME, settings, INDEXES)
        repository = MongoPaymentRepository(platform.db)
        stripe = StripeCheckout(settings.stripe)
        stack.push_async_callback(stripe.close)
        relay = await platform.relay_outbox(
            repository.payments, settings.payment.outbox_interval_seconds
        )
        handlers = PaymentHandlers(
            repository, stripe, OrderClient(platform.service("order")), relay
        )
        await platform.every(
            "payment-reconcile",
            settings.payment.reconcile_interval_seconds,
            handlers.reconcile_overdue,
        )
        orders = events.PAYMENT_ORDERS
        await platform.consume(orders.queue, orders.routing_keys, PaymentConsumers(handlers).handle)
        api = PaymentApi(handlers)
        await platform.serve_grpc(
            lambda server: payment_pb2_grpc.add_PaymentServiceServicer_to_server(api, server),
            [payment_pb2.DESCRIPTOR.services_by_name["PaymentService"].full_name],
        )
        lifecycle.mark_ready()
        await lifecycle.stopped()
