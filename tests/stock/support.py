"""What the Stock tests share: a clock the test moves, a repository whose calls can be made to
crash or wait at a chosen point, and short ways to read levels and reservations.

A "process" in these tests is one `StockHandlers` over its own `MongoStockRepository` (each
repository keeps its own markers to prune, as each real process does); several processes share
one database, as the Stock replicas do.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pymongo.asynchronous.database import AsyncDatabase

from oms.order_lines import Line
from oms.platform.errors import Unavailable
from oms.platform.mongo import Document
from oms.stock.domain import Op, R
from oms.stock.handlers import StockHandlers
from oms.stock.repository import MongoStockRepository

TAKEOVER = timedelta(seconds=60)
# Longer than any test: markers are pruned only by the items' next writes or an explicit flush.
NO_TIMED_FLUSH = 3600.0
T = TypeVar("T")
Action = Callable[[], Awaitable[None]]


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


class Crash(Exception):
    """The process stops here (the tests' stand-in for a kill or a lost connection)."""


async def crash() -> None:
    raise Crash("stopped here by the test")


class Gate:
    """Holds a call until the test opens it; `reached` is set once the call waits."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self._opened = asyncio.Event()

    async def wait(self) -> None:
        self.reached.set()
        await self._opened.wait()

    async def arrived(self) -> None:
        # A timeout, not a sleep: a call that never arrives fails the test instead of hanging.
        await asyncio.wait_for(self.reached.wait(), 30)

    def open(self) -> None:
        self._opened.set()


class ScriptedRepository(MongoStockRepository):
    """A MongoStockRepository that runs the test's action before or after its n-th call of a
    method (counted from its creation), to stop or hold an operation at an exact point."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        super().__init__(db, flush_after_seconds=NO_TIMED_FLUSH)
        self.calls: Counter[str] = Counter()
        self._actions: dict[tuple[str, int, bool], Action] = {}

    def before(self, method: str, call: int, action: Action) -> None:
        self._actions[(method, call, False)] = action

    def after(self, method: str, call: int, action: Action) -> None:
        self._actions[(method, call, True)] = action

    async def _scripted(self, method: str, real: Callable[[], Awaitable[T]]) -> T:
        self.calls[method] += 1
        call = self.calls[method]
        if before := self._actions.pop((method, call, False), None):
            await before()
        result = await real()
        if after := self._actions.pop((method, call, True), None):
            await after()
        return result

    async def apply_all(
        self, order_id: str, op: Op, lines: Sequence[tuple[str, int]], at: datetime
    ) -> list[str]:
        """`apply` is the whole bulk write. It is sent line by line, each an `apply_line`, so
        that a test can stop between its statements: a server that dies mid-bulk leaves a
        prefix of an ordered bulk applied."""
        whole = super().apply_all

        async def line_by_line() -> list[str]:
            short: list[str] = []
            for line in lines:
                real = functools.partial(whole, order_id, op, [line], at)
                short += await self._scripted("apply_line", real)
            return short

        return await self._scripted("apply", line_by_line)

    async def undo_hold(self, item_id: str, order_id: str, quantity: int) -> None:
        real = functools.partial(super().undo_hold, item_id, order_id, quantity)
        await self._scripted("undo_hold", real)

    async def finish(self, order_id: str, working: R, to: R, **kwargs: Any) -> bool:
        real = functools.partial(super().finish, order_id, working, to, **kwargs)
        return await self._scripted("finish", real)


def process(
    db: AsyncDatabase[Document], clock: Clock, repository: MongoStockRepository | None = None
) -> StockHandlers:
    """One Stock process on the shared database, on the test's clock."""
    return StockHandlers(
        repository or MongoStockRepository(db, flush_after_seconds=NO_TIMED_FLUSH),
        TAKEOVER,
        clock=clock,
    )


def repository_of(stock: StockHandlers) -> MongoStockRepository:
    assert isinstance(stock.repository, MongoStockRepository)
    return stock.repository


def new_order() -> str:
    return f"o-{uuid.uuid4().hex[:12]}"


async def levels(stock: StockHandlers, *items: str) -> dict[str, tuple[int, int]]:
    """`{item: (on_hand, available)}`."""
    found = await stock.levels(list(items))
    return {level.item_id: (level.on_hand, level.available) for level in found}


async def state(stock: StockHandlers, order_id: str) -> R | None:
    reservation = await stock.repository.get(order_id)
    return reservation.state if reservation else None


async def stocked(stock: StockHandlers, **on_hand: int) -> None:
    for item_id, quantity in on_hand.items():
        await stock.set_on_hand(item_id, quantity)


async def markers(db: AsyncDatabase[Document], item_id: str) -> dict[str, Any]:
    doc = await db.stock_items.find_one({"_id": item_id})
    assert doc is not None
    ops: dict[str, Any] = doc.get("ops", {})
    return ops


def lines(**quantities: int) -> list[Line]:
    return [Line(item_id, quantity) for item_id, quantity in quantities.items()]


async def held(stock: StockHandlers, **quantities: int) -> str:
    """A new order whose reservation of these quantities is held."""
    order = new_order()
    assert await stock.reserve(order, lines(**quantities)) == []
    return order


async def committed(stock: StockHandlers, **quantities: int) -> str:
    """A new order whose reservation of these quantities is committed (paid)."""
    order = await held(stock, **quantities)
    await stock.commit(order)
    return order


def succeeded_or_told_to_retry(results: Sequence[object]) -> int:
    """How many concurrent calls succeeded; the others met one in progress (UNAVAILABLE)."""
    failures = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(f, Unavailable) for f in failures), failures
    return len(results) - len(failures)
