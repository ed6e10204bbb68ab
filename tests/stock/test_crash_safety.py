"""An operation that stops midway (its process killed, a write lost) is left to its owner until
`takeover_after`, then finished by the next caller exactly once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from oms.platform.errors import FailedPrecondition, Unavailable
from oms.stock.domain import R
from oms.stock.handlers import StockHandlers
from tests.stock.conftest import Spawn
from tests.stock.support import (
    TAKEOVER,
    Clock,
    Crash,
    ScriptedRepository,
    committed,
    crash,
    held,
    levels,
    lines,
    new_order,
    state,
    stocked,
)

ORDER_LINES = {"bread": 2, "wine": 3}
JUST_BEFORE_TAKEOVER = TAKEOVER - timedelta(seconds=1)


async def test_a_reserve_stopped_midway_is_its_owners_until_takeover_after(
    spawn: Spawn, scripted: ScriptedRepository, clock: Clock
) -> None:
    owner, other = spawn(scripted), spawn()
    await stocked(owner, bread=5, wine=5)
    order = new_order()
    scripted.before("apply_line", 2, crash)  # the server dies mid-bulk: bread is held, wine not yet

    with pytest.raises(Crash):
        await owner.reserve(order, lines(**ORDER_LINES))
    midway = {"bread": (5, 3), "wine": (5, 5)}
    assert await levels(other, "bread", "wine") == midway

    clock.advance(JUST_BEFORE_TAKEOVER)
    with pytest.raises(Unavailable, match="being changed"):
        await other.reserve(order, lines(**ORDER_LINES))
    with pytest.raises(Unavailable, match="being changed"):
        await other.release(order, "expired")
    assert await levels(other, "bread", "wine") == midway
    assert await state(other, order) is R.RESERVING


async def test_after_takeover_after_the_next_reserve_finishes_it_once(
    spawn: Spawn, scripted: ScriptedRepository, clock: Clock
) -> None:
    owner, other = spawn(scripted), spawn()
    await stocked(owner, bread=5, wine=5)
    order = new_order()
    scripted.before("apply_line", 2, crash)
    with pytest.raises(Crash):
        await owner.reserve(order, lines(**ORDER_LINES))

    clock.advance(TAKEOVER)
    assert await other.reserve(order, lines(**ORDER_LINES)) == []
    assert await other.reserve(order, lines(**ORDER_LINES)) == []

    assert await levels(other, "bread", "wine") == {"bread": (5, 3), "wine": (5, 2)}
    assert await state(other, order) is R.HELD


@pytest.mark.parametrize(
    ("stop", "made"),
    [
        ("before the second hold", {"bread": (5, 3), "wine": (5, 5)}),
        ("before recording held", {"bread": (5, 3), "wine": (5, 2)}),
    ],
)
async def test_a_release_of_an_abandoned_reserve_gives_back_exactly_the_holds_made(
    spawn: Spawn,
    scripted: ScriptedRepository,
    clock: Clock,
    stop: str,
    made: dict[str, tuple[int, int]],
) -> None:
    owner, other = spawn(scripted), spawn()
    await stocked(owner, bread=5, wine=5)
    order = new_order()
    if stop == "before the second hold":
        scripted.before("apply_line", 2, crash)
    else:
        scripted.before("finish", 1, crash)
    with pytest.raises(Crash):
        await owner.reserve(order, lines(**ORDER_LINES))
    assert await levels(other, "bread", "wine") == made

    clock.advance(TAKEOVER)
    assert await other.release(order, "expired") is True
    assert await other.release(order, "expired") is True

    # A release that gave back every line would leave wine above its on hand.
    assert await levels(other, "bread", "wine") == {"bread": (5, 5), "wine": (5, 5)}
    assert await state(other, order) is R.RELEASED


Operation = Callable[[StockHandlers, str], Awaitable[None]]


async def _release(stock: StockHandlers, order: str) -> None:
    assert await stock.release(order, "cancelled") is True


async def _commit(stock: StockHandlers, order: str) -> None:
    await stock.commit(order)


async def _return(stock: StockHandlers, order: str) -> None:
    await stock.refunded(order, "return")


# operation, the reservation it starts from, levels when it stopped after its first line, at
# the end, and the state it ends in. bread 5 and wine 5 on hand; the order holds 2 and 3.
OPERATIONS = {
    "release": (
        _release,
        held,
        {"bread": (5, 5), "wine": (5, 2)},
        {"bread": (5, 5), "wine": (5, 5)},
        R.RELEASED,
    ),
    "commit": (
        _commit,
        held,
        {"bread": (3, 3), "wine": (5, 2)},
        {"bread": (3, 3), "wine": (2, 2)},
        R.COMMITTED,
    ),
    "return": (
        _return,
        committed,
        {"bread": (5, 5), "wine": (2, 2)},
        {"bread": (5, 5), "wine": (5, 5)},
        R.RETURNED,
    ),
}


@pytest.mark.parametrize("name", list(OPERATIONS))
async def test_an_operation_stopped_between_lines_is_finished_once_after_takeover_after(
    spawn: Spawn, scripted: ScriptedRepository, clock: Clock, name: str
) -> None:
    operate, start, midway, end, final = OPERATIONS[name]
    setup, owner, other = spawn(), spawn(scripted), spawn()
    await stocked(setup, bread=5, wine=5)
    order = await start(setup, **ORDER_LINES)
    scripted.before("apply_line", 2, crash)

    with pytest.raises(Crash):
        await operate(owner, order)
    assert await levels(other, "bread", "wine") == midway

    clock.advance(JUST_BEFORE_TAKEOVER)
    with pytest.raises(Unavailable, match="being changed"):
        await operate(other, order)
    assert await levels(other, "bread", "wine") == midway

    clock.advance(TAKEOVER)
    await operate(other, order)
    await operate(other, order)
    assert await levels(other, "bread", "wine") == end
    assert await state(other, order) is final


@pytest.mark.parametrize("name", list(OPERATIONS))
async def test_an_outcome_that_was_never_recorded_is_not_applied_twice(
    spawn: Spawn, scripted: ScriptedRepository, clock: Clock, name: str
) -> None:
    # Every line was applied, then recording the outcome failed (a lost connection: the
    # process lives on, and its timed flush prunes what it was told to prune).
    operate, start, _, end, final = OPERATIONS[name]
    setup, owner, other = spawn(), spawn(scripted), spawn()
    await stocked(setup, bread=5, wine=5)
    order = await start(setup, **ORDER_LINES)
    scripted.before("finish", 1, crash)

    with pytest.raises(Crash):
        await operate(owner, order)
    await scripted.flush()
    assert await levels(other, "bread", "wine") == end

    clock.advance(TAKEOVER)
    await operate(other, order)

    assert await levels(other, "bread", "wine") == end
    assert await state(other, order) is final


async def test_a_reserve_that_was_never_recorded_is_not_held_twice(
    spawn: Spawn, scripted: ScriptedRepository, clock: Clock
) -> None:
    owner, other = spawn(scripted), spawn()
    await stocked(owner, bread=5, wine=5)
    order = new_order()
    scripted.before("finish", 1, crash)
    with pytest.raises(Crash):
        await owner.reserve(order, lines(**ORDER_LINES))
    await scripted.flush()

    clock.advance(TAKEOVER)
    assert await other.reserve(order, lines(**ORDER_LINES)) == []

    assert await levels(other, "bread", "wine") == {"bread": (5, 3), "wine": (5, 2)}


async def test_a_commit_in_progress_cannot_be_released(
    spawn: Spawn, scripted: ScriptedRepository, clock: Clock
) -> None:
    setup, owner, other = spawn(), spawn(scripted), spawn()
    await stocked(setup, bread=5, wine=5)
    order = await held(setup, **ORDER_LINES)
    scripted.before("apply_line", 2, crash)
    with pytest.raises(Crash):
        await owner.commit(order)

    clock.advance(TAKEOVER)
    with pytest.raises(FailedPrecondition, match="committing"):
        await other.release(order, "cancelled")

    await other.commit(order)
    assert await levels(other, "bread", "wine") == {"bread": (3, 3), "wine": (2, 2)}
