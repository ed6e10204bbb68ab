"""The Menu service's composition root."""

from __future__ import annotations

from contextlib import AsyncExitStack

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from oms import domain_events as events
from oms import seed_file
from oms.contracts.v1 import menu_pb2, menu_pb2_grpc
from oms.menu.grpc_api import MenuApi
from oms.menu.handlers import MenuHandlers
from oms.menu.repository import COLLECTION, MongoMenuRepository
from oms.platform import logs
from oms.platform.bootstrap import PlatformSettings, open_platform
from oms.platform.runner import Lifecycle

NAME = "menu"
log = logs.get(__name__)


class MenuSettings(BaseSettings):
    """`MENU_SEED_FILE`: the menu loaded at start-up (empty string: none)."""

    model_config = SettingsConfigDict(env_prefix="MENU_")

    seed_file: str = str(seed_file.DEMO)
    outbox_sweep_seconds: float = Field(default=30.0, gt=0)


class Settings(PlatformSettings):
    menu: MenuSettings = Field(default_factory=MenuSettings)


async def main(lifecycle: Lifecycle, settings: Settings) -> None:
    async with AsyncExitStack() as stack:
        platform = await open_platform(stack, NAME, settings, events.EXCHANGE)
        items = platform.db[COLLECTION]
        outbox = await platform.outbox(
            items, events.must_be_routed, settings.menu.outbox_sweep_seconds
        )
        handlers = MenuHandlers(MongoMenuRepository(items, outbox))
        if settings.menu.seed_file:
            log.info("menu.seeded", added=await handlers.seed(settings.menu.seed_file))
        api = MenuApi(handlers)
        await platform.serve_grpc(
            lambda server: menu_pb2_grpc.add_MenuServiceServicer_to_server(api, server),
            [menu_pb2.DESCRIPTOR.services_by_name["MenuService"].full_name],
        )
        lifecycle.mark_ready()
        await lifecycle.stopped()
