"""Stock reservations on a real MongoDB-wire server: all or nothing, never oversold, and each
call idempotent per order."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from pymongo import AsyncMongoClient

from oms.order_lines import Line
from oms.platform import mongo
from oms.platform.errors import FailedPrecondition, InvalidArgument
from oms.platform.settings import MongoSettings
from oms.stock.handlers import StockHandlers
from oms.stock.repository import MongoStockRepository


@pytest.fixture
def stock(
    mongo_client: AsyncMongoClient[mongo.Document], mongo_settings: MongoSettings
) -> StockHandlers:
    return StockHandlers(MongoStockRepository(mongo.database(mongo_client, mongo_settings)))


async def _levels(stock: StockHandlers, *items: str) -> dict[str, tuple[int, int, int]]:
    levels = await stock.repository.levels(list(items))
    return {level.item_id: (level.on_hand, level.reserved, level.available) for level in levels}


def _order() -> str:
    return str(uuid.uuid4())


async def test_a_reservation_takes_every_line_or_none(stock: StockHandlers) -> None:
    await stock.repository.set_on_hand("pizza", 5)
    await stock.repository.set_on_hand("wine", 1)

    shortages = await stock.reserve(_order(), [Line("pizza", 2), Line("wine", 2)])

    assert [(s.item_id, s.requested, s.available) for s in shortages] == [("wine", 2, 1)]
    assert await _levels(stock, "pizza", "wine") == {"pizza": (5, 0, 5), "wine": (1, 0, 1)}


async def test_an_unknown_item_is_short_with_nothing_available(stock: StockHandlers) -> None:
    shortages = await stock.reserve(_order(), [Line("ghost", 1)])

    assert [(s.item_id, s.available) for s in shortages] == [("ghost", 0)]


async def test_reserving_twice_for_one_order_takes_stock_once(stock: StockHandlers) -> None:
    await stock.repository.set_on_hand("pizza", 5)
    order = _order()

    assert await stock.reserve(order, [Line("pizza", 3)]) == []
    assert await stock.reserve(order, [Line("pizza", 3)]) == []

    assert await _levels(stock, "pizza") == {"pizza": (5, 3, 2)}


async def test_two_hundred_concurrent_orders_never_oversell_fifty_units(
    stock: StockHandlers,
) -> None:
    await stock.repository.set_on_hand("truffle", 50)

    results = await asyncio.gather(
        *(stock.reserve(_order(), [Line("truffle", 1)]) for _ in range(200))
    )

    assert sum(1 for shortages in results if not shortages) == 50
    assert await _levels(stock, "truffle") == {"truffle": (50, 50, 0)}


async def test_release_gives_the_stock_back_once(stock: StockHandlers) -> None:
    await stock.repository.set_on_hand("pizza", 4)
    order = _order()
    await stock.reserve(order, [Line("pizza", 3)])

    assert await stock.release(order, "cancelled") is True
    assert await stock.release(order, "cancelled") is True

    assert await _levels(stock, "pizza") == {"pizza": (4, 0, 4)}


async def test_commit_makes_the_reservation_final(stock: StockHandlers) -> None:
    await stock.repository.set_on_hand("pizza", 4)
    order = _order()
    await stock.reserve(order, [Line("pizza", 3)])

    assert await stock.commit(order) is True
    assert await stock.commit(order) is True

    assert await _levels(stock, "pizza") == {"pizza": (1, 0, 1)}
    with pytest.raises(FailedPrecondition, match="paid"):
        await stock.release(order, "too late")


async def test_a_released_reservation_cannot_be_committed_or_reserved_again(
    stock: StockHandlers,
) -> None:
    await stock.repository.set_on_hand("pizza", 4)
    order = _order()
    await stock.reserve(order, [Line("pizza", 1)])
    await stock.release(order, "expired")

    with pytest.raises(FailedPrecondition):
        await stock.commit(order)
    with pytest.raises(FailedPrecondition):
        await stock.reserve(order, [Line("pizza", 1)])


async def test_releasing_an_unknown_order_is_a_no_op(stock: StockHandlers) -> None:
    assert await stock.release(_order(), "cancelled") is False


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "at least one item"),
        ([Line("pizza", 0)], "quantity"),
        ([Line("pizza", 101)], "quantity"),
        ([Line("", 1)], "item id"),
        ([Line("pizza", 60), Line("pizza", 60)], "at most 100"),
    ],
)
async def test_bad_lines_are_refused(stock: StockHandlers, lines: list[Line], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        await stock.reserve(_order(), lines)


async def test_on_hand_cannot_drop_below_what_is_reserved(stock: StockHandlers) -> None:
    await stock.repository.set_on_hand("pizza", 5)
    await stock.reserve(_order(), [Line("pizza", 4)])

    assert await stock.repository.set_on_hand("pizza", 3) is None
    level = await stock.repository.set_on_hand("pizza", 10)

    assert level is not None
    assert (level.on_hand, level.reserved, level.available) == (10, 4, 6)


async def test_a_refused_order_holds_nothing_and_may_try_again_after_a_restock(
    stock: StockHandlers,
) -> None:
    await stock.repository.set_on_hand("pizza", 1)
    order = _order()

    assert [s.item_id for s in await stock.reserve(order, [Line("pizza", 2)])] == ["pizza"]
    await stock.repository.set_on_hand("pizza", 2)

    assert await stock.reserve(order, [Line("pizza", 2)]) == []
    assert await _levels(stock, "pizza") == {"pizza": (2, 2, 0)}


async def test_check_reports_shortages_without_holding_anything(stock: StockHandlers) -> None:
    await stock.repository.set_on_hand("pizza", 2)

    shortages = await stock.check([Line("pizza", 3), Line("ghost", 1)])

    assert [(s.item_id, s.requested, s.available) for s in shortages] == [
        ("ghost", 1, 0),
        ("pizza", 3, 2),
    ]
    assert await _levels(stock, "pizza") == {"pizza": (2, 0, 2)}
