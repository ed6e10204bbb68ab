"""The Menu service's composition root."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from oms import domain_events as events
from oms import seed_file
from oms.menu import grpc_api
from oms.menu.grpc_api import MenuApi
from oms.menu.handlers import MenuHandlers
from oms.menu.repository import COLLECTION, MongoMenuRepository
from oms.platform.bootstrap import Platform, PlatformSettings, run_service
from oms.platform.runner import Lifecycle
from oms.platform.settings import OutboxSettings

NAME = "menu"


class MenuSettings(seed_file.SeedSettings, OutboxSettings):
    """`MENU_SEED_FILE`: the menu loaded at start-up (empty string: none)."""

    model_config = SettingsConfigDict(env_prefix="MENU_")


class Settings(PlatformSettings):
    menu: MenuSettings = Field(default_factory=MenuSettings)


async def build(platform: Platform, settings: Settings) -> None:
    items = platform.db[COLLECTION]
    outbox = await platform.outbox(items, events.must_be_routed, settings.menu.outbox_sweep_seconds)
    handlers = MenuHandlers(MongoMenuRepository(items, outbox))
    await seed_file.load(NAME, settings.menu.seed_file, handlers.seed)
    await platform.serve(grpc_api.CONTRACT, MenuApi(handlers))


async def main(lifecycle: Lifecycle, settings: Settings) -> None:
    await run_service(lifecycle, NAME, settings, events.EXCHANGE, build)
