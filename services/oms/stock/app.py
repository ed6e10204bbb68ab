"""The Stock service's composition root."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from oms import domain_events as events
from oms import seed_file as restaurant_seed
from oms.contracts.v1 import stock_pb2, stock_pb2_grpc
from oms.platform import logs
from oms.platform.bootstrap import PlatformSettings, open_platform
from oms.platform.runner import Lifecycle
from oms.stock.consumers import StockConsumers
from oms.stock.grpc_api import StockApi
from oms.stock.handlers import StockHandlers
from oms.stock.repository import MongoStockRepository

NAME = "stock"
log = logs.get(__name__)


class StockSettings(BaseSettings):
    """`STOCK_SEED_FILE`: starting quantities for items that have no stock record yet."""

    model_config = SettingsConfigDict(env_prefix="STOCK_")

    seed_file: str = str(restaurant_seed.DEMO)


class Settings(PlatformSettings):
    stock: StockSettings = Field(default_factory=StockSettings)


async def seed(repository: MongoStockRepository, path: Path) -> None:
    quantities = restaurant_seed.read(path).stock
    known = {level.item_id for level in await repository.levels(list(quantities))}
    for item_id, quantity in quantities.items():
        if item_id not in known:
            await repository.set_on_hand(item_id, quantity)


async def main(lifecycle: Lifecycle, settings: Settings) -> None:
    async with AsyncExitStack() as stack:
        platform = await open_platform(stack, NAME, settings)
        repository = MongoStockRepository(platform.db)
        if settings.stock.seed_file:
            await seed(repository, Path(settings.stock.seed_file))
        handlers = StockHandlers(repository)
        subscription = events.STOCK_ORDERS
        await platform.consume(
            subscription.queue, subscription.routing_keys, StockConsumers(handlers).handle
        )
        api = StockApi(handlers)
        await platform.serve_grpc(
            lambda server: stock_pb2_grpc.add_StockServiceServicer_to_server(api, server),
            [stock_pb2.DESCRIPTOR.services_by_name["StockService"].full_name],
        )
        lifecycle.mark_ready()
        await lifecycle.stopped()
