"""Payment's use cases on the real servers, with Stripe played by stripe-mock.

Payments live in the real FerretDB and publish through the real outbox relay to a RabbitMQ
vhost of the test's own, where a tap reads what was published. Payment reaches Order through
its own gRPC adapter, served by the real Order service code (`OrderApi`, with its storage and
outbox) on a real gRPC server in this process: AttachPayment only touches Order's storage.
Stripe is stripe-mock, or (`remembering`) the stateful emulation in front of it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from devtools import servers, stripe_webhooks
from oms import domain_events as events
from oms.contracts.v1 import order_pb2_grpc
from oms.order.clients import DeadlineTimers, MenuCache, PaymentClient, StockClient
from oms.order.domain import Deadlines, Order, OrderItem, Status
from oms.order.grpc_api import OrderApi
from oms.order.handlers import OrderHandlers
from oms.order.repository import MongoOrderRepository
from oms.order.transitions import announce, priced_lines
from oms.payment.clients import OrderClient
from oms.payment.domain import Payment
from oms.payment.handlers import PaymentHandlers
from oms.payment.repository import COLLECTION, MongoPaymentRepository
from oms.payment.stripe_gateway import StripeCheckout, StripeSettings
from oms.payment.webhooks import WebhookOutcome
from oms.platform import mongo
from oms.platform.events import Event
from oms.platform.grpc_client import Balancer, Channels
from oms.platform.grpc_server import GrpcServer
from oms.platform.outbox import Outbox
from oms.platform.outbox_relay import OutboxRelay
from oms.platform.settings import GrpcSettings, MongoSettings
from oms.platform.timers import Timers
from tests.order.bus import Bus, Tap, bus, tap
from tests.payment.stateful_stripe import StatefulStripe

__all__ = ["bus", "tap"]

SECRET = "whsec_payment_tests_secret"  # a test-only signing secret
TEST_PAGE = "http://127.0.0.1:8080/test-payments/{order_id}"
DEADLINES = Deadlines(*(timedelta(hours=1),) * 6)  # Order's timers play no part here


@dataclass
class PaymentWorld:
    handlers: PaymentHandlers
    repository: MongoPaymentRepository
    relays: tuple[OutboxRelay, OutboxRelay]  # Payment's, Order's
    orders: MongoOrderRepository
    tap: Tap

    async def published(self) -> list[Event]:
        for relay in self.relays:
            await relay.drain()
        return await self.tap.settle()

    async def order(
        self, status: Status = Status.PENDING, expires_in: float = 3600, unit_minor: int = 950
    ) -> Order:
        """An order as Order stores it after placement (then moved to `status`)."""
        now = datetime.now(UTC).replace(microsecond=0)
        order = Order(
            id=str(uuid.uuid4()),
            customer_id="alice",
            status=status,
            items=(OrderItem("margherita", "Margherita", 2, unit_minor),),
            currency="EUR",
            created_at=now,
            updated_at=now,
            access_token=uuid.uuid4().hex,
            checkout_expires_at=now + timedelta(seconds=expires_in),
            history=((status, now),),
        )
        await self.orders.insert(order, [])
        return order

    async def placed(
        self, status: Status = Status.PENDING, expires_in: float = 3600, unit_minor: int = 950
    ) -> events.OrderPlaced:
        """The `order.placed` Order published for a new order (as Payment receives it)."""
        order = await self.order(status, expires_in, unit_minor)
        event = announce(
            order.facts,
            Status.PENDING,
            events.OrderPlaced,
            currency=order.currency,
            total_minor=order.total_minor,
            lines=priced_lines(order.facts),
            checkout_expires_at=order.checkout_expires_at,
            access_token=order.access_token,
        )
        return events.parse(events.OrderPlaced, event)

    async def opened(self, unit_minor: int = 950) -> tuple[events.OrderPlaced, Payment]:
        """An order whose checkout Payment opened (it awaits payment)."""
        placed = await self.placed(unit_minor=unit_minor)
        await self.handlers.open_checkout(placed)
        return placed, await self.payment(placed.order_id)

    async def payment(self, order_id: str) -> Payment:
        payment = await self.repository.get(order_id)
        assert payment is not None
        return payment

    def paid_event(
        self, placed: events.OrderPlaced, payment: Payment, **session: Any
    ) -> dict[str, Any]:
        """Stripe's `checkout.session.completed` for the order's session, paid in full."""
        event = stripe_webhooks.checkout_event(
            "checkout.session.completed",
            placed.order_id,
            payment.checkout_session_id,
            amount_total=placed.total_minor,
            currency=placed.currency.lower(),
        )
        event["data"]["object"].update(session)
        return event

    async def webhook(self, event: dict[str, Any], secret: str = SECRET) -> WebhookOutcome:
        payload, header = stripe_webhooks.delivery(event, secret)
        return await self.handlers.apply_webhook(payload, header)


@pytest.fixture(scope="session")
async def channels() -> AsyncIterator[Channels]:
    opened = Channels(GrpcSettings())
    yield opened
    await opened.close()


@asynccontextmanager
async def payment_world(
    stripe_base: str,
    bus: Bus,
    tap: Tap,
    channels: Channels,
    client: AsyncMongoClient[mongo.Document],
    settings: MongoSettings,
    test_page: str = "",
) -> AsyncIterator[PaymentWorld]:
    order_db = mongo.database(client, settings, "order")
    order_relay = OutboxRelay(order_db["orders"], bus.broker, events.must_be_routed)
    orders = MongoOrderRepository(order_db["orders"], Outbox(order_db["orders"], order_relay))
    order_server = GrpcServer(GrpcSettings(port=0), service_names=[])

    async def resolve(service: str) -> list[str]:
        return [order_server.address] if service == "order" else []

    def nowhere(service: str) -> Balancer:
        return Balancer(service, resolve, channels)  # Order never calls them here

    order_handlers = OrderHandlers(
        orders,
        MenuCache(nowhere("menu")),
        StockClient(nowhere("stock")),
        PaymentClient(nowhere("payment")),
        DeadlineTimers(Timers(bus.broker)),
        DEADLINES,
    )
    api = OrderApi(order_handlers)
    order_pb2_grpc.add_OrderServiceServicer_to_server(api, order_server.server)
    await order_server.start()

    db = mongo.database(client, settings, "payment")
    relay = OutboxRelay(db[COLLECTION], bus.broker, events.must_be_routed)
    await relay.start()
    repository = MongoPaymentRepository(
        db[COLLECTION], db["stripe_events"], Outbox(db[COLLECTION], relay)
    )
    stripe = StripeCheckout(StripeSettings(api_base=stripe_base, webhook_secret=SECRET))
    order_client = OrderClient(Balancer("order", resolve, channels))
    handlers = PaymentHandlers(repository, stripe, order_client, test_page)
    try:
        yield PaymentWorld(handlers, repository, (relay, order_relay), orders, tap)
    finally:
        await relay.stop()
        await order_relay.stop()
        await stripe.close()
        await order_server.server.stop(0)
        await client.drop_database(f"{settings.database}_order")
        await client.drop_database(f"{settings.database}_payment")


@pytest.fixture
async def world(
    stripe_mock: servers.StripeMock,
    bus: Bus,
    tap: Tap,
    channels: Channels,
    mongo_client: AsyncMongoClient[mongo.Document],
    mongo_settings: MongoSettings,
) -> AsyncIterator[PaymentWorld]:
    async with payment_world(
        stripe_mock.api_base, bus, tap, channels, mongo_client, mongo_settings
    ) as started:
        yield started


@pytest.fixture
async def stateful_stripe(stripe_mock: servers.StripeMock) -> AsyncIterator[StatefulStripe]:
    emulation = StatefulStripe(stripe_mock.api_base)
    await emulation.start()
    yield emulation
    await emulation.stop()
    assert emulation.violations == [], "the emulation strayed from stripe-mock's shapes"


@pytest.fixture
async def remembering_world(
    stateful_stripe: StatefulStripe,
    bus: Bus,
    tap: Tap,
    channels: Channels,
    mongo_client: AsyncMongoClient[mongo.Document],
    mongo_settings: MongoSettings,
) -> AsyncIterator[PaymentWorld]:
    """Payment against the stateful Stripe emulation (in front of stripe-mock)."""
    async with payment_world(
        stateful_stripe.api_base, bus, tap, channels, mongo_client, mongo_settings
    ) as started:
        yield started
