"""Changing the menu: each change is stored with its `menu.changed` in one write, so the
caches that price orders (Order's, the gateway's) drop the item and read it again."""

from __future__ import annotations

import pytest

from oms.platform.errors import NotFound
from tests.menu.conftest import MenuWorld, item


async def test_adding_and_replacing_an_item_each_announce_it(world: MenuWorld) -> None:
    await world.handlers.upsert(item("diavola", 1150))
    replaced = await world.handlers.upsert(item("diavola", 1250, name="Diavola piccante"))

    assert replaced == item("diavola", 1250, name="Diavola piccante")
    assert await world.handlers.list_items(offered_only=False) == [replaced]
    assert await world.changed() == ["diavola", "diavola"]


async def test_taking_an_item_off_the_menu_and_back_announces_it(world: MenuWorld) -> None:
    await world.handlers.upsert(item("diavola"))

    off = await world.handlers.set_offered("diavola", False)
    back = await world.handlers.set_offered("diavola", True)

    assert (off.offered, back.offered) == (False, True)
    assert back == item("diavola")
    assert await world.changed() == ["diavola", "diavola", "diavola"]


async def test_an_unknown_item_cannot_be_taken_off_and_nothing_is_announced(
    world: MenuWorld,
) -> None:
    with pytest.raises(NotFound, match="ghost"):
        await world.handlers.set_offered("ghost", False)

    assert await world.handlers.list_items(offered_only=False) == []
    assert await world.changed() == []
