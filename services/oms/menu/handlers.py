"""Menu use cases: read the catalogue, change an item (and say so), seed a restaurant."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from oms import domain_events as events
from oms import seed_file
from oms.menu.domain import MenuItem
from oms.menu.repository import MenuRepository
from oms.platform.errors import InvalidArgument, NotFound
from oms.platform.events import Event

MAX_IDS = 200


class MenuHandlers:
    def __init__(self, repository: MenuRepository) -> None:
        self.repository = repository

    async def list_items(self, offered_only: bool) -> list[MenuItem]:
        return await self.repository.all(offered_only)

    async def get_items(self, ids: Sequence[str]) -> tuple[list[MenuItem], list[str]]:
        """The items with these ids, and the ids that are unknown."""
        unique = list(dict.fromkeys(ids))
        if len(unique) > MAX_IDS:
            raise InvalidArgument(f"at most {MAX_IDS} ids per call")
        found = await self.repository.get_many(unique)
        known = {item.id for item in found}
        return found, [item_id for item_id in unique if item_id not in known]

    async def upsert(self, item: MenuItem) -> MenuItem:
        await self.repository.save(item, [_changed(item.id)])
        return item

    async def set_offered(self, item_id: str, offered: bool) -> MenuItem:
        item = await self.repository.set_offered(item_id, offered, [_changed(item_id)])
        if item is None:
            raise NotFound(f"no menu item {item_id!r}")
        return item

    async def seed(self, path: str) -> int:
        """Add the seed file's items that do not exist yet; edits made since survive.

        Each item added is announced like any change: a cache loaded before this Menu
        started (another process's) would otherwise not know it until it reloads.
        """
        added = 0
        for entry in seed_file.read(Path(path)).items:
            item = MenuItem(**entry)
            added += await self.repository.add(item, [_changed(item.id)])
        return added


def _changed(item_id: str) -> Event:
    return events.MenuChanged(item_id=item_id).to_event()
