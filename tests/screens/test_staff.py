"""The staff's screens: the sign-in that guards them, and the staff board's orders, actions,
menu and stock."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.screens.conftest import Screen, Shot
from tests.screens.pages import TIMES, loads_from_now, short_number, sign_in
from tests.screens.shop import Shop, eventually


async def test_a_wrong_staff_token_sees_nothing(tablet: Screen, shop: Shop, shot: Shot) -> None:
    order = await shop.place_order([("margherita", 1)])  # something there would be to see
    page = tablet.page
    await page.goto("/kitchen")
    await expect(page).to_have_url(re.compile(r"/staff/login\?next=/kitchen$"))
    await page.get_by_label("Staff token").fill("not-the-staff-token")
    async with page.expect_response("**/staff/login") as answer:
        await page.get_by_role("button", name="Sign in").click()
    assert (await answer.value).status == 401
    await expect(page.get_by_role("alert")).to_have_text("That is not the staff token.")
    await expect(page.get_by_label("Staff token")).to_have_attribute("aria-invalid", "true")
    await shot(page, "login")

    for screen in ("/kitchen", "/staff"):
        await page.goto(screen)
        await expect(page).to_have_url(re.compile(rf"/staff/login\?next={screen}$"))
        await expect(page.get_by_role("heading", name=re.compile("^Sign in"))).to_be_visible()
        await expect(page.get_by_text(short_number(order["id"]))).to_have_count(0)
        await expect(page.locator(".ticket, [data-order-rows] tr")).to_have_count(0)
    for api in ("/api/admin/events", "/api/admin/orders"):
        assert (await page.request.get(api)).status == 401

    # A customer's session is no staff sign-in either.
    assert (await page.request.post("/api/session")).status == 201
    await page.goto("/staff")
    await expect(page).to_have_url(re.compile(r"/staff/login\?next=/staff$"))
    assert (await page.request.get("/api/admin/orders")).status == 401


async def test_the_staff_board_finds_orders_and_refunds_voids_and_edits_the_menu(
    tablet: Screen, shop: Shop, shot: Shot
) -> None:
    item = await shop.new_item("Panna cotta", price=550, on_hand=12)
    unpaid = await shop.place_order([(item, 1)])
    page = tablet.page
    await sign_in(page, shop.platform.admin_token, "/staff")
    rows = page.locator("[data-order-rows] tr")
    unpaid_row = page.locator(f'tr[data-order="{unpaid["id"]}"]')
    await expect(unpaid_row).to_contain_text("Awaiting payment")
    await expect(unpaid_row).to_contain_text(f"1{TIMES} Panna cotta")
    await expect(unpaid_row).to_contain_text("€5.50")
    await shot(page, "board")

    # Live: an order paid now shows up in place, without a reload.
    async with shop.kitchen_held():
        paid = await shop.place_order([(item, 2)])
        paid_row = page.locator(f'tr[data-order="{paid["id"]}"]')
        await expect(paid_row).to_contain_text("Awaiting payment")
        await shop.pay(paid["id"], paid["tracking_url"].rpartition("?t=")[2])
        await expect(paid_row).to_contain_text("Paid")
        await page.get_by_label("Status").select_option("paid")
        await expect(paid_row).to_be_visible()
        await expect(unpaid_row).to_have_count(0)
        await shot(page, "board-paid")

        number = short_number(paid["id"])
        await paid_row.get_by_role("button", name=f"Refund order {number}").click()
        dialog = page.get_by_role("dialog", name=f"Refund order {number}?")
        await expect(dialog).to_contain_text("€11.00 goes back to the customer")
        await dialog.get_by_label(re.compile("^Reason")).fill("Customer waited too long")
        await dialog.get_by_role("button", name=f"Refund order {number}").click()
        await expect(page.locator("[data-orders-message]")).to_have_text(
            f"Order {number}: refunded."
        )
        await expect(paid_row).to_have_count(0)  # not "paid" any more
    refunded = await shop.admin_order(paid["id"])
    assert (refunded["status"], refunded["reason"]) == ("refunded", "Customer waited too long")

    # Search, then void the unpaid one; "Keep order" first changes nothing.
    await page.get_by_label("Status").select_option("")
    await page.get_by_label("Search").fill(unpaid["id"][:8])
    await expect(rows).to_have_count(1)
    await expect(unpaid_row).to_be_visible()
    number = short_number(unpaid["id"])
    await unpaid_row.get_by_role("button", name=f"Void order {number}").click()
    dialog = page.get_by_role("dialog", name=f"Void order {number}?")
    await dialog.get_by_role("button", name="Keep order").click()
    await expect(dialog).to_be_hidden()
    assert (await shop.admin_order(unpaid["id"]))["status"] == "awaiting_payment"
    await unpaid_row.get_by_role("button", name=f"Void order {number}").click()
    await dialog.get_by_label(re.compile("^Reason")).fill("Duplicate order")
    await dialog.get_by_label(re.compile("^Reason")).press("Tab")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")  # the confirm button, reached from the keyboard
    await expect(unpaid_row).to_contain_text("Cancelled")
    await expect(unpaid_row).to_contain_text("Duplicate order")
    voided = await shop.admin_order(unpaid["id"])
    assert (voided["status"], voided["reason"]) == ("cancelled", "Duplicate order")

    # Menu and stock, edited in place.
    menu_row = page.locator(f'[data-menu-rows] tr[data-item="{item}"]')
    offered = menu_row.get_by_role("checkbox", name="Panna cotta on the menu")
    await expect(offered).to_be_checked()
    await offered.uncheck()
    await expect(page.locator("[data-menu-message]")).to_have_text("Panna cotta is off the menu.")
    assert not await _offered(shop, item)
    await offered.check()
    await expect(page.locator("[data-menu-message]")).to_have_text("Panna cotta is on the menu.")
    assert await _offered(shop, item)

    on_hand = menu_row.get_by_role("spinbutton", name="Panna cotta on hand")
    await on_hand.fill("0")
    await menu_row.get_by_role("button", name="Save Panna cotta on hand").click()
    await expect(page.locator("[data-menu-message]")).to_have_text("Panna cotta: 0 on hand.")
    await expect(menu_row).to_contain_text("Sold out")
    await shop.menu_shows(item, sold_out=True)
    await on_hand.fill("30")
    await on_hand.press("Enter")
    await expect(page.locator("[data-menu-message]")).to_have_text("Panna cotta: 30 on hand.")
    await shop.menu_shows(item, sold_out=False)
    await menu_row.scroll_into_view_if_needed()
    await shot(page, "menu-and-stock")

    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(re.compile(r"/staff/login$"))
    await page.goto("/kitchen")
    await expect(page).to_have_url(re.compile(r"/staff/login\?next=/kitchen$"))


async def _offered(shop: Shop, item_id: str) -> bool:
    response = await shop.http.get("/api/admin/menu/items", headers=shop.admin)
    assert response.status_code == 200, response.text
    return bool(next(i for i in response.json()["items"] if i["id"] == item_id)["offered"])


async def test_the_board_catches_up_on_what_changed_while_its_stream_was_cut(
    tablet: Screen, shop: Shop
) -> None:
    order = await shop.place_order([("diavola", 1)])
    page = tablet.page
    await sign_in(page, shop.platform.admin_token, "/staff")
    row = page.locator(f'tr[data-order="{order["id"]}"]')
    await expect(row).to_contain_text("Awaiting payment")
    loads = await loads_from_now(page)

    async with shop.kitchen_held() as held:  # nothing moves it on after it is paid
        async with shop.gateway_down():
            await expect(page.locator("[data-live-alert]")).to_have_text(
                "Connection lost: reconnecting… "
                "Statuses may be out of date until the board is back online."
            )
            await shop.pay_behind_the_gateway(order["id"])

            async def kitchen_holds_it() -> bool:
                return await held() >= 1  # so Order has made it paid

            await eventually(kitchen_holds_it, "the paused kitchen holding the order")
        await expect(page.locator("[data-live]")).to_have_attribute("data-state", "live")
        await expect(page.locator("[data-live-alert]")).to_be_hidden()
        await expect(row).to_contain_text("Paid")
    assert loads == []
