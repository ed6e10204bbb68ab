"""The order state machine on a real MongoDB-wire server: legal steps apply once, repeats are
no-ops, and illegal transitions are refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient

from oms.order.clients import MenuClient, StockClient
from oms.order.domain import IllegalTransition, Order, OrderItem, Status
from oms.order.handlers import OrderHandlers
from oms.order.repository import MongoOrderRepository
from oms.platform import mongo
from oms.platform.broker import Broker
from oms.platform.errors import InvalidArgument, NotFound
from oms.platform.grpc_client import Balancer, Channels
from oms.platform.outbox import OutboxRelay
from oms.platform.settings import GrpcSettings, MongoSettings, RabbitMQSettings


async def _nowhere(_: str) -> list[str]:
    return []


@pytest.fixture
def orders(
    mongo_client: AsyncMongoClient[mongo.Document], mongo_settings: MongoSettings
) -> OrderHandlers:
    repository = MongoOrderRepository(mongo.database(mongo_client, mongo_settings))
    channels = Channels(GrpcSettings())
    # These steps never call Menu or Stock, nor publish: the clients resolve no instance.
    return OrderHandlers(
        repository,
        MenuClient(Balancer("menu", _nowhere, channels)),
        StockClient(Balancer("stock", _nowhere, channels)),
        OutboxRelay(repository.orders, Broker(RabbitMQSettings())),
    )


async def _stored(
    orders: OrderHandlers, status: Status = Status.PENDING, minutes_ago: int = 0
) -> Order:
    now = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    item = OrderItem("pizza", "Pizza", 2, 900)
    order = Order(str(uuid.uuid4()), "alice", status, (item,), "EUR", now, now)
    await orders.repository.insert(order, [])
    return order


async def test_an_order_walks_its_lifecycle_to_ready(orders: OrderHandlers) -> None:
    order = await _stored(orders)

    await orders.attach_payment(order.id, "cs_1", "https://pay.example/1", None)
    for step in (Status.PAID, Status.PREPARING, Status.READY):
        await orders.advance(order.id, step)

    final = await orders.get("alice", order.id)
    assert final.status is Status.READY
    assert final.payment_link == "https://pay.example/1"
    assert final.total_minor == 1800


async def test_a_repeated_step_is_a_no_op(orders: OrderHandlers) -> None:
    order = await _stored(orders, Status.AWAITING_PAYMENT)

    assert await orders.advance(order.id, Status.PAID) is not None
    assert await orders.advance(order.id, Status.PAID) is None
    await orders.advance(order.id, Status.PREPARING)
    assert await orders.advance(order.id, Status.PAID) is None  # already past it


@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        (Status.AWAITING_PAYMENT, Status.PREPARING),
        (Status.PENDING, Status.READY),
        (Status.CANCELLED, Status.PAID),
        (Status.EXPIRED, Status.PAID),
        (Status.READY, Status.CANCELLED),
        (Status.PAID, Status.EXPIRED),
    ],
)
async def test_an_illegal_transition_is_refused(
    orders: OrderHandlers, current: Status, wanted: Status
) -> None:
    order = await _stored(orders, current)

    with pytest.raises(IllegalTransition) as refused:
        await orders.advance(order.id, wanted)

    assert refused.value.current is current
    assert (await orders.get("alice", order.id)).status is current


async def test_another_customers_order_is_not_found(orders: OrderHandlers) -> None:
    order = await _stored(orders)

    with pytest.raises(NotFound):
        await orders.get("mallory", order.id)


async def test_orders_are_listed_newest_first_a_page_at_a_time(orders: OrderHandlers) -> None:
    stored = [await _stored(orders, minutes_ago=5 - n) for n in range(5)]

    first, token = await orders.list_orders("alice", 2, "")
    second, token2 = await orders.list_orders("alice", 2, token)
    third, end = await orders.list_orders("alice", 2, token2)

    listed = [order.id for order in first + second + third]
    assert listed == [order.id for order in reversed(stored)]
    assert end == ""
    with pytest.raises(InvalidArgument):
        await orders.list_orders("alice", 2, "not-a-token")


async def test_a_kitchen_step_that_overtakes_the_payment_event_takes_every_step_in_order(
    orders: OrderHandlers,
) -> None:
    order = await _stored(orders, Status.AWAITING_PAYMENT)

    ready = await orders.advance_implied(order.id, Status.READY, since=Status.AWAITING_PAYMENT)
    late_payment = await orders.advance(order.id, Status.PAID)

    assert ready is not None
    assert ready.status is Status.READY
    assert late_payment is None  # already past it: a no-op


@pytest.mark.parametrize("status", [Status.CANCELLED, Status.EXPIRED, Status.PENDING])
async def test_a_kitchen_step_cannot_revive_or_skip_ahead_of_an_order(
    orders: OrderHandlers, status: Status
) -> None:
    order = await _stored(orders, status)

    with pytest.raises(IllegalTransition):
        await orders.advance_implied(order.id, Status.PREPARING, since=Status.AWAITING_PAYMENT)

    assert (await orders.get("alice", order.id)).status is status
