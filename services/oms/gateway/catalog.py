"""The menu as customers see it: items on offer, priced, with a sold-out flag from Stock.

Read through a short cache (`GATEWAY_MENU_CACHE_SECONDS`), dropped at once when Menu says an
item changed (`menu.changed`), so a page load costs no call most of the time.
"""

from __future__ import annotations

import asyncio
import time

from oms.gateway.clients import Backends
from oms.gateway.schemas import Menu, MenuItem
from oms.platform.events import Event


class Catalog:
    def __init__(self, backends: Backends, ttl_seconds: float) -> None:
        self.backends = backends
        self.ttl_seconds = ttl_seconds
        self._menu: Menu | None = None
        self._at = 0.0
        self._changes = 0  # a read that a change overtook is not kept
        self._lock = asyncio.Lock()

    async def on_menu_changed(self, _: Event) -> None:
        self.forget()

    def forget(self) -> None:
        """Read the menu afresh on the next request."""
        self._menu = None
        self._changes += 1

    def _fresh(self) -> Menu | None:
        if self._menu is not None and time.monotonic() - self._at < self.ttl_seconds:
            return self._menu
        return None

    async def menu(self) -> Menu:
        if (menu := self._fresh()) is not None:
            return menu
        async with self._lock:
            menu = self._fresh()
            while menu is None:
                changes = self._changes
                menu = await self._read()
                if changes != self._changes:
                    menu = None  # a change overtook this read: read again
                    continue
                self._menu, self._at = menu, time.monotonic()
            return menu

    async def _read(self) -> Menu:
        items = await self.backends.menu.list_items(offered_only=True)
        levels = await self.backends.stock.levels([item.id for item in items])
        available = {level.item_id: level.available for level in levels}
        return Menu(
            items=[
                MenuItem.from_proto(item, sold_out=available.get(item.id, 0) <= 0) for item in items
            ]
        )
