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
        self._lock = asyncio.Lock()

    async def on_menu_changed(self, _: Event) -> None:
        self._menu = None

    async def menu(self) -> Menu:
        if self._menu is not None and time.monotonic() - self._at < self.ttl_seconds:
            return self._menu
        async with self._lock:
            if self._menu is None or time.monotonic() - self._at >= self.ttl_seconds:
                items = await self.backends.menu.list_items(offered_only=True)
                levels = await self.backends.stock.levels([item.id for item in items])
                available = {level.item_id: level.available for level in levels}
                self._menu = Menu(
                    items=[
                        MenuItem.from_proto(item, sold_out=available.get(item.id, 0) <= 0)
                        for item in items
                    ]
                )
                self._at = time.monotonic()
            return self._menu
