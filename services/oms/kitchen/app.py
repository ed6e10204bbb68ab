"""The Kitchen service's composition root."""

from __future__ import annotations

from contextlib import AsyncExitStack

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from oms import domain_events as events
from oms.contracts.v1 import kitchen_pb2, kitchen_pb2_grpc
from oms.kitchen.grpc_api import KitchenApi
from oms.kitchen.handlers import Kitchen
from oms.kitchen.repository import INDEXES, MongoTicketRepository
from oms.platform.bootstrap import PlatformSettings, open_platform
from oms.platform.runner import Lifecycle

NAME = "kitchen"


class KitchenSettings(BaseSettings):
    """`KITCHEN_WORKERS` cooks per process, each taking `KITCHEN_SECONDS_PER_ITEM` per item."""

    model_config = SettingsConfigDict(env_prefix="KITCHEN_")

    workers: int = Field(default=2, ge=1, le=64)
    seconds_per_item: float = Field(default=2.0, ge=0, le=3600)
    outbox_interval_seconds: float = Field(default=5.0, gt=0)
    # How long a stopping kitchen lets its cooks finish before RabbitMQ gets the orders back.
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)


class Settings(PlatformSettings):
    kitchen: KitchenSettings = Field(default_factory=KitchenSettings)


async def main(lifecycle: Lifecycle, settings: Settings) -> None:
    async with AsyncExitStack() as stack:
        platform = await open_platform(stack, NAME, settings, INDEXES)
        repository = MongoTicketRepository(platform.db)
        relay = await platform.relay_outbox(
            repository.tickets, settings.kitchen.outbox_interval_seconds
        )
        kitchen = Kitchen(
            repository, relay, settings.kitchen.workers, settings.kitchen.seconds_per_item
        )
        orders = events.KITCHEN_ORDERS
        # One unacknowledged order per cook: the broker hands out no more than can be cooked.
        await platform.consume(
            orders.queue,
            orders.routing_keys,
            kitchen.handle,
            prefetch=settings.kitchen.workers,
            grace_seconds=settings.kitchen.shutdown_grace_seconds,
        )
        api = KitchenApi(kitchen)
        await platform.serve_grpc(
            lambda server: kitchen_pb2_grpc.add_KitchenServiceServicer_to_server(api, server),
            [kitchen_pb2.DESCRIPTOR.services_by_name["KitchenService"].full_name],
        )
        lifecycle.mark_ready()
        await lifecycle.stopped()
