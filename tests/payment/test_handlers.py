"""Payments against stripe-mock, a real MongoDB-wire server and the real Order gRPC service:
checkouts open once, webhooks are verified and applied once, lost webhooks are settled."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from devtools import servers, stripe_webhooks
from oms import domain_events as events
from oms.contracts.v1 import order_pb2_grpc
from oms.order.clients import MenuClient, StockClient
from oms.order.domain import Order, OrderItem, Status
from oms.order.grpc_api import OrderApi
from oms.order.handlers import OrderHandlers
from oms.order.repository import MongoOrderRepository
from oms.payment.clients import OrderClient
from oms.payment.domain import PaymentStatus
from oms.payment.handlers import PaymentHandlers
from oms.payment.repository import MongoPaymentRepository
from oms.payment.stripe_gateway import StripeCheckout, StripeSettings
from oms.platform import mongo
from oms.platform.broker import Broker
from oms.platform.errors import InvalidArgument, Unauthenticated
from oms.platform.grpc_client import Balancer, Channels
from oms.platform.grpc_server import GrpcServer
from oms.platform.outbox import OutboxRelay
from oms.platform.settings import GrpcSettings, MongoSettings, RabbitMQSettings

SECRET = "whsec_payment_tests_secret"  # a test-only signing secret


@dataclass
class World:
    payments: PaymentHandlers
    orders: MongoOrderRepository
    db: AsyncDatabase[mongo.Document]


@pytest.fixture
async def world(
    stripe_mock: servers.StripeMock,
    mongo_client: AsyncMongoClient[mongo.Document],
    mongo_settings: MongoSettings,
) -> AsyncIterator[World]:
    db = mongo.database(mongo_client, mongo_settings)
    orders = MongoOrderRepository(db)
    order_server = GrpcServer(GrpcSettings(port=0), service_names=[])
    channels = Channels(GrpcSettings())

    async def resolve(_: str) -> list[str]:
        return [order_server.address]

    # The real Order service's gRPC edge. AttachPayment only touches its storage, so Menu and
    # Stock are never called and its own outbox is never relayed here.
    order_handlers = OrderHandlers(
        orders,
        MenuClient(Balancer("menu", resolve, channels)),
        StockClient(Balancer("stock", resolve, channels)),
        OutboxRelay(orders.orders, Broker(RabbitMQSettings())),
    )
    order_pb2_grpc.add_OrderServiceServicer_to_server(OrderApi(order_handlers), order_server.server)
    await order_server.start()

    stripe = StripeCheckout(StripeSettings(api_base=stripe_mock.api_base, webhook_secret=SECRET))
    repository = MongoPaymentRepository(db)
    # Never started: the tests read what is staged for publishing straight from the outbox.
    relay = OutboxRelay(repository.payments, Broker(RabbitMQSettings()))
    handlers = PaymentHandlers(
        repository, stripe, OrderClient(Balancer("order", resolve, channels)), relay
    )
    yield World(handlers, orders, db)
    await stripe.close()
    await channels.close()
    await order_server.server.stop(0)


async def _new_order(world: World, total_items: int = 2) -> events.OrderCreated:
    order_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    item = OrderItem("margherita", "Margherita", total_items, 950)
    await world.orders.insert(
        Order(order_id, "alice", Status.PENDING, (item,), "EUR", now, now), []
    )
    return events.OrderCreated(
        order_id=order_id,
        customer_id="alice",
        currency="EUR",
        total_minor=950 * total_items,
        lines=[
            events.Line(item_id="margherita", name="Margherita", quantity=2, unit_price_minor=950)
        ],
    )


async def _staged(world: World, order_id: str) -> list[str]:
    """The types of the events waiting in the payment's outbox."""
    doc = await world.db.payments.find_one({"_id": order_id}, {"outbox": 1})
    return sorted(entry["event"]["type"] for entry in (doc or {}).get("outbox", {}).values())


async def _webhook(world: World, event: dict[str, Any], secret: str = SECRET) -> Any:
    payload, header = stripe_webhooks.delivery(event, secret)
    return await world.payments.apply_webhook(payload, header)


async def _checkout(world: World) -> tuple[events.OrderCreated, str]:
    created = await _new_order(world)
    payment = await world.payments.start_checkout(created)
    return created, payment.checkout_session_id


async def test_a_new_order_gets_one_checkout_and_its_link(world: World) -> None:
    created = await _new_order(world)

    first = await world.payments.start_checkout(created)
    again = await world.payments.start_checkout(created)

    assert first.status is PaymentStatus.OPEN
    assert first.checkout_session_id.startswith("cs_")
    assert again == first
    assert await world.db.payments.count_documents({"_id": created.order_id}) == 1
    order = await world.orders.get(created.order_id)
    assert order is not None
    assert order.status is Status.AWAITING_PAYMENT
    assert order.payment_link == first.url


