"""Money against cancellation: each interleaving of a capture and a cancel made to happen on
purpose, by holding the capture in Order's consumer (`order.payments`) until the other side
has acted, on a platform of this module's own.

Whatever the order of events, money, stock and the kitchen agree: a cancelled order whose
money still arrives gets it back and is never cooked; a paid order cannot be cancelled and is
cooked; one Stripe event delivered twenty times at once is applied once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import pytest

from devtools import peek, quiet, stripe_webhooks
from devtools.event_tap import EventTap
from devtools.faults import ProcessFaults
from devtools.platform import LocalPlatform
from tests.e2e.conftest import Json, Servers, Shop, own_platform, shop_of

pytestmark = pytest.mark.timeout(180)
PAYMENTS = "order.payments"


@pytest.fixture(scope="module")
def saga_platform(real_servers: Servers) -> Iterator[LocalPlatform]:
    with own_platform(real_servers, "saga-payments") as platform:
        yield platform


@pytest.fixture
async def shop(saga_platform: LocalPlatform) -> AsyncIterator[Shop]:
    async with shop_of(saga_platform) as opened:
        yield opened
    # Whatever a test paused, the next one starts without it.
    for process in saga_platform.processes:
        if process.running and process.service != "gateway":
            await ProcessFaults(saga_platform, process).clear()


@pytest.fixture
async def tap(saga_platform: LocalPlatform) -> AsyncIterator[EventTap]:
    async with EventTap(saga_platform.amqp_url) as witness:
        yield witness


def _order_faults(shop: Shop) -> ProcessFaults:
    return ProcessFaults(shop.platform, shop.platform.process("order"))


def _capture(order: Json) -> Json:
    return stripe_webhooks.checkout_event(
        "checkout.session.completed",
        order["id"],
        order["checkout_session_id"],
        amount_total=order["total"],
        currency=order["currency"],
    )


async def test_money_arriving_after_a_cancel_is_refunded_and_nothing_is_cooked(
    shop: Shop, tap: EventTap
) -> None:
    dish = await shop.new_item(on_hand=3)
    ann = await shop.customer()
    order = await shop.place(ann, [(dish, 2)])
    order_faults = _order_faults(shop)
    await order_faults.pause(PAYMENTS)

    cancelled = await shop.cancel(ann, order["id"])  # closes the checkout, then cancels
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    # A payment already under way at Stripe completes anyway.
    late = await shop.deliver(_capture(order))
    assert late.json() == {"received": True, "duplicate": False}
    await order_faults.until_held(PAYMENTS)  # Order hears of the money only after the cancel
    await order_faults.resume(PAYMENTS)

    await tap.wait_for(order["id"], "payment.refunded")
    await quiet.until_quiet(shop.platform)
    final = await shop.get(ann, order["id"])
    assert (final["status"], final["refunded"]) == ("cancelled", True)
    assert "paid" not in [change["status"] for change in final["history"]]
    assert await peek.payment_status(shop.platform, order["id"]) == "refunded"
    assert tap.count(order["id"], "order.refund_required") == 1
    assert tap.count(order["id"], "payment.refunded") == 1
    level = await shop.stock(dish)
    assert (level["on_hand"], level["available"]) == (3, 3)
    assert (await peek.stock_book(shop.platform)).reservations[order["id"]]["state"] == "released"
    assert await peek.ticket(shop.platform, order["id"]) is None
    assert "order.confirmed" not in tap.types(order["id"])
    assert not [t for t in tap.types(order["id"]) if t.startswith("kitchen.")]


async def test_a_cancel_after_the_money_arrived_is_refused_and_the_order_is_cooked(
    shop: Shop, tap: EventTap
) -> None:
    dish = await shop.new_item(on_hand=3)
    ben = await shop.customer()
    order = await shop.place(ben, [(dish, 1)])
    order_faults = _order_faults(shop)
    await order_faults.pause(PAYMENTS)
    paid = await shop.deliver(_capture(order))
    assert paid.json() == {"received": True, "duplicate": False}
    await order_faults.until_held(PAYMENTS)
    # Order has not applied the capture yet: the order still looks unpaid.
    assert (await shop.get(ben, order["id"]))["status"] == "awaiting_payment"

    refused = await shop.cancel(ben, order["id"])  # Payment says the checkout was paid

    assert refused.status_code == 409, refused.text
    assert "paid" in refused.json()["error"]["message"]
    await order_faults.resume(PAYMENTS)
    ready = await shop.wait_for(ben, order["id"], "ready")
    assert ready["refunded"] is False
    await quiet.until_quiet(shop.platform)
    assert await peek.payment_status(shop.platform, order["id"]) == "captured"
    assert tap.count(order["id"], "order.confirmed") == 1
    assert "order.cancelled" not in tap.types(order["id"])
    assert "order.refund_required" not in tap.types(order["id"])
    level = await shop.stock(dish)
    assert (level["on_hand"], level["available"]) == (2, 2)
    assert (await peek.stock_book(shop.platform)).reservations[order["id"]]["state"] == "committed"
    assert await peek.ticket_status(shop.platform, order["id"]) == "cooked"


async def test_twenty_simultaneous_deliveries_of_one_event_are_applied_once(
    shop: Shop, tap: EventTap
) -> None:
    dish = await shop.new_item(on_hand=5)
    cleo = await shop.customer()
    order = await shop.place(cleo, [(dish, 1)])
    event = _capture(order)

    answers = await asyncio.gather(*(shop.deliver(event) for _ in range(20)))

    assert Counter(a.status_code for a in answers) == {200: 20}, [a.text for a in answers][:3]
    assert Counter(a.json()["duplicate"] for a in answers) == {False: 1, True: 19}
    await shop.wait_for(cleo, order["id"], "ready")
    await quiet.until_quiet(shop.platform)
    assert tap.count(order["id"], "payment.captured") == 1
    assert tap.count(order["id"], "order.confirmed") == 1
    assert tap.count(order["id"], "kitchen.ticket_started") == 1
    assert (await shop.stock(dish))["on_hand"] == 4
