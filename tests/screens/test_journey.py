"""One order on two screens at once: a customer orders two dishes on a phone and pays on the
test payment page; the kitchen display on a tablet shows that very order's ticket appear,
move through its columns and leave when it is bumped, while the phone's tracker follows
every step without reloading."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.screens.conftest import Screen, Shot
from tests.screens.pages import (
    TIMES,
    card,
    loads_from_now,
    order_id_of,
    short_number,
    sign_in,
    token_of,
)
from tests.screens.shop import Shop, eventually


async def test_a_customers_order_from_the_menu_to_the_kitchen_pass(
    phone: Screen, tablet: Screen, shop: Shop, shot: Shot
) -> None:
    kitchen = tablet.page
    await sign_in(kitchen, shop.platform.admin_token, "/kitchen")

    page = phone.page
    await order_two_dishes(page, shot)
    await expect(page).to_have_url(re.compile(r"/test-payments/[\w-]+$"))
    await expect(page.get_by_role("note")).to_contain_text("TEST PAYMENT, no real money")
    await expect(page.get_by_role("heading", name="Pay €15.50")).to_be_visible()
    order_id = order_id_of(page)
    number = short_number(order_id)
    ticket = kitchen.locator(f'.ticket[data-order="{order_id}"]')
    await expect(ticket).to_have_count(0)  # unpaid orders are not the kitchen's yet
    await shot(page, "test-payment")

    tracker = page.locator("[data-tracker]")
    queued = kitchen.locator("[data-column=queued]")
    async with shop.kitchen_held() as held:  # so the ticket waits in the queue for a while
        await page.get_by_role("button", name="Pay €15.50 (test)").click()
        await expect(page).to_have_url(re.compile(r"/orders/[\w-]+\?t=[\w-]+&paid=1$"))
        # From here on the phone's page must never load again: its stream moves it.
        await page.evaluate("window.__trackerLoadedOnce = true")
        loads = await loads_from_now(page)
        await expect(page.locator("[data-live]")).to_have_attribute("data-state", "live")

        await expect(queued.locator(ticket)).to_be_visible()
        await expect(ticket.locator("[data-number]")).to_have_text(number)
        await expect(ticket.locator("[data-lines] li")).to_have_text(
            [f"1{TIMES} Margherita", f"1{TIMES} Tiramisu"]
        )
        await expect(ticket.locator("[data-age]")).to_have_text(re.compile(r"^0:\d\d$"))
        await expect(ticket).to_have_attribute("data-age", "ok")
        await expect(queued.locator("[data-count]")).not_to_have_text("0")
        await expect(tracker).to_have_attribute("data-status", "paid")
        await expect(page.locator("[data-headline]")).to_have_text(
            "Paid: your order is in the kitchen's queue"
        )
        await shot(kitchen, "kitchen-queued")
        await shot(page, "tracker")

        async def kitchen_holds_it() -> bool:
            return await held() >= 1

        await eventually(kitchen_holds_it, "the paused kitchen holding the order")

    # The kitchen takes it again: a cook starts it, then it is cooked.
    await expect(kitchen.locator("[data-column=cooking]").locator(ticket)).to_be_visible()
    await expect(ticket.locator("[data-cook]")).to_have_text(re.compile(r"^Cook: \S+"))
    await shot(kitchen, "kitchen-cooking")
    ready = kitchen.locator("[data-column=ready]")
    await expect(ready.locator(ticket)).to_be_visible(timeout=60_000)
    bump = ticket.get_by_role("button", name=f"Bump order {number}: picked up")
    await expect(bump).to_be_visible()
    await shot(kitchen, "kitchen-ready")

    await expect(tracker).to_have_attribute("data-status", "ready")
    await expect(page.locator("[data-step=ready]")).to_have_class(re.compile(r"\bcurrent\b"))
    await expect(page.locator("[data-headline]")).to_have_text(
        "Ready! Show this number at the counter"
    )
    for step in ("pending", "awaiting_payment", "paid", "preparing"):
        await expect(page.locator(f"[data-step={step}]")).to_have_class(re.compile(r"\bdone\b"))
    await shot(page, "tracker-ready")

    # At the counter: the kitchen bumps it (from the keyboard: the display works without
    # touch too), the ticket leaves, and the customer's tracker says it was picked up.
    await bump.focus()
    await kitchen.keyboard.press("Enter")
    await expect(ticket).to_have_count(0)
    await expect(tracker).to_have_attribute("data-status", "picked_up")
    await expect(page.locator("[data-headline]")).to_have_text("Picked up. Enjoy your meal!")
    await expect(page.locator("[data-live]")).to_have_attribute("data-state", "done")
    await shot(page, "tracker-picked-up")
    assert await page.evaluate("window.__trackerLoadedOnce") is True
    assert loads == []

    order = await shop.admin_order(order_id)
    assert order["status"] == "picked_up"
    assert sorted((i["name"], i["quantity"]) for i in order["items"]) == [
        ("Margherita", 1),
        ("Tiramisu", 1),
    ]
    assert order["total"] == 1550
    assert token_of(page)


async def order_two_dishes(page: Page, shot: Shot) -> None:
    """From the menu to checkout: two dishes in the cart (a quantity up and down again)."""
    await page.goto("/")
    await expect(page.get_by_role("heading", name="Order for pick-up")).to_be_visible()
    await expect(card(page, "Margherita")).to_contain_text("€9.50")
    await shot(page, "menu")

    await card(page, "Margherita").get_by_role("button", name="Add").click()
    await card(page, "Tiramisu").get_by_role("button", name="Add").press("Enter")  # keyboard
    cart = page.locator("#cart")
    await expect(cart.locator(".cart-line")).to_have_count(2)
    await cart.get_by_role("button", name="One more Margherita").click()
    await expect(cart.get_by_label("Margherita: 2")).to_be_visible()
    await cart.get_by_role("button", name="One less Margherita").click()
    await expect(cart.get_by_label("Margherita: 1")).to_be_visible()
    await expect(page.locator("[data-cart-count]")).to_have_text("2")
    checkout = cart.get_by_role("button", name="Checkout · €15.50")
    await checkout.scroll_into_view_if_needed()
    await shot(page, "cart")
    await checkout.click()