async def test_a_completed_checkout_stages_order_paid_once_however_often_it_arrives(
    world: World,
) -> None:
    created, session = await _checkout(world)
    event = stripe_webhooks.checkout_event(
        "checkout.session.completed", created.order_id, session, amount_total=1900, currency="eur"
    )

    first = await _webhook(world, event)
    repeat = await _webhook(world, event)
    # Stripe may also send a second, distinct event about the same session.
    other = stripe_webhooks.checkout_event("checkout.session.completed", created.order_id, session)
    await _webhook(world, other)

    assert (first.duplicate, repeat.duplicate) == (False, True)
    assert await _staged(world, created.order_id) == ["order.paid"]
    payment = await world.payments.repository.get(created.order_id)
    assert payment is not None
    assert payment.status is PaymentStatus.PAID


@pytest.mark.parametrize(
    "forge",
    ["wrong secret", "stale", "missing header", "tampered body"],
)
async def test_a_webhook_stripe_did_not_sign_is_refused_and_changes_nothing(
    world: World, forge: str
) -> None:
    created, session = await _checkout(world)
    event = stripe_webhooks.checkout_event("checkout.session.completed", created.order_id, session)
    payload, header = stripe_webhooks.delivery(event, SECRET)
    if forge == "wrong secret":
        payload, header = stripe_webhooks.delivery(event, "whsec_someone_else")
    elif forge == "stale":
        payload, header = stripe_webhooks.delivery(event, SECRET, int(time.time()) - 3600)
    elif forge == "missing header":
        header = ""
    else:
        payload = payload.replace(b'"paid"', b'"paid" ')

    with pytest.raises(Unauthenticated):
        await world.payments.apply_webhook(payload, header)

    payment = await world.payments.repository.get(created.order_id)
    assert payment is not None
    assert payment.status is PaymentStatus.OPEN
    assert await _staged(world, created.order_id) == []


async def test_a_signed_payload_that_is_not_an_event_is_an_invalid_argument(
    world: World,
) -> None:
    payload = b"not json at all"
    with pytest.raises(InvalidArgument):
        await world.payments.apply_webhook(payload, stripe_webhooks.sign(payload, SECRET))


async def test_a_payment_for_the_wrong_amount_is_refused(world: World) -> None:
    created, session = await _checkout(world)
    event = stripe_webhooks.checkout_event(
        "checkout.session.completed", created.order_id, session, amount_total=1
    )

    with pytest.raises(InvalidArgument, match="paid 1"):
        await _webhook(world, event)

    assert await _staged(world, created.order_id) == []


async def test_an_expired_checkout_stages_order_expired(world: World) -> None:
    created, session = await _checkout(world)

    await _webhook(
        world, stripe_webhooks.checkout_event("checkout.session.expired", created.order_id, session)
    )

    payment = await world.payments.repository.get(created.order_id)
    assert payment is not None
    assert payment.status is PaymentStatus.EXPIRED
    assert await _staged(world, created.order_id) == ["order.expired"]


async def test_an_order_cancelled_before_its_checkout_never_gets_one(world: World) -> None:
    created = await _new_order(world)

    await world.payments.cancel(created.order_id)
    payment = await world.payments.start_checkout(created)

    assert payment.status is PaymentStatus.CANCELLED
    assert payment.checkout_session_id == ""


async def test_money_for_a_cancelled_order_is_refunded_not_cooked(world: World) -> None:
    created, session = await _checkout(world)
    await world.payments.cancel(created.order_id)

    await _webhook(
        world,
        stripe_webhooks.checkout_event("checkout.session.completed", created.order_id, session),
    )

    payment = await world.payments.repository.get(created.order_id)
    assert payment is not None
    assert payment.status is PaymentStatus.CANCELLED
    assert payment.refund_id.startswith("re_")
    assert await _staged(world, created.order_id) == []


async def test_a_checkout_whose_webhook_never_came_is_settled_with_stripe(world: World) -> None:
    created, _ = await _checkout(world)
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    await world.db.payments.update_one(
        {"_id": created.order_id}, {"$set": {"expires_at": long_ago}}
    )

    settled = await world.payments.reconcile_overdue()

    assert settled == 1
    payment = await world.payments.repository.get(created.order_id)
    assert payment is not None
    assert payment.status is PaymentStatus.EXPIRED
    assert await _staged(world, created.order_id) == ["order.expired"]


async def test_an_event_about_a_session_oms_did_not_open_is_acknowledged_and_ignored(
    world: World,
) -> None:
    event = stripe_webhooks.checkout_event("checkout.session.completed", "not-ours", "cs_other")

    outcome = await _webhook(world, event)

    assert outcome.duplicate is False
    assert outcome.event_type == "checkout.session.completed"
    assert await world.db.payments.count_documents({}) == 0
