"""A refunded order's stock comes back (return) or stays sold (write_off), exactly once."""

from __future__ import annotations

import asyncio

import pytest

from oms.platform.errors import FailedPrecondition
from oms.stock.domain import R
from oms.stock.handlers import StockHandlers
from tests.stock.support import (
    committed,
    held,
    levels,
    lines,
    new_order,
    state,
    stocked,
    succeeded_or_told_to_retry,
)


async def test_return_puts_sold_stock_back_on_hand_once(stock: StockHandlers) -> None:
    await stocked(stock, pizza=4, wine=2)
    order = await committed(stock, pizza=3, wine=1)

    await stock.refunded(order, "return")
    await stock.refunded(order, "return")

    assert await levels(stock, "pizza", "wine") == {"pizza": (4, 4), "wine": (2, 2)}
    assert await state(stock, order) is R.RETURNED


async def test_twenty_concurrent_returns_put_it_back_once(stock: StockHandlers) -> None:
    await stocked(stock, pizza=4, wine=2)
    order = await committed(stock, pizza=3, wine=1)

    results = await asyncio.gather(
        *(stock.refunded(order, "return") for _ in range(20)), return_exceptions=True
    )

    assert succeeded_or_told_to_retry(results) >= 1
    await stock.refunded(order, "return")
    assert await levels(stock, "pizza", "wine") == {"pizza": (4, 4), "wine": (2, 2)}


async def test_return_of_a_held_reservation_gives_the_hold_back(stock: StockHandlers) -> None:
    await stocked(stock, pizza=4)
    order = await held(stock, pizza=3)

    await stock.refunded(order, "return")
    await stock.refunded(order, "return")

    assert await levels(stock, "pizza") == {"pizza": (4, 4)}
    assert await state(stock, order) is R.RELEASED


async def test_write_off_keeps_the_stock_sold(stock: StockHandlers) -> None:
    await stocked(stock, pizza=4)
    order = await committed(stock, pizza=3)

    await stock.refunded(order, "write_off")
    await stock.refunded(order, "write_off")

    assert await levels(stock, "pizza") == {"pizza": (1, 1)}
    assert await state(stock, order) is R.WRITTEN_OFF


async def test_write_off_of_a_held_reservation_commits_it_then_writes_it_off(
    stock: StockHandlers,
) -> None:
    await stocked(stock, pizza=4, wine=2)
    order = await held(stock, pizza=3, wine=1)

    await stock.refunded(order, "write_off")

    assert await levels(stock, "pizza", "wine") == {"pizza": (1, 1), "wine": (1, 1)}
    assert await state(stock, order) is R.WRITTEN_OFF


async def test_twenty_concurrent_write_offs_of_a_held_reservation_sell_once(
    stock: StockHandlers,
) -> None:
    await stocked(stock, pizza=4)
    order = await held(stock, pizza=3)

    results = await asyncio.gather(
        *(stock.refunded(order, "write_off") for _ in range(20)), return_exceptions=True
    )

    assert succeeded_or_told_to_retry(results) >= 1
    await stock.refunded(order, "write_off")
    assert await levels(stock, "pizza") == {"pizza": (1, 1)}
    assert await state(stock, order) is R.WRITTEN_OFF


async def test_once_written_off_a_return_changes_nothing(stock: StockHandlers) -> None:
    await stocked(stock, pizza=4)
    order = await committed(stock, pizza=3)
    await stock.refunded(order, "write_off")

    await stock.refunded(order, "return")

    assert await levels(stock, "pizza") == {"pizza": (1, 1)}
    assert await state(stock, order) is R.WRITTEN_OFF


async def test_once_returned_it_cannot_be_committed_again(stock: StockHandlers) -> None:
    await stocked(stock, pizza=4)
    order = await committed(stock, pizza=3)
    await stock.refunded(order, "return")

    await stock.commit(order)  # a redelivered confirmation: already past commit

    assert await levels(stock, "pizza") == {"pizza": (4, 4)}
    with pytest.raises(FailedPrecondition, match="returned"):
        await stock.release(order, "late")


async def test_refund_of_an_order_without_a_reservation_is_refused(stock: StockHandlers) -> None:
    with pytest.raises(FailedPrecondition, match="no reservation"):
        await stock.refunded(new_order(), "return")
    with pytest.raises(FailedPrecondition, match="no reservation"):
        await stock.refunded(new_order(), "write_off")


async def test_the_stock_of_a_return_can_be_sold_again(stock: StockHandlers) -> None:
    await stocked(stock, pizza=1)
    first = await committed(stock, pizza=1)
    assert await stock.reserve(new_order(), lines(pizza=1)) != []

    await stock.refunded(first, "return")

    assert await stock.reserve(new_order(), lines(pizza=1)) == []
    assert await levels(stock, "pizza") == {"pizza": (1, 0)}
