"""Reserve holds every line of an order or none, never oversells, and is final once held."""

from __future__ import annotations

import asyncio

import pytest

from oms.order_lines import Line
from oms.platform.errors import FailedPrecondition, InvalidArgument
from oms.stock.domain import R, Shortage
from oms.stock.handlers import StockHandlers
from tests.stock.conftest import Spawn
from tests.stock.support import (
    ScriptedRepository,
    levels,
    lines,
    new_order,
    state,
    stocked,
)


async def test_a_short_line_leaves_every_item_as_it_was(stock: StockHandlers) -> None:
    # Lines are held in item order: bread and cheese are held before wine is found short, so
    # this reaches the rollback of lines already held.
    await stocked(stock, bread=5, cheese=3, wine=1)
    order = new_order()

    shortages = await stock.reserve(order, lines(bread=2, cheese=3, wine=2))

    assert shortages == [Shortage("wine", 2, 1)]
    assert await levels(stock, "bread", "cheese", "wine") == {
        "bread": (5, 5),
        "cheese": (3, 3),
        "wine": (1, 1),
    }
    assert await state(stock, order) is R.REJECTED


async def test_the_orders_own_holds_are_not_reported_as_shortages(stock: StockHandlers) -> None:
    # Holding 4 of 5 pizzas leaves 1 available while wine is found short; that 1 is the
    # order's own hold, not a shortage.
    await stocked(stock, pizza=5, wine=1)

    shortages = await stock.reserve(new_order(), lines(pizza=4, wine=2))

    assert shortages == [Shortage("wine", 2, 1)]
    assert await levels(stock, "pizza", "wine") == {"pizza": (5, 5), "wine": (1, 1)}


async def test_every_short_line_is_reported_with_what_is_available(stock: StockHandlers) -> None:
    await stocked(stock, bread=1, cheese=9, wine=0)

    shortages = await stock.reserve(new_order(), lines(bread=2, cheese=1, wine=3, ghost=1))

    assert shortages == [
        Shortage("bread", 2, 1),
        Shortage("ghost", 1, 0),
        Shortage("wine", 3, 0),
    ]
    assert await levels(stock, "bread", "cheese", "wine") == {
        "bread": (1, 1),
        "cheese": (9, 9),
        "wine": (0, 0),
    }


async def test_the_line_that_failed_is_named_even_if_its_stock_came_back_since(
    spawn: Spawn, scripted: ScriptedRepository
) -> None:
    owner = spawn(scripted)
    await stocked(owner, bread=5, wine=1)
    # Between wine's failed hold and the re-read of the levels, a restock brings wine back.
    scripted.after("apply", 1, lambda: stocked(owner, wine=8))

    shortages = await owner.reserve(new_order(), lines(bread=2, wine=3))

    assert shortages == [Shortage("wine", 3, 8)]
    assert await levels(owner, "bread", "wine") == {"bread": (5, 5), "wine": (8, 8)}


async def test_an_unknown_item_is_short_with_nothing_available(stock: StockHandlers) -> None:
    await stocked(stock, pizza=5)

    shortages = await stock.reserve(new_order(), lines(pizza=1, ghost=2))

    assert shortages == [Shortage("ghost", 2, 0)]
    assert await levels(stock, "pizza") == {"pizza": (5, 5)}


async def test_a_repeat_of_a_held_reservation_returns_it_and_holds_nothing_more(
    stock: StockHandlers,
) -> None:
    await stocked(stock, pizza=5)
    order = new_order()

    assert await stock.reserve(order, lines(pizza=3)) == []
    assert await stock.reserve(order, lines(pizza=3)) == []
    assert await stock.reserve(order, [Line("pizza", 1), Line("pizza", 2)]) == []

    assert await levels(stock, "pizza") == {"pizza": (5, 2)}
    assert await state(stock, order) is R.HELD


async def test_concurrent_repeats_of_one_order_hold_it_once(stock: StockHandlers) -> None:
    await stocked(stock, pizza=5)
    order = new_order()

    await asyncio.gather(
        *(stock.reserve(order, lines(pizza=3)) for _ in range(20)), return_exceptions=True
    )
    # Those that met the first one in progress were told to try again; a retry finds it held.
    assert await stock.reserve(order, lines(pizza=3)) == []

    assert await levels(stock, "pizza") == {"pizza": (5, 2)}


async def test_a_rejected_order_may_try_again_after_a_restock(stock: StockHandlers) -> None:
    await stocked(stock, pizza=1, wine=4)
    order = new_order()

    assert await stock.reserve(order, lines(pizza=2, wine=1)) == [Shortage("pizza", 2, 1)]
    assert await stock.reserve(order, lines(pizza=2, wine=1)) == [Shortage("pizza", 2, 1)]
    await stocked(stock, pizza=3)

    assert await stock.reserve(order, lines(pizza=2, wine=1)) == []
    assert await levels(stock, "pizza", "wine") == {"pizza": (3, 1), "wine": (4, 3)}
    assert await state(stock, order) is R.HELD


async def test_a_retry_holds_the_lines_it_is_given_not_the_first_ones(
    stock: StockHandlers,
) -> None:
    await stocked(stock, pizza=1, wine=4)
    order = new_order()
    await stock.reserve(order, lines(pizza=2))

    assert await stock.reserve(order, lines(wine=2)) == []

    assert await levels(stock, "pizza", "wine") == {"pizza": (1, 1), "wine": (4, 2)}


@pytest.mark.parametrize(("then", "now"), [("release", "released"), ("commit", "committed")])
async def test_a_released_or_committed_reservation_cannot_be_reserved_again(
    stock: StockHandlers, then: str, now: str
) -> None:
    await stocked(stock, pizza=4)
    order = new_order()
    await stock.reserve(order, lines(pizza=1))
    if then == "release":
        await stock.release(order, "cancelled")
    else:
        await stock.commit(order)
    before = await levels(stock, "pizza")

    with pytest.raises(FailedPrecondition, match=f"is {now}$"):
        await stock.reserve(order, lines(pizza=1))

    assert await levels(stock, "pizza") == before


async def test_two_hundred_orders_racing_for_fifty_units_hold_exactly_fifty(
    stock: StockHandlers,
) -> None:
    await stocked(stock, truffle=50)

    results = await asyncio.gather(
        *(stock.reserve(new_order(), lines(truffle=1)) for _ in range(200))
    )

    held = [shortages for shortages in results if not shortages]
    refused = [shortages for shortages in results if shortages]
    assert len(held) == 50
    assert all(shortages == [Shortage("truffle", 1, 0)] for shortages in refused)
    assert await levels(stock, "truffle") == {"truffle": (50, 0)}


@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        ([], "at least one item"),
        ([Line("pizza", 0)], "quantity"),
        ([Line("pizza", 101)], "quantity"),
        ([Line("", 1)], "item id"),
        ([Line("pizza", 60), Line("pizza", 60)], "at most 100"),
    ],
)
async def test_bad_lines_are_refused_and_hold_nothing(
    stock: StockHandlers, wanted: list[Line], message: str
) -> None:
    await stocked(stock, pizza=200)
    order = new_order()

    with pytest.raises(InvalidArgument, match=message):
        await stock.reserve(order, wanted)

    assert await state(stock, order) is None
    assert await levels(stock, "pizza") == {"pizza": (200, 200)}


async def test_an_order_needs_an_id(stock: StockHandlers) -> None:
    with pytest.raises(InvalidArgument, match="order_id"):
        await stock.reserve("", lines(pizza=1))
