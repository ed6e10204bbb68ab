"""The Stock service's composition root."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from oms import domain_events as events
from oms import seed_file
from oms.contracts.v1 import stock_pb2, stock_pb2_grpc
from oms.platform import logs
from oms.platform.bootstrap import PlatformSettings, open_platform
from oms.platform.runner import Lifecycle
from oms.stock import consumers
from oms.stock.grpc_api import StockApi
from oms.stock.handlers import StockHandlers
from oms.stock.repository import MongoStockRepository

NAME = "stock"
log = logs.get(__name__)


class StockSettings(BaseSettings):
    """`STOCK_SEED_FILE`: starting quantities for items that have no stock record yet."""

    model_config = SettingsConfigDict(env_prefix="STOCK_")

    seed_file: str = str(seed_file.DEMO)
    # An operation on a reservation left unfinished this long is finished by another caller.
    takeover_after_seconds: float = Field(default=60.0, gt=0)


class Settings(PlatformSettings):
    stock: StockSettings = Field(default_factory=StockSettings)


async def main(lifecycle: Lifecycle, settings: Settings) -> None:
    async with AsyncExitStack() as stack:
        platform = await open_platform(stack, NAME, settings, events.EXCHANGE)
        repository = MongoStockRepository(platform.db)
        stack.push_async_callback(repository.close)
        handlers = StockHandlers(
            repository, timedelta(seconds=settings.stock.takeover_after_seconds)
        )
        if settings.stock.seed_file:
            log.info("stock.seeded", added=await handlers.seed(settings.stock.seed_file))
        await platform.consume(events.STOCK_ORDERS.queue, consumers.orders(handlers))
        api = StockApi(handlers)
        await platform.serve_grpc(
            lambda server: stock_pb2_grpc.add_StockServiceServicer_to_server(api, server),
            [stock_pb2.DESCRIPTOR.services_by_name["StockService"].full_name],
        )
        lifecycle.mark_ready()
        await lifecycle.stopped()
