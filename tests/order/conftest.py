"""Order's use cases on the real servers, with its ports on real services.

Orders live in the real FerretDB and publish through the real outbox relay to a RabbitMQ
vhost of the test's own, where a tap reads what was published. Menu and Stock are the real
services as processes (`devtools.platform`), reached through Order's own adapters. Payment is
a real gRPC server implementing `CloseCheckout` (`PaymentDesk`), so a test chooses what
closing a checkout finds: closed, never opened, or already paid.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from pymongo import AsyncMongoClient

from devtools import servers
from devtools.platform import LocalPlatform
from devtools.process import free_port
from oms import domain_events as events
from oms.contracts.v1 import (
    common_pb2,
    menu_pb2,
    menu_pb2_grpc,
    payment_pb2,
    payment_pb2_grpc,
    stock_pb2,
    stock_pb2_grpc,
)
from oms.order.clients import DeadlineTimers, MenuCache, PaymentClient, StockClient
from oms.order.domain import TERMINAL, Deadlines, Order, Status
from oms.order.handlers import OrderHandlers
from oms.order.reactions import OrderReactions
from oms.order.repository import COLLECTION, MongoOrderRepository, due_field
from oms.order_lines import Line
from oms.platform import mongo
from oms.platform.errors import Unavailable
from oms.platform.events import Event
from oms.platform.grpc_client import Balancer, Channels
from oms.platform.grpc_server import GrpcServer
from oms.platform.outbox import Outbox
from oms.platform.outbox_relay import OutboxRelay
from oms.platform.settings import GrpcSettings, MongoSettings
from oms.platform.timers import Timers
from tests.order.bus import Bus, Tap, bus, tap

__all__ = ["bus", "tap"]

DEADLINES = Deadlines(
    pending=timedelta(seconds=120),
    checkout_window=timedelta(hours=1),
    payment_grace=timedelta(seconds=120),
    kitchen_start=timedelta(minutes=10),
    cooking=timedelta(minutes=30),
    pickup=timedelta(hours=1),
)
CLOSED = payment_pb2.CLOSE_OUTCOME_CLOSED
NO_CHECKOUT = payment_pb2.CLOSE_OUTCOME_NO_CHECKOUT
ALREADY_PAID = payment_pb2.CLOSE_OUTCOME_ALREADY_PAID


@pytest.fixture(scope="session")
def platform(
    servers_dir: Path,
    rabbitmq: servers.RabbitMQ,
    ferretdb: servers.FerretDB,
    consul: servers.Consul,
    stripe_mock: servers.StripeMock,
) -> Iterator[LocalPlatform]:
    """Menu and Stock as processes, as their containers run them."""
    started = LocalPlatform(servers_dir / "oms-order", rabbitmq, ferretdb, consul, stripe_mock)
    try:
        started.start(("menu", "stock"))
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="session")
async def channels() -> AsyncIterator[Channels]:
    opened = Channels(GrpcSettings())
    yield opened
    await opened.close()


def address(platform: LocalPlatform, service: str) -> str:
    return f"127.0.0.1:{platform.running(service)[0].port}"


@dataclass
class Kitchenware:
    """Menu and Stock as the restaurant's staff set them up, over their gRPC APIs."""

    menu: menu_pb2_grpc.MenuServiceAsyncStub
    stock: stock_pb2_grpc.StockServiceAsyncStub

    async def dish(
        self, price_minor: int = 950, currency: str = "EUR", on_hand: int = 10, offered: bool = True
    ) -> str:
        """A menu item of the test's own, with `on_hand` in stock."""
        item_id = f"dish-{uuid.uuid4().hex[:12]}"
        item = menu_pb2.MenuItem(
            id=item_id,
            name=f"Dish {item_id[-4:]}",
            price=common_pb2.Money(amount_minor=price_minor, currency=currency),
            offered=offered,
        )
        await self.menu.UpsertItem(menu_pb2.UpsertItemRequest(item=item))
        await self.stock.SetLevel(stock_pb2.SetLevelRequest(item_id=item_id, on_hand=on_hand))
        return item_id

    async def reserved(self, item_id: str) -> int:
        response = await self.stock.GetLevels(stock_pb2.GetLevelsRequest(item_ids=[item_id]))
        reserved: int = response.levels[0].reserved
        return reserved


