"""Seeding a restaurant's menu at start-up: only the items that do not exist yet are added
(and announced), so what staff changed since survives every restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oms import seed_file
from oms.platform.errors import InvalidArgument
from tests.menu.conftest import MenuWorld, item


def _seed(path: Path, *items: dict[str, object]) -> str:
    path.write_text(json.dumps({"restaurant": "Test", "items": list(items)}))
    return str(path)


def _entry(item_id: str, price_minor: int) -> dict[str, object]:
    return {
        "id": item_id,
        "name": item_id.title(),
        "description": "",
        "price_minor": price_minor,
        "currency": "EUR",
    }


async def test_seeding_adds_only_missing_items_and_edits_survive(
    world: MenuWorld, tmp_path: Path
) -> None:
    first = _seed(tmp_path / "v1.json", _entry("diavola", 1150), _entry("wine", 500))
    assert await world.handlers.seed(first) == 2
    await world.handlers.upsert(item("diavola", 1300))  # staff raise the price
    await world.handlers.set_offered("wine", False)

    second = _seed(
        tmp_path / "v2.json", _entry("diavola", 1150), _entry("wine", 500), _entry("tiramisu", 600)
    )
    added = await world.handlers.seed(second)

    assert added == 1
    listed = {i.id: (i.price_minor, i.offered) for i in await world.handlers.list_items(False)}
    assert listed == {"diavola": (1300, True), "wine": (500, False), "tiramisu": (600, True)}
    # Caches hear of the added items too, not only of staff's changes (in order per item).
    assert sorted(await world.changed()) == ["diavola", "diavola", "tiramisu", "wine", "wine"]


async def test_the_demo_restaurant_seeds_once(world: MenuWorld) -> None:
    demo = seed_file.read(seed_file.DEMO)

    assert await world.handlers.seed(str(seed_file.DEMO)) == len(demo.items)
    assert await world.handlers.seed(str(seed_file.DEMO)) == 0


async def test_a_seed_item_breaking_the_rules_is_refused(world: MenuWorld, tmp_path: Path) -> None:
    bad = _seed(tmp_path / "bad.json", _entry("Not An Id", 100))

    with pytest.raises(InvalidArgument):
        await world.handlers.seed(bad)

    assert await world.handlers.list_items(offered_only=False) == []
