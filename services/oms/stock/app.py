"""The Stock service's composition root."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from oms import domain_events as events
from oms import seed_file
from oms.platform.bootstrap import Platform, PlatformSettings, run_service
from oms.platform.runner import Lifecycle
from oms.stock import consumers, grpc_api
from oms.stock.grpc_api import StockApi
from oms.stock.handlers import StockHandlers
from oms.stock.repository import MongoStockRepository

NAME = "stock"


class StockSettings(seed_file.SeedSettings):
    """`STOCK_SEED_FILE`: starting quantities for items that have no stock record yet."""

    model_config = SettingsConfigDict(env_prefix="STOCK_")

    # An operation on a reservation left unfinished this long is finished by another caller.
    takeover_after_seconds: float = Field(default=60.0, gt=0)


class Settings(PlatformSettings):
    stock: StockSettings = Field(default_factory=StockSettings)


async def build(platform: Platform, settings: Settings) -> None:
    repository = MongoStockRepository(platform.db)
    platform.stack.push_async_callback(repository.close)
    handlers = StockHandlers(repository, timedelta(seconds=settings.stock.takeover_after_seconds))
    await seed_file.load(NAME, settings.stock.seed_file, handlers.seed)
    await platform.consume(
        events.STOCK_ORDERS.queue, consumers.orders(handlers), retired=events.STOCK_ORDERS.retired
    )
    await platform.serve(grpc_api.CONTRACT, StockApi(handlers))


async def main(lifecycle: Lifecycle, settings: Settings) -> None:
    await run_service(lifecycle, NAME, settings, events.EXCHANGE, build)