class PaymentDesk(payment_pb2_grpc.PaymentServiceServicer):
    """Payment's `CloseCheckout` on a real gRPC server: it answers `answer`, and notes the
    order's status in Order's storage at each call (so a test sees what came first)."""

    def __init__(self, orders: MongoOrderRepository) -> None:
        self.orders = orders
        self.answer = CLOSED
        self.unreachable = False  # then every call is UNAVAILABLE, as when Stripe is down
        # Runs while a checkout is being closed: what lands meanwhile (a capture, say).
        self.while_closing: Callable[[], Awaitable[None]] | None = None
        self.calls: list[tuple[str, Status | None]] = []

    async def CloseCheckout(
        self, request: payment_pb2.CloseCheckoutRequest, context: Any
    ) -> payment_pb2.CloseCheckoutResponse:
        order = await self.orders.get(request.order_id)
        self.calls.append((request.order_id, order.status if order else None))
        if self.while_closing is not None:
            await self.while_closing()
        if self.unreachable:
            raise Unavailable("Stripe is not answering")
        return payment_pb2.CloseCheckoutResponse(outcome=self.answer)

    async def GetPayment(self, request: Any, context: Any) -> payment_pb2.Payment:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Order never asks this")
        raise AssertionError("unreachable")

    async def HandleStripeWebhook(
        self, request: Any, context: Any
    ) -> payment_pb2.HandleStripeWebhookResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Order never asks this")
        raise AssertionError("unreachable")

    async def SignTestCompletion(
        self, request: Any, context: Any
    ) -> payment_pb2.SignTestCompletionResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Order never asks this")
        raise AssertionError("unreachable")


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@dataclass
class OrderWorld:
    handlers: OrderHandlers
    reactions: OrderReactions
    menu: MenuCache
    repository: MongoOrderRepository
    relay: OutboxRelay
    bus: Bus
    tap: Tap
    desk: PaymentDesk
    kitchenware: Kitchenware
    clock: Clock
    targets: dict[str, list[str]]

    async def published(self) -> list[Event]:
        """Every event published so far, once the relay has published what it was handed."""
        await self.relay.drain()
        return await self.tap.settle()

    async def place(self, *lines: tuple[str, int], customer: str = "alice", key: str = "") -> Order:
        return await self.handlers.place(customer, [Line(i, q) for i, q in lines], key)

    async def order(self, order_id: str) -> Order:
        order = await self.repository.get(order_id)
        assert order is not None
        return order

    async def stored(self, status: Status, price_minor: int = 950) -> Order:
        """A placed order (real Menu and Stock), then moved straight to `status` in storage,
        with the deadline a transition there stores."""
        dish = await self.dish(price_minor)
        order = await self.place((dish, 2))
        if status is not Status.PENDING:
            deadline = (
                None
                if status in TERMINAL
                else DEADLINES.of(status, self.clock.now, order.checkout_expires_at)
            )
            await self.repository.orders.update_one(
                {"_id": order.id},
                {
                    "$set": {"state.status": status.value, "due": due_field(deadline)},
                    "$push": {"history": {"status": status.value, "at": self.clock.now}},
                },
            )
        await self.published()
        self.tap.seen.clear()
        return await self.order(order.id)

    async def dish(
        self, price_minor: int = 950, currency: str = "EUR", on_hand: int = 10, offered: bool = True
    ) -> str:
        item_id = await self.kitchenware.dish(price_minor, currency, on_hand, offered)
        self.menu.invalidate()  # what `menu.changed` does in the service
        return item_id

    def stock_unreachable(self) -> None:
        self.targets["stock"] = [f"127.0.0.1:{free_port()}"]


@pytest.fixture
async def world(
    platform: LocalPlatform,
    channels: Channels,
    bus: Bus,
    tap: Tap,
    mongo_client: AsyncMongoClient[mongo.Document],
    mongo_settings: MongoSettings,
) -> AsyncIterator[OrderWorld]:
    db = mongo.database(mongo_client, mongo_settings)
    relay = OutboxRelay(db[COLLECTION], bus.broker, events.must_be_routed)
    await relay.start()
    repository = MongoOrderRepository(db[COLLECTION], Outbox(db[COLLECTION], relay))
    desk = PaymentDesk(repository)
    payment_server = GrpcServer(GrpcSettings(port=0), service_names=[])
    payment_pb2_grpc.add_PaymentServiceServicer_to_server(desk, payment_server.server)
    await payment_server.start()
    targets = {
        "menu": [address(platform, "menu")],
        "stock": [address(platform, "stock")],
        "payment": [payment_server.address],
    }

    async def resolve(service: str) -> list[str]:
        return targets[service]

    def balancer(service: str) -> Balancer:
        return Balancer(service, resolve, channels)

    clock = Clock()
    menu = MenuCache(balancer("menu"))
    handlers = OrderHandlers(
        repository,
        menu,
        StockClient(balancer("stock")),
        PaymentClient(balancer("payment")),
        DeadlineTimers(Timers(bus.broker)),
        DEADLINES,
        clock,
    )
    kitchenware = Kitchenware(
        menu_pb2_grpc.MenuServiceStub(channels.get(targets["menu"][0])),
        stock_pb2_grpc.StockServiceStub(channels.get(targets["stock"][0])),
    )
    yield OrderWorld(
        handlers,
        OrderReactions(handlers),
        menu,
        repository,
        relay,
        bus,
        tap,
        desk,
        kitchenware,
        clock,
        targets,
    )
    await relay.stop()
    await payment_server.server.stop(0)
