"""The Order service's composition root."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from oms import domain_events as events
from oms.order import consumers, grpc_api
from oms.order.clients import DeadlineTimers, MenuCache, PaymentClient, StockClient
from oms.order.deadline_sweep import DeadlineSweep
from oms.order.domain import Deadlines
from oms.order.grpc_api import OrderApi
from oms.order.handlers import OrderHandlers
from oms.order.reactions import OrderReactions
from oms.order.repository import COLLECTION, INDEXES, MongoOrderRepository
from oms.platform.bootstrap import Platform, PlatformSettings, run_service
from oms.platform.events import Event
from oms.platform.runner import Lifecycle
from oms.platform.settings import OutboxSettings

NAME = "order"
STRIPE_SHORTEST = 1800  # seconds: the shortest expiry Stripe accepts for a Checkout Session


class OrderSettings(OutboxSettings):
    """The deadline of each state an order can wait in (`ORDER_<STATE>_SECONDS`)."""

    model_config = SettingsConfigDict(env_prefix="ORDER_")

    # A placed order whose checkout was not opened by then expires (and releases its stock).
    pending_seconds: float = Field(default=120.0, gt=0)
    # How long the customer may take to pay, from placement. Stripe wants a session's expiry
    # 30 minutes to 24 hours after it creates the session, which is a little after placement:
    # 5 of these minutes are for Payment to get there (later, Stripe refuses: order expired).
    checkout_window_seconds: float = Field(default=3600.0, ge=STRIPE_SHORTEST + 300, le=86400)
    # After the checkout expired, how long Stripe's last word may take.
    payment_grace_seconds: float = Field(default=120.0, gt=0)
    # Paid, for a cook to start it; cooking, to finish; ready, to be picked up (else overdue).
    kitchen_start_seconds: float = Field(default=600.0, gt=0)
    cooking_seconds: float = Field(default=1800.0, gt=0)
    pickup_seconds: float = Field(default=3600.0, gt=0)
    menu_cache_seconds: float = Field(default=60.0, gt=0)
    # The backstop of lost deadline timers (`oms.order.deadline_sweep`): how often each
    # process looks for orders past a deadline by more than the margin, which leaves a late
    # timer the time to arrive first.
    deadline_sweep_seconds: float = Field(default=300.0, gt=0)
    deadline_sweep_margin_seconds: float = Field(default=300.0, ge=0)

    def deadlines(self) -> Deadlines:
        return Deadlines(
            pending=timedelta(seconds=self.pending_seconds),
            checkout_window=timedelta(seconds=self.checkout_window_seconds),
            payment_grace=timedelta(seconds=self.payment_grace_seconds),
            kitchen_start=timedelta(seconds=self.kitchen_start_seconds),
            cooking=timedelta(seconds=self.cooking_seconds),
            pickup=timedelta(seconds=self.pickup_seconds),
        )


class Settings(PlatformSettings):
    order: OrderSettings = Field(default_factory=OrderSettings)


async def build(platform: Platform, settings: Settings) -> None:
    orders = platform.db[COLLECTION]
    outbox = await platform.outbox(
        orders, events.must_be_routed, settings.order.outbox_sweep_seconds
    )
    menu = MenuCache(platform.service("menu"), settings.order.menu_cache_seconds)

    async def menu_changed(_: Event) -> None:
        menu.invalidate()

    await platform.follow([events.MenuChanged.ROUTING_KEY], menu_changed)
    handlers = OrderHandlers(
        MongoOrderRepository(orders, outbox),
        menu,
        StockClient(platform.service("stock")),
        PaymentClient(platform.service("payment")),
        DeadlineTimers(platform.timers),
        settings.order.deadlines(),
    )
    reactions = OrderReactions(handlers)
    sweep = DeadlineSweep(
        reactions,
        margin=timedelta(seconds=settings.order.deadline_sweep_margin_seconds),
        period=timedelta(seconds=settings.order.deadline_sweep_seconds),
    )
    await platform.every("order-deadline-sweep", settings.order.deadline_sweep_seconds, sweep.sweep)
    await platform.consume(events.ORDER_PAYMENTS.queue, consumers.payments(reactions))
    await platform.consume(events.ORDER_KITCHEN.queue, consumers.kitchen(reactions))
    await platform.consume(events.ORDER_DEADLINES.queue, consumers.deadlines(reactions))
    await platform.serve(grpc_api.CONTRACT, OrderApi(handlers))


async def main(lifecycle: Lifecycle, settings: Settings) -> None:
    await run_service(lifecycle, NAME, settings, events.EXCHANGE, build, INDEXES)
