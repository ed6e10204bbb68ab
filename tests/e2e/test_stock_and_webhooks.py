"""Stock under contention and Stripe webhooks, through the gateway of the running platform."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from devtools import peek, quiet, stripe_webhooks
from devtools.event_tap import EventTap
from devtools.platform import LocalPlatform
from tests.e2e.conftest import Shop


@pytest.fixture
async def tap(platform: LocalPlatform) -> AsyncIterator[EventTap]:
    async with EventTap(platform.amqp_url) as witness:
        yield witness


async def test_a_short_order_is_refused_with_the_short_items_and_reserves_nothing(
    shop: Shop,
) -> None:
    plenty, scarce = await shop.new_item(on_hand=10), await shop.new_item(on_hand=3)
    frank = await shop.customer()

    refused = await shop.order(frank, [(plenty, 2), (scarce, 5)])

    assert refused.status_code == 409, refused.text
    assert refused.json()["shortages"] == [{"id": scarce, "requested": 5, "available": 3}]
    assert (await shop.stock(plenty))["available"] == 10
    assert (await shop.stock(scarce))["available"] == 3
    listed = await shop.http.get("/api/orders", headers=frank.headers)
    assert listed.json()["orders"] == []


async def test_two_hundred_customers_racing_for_fifty_units_get_exactly_fifty(
    shop: Shop,
) -> None:
    dish = await shop.new_item(on_hand=50)
    racers = await asyncio.gather(*(shop.customer() for _ in range(200)))

    responses = await asyncio.gather(*(shop.order(racer, [(dish, 1)]) for racer in racers))

    codes = Counter(response.status_code for response in responses)
    assert codes == {201: 50, 409: 150}, dict(codes)
    level = await shop.stock(dish)
    assert (level["on_hand"], level["reserved"], level["available"]) == (50, 50, 0)


async def test_a_forged_stale_or_unsigned_webhook_is_rejected_and_changes_nothing(
    shop: Shop, tap: EventTap
) -> None:
    grace = await shop.customer()
    order = await shop.place(grace, [("margherita", 1)])
    event = stripe_webhooks.checkout_event(
        "checkout.session.completed",
        order["id"],
        order["checkout_session_id"],
        amount_total=order["total"],
        currency=order["currency"],
    )
    payload, good = stripe_webhooks.delivery(event, shop.platform.webhook_secret)
    _, forged = stripe_webhooks.delivery(event, "whsec_not_the_secret")
    _, stale = stripe_webhooks.delivery(
        event, shop.platform.webhook_secret, timestamp=int(time.time()) - 3600
    )

    for header in (forged, stale, "", "t=1,v1=deadbeef", good.replace("v1=", "v0=")):
        headers = {"Content-Type": "application/json"}
        if header:
            headers["Stripe-Signature"] = header
        response = await shop.http.post("/webhooks/stripe", content=payload, headers=headers)
        assert response.status_code == 400, (header, response.text)
        assert response.json()["error"]["message"]

    # Cancelling asks Payment first: had any of them been applied, Payment would answer
    # "already paid" and the cancel would be refused.
    cancelled = await shop.cancel(grace, order["id"])
    assert cancelled.status_code == 200, cancelled.text
    assert await peek.payment_status(shop.platform, order["id"]) == "closed"
    await tap.wait_for(order["id"], "order.cancelled")
    assert not [t for t in tap.types(order["id"]) if t.startswith("payment.")]


async def test_the_same_webhook_delivered_twice_has_one_effect(shop: Shop, tap: EventTap) -> None:
    dish = await shop.new_item(on_hand=6)
    heidi = await shop.customer()
    order = await shop.place(heidi, [(dish, 2)])
    event = stripe_webhooks.checkout_event(
        "checkout.session.completed",
        order["id"],
        order["checkout_session_id"],
        amount_total=order["total"],
        currency=order["currency"],
    )

    first, second = await shop.deliver(event), await shop.deliver(event)

    assert first.json() == {"received": True, "duplicate": False}
    assert second.json() == {"received": True, "duplicate": True}
    await shop.wait_for(heidi, order["id"], "ready")
    await quiet.until_quiet(shop.platform)
    assert tap.count(order["id"], "payment.captured") == 1
    assert tap.count(order["id"], "order.confirmed") == 1
    level = await shop.stock(dish)
    assert (level["on_hand"], level["reserved"], level["available"]) == (4, 0, 4)
    book = await peek.stock_book(shop.platform)
    assert book.reservations[order["id"]]["state"] == "committed"
