"""Scaling the kitchen in under load: from four kitchen processes of one cook each to one,
while paid orders keep coming and every cook has one on the stove.

A kitchen stopped with SIGTERM (as Kubernetes stops a pod) takes no new order and finishes
the one it cooks within its drain time, which here, as the pods' grace period allows, is
longer than the longest cook. So no order is lost and none is cooked twice. A kitchen killed
outright (SIGKILL, a node failure) cannot finish: its order, and only that one, is started
again by another cook. Every order is counted from the event log (`kitchen.ticket_started`
and `kitchen.ticket_ready` per order) and from the kitchen's tickets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from devtools import peek, quiet
from devtools.event_tap import EventTap
from devtools.platform import LocalPlatform, ServiceProcess
from oms.platform.events import Event
from tests.e2e.conftest import Customer, Servers, Shop, eventually, own_platform, shop_of

pytestmark = pytest.mark.timeout(300)
COOK_SECONDS = 2.0  # one item per order: every order cooks this long
SETTINGS = {
    "KITCHEN_LONGEST_COOK_SECONDS": str(COOK_SECONDS),
    # Above the longest cook, as the pods' termination grace period is (operator, chart).
    "KITCHEN_DRAIN_SECONDS": str(COOK_SECONDS + 2),
}
# Never finishes while the test runs: the cook is surely mid-order when its process dies.
NEVER_DONE = {"KITCHEN_SECONDS_PER_ITEM": "600", "KITCHEN_LONGEST_COOK_SECONDS": "600"}
ORDERS = 20
PACE_SECONDS = 0.4  # a new paid order this often: more than four cooks keep up with


@pytest.fixture(scope="module")
def kitchens(real_servers: Servers) -> Iterator[LocalPlatform]:
    with own_platform(
        real_servers,
        "kitchen-scaling",
        seconds_per_item=COOK_SECONDS,
        kitchen_workers=1,
        env=SETTINGS,
    ) as platform:
        yield platform


@pytest.fixture
async def shop(kitchens: LocalPlatform) -> AsyncIterator[Shop]:
    async with shop_of(kitchens) as opened:
        yield opened


@pytest.fixture
async def tap(kitchens: LocalPlatform) -> AsyncIterator[EventTap]:
    async with EventTap(kitchens.amqp_url) as witness:
        yield witness


@dataclass(frozen=True)
class Scaled:
    """What the scale-in did: per stopped kitchen, the orders it had on the stove."""

    cooking: dict[ServiceProcess, list[str]]
    signalled_at: datetime
    exit_codes: list[int | None]


async def paid_orders(shop: Shop, customer: Customer, dish: str) -> list[str]:
    """`ORDERS` orders placed and paid, one every `PACE_SECONDS` (the load's rate)."""

    async def one() -> str:
        order = await shop.place(customer, [(dish, 1)])
        paid = await shop.pay(order)
        assert paid.status_code == 303, paid.text
        return str(order["id"])

    placing = []
    for _ in range(ORDERS):
        placing.append(asyncio.create_task(one()))
        await asyncio.sleep(PACE_SECONDS)  # pacing the load, not waiting for anything
    return list(await asyncio.gather(*placing))


async def scale_in(
    shop: Shop,
    tap: EventTap,
    stopped: Sequence[ServiceProcess],
    killed: ServiceProcess | None,
) -> Scaled:
    """Once the kitchens to stop have each cooked an order and every kitchen has one on the
    stove, kill `killed` and stop the others."""
    platform = shop.platform
    leaving = [*stopped, *([killed] if killed else [])]

    def started_there(kitchen: ServiceProcess, order_ids: list[str]) -> bool:
        return all(started_by(tap, order_id, kitchen) for order_id in order_ids)

    def has_cooked(kitchen: ServiceProcess) -> bool:
        return any(
            e.type == "kitchen.ticket_ready" and e.data["cook"].startswith(kitchen.cooks)
            for e in tap.events.values()
        )

    async def every_cook_busy() -> dict[ServiceProcess, list[str]] | None:
        # Under way: each kitchen to be stopped has cooked an order already.
        if not all(has_cooked(kitchen) for kitchen in stopped):
            return None
        found = {k: await peek.cooking(platform, k) for k in platform.running("kitchen")}
        if not all(found.values()):
            return None
        # A cook counts as busy before the ticket is stored: the one to be killed must have
        # stored (and announced) its start, or its death would leave nothing to see.
        if killed is not None and not started_there(killed, found[killed]):
            return None
        return found

    busy = await eventually("every cook busy", every_cook_busy)
    signalled_at = datetime.now(UTC)
    if killed is not None:
        killed.kill()
    exit_codes = await asyncio.gather(*(asyncio.to_thread(k.stop) for k in stopped))
    return Scaled({k: busy[k] for k in leaving}, signalled_at, list(exit_codes))


async def serve_under_load(
    shop: Shop,
    tap: EventTap,
    stopped: Sequence[ServiceProcess],
    killed: ServiceProcess | None = None,
) -> tuple[list[str], Scaled]:
    """Paid orders keep coming while the kitchen scales in to one process; every order is
    then ready, its dish taken from stock once, and nothing is left parked or queued."""
    dish = await shop.new_item(on_hand=ORDERS)
    customer = await shop.customer()
    placing = asyncio.create_task(paid_orders(shop, customer, dish))
    try:
        scaled = await scale_in(shop, tap, stopped, killed)
        order_ids = await placing
    finally:
        placing.cancel()
    assert len(shop.platform.running("kitchen")) == 1
    for order_id in order_ids:  # one cook left for what remains
        await shop.wait_for(customer, order_id, "ready", within=ORDERS * COOK_SECONDS * 3)
    await quiet.until_quiet(shop.platform)
    assert (await quiet.parked(shop.platform))["messages"] == []
    level = await shop.stock(dish)
    assert (level["on_hand"], level["available"]) == (0, 0)  # each order's dish, once
    book = await peek.stock_book(shop.platform)
    assert {book.reservations[o]["state"] for o in order_ids} == {"committed"}
    return order_ids, scaled


def cooks(tap: EventTap, order_id: str, kind: str) -> list[Event]:
    return tap.of(order_id, f"kitchen.ticket_{kind}")


async def started_again(platform: LocalPlatform, tap: EventTap, order_ids: list[str]) -> set[str]:
    """Orders a cook started more than once; each was finished exactly once, by the cook
    who started it last, whatever the event log or the tickets say."""
    again = set()
    for order_id in order_ids:
        starts, readies = cooks(tap, order_id, "started"), cooks(tap, order_id, "ready")
        assert len(readies) == 1, (order_id, [e.data for e in readies])
        assert readies[0].data["cook"] == starts[-1].data["cook"], order_id
        assert [e.data["attempt"] for e in starts] == list(range(1, len(starts) + 1))
        ticket = await peek.ticket(platform, order_id)
        assert ticket is not None
        assert (ticket.attempts, ticket.worker) == (len(starts), readies[0].data["cook"])
        if len(starts) > 1:
            again.add(order_id)
    return again


def started_by(tap: EventTap, order_id: str, kitchen: ServiceProcess) -> bool:
    return any(e.data["cook"].startswith(kitchen.cooks) for e in cooks(tap, order_id, "started"))


async def test_four_kitchens_stopped_to_one_under_load_lose_and_recook_nothing(
    shop: Shop, tap: EventTap
) -> None:
    platform = shop.platform
    assert len(platform.running("kitchen")) == 1
    leaving = [await asyncio.to_thread(platform.start_service, "kitchen") for _ in range(3)]

    order_ids, scaled = await serve_under_load(shop, tap, stopped=leaving)

    assert scaled.exit_codes == [0, 0, 0], "each stopped within its grace, on its own"
    assert await started_again(platform, tap, order_ids) == set(), "an order cooked twice"
    on_the_stove = [o for orders in scaled.cooking.values() for o in orders]
    assert len(on_the_stove) == 3
    finished_draining = []
    for kitchen, orders in scaled.cooking.items():
        for order_id in orders:
            (ready,) = cooks(tap, order_id, "ready")
            assert ready.data["cook"].startswith(kitchen.cooks), "finished where it was started"
            if ready.occurred_at > scaled.signalled_at:
                finished_draining.append(order_id)
    assert finished_draining, "no kitchen was stopped with an order on the stove"
    survivor = platform.process("kitchen")
    assert any(started_by(tap, order_id, survivor) for order_id in order_ids)


async def test_a_kitchen_killed_while_scaling_in_has_only_its_own_order_cooked_again(
    shop: Shop, tap: EventTap
) -> None:
    platform = shop.platform
    assert len(platform.running("kitchen")) == 1
    leaving = [await asyncio.to_thread(platform.start_service, "kitchen") for _ in range(2)]
    doomed = await asyncio.to_thread(platform.start_service, "kitchen", **NEVER_DONE)

    order_ids, scaled = await serve_under_load(shop, tap, stopped=leaving, killed=doomed)

    assert scaled.exit_codes == [0, 0]
    (killed_on,) = scaled.cooking[doomed]
    assert await started_again(platform, tap, order_ids) == {killed_on}
    first, second = cooks(tap, killed_on, "started")
    assert first.data["cook"].startswith(doomed.cooks)
    assert not second.data["cook"].startswith(doomed.cooks)
    assert not [o for o in order_ids if o != killed_on and started_by(tap, o, doomed)]
