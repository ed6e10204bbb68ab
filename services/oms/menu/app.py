"""The Menu service's composition root."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from oms import seed_file as restaurant_seed
from oms.contracts.v1 import menu_pb2, menu_pb2_grpc
from oms.menu.domain import MenuItem
from oms.menu.grpc_api import MenuApi
from oms.menu.repository import MongoMenuRepository
from oms.platform import logs
from oms.platform.bootstrap import PlatformSettings, open_platform
from oms.platform.runner import Lifecycle

NAME = "menu"
log = logs.get(__name__)


class MenuSettings(BaseSettings):
    """`MENU_SEED_FILE`: the menu loaded at start-up (empty string: none)."""

    model_config = SettingsConfigDict(env_prefix="MENU_")

    seed_file: str = str(restaurant_seed.DEMO)


class Settings(PlatformSettings):
    menu: MenuSettings = Field(default_factory=MenuSettings)


async def main(lifecycle: Lifecycle, settings: Settings) -> None:
    async with AsyncExitStack() as stack:
        platform = await open_platform(stack, NAME, settings)
        repository = MongoMenuRepository(platform.db)
        if settings.menu.seed_file:
            items = restaurant_seed.read(Path(settings.menu.seed_file)).items
            added = await repository.seed([MenuItem(**entry) for entry in items])
            log.info("menu.seeded", added=added)
        api = MenuApi(repository)
        await platform.serve_grpc(
            lambda server: menu_pb2_grpc.add_MenuServiceServicer_to_server(api, server),
            [menu_pb2.DESCRIPTOR.services_by_name["MenuService"].full_name],
        )
        lifecycle.mark_ready()
        await lifecycle.stopped()
