"""Money against cooking: a refund while the order is on the stove, a refund while the cook's
start is still on its way to Order, and a confirmed order reaching the kitchen (again) after
its refund, each held in place by a paused consumer, on a platform of this module's own whose
cooks take ten minutes an order.

A refunded order is never finished: its ticket is void, its cook stops, its money goes back,
and its stock comes back (no cook had started it) or is written off (one had). Which of the
two is what the kitchen found when it voided the ticket, not what Order knew at the refund.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from devtools import peek, quiet
from devtools.event_tap import EventTap
from devtools.faults import ProcessFaults
from devtools.platform import LocalPlatform
from tests.e2e.conftest import Customer, Json, Servers, Shop, eventually, own_platform, shop_of

pytestmark = pytest.mark.timeout(180)
COOK_SECONDS = 600  # far longer than any test here runs: a finished ticket would be a bug


@pytest.fixture(scope="module")
def slow_kitchen(real_servers: Servers) -> Iterator[LocalPlatform]:
    env = {"KITCHEN_LONGEST_COOK_SECONDS": str(COOK_SECONDS), "KITCHEN_DRAIN_SECONDS": "1"}
    with own_platform(
        real_servers, "saga-kitchen", seconds_per_item=COOK_SECONDS, env=env
    ) as platform:
        yield platform


@pytest.fixture
async def shop(slow_kitchen: LocalPlatform) -> AsyncIterator[Shop]:
    async with shop_of(slow_kitchen) as opened:
        yield opened
    for process in slow_kitchen.processes:
        if process.running and process.service != "gateway":
            await ProcessFaults(slow_kitchen, process).clear()


@pytest.fixture
async def tap(slow_kitchen: LocalPlatform) -> AsyncIterator[EventTap]:
    async with EventTap(slow_kitchen.amqp_url) as witness:
        yield witness


async def test_a_refund_while_cooking_voids_the_ticket_stops_the_cook_and_writes_off_stock(
    shop: Shop, tap: EventTap
) -> None:
    platform = shop.platform
    dish = await shop.new_item(on_hand=4)
    dora = await shop.customer()
    order = await shop.place(dora, [(dish, 1)])
    await shop.pay(order)
    await shop.wait_for(dora, order["id"], "preparing")
    kitchen = platform.process("kitchen")
    assert order["id"] in await peek.cooking(platform, kitchen)
    kitchen_faults = ProcessFaults(platform, kitchen)
    await kitchen_faults.pause("kitchen.voids")

    refunded = await shop.refund(order["id"], "dropped on the floor")

    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["status"] == "refunded"
    await kitchen_faults.until_held("kitchen.voids")

    async def stopped() -> bool:
        return order["id"] not in await peek.cooking(platform, kitchen)

    # With the shared void queue held, the cook's own process still hears of the refund (its
    # follower queue): whichever process cooks the order, its cook stops.
    await eventually("the cook stopped", stopped)
    await kitchen_faults.resume("kitchen.voids")
    food_used, stock, final = await _refund_settled(shop, tap, dora, order["id"])
    assert (food_used, stock) == (True, "write_off")
    assert "ready" not in [change["status"] for change in final["history"]]
    level = await shop.stock(dish)
    assert (level["on_hand"], level["available"]) == (3, 3), "a started dish is written off"
    assert (await peek.stock_book(platform)).reservations[order["id"]]["state"] == "written_off"


async def test_a_refund_racing_the_cooks_start_report_writes_off_the_used_stock(
    shop: Shop, tap: EventTap
) -> None:
    platform = shop.platform
    dish = await shop.new_item(on_hand=4)
    fay = await shop.customer()
    order = await shop.place(fay, [(dish, 1)])
    order_faults = ProcessFaults(platform, platform.process("order"))
    await order_faults.pause("order.kitchen")
    await shop.pay(order)
    # A cook has started (the ticket is stored cooking); Order has not heard yet.
    await order_faults.until_held("order.kitchen")

    async def committed() -> bool:
        book = await peek.stock_book(platform)
        return book.reservations.get(order["id"], {}).get("state") == "committed"

    await eventually("the paid order's stock committed", committed)
    assert await peek.ticket_status(platform, order["id"]) == "cooking"
    assert (await shop.get(fay, order["id"]))["status"] == "paid"

    refunded = await shop.refund(order["id"], "changed their mind")

    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["status"] == "refunded"
    # The kitchen voided the cooking ticket and says the food was used; that report waits
    # behind the start, and the stock waits for it: nothing was returned meanwhile.
    await order_faults.until_held("order.kitchen", count=2)
    assert await committed()
    await order_faults.resume("order.kitchen")
    food_used, stock, final = await _refund_settled(shop, tap, fay, order["id"])
    assert (food_used, stock) == (True, "write_off")
    # Order never applied the late start: a refunded order stays refunded.
    assert [change["status"] for change in final["history"]][-2:] == ["paid", "refunded"]
    level = await shop.stock(dish)
    assert (level["on_hand"], level["available"]) == (3, 3), "used food is not back on hand"
    assert (await peek.stock_book(platform)).reservations[order["id"]]["state"] == "written_off"


@pytest.mark.parametrize("redelivery", ["consumer resumes", "kitchen killed and replaced"])
async def test_an_order_reaching_the_kitchen_after_its_refund_is_never_cooked(
    shop: Shop, tap: EventTap, redelivery: str
) -> None:
    platform = shop.platform
    dish = await shop.new_item(on_hand=4)
    eli = await shop.customer()
    order = await shop.place(eli, [(dish, 2)])
    kitchen = platform.process("kitchen")
    kitchen_faults = ProcessFaults(platform, kitchen)
    await kitchen_faults.pause("kitchen.orders")
    await shop.pay(order)
    await kitchen_faults.until_held("kitchen.orders")  # confirmed, not yet seen by a cook
    assert (await shop.get(eli, order["id"]))["status"] == "paid"

    refunded = await shop.refund(order["id"])

    assert refunded.status_code == 200, refunded.text

    async def voided() -> bool:
        return await peek.ticket_status(platform, order["id"]) == "voided"

    await eventually("the ticket voided before any cook saw it", voided)
    if redelivery == "consumer resumes":
        await kitchen_faults.resume("kitchen.orders")
    else:
        kitchen.kill()  # RabbitMQ gives the unacknowledged order to the next kitchen
        platform.start_service("kitchen")
    food_used, stock, _ = await _refund_settled(shop, tap, eli, order["id"])
    assert (food_used, stock) == (False, "return")
    # No cook started it: the kitchen's only report is the void, with no food used.
    assert [t for t in tap.types(order["id"]) if t.startswith("kitchen.")] == [
        "kitchen.ticket_voided"
    ]
    level = await shop.stock(dish)
    assert (level["on_hand"], level["available"]) == (4, 4), "an unstarted dish comes back"
    assert (await peek.stock_book(platform)).reservations[order["id"]]["state"] == "returned"


async def _refund_settled(
    shop: Shop, tap: EventTap, customer: Customer, order_id: str
) -> tuple[bool, str, Json]:
    """Once a refund has gone through everywhere (money back, the ticket voided and never
    ready, the order refunded): whether the kitchen reported the food used, what Order then
    decided for the stock, and the order as its customer sees it."""
    await tap.wait_for(order_id, "payment.refunded")
    decided = await tap.wait_for(order_id, "order.refund_stock")
    await quiet.until_quiet(shop.platform)
    (void_report,) = tap.of(order_id, "kitchen.ticket_voided")
    assert await peek.ticket_status(shop.platform, order_id) == "voided"
    assert "kitchen.ticket_ready" not in tap.types(order_id)
    final = await shop.get(customer, order_id)
    assert (final["status"], final["refunded"]) == ("refunded", True)
    assert await peek.payment_status(shop.platform, order_id) == "refunded"
    return bool(void_report.data["food_used"]), str(decided.data["stock"]), final
