"""A slow owner stops writing half of `takeover_after` after its claim (the fence), so it and
the successor that takes its operation over never both change the counters."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from oms.platform.errors import Unavailable
from oms.platform.mongo import Document
from oms.stock.domain import R
from tests.stock.conftest import Spawn
from tests.stock.support import (
    TAKEOVER,
    Clock,
    Gate,
    ScriptedRepository,
    held,
    levels,
    lines,
    new_order,
    state,
    stocked,
)

PAST_THE_FENCE = TAKEOVER / 2 + timedelta(seconds=1)
ORDER_LINES = {"bread": 2, "wine": 3}


async def test_an_owner_past_the_fence_does_not_record_and_its_successor_applies_nothing_twice(
    spawn: Spawn, scripted: ScriptedRepository, clock: Clock
) -> None:
    setup, owner = spawn(), spawn(scripted)
    await stocked(setup, bread=5, wine=5)
    order = await held(setup, **ORDER_LINES)
    gate = Gate()
    scripted.after("apply", 1, gate.wait)  # both lines sold; the owner stalls before "done"

    commit = asyncio.create_task(owner.commit(order))
    await gate.arrived()
    clock.advance(PAST_THE_FENCE)
    gate.open()

    with pytest.raises(Unavailable, match="too long"):
        await commit
    assert await levels(setup, "bread", "wine") == {"bread": (3, 3), "wine": (2, 2)}
    assert await state(setup, order) is R.COMMITTING

    clock.advance(TAKEOVER)
    await spawn().commit(order)
    assert await levels(setup, "bread", "wine") == {"bread": (3, 3), "wine": (2, 2)}
    assert await state(setup, order) is R.COMMITTED


async def test_a_slow_owner_does_not_record_over_its_successor(
    db: AsyncDatabase[Document], spawn: Spawn, clock: Clock
) -> None:
    setup = spawn()
    await stocked(setup, bread=5, wine=5)
    order = await held(setup, **ORDER_LINES)
    slow, next_owner = ScriptedRepository(db), ScriptedRepository(db)
    stalled, midway = Gate(), Gate()
    # Both lines sold; the write of the outcome passed the fence and is in flight.
    slow.before("finish", 1, stalled.wait)
    next_owner.after("apply", 1, midway.wait)

    first = asyncio.create_task(spawn(slow).commit(order))
    await stalled.arrived()
    clock.advance(TAKEOVER)
    second = asyncio.create_task(spawn(next_owner).commit(order))
    await midway.arrived()  # the successor has claimed the commit and applied its lines
    stalled.open()

    with pytest.raises(Unavailable):
        await first
    await slow.flush()  # whatever the slow owner would prune, it prunes now
    midway.open()
    await second

    assert await levels(setup, "bread", "wine") == {"bread": (3, 3), "wine": (2, 2)}
    assert await state(setup, order) is R.COMMITTED


async def test_an_owner_whose_clock_lags_does_not_record_over_its_successor(
    db: AsyncDatabase[Document], spawn: Spawn, clock: Clock
) -> None:
    # The owner's clock says it is within the fence; the reservation says another caller has
    # claimed it since. The outcome is recorded only by the owner of the current claim.
    setup = spawn()
    await stocked(setup, bread=5, wine=5)
    order = await held(setup, **ORDER_LINES)
    lagging = Clock()
    slow, next_owner = ScriptedRepository(db), ScriptedRepository(db)
    stalled, midway = Gate(), Gate()
    slow.after("apply", 1, stalled.wait)  # both lines sold; the outcome is written after this
    next_owner.after("apply", 1, midway.wait)

    first = asyncio.create_task(spawn(slow, on=lagging).commit(order))
    await stalled.arrived()
    clock.advance(TAKEOVER)
    second = asyncio.create_task(spawn(next_owner).commit(order))
    await midway.arrived()
    stalled.open()

    with pytest.raises(Unavailable, match="taken over"):
        await first
    await slow.flush()
    midway.open()
    await second

    assert await levels(setup, "bread", "wine") == {"bread": (3, 3), "wine": (2, 2)}
    assert await state(setup, order) is R.COMMITTED


async def test_a_slow_reserve_does_not_give_back_its_successors_holds(
    db: AsyncDatabase[Document], spawn: Spawn, clock: Clock
) -> None:
    setup = spawn()
    await stocked(setup, bread=5, wine=5)
    order = new_order()
    slow, stalled = ScriptedRepository(db), Gate()
    slow.before("finish", 1, stalled.wait)  # both lines held; recording it is in flight

    first = asyncio.create_task(spawn(slow).reserve(order, lines(**ORDER_LINES)))
    await stalled.arrived()
    clock.advance(TAKEOVER)
    assert await spawn().reserve(order, lines(**ORDER_LINES)) == []
    stalled.open()

    with pytest.raises(Unavailable):
        await first
    await slow.flush()
    assert await levels(setup, "bread", "wine") == {"bread": (5, 3), "wine": (5, 2)}
    assert await state(setup, order) is R.HELD


async def test_a_slow_refusal_does_not_give_back_its_successors_holds(
    db: AsyncDatabase[Document], spawn: Spawn, clock: Clock
) -> None:
    setup = spawn()
    await stocked(setup, bread=5, wine=1)
    order = new_order()
    slow, stalled = ScriptedRepository(db), Gate()
    slow.after("apply", 1, stalled.wait)  # wine was short; bread not given back yet

    first = asyncio.create_task(spawn(slow).reserve(order, lines(**ORDER_LINES)))
    await stalled.arrived()
    clock.advance(TAKEOVER)
    await stocked(setup, wine=5)
    assert await spawn().reserve(order, lines(**ORDER_LINES)) == []
    stalled.open()

    with pytest.raises(Unavailable):
        await first
    assert await levels(setup, "bread", "wine") == {"bread": (5, 3), "wine": (5, 2)}
    assert await state(setup, order) is R.HELD


async def test_an_owner_within_the_fence_finishes_normally(
    spawn: Spawn, scripted: ScriptedRepository, clock: Clock
) -> None:
    setup, owner = spawn(), spawn(scripted)
    await stocked(setup, bread=5, wine=5)
    order = await held(setup, **ORDER_LINES)
    gate = Gate()
    scripted.after("apply", 1, gate.wait)

    commit = asyncio.create_task(owner.commit(order))
    await gate.arrived()
    clock.advance(TAKEOVER / 2 - timedelta(seconds=1))
    gate.open()
    await commit

    assert await levels(setup, "bread", "wine") == {"bread": (3, 3), "wine": (2, 2)}
    assert await state(setup, order) is R.COMMITTED
