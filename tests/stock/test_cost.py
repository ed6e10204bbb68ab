"""An order costs Stock the same MongoDB commands however much is stored: every command is one
document by `_id`, and their number is fixed (counted with PyMongo's command monitoring)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from oms.platform import mongo
from oms.platform.mongo import Document
from oms.platform.settings import MongoSettings
from oms.stock.domain import R
from oms.stock.handlers import StockHandlers
from tests.stock.support import Clock, lines, new_order, process, repository_of, stocked

STORED = 5_000
ENDED = [R.COMMITTED, R.RELEASED, R.RETURNED, R.WRITTEN_OFF, R.REJECTED]


class Commands(monitoring.CommandListener):
    """The commands sent to one database while recording."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.recording = False
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.recording and event.database_name == self.database:
            self.sent.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    async def of(self, work: Awaitable[None]) -> list[tuple[str, dict[str, Any]]]:
        self.sent, self.recording = [], True
        try:
            await work
        finally:
            self.recording = False
        return self.sent


def by_id_only(name: str, command: dict[str, Any]) -> bool:
    """Whether the command touches one document named by `_id` (the shape FerretDB serves by
    its `_id` index; further dotted conditions are checked on that one document)."""
    if name == "insert":
        return True
    if name == "update":
        return all(isinstance(u["q"].get("_id"), str) for u in command["updates"])
    if name == "find":
        return isinstance(command["filter"].get("_id"), str)
    if name == "findAndModify":
        return isinstance(command["query"].get("_id"), str)
    return False


Counted = tuple[Commands, StockHandlers, AsyncDatabase[Document]]


@pytest.fixture
async def counted(
    mongo_settings: MongoSettings, mongo_client: AsyncMongoClient[Document]
) -> AsyncIterator[Counted]:
    """A Stock process on a client of its own, whose commands are counted."""
    # `mongo_client` is the session's: it drops this test's database afterwards.
    commands = Commands(mongo_settings.database)
    client = mongo.connect(mongo_settings, [commands])
    db = mongo.database(client, mongo_settings)
    stock = process(db, Clock())
    yield commands, stock, db
    await repository_of(stock).close()
    await client.close()


async def reserve_and_commit(stock: StockHandlers) -> None:
    order = new_order()
    assert await stock.reserve(order, lines(pizza=1, wine=2)) == []
    await stock.commit(order)


async def reserve_and_release(stock: StockHandlers) -> None:
    order = new_order()
    assert await stock.reserve(order, lines(pizza=1, wine=2)) == []
    assert await stock.release(order, "expired") is True


async def reserve_commit_and_return(stock: StockHandlers) -> None:
    order = new_order()
    assert await stock.reserve(order, lines(pizza=1, wine=2)) == []
    await stock.commit(order)
    await stock.refunded(order, "return")


async def store_ended_reservations(db: AsyncDatabase[Document], count: int) -> None:
    """`count` reservations shaped exactly like a real finished one, in every ended state."""
    model = await db.stock_reservations.find_one({"state.status": R.COMMITTED.value})
    assert model is not None
    for start in range(0, count, 1000):
        await db.stock_reservations.insert_many(
            [
                {
                    **model,
                    "_id": f"stored-{n}",
                    "state": {**model["state"], "status": ENDED[n % len(ENDED)].value},
                }
                for n in range(start, min(start + 1000, count))
            ]
        )


Flow = Callable[[StockHandlers], Awaitable[None]]
# Each step's commands, in order, for an order of two lines (pizza, wine).
# The reservation, every line's hold in one bulk write, "held".
RESERVE = ["insert", "update", "update"]
# Commit, the usual case, claims first: the claim, every line, the outcome.
COMMIT = ["findAndModify", "update", "update"]
# Release or return: read it, claim the operation, every line, the outcome.
OPERATE = ["find", "findAndModify", "update", "update"]
BUDGET: list[tuple[Flow, list[str]]] = [
    (reserve_and_commit, [*RESERVE, *COMMIT]),
    (reserve_and_release, [*RESERVE, *OPERATE]),
    (reserve_commit_and_return, [*RESERVE, *COMMIT, *OPERATE]),
]


@pytest.mark.parametrize(("flow", "budget"), BUDGET, ids=[flow.__name__ for flow, _ in BUDGET])
async def test_an_order_costs_the_same_commands_with_five_thousand_stored(
    counted: Counted, flow: Flow, budget: list[str]
) -> None:
    commands, stock, db = counted
    await stocked(stock, pizza=100, wine=100)
    await reserve_and_commit(stock)  # the same start both times: markers waiting to go

    on_empty = await commands.of(flow(stock))
    await store_ended_reservations(db, STORED)
    assert await db.stock_reservations.count_documents({}) >= STORED
    with_stored = await commands.of(flow(stock))

    assert [name for name, _ in on_empty] == budget
    assert [name for name, _ in with_stored] == budget
    assert all(by_id_only(name, command) for name, command in on_empty + with_stored)
