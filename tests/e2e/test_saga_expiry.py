"""An order's deadline against its payment, on a platform of its own whose Stripe remembers
sessions (`devtools.stripe_emulator`) and whose orders must have a checkout within a second.

The order is kept pending on purpose (Order refuses Payment's `AttachPayment` for now) and
its deadline timer is held in Order's consumer (`order.deadlines`) until the customer has
paid, or started paying, at Stripe. Then the deadline is let through. Either outcome is
allowed, never both: the order is paid (and cooked), or it expires and any money that still
arrives goes back. Money is never kept without food.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import pytest

from devtools import metrics, peek, quiet
from devtools.event_tap import EventTap
from devtools.faults import ProcessFaults, rpc
from devtools.platform import LocalPlatform
from devtools.stripe_emulator import StripeEmulator
from tests.e2e.conftest import (
    Json,
    Servers,
    Shop,
    eventually,
    own_platform,
    shop_of,
    stripe_emulator,
)

pytestmark = pytest.mark.timeout(180)
DEADLINES, PAYMENTS = "order.deadlines", "order.payments"
SETTINGS = {
    "ORDER_PENDING_SECONDS": "1",
    # Stripe wants a session's expiry 30 minutes to 24 hours after the call that opens it.
    "ORDER_CHECKOUT_WINDOW_SECONDS": "2400",
    # Payment asks Order again and again while this test keeps the order pending.
    "RABBITMQ_RETRY_DELAYS_MS": "[500, 1000, 2000, 4000, 8000, 16000, 32000]",
}


@pytest.fixture(scope="module")
def emulated_stripe(real_servers: Servers) -> Iterator[StripeEmulator]:
    with stripe_emulator(real_servers) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def deadline_platform(
    real_servers: Servers, emulated_stripe: StripeEmulator
) -> Iterator[LocalPlatform]:
    with own_platform(real_servers, "expiry", stripe=emulated_stripe, env=SETTINGS) as platform:
        yield platform


@pytest.fixture
async def shop(deadline_platform: LocalPlatform) -> AsyncIterator[Shop]:
    async with shop_of(deadline_platform) as opened:
        yield opened
    for process in deadline_platform.processes:
        if process.running and process.service != "gateway":
            await ProcessFaults(deadline_platform, process).clear()


@pytest.fixture
async def tap(deadline_platform: LocalPlatform) -> AsyncIterator[EventTap]:
    async with EventTap(deadline_platform.amqp_url) as witness:
        yield witness


async def _pending_with_a_checkout(shop: Shop, order_faults: ProcessFaults, dish: str) -> Json:
    """An order past its deadline, still pending, whose Stripe session is open."""
    await order_faults.set([])
    await order_faults.add(rpc("OrderService/AttachPayment"), "error")
    await order_faults.pause(DEADLINES)
    customer = await shop.customer()
    created = await shop.order(customer, [(dish, 1)])
    assert created.status_code == 201, created.text
    order: Json = created.json()

    async def opened() -> str:
        payment = await peek.payment(shop.platform, order["id"])
        return payment.checkout_session_id if payment else ""

    order["checkout_session_id"] = await eventually("the checkout opened", opened)
    await order_faults.until_held(DEADLINES)
    assert (await shop.staff_order(order["id"]))["status"] == "pending"
    return order


async def test_a_payment_made_before_the_deadline_is_let_through_wins(
    shop: Shop, tap: EventTap, emulated_stripe: StripeEmulator
) -> None:
    platform = shop.platform
    dish = await shop.new_item(on_hand=3)
    order_faults = ProcessFaults(platform, platform.process("order"))
    order = await _pending_with_a_checkout(shop, order_faults, dish)
    await order_faults.pause(PAYMENTS)
    completed = await emulated_stripe.complete(order["checkout_session_id"], paid=True)
    assert completed.status_code == 200, completed.text
    delivered = await shop.deliver(completed.json())
    assert delivered.json() == {"received": True, "duplicate": False}
    await order_faults.until_held(PAYMENTS)  # the capture is held back from Order
    payment = platform.process("payment")
    closes = await metrics.rpc_calls(payment, "PaymentService/CloseCheckout")

    await order_faults.resume(DEADLINES)  # the deadline comes first

    async def deadline_handled() -> bool:
        return await metrics.rpc_calls(payment, "PaymentService/CloseCheckout") > closes

    await eventually("Order tried to close the checkout", deadline_handled)
    assert (await shop.staff_order(order["id"]))["status"] == "pending", "not expired: paid"
    await order_faults.clear()
    await eventually(
        "the order ready",
        lambda: _status_is(shop, order["id"], "ready"),
    )
    await quiet.until_quiet(platform)
    final = await shop.staff_order(order["id"])
    history = [change["status"] for change in final["history"]]
    assert "expired" not in history
    assert final["refunded"] is False
    assert await peek.payment_status(platform, order["id"]) == "captured"
    assert "order.refund_required" not in tap.types(order["id"])
    assert _money(await emulated_stripe.ledger(), order["id"]) == (order["total"], 0)
    assert (await peek.stock_book(platform)).reservations[order["id"]]["state"] == "committed"


async def test_a_delayed_payment_settling_after_the_deadline_is_refunded(
    shop: Shop, tap: EventTap, emulated_stripe: StripeEmulator
) -> None:
    platform = shop.platform
    dish = await shop.new_item(on_hand=3)
    order_faults = ProcessFaults(platform, platform.process("order"))
    order = await _pending_with_a_checkout(shop, order_faults, dish)
    # The customer pays by a method that settles later: the session completes unpaid.
    completed = await emulated_stripe.complete(order["checkout_session_id"], paid=False)
    assert completed.status_code == 200, completed.text
    assert (await shop.deliver(completed.json())).status_code == 200

    await order_faults.resume(DEADLINES)

    await eventually("the order expired", lambda: _status_is(shop, order["id"], "expired"))
    settled = await emulated_stripe.settle(order["checkout_session_id"])
    assert settled.status_code == 200, settled.text
    late = await shop.deliver(settled.json())
    assert late.json() == {"received": True, "duplicate": False}
    await tap.wait_for(order["id"], "payment.refunded")
    await order_faults.clear()
    await quiet.until_quiet(platform)
    final = await shop.staff_order(order["id"])
    history = [change["status"] for change in final["history"]]
    assert (final["status"], final["refunded"]) == ("expired", True)
    assert "paid" not in history
    assert await peek.payment_status(platform, order["id"]) == "refunded"
    assert _money(await emulated_stripe.ledger(), order["id"]) == (order["total"], order["total"])
    assert not [t for t in tap.types(order["id"]) if t.startswith("kitchen.")]
    assert "order.confirmed" not in tap.types(order["id"])
    assert (await peek.stock_book(platform)).reservations[order["id"]]["state"] == "released"
    assert (await shop.stock(dish))["available"] == 3


async def _status_is(shop: Shop, order_id: str, status: str) -> bool:
    return bool((await shop.staff_order(order_id))["status"] == status)


def _money(ledger: list[Json], order_id: str) -> tuple[int, int]:
    """(captured, refunded) at Stripe for the order."""
    sessions = [s for s in ledger if s["order_id"] == order_id]
    captured = sum(s["amount_total"] for s in sessions if s["payment_status"] == "paid")
    return captured, sum(s["refunded"] for s in sessions)


async def test_with_the_default_checkout_window_a_late_checkout_still_opens(
    real_servers: Servers, emulated_stripe: StripeEmulator
) -> None:
    with own_platform(real_servers, "window", stripe=emulated_stripe) as platform:
        async with shop_of(platform) as shop:
            payment = ProcessFaults(platform, platform.process("payment"))
            await payment.pause("payment.orders")
            customer = await shop.customer()
            placed_at = time.time()
            created = await shop.order(customer, [("margherita", 1)])
            order_id = created.json()["id"]
            await payment.until_held("payment.orders")

            # What is tested is time itself: Payment reaches the order two seconds late
            # (a backlog, a retry), which a 30-minute checkout must survive.
            async def two_seconds_on() -> bool:
                return time.time() > placed_at + 2

            await eventually("two seconds after placement", two_seconds_on)
            await payment.resume("payment.orders")

            async def settled() -> Json | None:
                order = await shop.get(customer, order_id)
                return order if order["status"] != "pending" else None

            order = await eventually("the checkout opened or refused", settled)
    assert order["status"] == "awaiting_payment", order["reason"]
