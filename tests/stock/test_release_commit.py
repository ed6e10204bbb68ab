"""Release gives held stock back and commit sells it, each exactly once however often it is
asked, one after another or all at once."""

from __future__ import annotations

import asyncio

import pytest

from oms.platform.errors import FailedPrecondition, Unavailable
from oms.stock.domain import R
from oms.stock.handlers import StockHandlers
from tests.stock.support import (
    held,
    levels,
    lines,
    new_order,
    state,
    stocked,
    succeeded_or_told_to_retry,
)


async def test_release_gives_every_line_back_once(stock: StockHandlers) -> None:
    await stocked(stock, pizza=4, wine=2)
    order = await held(stock, pizza=3, wine=2)

    assert await stock.release(order, "cancelled") is True
    assert await stock.release(order, "cancelled") is True

    assert await levels(stock, "pizza", "wine") == {"pizza": (4, 4), "wine": (2, 2)}
    assert await state(stock, order) is R.RELEASED


async def test_twenty_concurrent_releases_give_the_stock_back_once(stock: StockHandlers) -> None:
    await stocked(stock, pizza=4, wine=2)
    order = await held(stock, pizza=3, wine=2)

    results = await asyncio.gather(
        *(stock.release(order, "expired") for _ in range(20)), return_exceptions=True
    )

    assert succeeded_or_told_to_retry(results) >= 1
    assert await stock.release(order, "expired") is True
    assert await levels(stock, "pizza", "wine") == {"pizza": (4, 4), "wine": (2, 2)}


async def test_commit_sells_what_was_held_once(stock: StockHandlers) -> None:
    await stocked(stock, pizza=4, wine=2)
    order = await held(stock, pizza=3, wine=1)

    await stock.commit(order)
    await stock.commit(order)

    # Sold: on hand goes down, available stays where the hold put it.
    assert await levels(stock, "pizza", "wine") == {"pizza": (1, 1), "wine": (1, 1)}
    assert await state(stock, order) is R.COMMITTED


async def test_twenty_concurrent_commits_sell_once(stock: StockHandlers) -> None:
    await stocked(stock, pizza=4, wine=2)
    order = await held(stock, pizza=3, wine=1)

    results = await asyncio.gather(
        *(stock.commit(order) for _ in range(20)), return_exceptions=True
    )

    assert succeeded_or_told_to_retry(results) >= 1
    await stock.commit(order)
    assert await levels(stock, "pizza", "wine") == {"pizza": (1, 1), "wine": (1, 1)}


async def test_release_of_a_committed_reservation_is_refused(stock: StockHandlers) -> None:
    await stocked(stock, pizza=4)
    order = await held(stock, pizza=3)
    await stock.commit(order)

    with pytest.raises(FailedPrecondition, match="committed"):
        await stock.release(order, "too late")

    assert await levels(stock, "pizza") == {"pizza": (1, 1)}
    assert await state(stock, order) is R.COMMITTED


async def test_a_released_reservation_cannot_be_committed(stock: StockHandlers) -> None:
    await stocked(stock, pizza=4)
    order = await held(stock, pizza=1)
    await stock.release(order, "expired")

    with pytest.raises(FailedPrecondition, match="released"):
        await stock.commit(order)

    assert await levels(stock, "pizza") == {"pizza": (4, 4)}


async def test_a_rejected_reservation_cannot_be_committed_and_releases_nothing(
    stock: StockHandlers,
) -> None:
    await stocked(stock, pizza=1)
    order = new_order()
    assert await stock.reserve(order, lines(pizza=2)) != []

    assert await stock.release(order, "expired") is False
    with pytest.raises(FailedPrecondition, match="rejected"):
        await stock.commit(order)

    assert await levels(stock, "pizza") == {"pizza": (1, 1)}


async def test_an_order_without_a_reservation(stock: StockHandlers) -> None:
    assert await stock.release(new_order(), "cancelled") is False
    with pytest.raises(FailedPrecondition, match="no reservation"):
        await stock.commit(new_order())


async def test_release_and_commit_racing_do_exactly_one(stock: StockHandlers) -> None:
    await stocked(stock, pizza=4)
    order = await held(stock, pizza=3)

    outcomes = await asyncio.gather(
        stock.release(order, "cancelled"), stock.commit(order), return_exceptions=True
    )

    after = await state(stock, order)
    assert after in (R.RELEASED, R.COMMITTED)
    loser = outcomes[1] if after is R.RELEASED else outcomes[0]
    assert isinstance(loser, Unavailable | FailedPrecondition)
    expected = (4, 4) if after is R.RELEASED else (1, 1)
    assert await levels(stock, "pizza") == {"pizza": expected}
