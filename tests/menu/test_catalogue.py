"""Reading the menu: every item or those on offer, and items by id with the unknown ones
listed (never an error), at most 200 ids a call."""

from __future__ import annotations

import pytest

from oms.menu.handlers import MAX_IDS
from oms.platform.errors import InvalidArgument
from tests.menu.conftest import MenuWorld, item


async def test_the_menu_lists_every_item_or_only_those_on_offer_by_name(
    world: MenuWorld,
) -> None:
    for added in (item("tiramisu"), item("diavola"), item("wine", offered=False)):
        await world.handlers.upsert(added)

    everything = await world.handlers.list_items(offered_only=False)
    offered = await world.handlers.list_items(offered_only=True)

    assert [i.id for i in everything] == ["diavola", "tiramisu", "wine"]
    assert [i.id for i in offered] == ["diavola", "tiramisu"]
    assert everything[0] == item("diavola")


async def test_items_are_found_by_id_and_unknown_ids_are_reported(world: MenuWorld) -> None:
    await world.handlers.upsert(item("diavola"))
    await world.handlers.upsert(item("wine", offered=False))

    found, unknown = await world.handlers.get_items(["ghost", "wine", "diavola", "ghost", "x"])

    assert [i.id for i in found] == ["wine", "diavola"]
    assert unknown == ["ghost", "x"]  # once each, in the order asked


async def test_at_most_two_hundred_different_ids_are_looked_up_at_once(world: MenuWorld) -> None:
    await world.handlers.upsert(item("diavola"))

    found, unknown = await world.handlers.get_items(["diavola"] * (MAX_IDS + 50))
    with pytest.raises(InvalidArgument, match=str(MAX_IDS)):
        await world.handlers.get_items([f"item-{n}" for n in range(MAX_IDS + 1)])

    assert ([i.id for i in found], unknown) == (["diavola"], [])
