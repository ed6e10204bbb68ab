"""An item's in-flight markers do not pile up: each process's finished markers leave with its
next write to the item, or with a flush; a failed write does not strand them."""

from __future__ import annotations

import pytest
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import InvalidOperation

from oms.platform import mongo
from oms.platform.mongo import Document
from oms.platform.settings import MongoSettings
from oms.stock.handlers import StockHandlers
from tests.stock.conftest import Spawn
from tests.stock.support import committed, held, levels, markers, repository_of, stocked

CYCLES = 500


@pytest.fixture
async def unreachable(mongo_settings: MongoSettings) -> AsyncCollection[Document]:
    """The items collection as seen through a closed client: every write to it fails."""
    client = mongo.connect(mongo_settings)
    await client.close()
    return mongo.database(client, mongo_settings).stock_items


async def test_five_hundred_orders_leave_at_most_one_marker_on_their_item(
    db: AsyncDatabase[Document], stock: StockHandlers
) -> None:
    # One process: each write to the item takes the previous operation's marker along, so
    # after any operation the item holds exactly the marker of the one just finished.
    await stocked(stock, pizza=CYCLES)
    most = 0
    for _ in range(CYCLES):
        order = await held(stock, pizza=1)
        most = max(most, len(await markers(db, "pizza")))
        await stock.commit(order)
        most = max(most, len(await markers(db, "pizza")))

    assert most == 1
    assert await levels(stock, "pizza") == {"pizza": (0, 0)}
    await repository_of(stock).flush()
    assert await markers(db, "pizza") == {}


async def test_with_several_processes_an_item_holds_at_most_one_marker_per_process(
    db: AsyncDatabase[Document], spawn: Spawn
) -> None:
    processes = [spawn() for _ in range(4)]
    await stocked(processes[0], pizza=200)
    most = 0
    for turn in range(200):
        stock = processes[turn % len(processes)]
        order = await held(stock, pizza=1)
        await stock.commit(order)
        most = max(most, len(await markers(db, "pizza")))

    assert most == len(processes)
    for stock in processes:
        await repository_of(stock).flush()
    assert await markers(db, "pizza") == {}
    assert await levels(processes[0], "pizza") == {"pizza": (0, 0)}


async def test_a_failed_write_keeps_the_markers_it_was_to_take_along(
    db: AsyncDatabase[Document],
    stock: StockHandlers,
    unreachable: AsyncCollection[Document],
) -> None:
    await stocked(stock, pizza=5)
    first = await committed(stock, pizza=1)
    repository = repository_of(stock)
    reachable, repository.items = repository.items, unreachable
    with pytest.raises(InvalidOperation):
        await held(stock, pizza=1)  # its write would have taken the first order's marker
    repository.items = reachable

    await repository.flush()

    assert await markers(db, "pizza") == {}, f"{first}'s marker was stranded"
    assert await levels(stock, "pizza") == {"pizza": (4, 4)}


async def test_a_failed_flush_keeps_its_markers_for_the_next_one(
    db: AsyncDatabase[Document],
    stock: StockHandlers,
    unreachable: AsyncCollection[Document],
) -> None:
    await stocked(stock, pizza=5)
    await committed(stock, pizza=1)
    repository = repository_of(stock)
    reachable, repository.items = repository.items, unreachable
    await repository.flush()  # fails, and says so in the log
    repository.items = reachable
    assert len(await markers(db, "pizza")) == 1

    await repository.flush()

    assert await markers(db, "pizza") == {}


async def test_closing_a_process_flushes_its_markers(
    db: AsyncDatabase[Document], spawn: Spawn
) -> None:
    stock = spawn()
    await stocked(stock, pizza=5)
    await committed(stock, pizza=2)
    assert len(await markers(db, "pizza")) == 1

    await repository_of(stock).close()

    assert await markers(db, "pizza") == {}
    assert await levels(stock, "pizza") == {"pizza": (3, 3)}
