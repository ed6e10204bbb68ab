"""The Order service's composition root."""

from __future__ import annotations

from contextlib import AsyncExitStack

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from oms import domain_events as events
from oms.contracts.v1 import order_pb2, order_pb2_grpc
from oms.order import consumers
from oms.order.clients import MenuClient, StockClient
from oms.order.grpc_api import OrderApi
from oms.order.handlers import OrderHandlers
from oms.order.repository import INDEXES, MongoOrderRepository
from oms.platform.bootstrap import PlatformSettings, open_platform
from oms.platform.runner import Lifecycle

NAME = "order"


class OrderSettings(BaseSettings):
    """`ORDER_OUTBOX_INTERVAL_SECONDS`: how often stored events are retried when idle."""

    model_config = SettingsConfigDict(env_prefix="ORDER_")

    outbox_interval_seconds: float = Field(default=5.0, gt=0)


class Settings(PlatformSettings):
    order: OrderSettings = Field(default_factory=OrderSettings)


async def main(lifecycle: Lifecycle, settings: Settings) -> None:
    async with AsyncExitStack() as stack:
        platform = await open_platform(stack, NAME, settings, INDEXES)
        repository = MongoOrderRepository(platform.db)
        relay = await platform.relay_outbox(
            repository.orders, settings.order.outbox_interval_seconds
        )
        handlers = OrderHandlers(
            repository,
            MenuClient(platform.service("menu")),
            StockClient(platform.service("stock")),
            relay,
        )
        follow = consumers.OrderConsumers(handlers)
        payments, kitchen = events.ORDER_PAYMENTS, events.ORDER_KITCHEN
        await platform.consume(payments.queue, payments.routing_keys, follow.on_payment)
        await platform.consume(kitchen.queue, kitchen.routing_keys, follow.on_kitchen)
        api = OrderApi(handlers)
        await platform.serve_grpc(
            lambda server: order_pb2_grpc.add_OrderServiceServicer_to_server(api, server),
            [order_pb2.DESCRIPTOR.services_by_name["OrderService"].full_name],
        )
        lifecycle.mark_ready()
        await lifecycle.stopped()
