"""Stock under contention and Stripe webhooks, through the gateway of the running platform."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from devtools import stripe_webhooks
from tests.e2e.conftest import Shop


async def test_a_short_order_is_refused_with_the_short_items_and_reserves_nothing(
    shop: Shop,
) -> None:
    plenty, scarce = await shop.new_item(on_hand=10), await shop.new_item(on_hand=3)

    refused = await shop.order("frank", [(plenty, 2), (scarce, 5)])

    assert refused.status_code == 409, refused.text
    assert refused.json()["shortages"] == [{"id": scarce, "requested": 5, "available": 3}]
    assert (await shop.stock(plenty))["available"] == 10
    assert (await shop.stock(scarce))["available"] == 3
    listed = await shop.http.get("/api/customers/frank/orders")
    assert listed.json()["orders"] == []


async def test_two_hundred_customers_racing_for_fifty_units_get_exactly_fifty(
    shop: Shop,
) -> None:
    dish = await shop.new_item(on_hand=50)

    responses = await asyncio.gather(*(shop.order(f"racer-{n}", [(dish, 1)]) for n in range(200)))

    codes = Counter(response.status_code for response in responses)
    assert codes == {201: 50, 409: 150}, dict(codes)
    level = await shop.stock(dish)
    assert (level["on_hand"], level["reserved"], level["available"]) == (50, 50, 0)


async def test_a_forged_stale_or_unsigned_webhook_is_rejected_and_changes_nothing(
    shop: Shop,
) -> None:
    order = (await shop.order("grace", [("margherita", 1)])).json()
    await shop.wait_for("grace", order["id"], "awaiting_payment")
    session = await shop.checkout_session(order["id"])
    event = stripe_webhooks.checkout_event("checkout.session.completed", order["id"], session)
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

    await asyncio.sleep(1.5)  # long enough for a wrongly accepted payment to show
    assert (await shop.get("grace", order["id"]))["status"] == "awaiting_payment"


async def test_the_same_webhook_delivered_twice_has_one_effect(shop: Shop) -> None:
    dish = await shop.new_item(on_hand=6)
    order = (await shop.order("heidi", [(dish, 2)])).json()
    await shop.wait_for("heidi", order["id"], "awaiting_payment")
    session = await shop.checkout_session(order["id"])
    event = stripe_webhooks.checkout_event("checkout.session.completed", order["id"], session)

    first, second = await shop.deliver(event), await shop.deliver(event)

    assert first.json() == {"received": True, "duplicate": False}
    assert second.json() == {"received": True, "duplicate": True}
    await shop.wait_for("heidi", order["id"], "ready")
    await shop.stock_when(dish, lambda level: level["on_hand"] == 4)
    await asyncio.sleep(1.0)  # a second commit, if any, would land by now
    level = await shop.stock(dish)
    assert (level["on_hand"], level["reserved"], level["available"]) == (4, 0, 4)
