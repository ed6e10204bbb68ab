"""The Kitchen service's composition root."""

from __future__ import annotations

import socket

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from oms import domain_events as events
from oms.kitchen import consumers, grpc_api
from oms.kitchen.domain import CookTimes, cook_names
from oms.kitchen.grpc_api import KitchenApi
from oms.kitchen.handlers import Kitchen
from oms.kitchen.repository import COLLECTION, MongoTicketRepository
from oms.platform.bootstrap import Platform, PlatformSettings, run_service
from oms.platform.runner import Lifecycle
from oms.platform.settings import OutboxSettings

NAME = "kitchen"


class KitchenSettings(OutboxSettings):
    """`KITCHEN_WORKERS` cooks per process, each taking `KITCHEN_SECONDS_PER_ITEM` per item,
    and never longer than `KITCHEN_LONGEST_COOK_SECONDS` for one order."""

    model_config = SettingsConfigDict(env_prefix="KITCHEN_")

    workers: int = Field(default=2, ge=1, le=64)
    seconds_per_item: float = Field(default=2.0, ge=0, le=3600)
    longest_cook_seconds: float = Field(default=60.0, ge=0, le=3600)
    # On SIGTERM: a cook who can finish within this does; one who cannot hands the order
    # back at once. Keep it below the pod's termination grace period.
    drain_seconds: float = Field(default=20.0, ge=0)
    queue_depth_interval_seconds: float = Field(default=5.0, gt=0)
    # The name this process's cooks go by (`<instance>/cook-<n>`), on tickets and events.
    # The host name (a pod's own on Kubernetes); processes sharing a host need one each.
    instance: str = Field(default_factory=socket.gethostname, min_length=1)


class Settings(PlatformSettings):
    kitchen: KitchenSettings = Field(default_factory=KitchenSettings)


async def build(platform: Platform, settings: Settings) -> None:
    config = settings.kitchen
    outbox = await platform.outbox(
        platform.db[COLLECTION], events.must_be_routed, config.outbox_sweep_seconds
    )
    tickets = MongoTicketRepository(platform.db[COLLECTION], outbox)
    times = CookTimes(config.seconds_per_item, config.longest_cook_seconds)
    kitchen = Kitchen(tickets, cook_names(config.instance, config.workers), times)
    await platform.consume(events.KITCHEN_VOIDS.queue, consumers.voids(kitchen))
    # The void above lands in one process; the cook may be in another: each hears it.
    await platform.follow([events.OrderRefunded.ROUTING_KEY], consumers.cooks_here(kitchen))
    # One unacknowledged order per cook: the broker hands out no more than can be cooked.
    await platform.consume(
        events.KITCHEN_ORDERS.queue,
        consumers.orders(kitchen),
        prefetch=config.workers,
        grace_seconds=config.drain_seconds + 5,
    )
    # Unwinding runs this before the consumer stops: cooks learn how long they have.
    platform.stack.push_async_callback(kitchen.drain, config.drain_seconds)
    await platform.every(
        "kitchen-queue-depth",
        config.queue_depth_interval_seconds,
        lambda: consumers.measure_queue(platform.broker),
    )
    await platform.serve(grpc_api.CONTRACT, KitchenApi(kitchen))


async def main(lifecycle: Lifecycle, settings: Settings) -> None:
    # The kitchen only consumes: without its broker it has nothing to do.
    await run_service(lifecycle, NAME, settings, events.EXCHANGE, build, broker_required=True)
