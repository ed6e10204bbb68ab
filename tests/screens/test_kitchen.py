"""The kitchen display on a tablet: tickets coloured by age, and a display that loses its stream
and catches up by itself. (A customer's ticket from queued to bumped is test_journey.py.)"""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.screens.conftest import KDS_LATE_SECONDS, KDS_WARN_SECONDS, Screen, Shot
from tests.screens.pages import loads_from_now, sign_in
from tests.screens.shop import Shop, eventually


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
    loads = await loads_from_now(page)

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
