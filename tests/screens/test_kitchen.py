"""The kitchen display on a tablet: a paid order's ticket, live from queued to ready, bumped
when it is picked up."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.screens.conftest import KDS_LATE_SECONDS, KDS_WARN_SECONDS, Screen, Shot
from tests.screens.pages import TIMES, short_number, sign_in
from tests.screens.shop import Shop, eventually


async def test_a_paid_order_appears_moves_through_the_columns_and_leaves_when_bumped(
    tablet: Screen, shop: Shop, shot: Shot
) -> None:
    page = tablet.page
    await sign_in(page, shop.platform.admin_token, "/kitchen")
    queued = page.locator("[data-column=queued]")
    cooking = page.locator("[data-column=cooking]")
    ready = page.locator("[data-column=ready]")

    async with shop.kitchen_held() as held:
        order = await shop.place_order([("insalata-mista", 1), ("quattro-formaggi", 2)])
        ticket = page.locator(f'.ticket[data-order="{order["id"]}"]')
        await expect(ticket).to_have_count(0)  # unpaid orders are not the kitchen's yet
        await shop.pay(order["id"], order["tracking_url"].rpartition("?t=")[2])
        await expect(queued.locator(ticket)).to_be_visible()
        await expect(ticket.locator("[data-number]")).to_have_text(short_number(order["id"]))
        await expect(ticket.locator("[data-lines] li")).to_have_text(
            [f"1{TIMES} Insalata mista", f"2{TIMES} Quattro Formaggi"]
        )
        await expect(ticket.locator("[data-age]")).to_have_text(re.compile(r"^0:\d\d$"))
        await expect(ticket).to_have_attribute("data-age", "ok")
        await expect(queued.locator("[data-count]")).not_to_have_text("0")
        await shot(page, "queued")

        async def kitchen_holds_it() -> bool:
            return await held() >= 1

        await eventually(kitchen_holds_it, "the paused kitchen holding the order")

    # The kitchen takes it again: a cook starts it, then it is cooked.
    await expect(cooking.locator(ticket)).to_be_visible()
    await expect(ticket.locator("[data-cook]")).to_have_text(re.compile(r"^Cook: \S+"))
    await shot(page, "cooking")
    await expect(ready.locator(ticket)).to_be_visible(timeout=60_000)
    bump = ticket.get_by_role("button", name=f"Bump order {short_number(order['id'])}: picked up")
    await expect(bump).to_be_visible()
    await shot(page, "ready")

    await bump.focus()
    await page.keyboard.press("Enter")  # the whole display works from a keyboard too
    await expect(ticket).to_have_count(0)
    picked = await shop.order_when(order["id"], "picked_up")
    assert picked["status"] == "picked_up"


async def test_a_ticket_turns_amber_then_red_at_the_configured_ages(
    tablet: Screen, shop: Shop
) -> None:
    page = tablet.page
    await page.clock.install()  # the display's clock, moved on below instead of waiting
    await sign_in(page, shop.platform.admin_token, "/kitchen")
    board = page.locator("[data-kds]")
    await expect(board).to_have_attribute("data-warn-seconds", str(KDS_WARN_SECONDS))
    await expect(board).to_have_attribute("data-late-seconds", str(KDS_LATE_SECONDS))
    async with shop.kitchen_held():
        order = await shop.place_order([("acqua-frizzante", 1)])
        await shop.pay(order["id"], order["tracking_url"].rpartition("?t=")[2])
        ticket = page.locator(f'.ticket[data-order="{order["id"]}"]')
        await expect(ticket).to_have_attribute("data-age", "ok")
        await expect(ticket.locator("[data-flag]")).to_have_text("")

        await page.clock.fast_forward(KDS_WARN_SECONDS * 1000)
        await expect(ticket).to_have_attribute("data-age", "warn")
        await expect(ticket.locator("[data-flag]")).to_have_text("Due soon")
        await page.clock.fast_forward((KDS_LATE_SECONDS - KDS_WARN_SECONDS) * 1000)
        await expect(ticket).to_have_attribute("data-age", "late")
        await expect(ticket.locator("[data-flag]")).to_have_text("Late")
        await expect(ticket.locator("[data-age]")).to_have_text(re.compile(r"^4:\d\d$"))


async def test_the_display_says_it_lost_its_stream_and_shows_what_was_paid_meanwhile(
    tablet: Screen, shop: Shop, shot: Shot
) -> None:
    page = tablet.page
    await sign_in(page, shop.platform.admin_token, "/kitchen")
    live = page.locator("[data-live]")
    alert = page.locator("[data-live-alert]")
    await expect(alert).to_be_hidden()
    order = await shop.place_order([("diavola", 1)])
    ticket = page.locator(f'.ticket[data-order="{order["id"]}"]')
    loads: list[str] = []
    page.on("load", lambda loaded: loads.append(loaded.url))

    async with shop.kitchen_held() as held:
        async with shop.gateway_down():  # its streams end, and nothing answers for a while
            await expect(live).to_have_attribute("data-state", "reconnecting")
            await expect(alert).to_have_text(
                "Connection lost: reconnecting… "
                "New tickets show up here once the display is back online."
            )
            await shop.pay_behind_the_gateway(order["id"])

            async def kitchen_holds_it() -> bool:
                return await held() >= 1  # Order made it paid, and told the kitchen

            await eventually(kitchen_holds_it, "the paused kitchen holding the order")
            await expect(ticket).to_have_count(0)  # paid while this display was cut off
            await shot(page, "reconnecting")
        # A new gateway process: it never saw the payment, so the ticket comes from the
        # snapshot the display gets when it reconnects.
        await expect(live).to_have_attribute("data-state", "live")
        await expect(alert).to_be_hidden()
        await expect(page.locator("[data-column=queued]").locator(ticket)).to_be_visible()
    # And the new stream carries what happens next.
    await expect(page.locator("[data-column=cooking]").locator(ticket)).to_be_visible()
    assert loads == []  # never reloaded
