"""Levels: staff set what is on hand without touching what orders hold, the seed file adds only
what is missing, and a check reads without holding."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from oms.limits import MAX_ON_HAND
from oms.platform.errors import InvalidArgument, Unavailable
from oms.platform.mongo import Document
from oms.stock.domain import Level, Shortage
from oms.stock.handlers import StockHandlers
from oms.stock.repository import MongoStockRepository
from tests.stock.conftest import Spawn
from tests.stock.support import NO_TIMED_FLUSH, held, levels, lines, new_order, stocked


async def test_setting_on_hand_keeps_what_orders_hold(stock: StockHandlers) -> None:
    await stocked(stock, pizza=5)
    await held(stock, pizza=4)

    assert await stock.set_on_hand("pizza", 10) == Level("pizza", 10, 6)
    assert await stock.set_on_hand("pizza", 4) == Level("pizza", 4, 0)
    assert (await stock.levels(["pizza"]))[0].reserved == 4


async def test_on_hand_cannot_go_below_what_orders_hold(stock: StockHandlers) -> None:
    await stocked(stock, pizza=5)
    await held(stock, pizza=4)

    with pytest.raises(InvalidArgument, match="hold more of pizza than 3"):
        await stock.set_on_hand("pizza", 3)

    assert await levels(stock, "pizza") == {"pizza": (5, 1)}


async def test_setting_on_hand_of_a_new_item_stocks_it(stock: StockHandlers) -> None:
    assert await stock.set_on_hand("olive", 7) == Level("olive", 7, 7)
    assert await stock.set_on_hand("olive", 0) == Level("olive", 0, 0)


@pytest.mark.parametrize(
    ("item_id", "on_hand", "message"),
    [("pizza", -1, "on_hand"), ("pizza", MAX_ON_HAND + 1, "on_hand"), ("", 1, "item_id")],
)
async def test_a_bad_level_is_refused(
    stock: StockHandlers, item_id: str, on_hand: int, message: str
) -> None:
    await stocked(stock, pizza=5)

    with pytest.raises(InvalidArgument, match=message):
        await stock.set_on_hand(item_id, on_hand)

    assert await levels(stock, "pizza") == {"pizza": (5, 5)}


async def test_setting_on_hand_while_orders_race_keeps_every_hold(stock: StockHandlers) -> None:
    await stocked(stock, pizza=50)

    restock = asyncio.create_task(stock.set_on_hand("pizza", 100))
    results = await asyncio.gather(*(stock.reserve(new_order(), lines(pizza=1)) for _ in range(80)))

    holds = sum(1 for shortages in results if not shortages)
    assert (await restock).on_hand == 100
    assert await levels(stock, "pizza") == {"pizza": (100, 100 - holds)}


class BusyItem(MongoStockRepository):
    """Between each read of a level and the write that follows it, another order holds one
    (or, with `selling`, one is sold: on hand changes too)."""

    def __init__(self, db: AsyncDatabase[Document], selling: bool = False) -> None:
        super().__init__(db, flush_after_seconds=NO_TIMED_FLUSH)
        self.changes = 0
        self.counter = "stock.on_hand" if selling else "stock.available"

    async def level(self, item_id: str) -> Level | None:
        level = await super().level(item_id)
        await self.items.update_one({"_id": item_id}, {"$inc": {self.counter: -1}})
        self.changes += 1
        return level


async def test_holds_landing_between_read_and_write_do_not_stop_a_restock(
    db: AsyncDatabase[Document], spawn: Spawn
) -> None:
    busy = BusyItem(db)
    stock = spawn(busy)
    await stocked(stock, pizza=100)
    holds_before = busy.changes

    level = await stock.set_on_hand("pizza", 200)

    holds = busy.changes - holds_before
    assert level == Level("pizza", 200, 200 - holds)
    assert await levels(stock, "pizza") == {"pizza": (200, 200 - holds)}


async def test_an_item_sold_without_pause_is_answered_try_again(
    db: AsyncDatabase[Document], spawn: Spawn
) -> None:
    stock = spawn(BusyItem(db, selling=True))
    await stocked(stock, pizza=100)

    with pytest.raises(Unavailable, match="try again"):
        await stock.set_on_hand("pizza", 200)


async def test_the_seed_adds_only_missing_items(stock: StockHandlers, tmp_path: Path) -> None:
    seed = tmp_path / "restaurant.json"
    seed.write_text(json.dumps({"items": [], "stock": {"pizza": 5, "wine": 7}}))
    await stocked(stock, pizza=2)  # edited by staff since an earlier start

    assert await stock.seed(str(seed)) == 1
    assert await stock.seed(str(seed)) == 0

    assert await levels(stock, "pizza", "wine") == {"pizza": (2, 2), "wine": (7, 7)}


async def test_a_seed_without_stock_adds_nothing(stock: StockHandlers, tmp_path: Path) -> None:
    seed = tmp_path / "restaurant.json"
    seed.write_text(json.dumps({"items": [{"id": "pizza"}]}))

    assert await stock.seed(str(seed)) == 0
    assert await stock.levels([]) == []


async def test_check_reports_shortages_without_holding_anything(stock: StockHandlers) -> None:
    await stocked(stock, pizza=2, wine=1)

    shortages = await stock.check(lines(pizza=3, wine=1, ghost=1))

    assert shortages == [Shortage("ghost", 1, 0), Shortage("pizza", 3, 2)]
    assert await levels(stock, "pizza", "wine") == {"pizza": (2, 2), "wine": (1, 1)}


async def test_levels_list_the_asked_items_or_all_by_id(stock: StockHandlers) -> None:
    await stocked(stock, wine=1, pizza=2, bread=3)
    await held(stock, pizza=1)

    assert await stock.levels(["wine", "ghost", "pizza"]) == [
        Level("pizza", 2, 1),
        Level("wine", 1, 1),
    ]
    assert [level.item_id for level in await stock.levels([])] == ["bread", "pizza", "wine"]
