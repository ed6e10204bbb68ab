"""A customer on a phone: sold-out dishes, a shortage or a rate limit at checkout, cancelling,
a wrong link, and the live tracker through a lost stream. (The whole journey from the menu
to the kitchen pass is test_journey.py.)"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.async_api import Browser, Response, expect

from devtools.platform import LocalPlatform
from tests.screens.conftest import PHONE, Screen, Shot, open_screen
from tests.screens.pages import card, loads_from_now, order_id_of
from tests.screens.shop import Shop


async def test_a_sold_out_item_cannot_be_added_to_the_cart(
    phone: Screen, shop: Shop, shot: Shot
) -> None:
    item = await shop.new_item("Burrata", price=1400, on_hand=0)
    await shop.menu_shows(item, sold_out=True)
    page = phone.page
    await page.goto("/")
    burrata = page.locator(f'.card[data-item="{item}"]')
    await expect(burrata.get_by_text("Sold out")).to_be_visible()
    add = burrata.get_by_role("button", name="Unavailable")
    await expect(add).to_be_disabled()

    await add.click(force=True)  # even a click that ignores the disabled state adds nothing
    await expect(page.locator("#cart .cart-line")).to_have_count(0)
    await expect(page.locator("[data-cart-count]")).to_be_hidden()
    await expect(page.locator("[data-checkout]")).to_be_disabled()
    await burrata.scroll_into_view_if_needed()
    await shot(page, "sold-out")

    # A cart saved on this phone while it was still available cannot check it out either.
    await page.evaluate(
        "id => localStorage.setItem('oms.cart.v1', JSON.stringify({items: {[id]: 2}}))", item
    )
    await page.reload()
    line = page.locator(f'#cart .cart-line[data-item="{item}"]')
    await expect(line).to_contain_text("Sold out: remove it to check out")
    await expect(page.locator("[data-checkout]")).to_be_disabled()
    await line.get_by_role("button", name="Remove Burrata").click()
    await expect(line).to_have_count(0)


async def test_an_item_that_sells_out_after_the_menu_loaded_is_explained_at_checkout(
    phone: Screen, shop: Shop, shot: Shot
) -> None:
    item = await shop.new_item("Cannoli", price=450, on_hand=1)
    await shop.menu_shows(item, sold_out=False)
    page = phone.page
    await page.goto("/")
    cannoli = page.locator(f'.card[data-item="{item}"]')
    await cannoli.get_by_role("button", name="Add").click()
    await card(page, "Margherita").get_by_role("button", name="Add").click()
    await shop.set_stock(item, 0)  # the last one went while the customer chose

    await page.locator("#cart").get_by_role("button", name="Checkout · €14.00").click()
    alert = page.locator("[data-checkout-message]")
    await expect(alert).to_have_text(
        "Sorry, we just ran short of Cannoli (sold out). We updated your order: "
        "please check it and try again."
    )
    await expect(cannoli.get_by_text("Sold out")).to_be_visible()
    await expect(page.locator("#cart .cart-line")).to_have_count(1)
    checkout = page.locator("#cart").get_by_role("button", name="Checkout · €9.50")
    await expect(checkout).to_be_enabled()
    await alert.scroll_into_view_if_needed()
    await shot(page, "shortage")


async def test_a_customer_cancels_an_unpaid_order_from_the_tracker(
    phone: Screen, shop: Shop, shot: Shot
) -> None:
    page = phone.page
    # Ordered from this phone (its session cookie), then opened from the order's link.
    session = await page.request.post("/api/session")
    assert session.status == 201
    body = {"items": [{"id": "diavola", "quantity": 1}]}
    created = await page.request.post("/api/orders", data=body)
    assert created.status == 201, await created.text()
    placed = await created.json()
    await shop.order_when(placed["id"], "awaiting_payment")
    await page.goto(placed["tracking_url"])
    tracker = page.locator("[data-tracker]")
    await expect(tracker).to_have_attribute("data-status", "awaiting_payment")
    await expect(page.get_by_role("link", name="Pay now")).to_be_visible()

    await page.get_by_role("button", name="Cancel order").click()
    dialog = page.get_by_role("dialog", name="Cancel this order?")
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name="Cancel order").click()
    await expect(tracker).to_have_attribute("data-status", "cancelled")
    await expect(page.locator("[data-step=ending]")).to_contain_text("Cancelled")
    await expect(page.get_by_role("button", name="Cancel order")).to_be_hidden()
    await expect(page.get_by_role("link", name="Pay now")).to_be_hidden()
    await shot(page, "cancelled")
    order = await shop.admin_order(order_id_of(page))
    assert order["status"] == "cancelled"


async def test_a_customer_ordering_too_fast_is_asked_to_wait(
    browser: Browser, platform: LocalPlatform, shop: Shop, shot: Shot
) -> None:
    # A gateway of its own with a strict limit: one order per minute per session.
    strict = platform.start_service(
        "gateway", GATEWAY_ORDER_BURST="1", GATEWAY_ORDER_RATE_PER_MINUTE="1"
    )
    screen = await open_screen(browser, f"http://127.0.0.1:{strict.port}", PHONE)
    try:
        page = screen.page
        await page.goto("/")
        session = await page.request.post("/api/session")
        assert session.status == 201
        expires_at = (await session.json())["expires_at"]
        await page.evaluate(
            "at => localStorage.setItem('oms.session.expires', String(Date.parse(at)))",
            expires_at,
        )
        first = await page.request.post(
            "/api/orders", data={"items": [{"id": "tiramisu", "quantity": 1}]}
        )
        assert first.status == 201, await first.text()  # the session's one order this minute

        await card(page, "Margherita").get_by_role("button", name="Add").click()
        checkout = page.locator("#cart").get_by_role("button", name="Checkout · €9.50")
        await checkout.click()
        await expect(page.locator("[data-checkout-message]")).to_have_text(
            re.compile(r"^You are ordering faster than we can keep up\. Try again in \d+ s\.$")
        )
        await expect(checkout).to_be_disabled()
        await expect(page).to_have_url(re.compile(r"/$"))  # still on the menu, cart kept
        await expect(page.locator("#cart .cart-line")).to_have_count(1)
        await checkout.scroll_into_view_if_needed()
        await shot(page, "rate-limited")
    finally:
        await screen.context.close()
        strict.stop()
    screen.check()


async def test_a_wrong_tracking_link_shows_a_page_that_says_so(phone: Screen, shop: Shop) -> None:
    order = await shop.place_order([("margherita", 1)])
    page = phone.page
    response = await page.goto(f"/orders/{order['id']}?t=not-the-token")
    assert response is not None
    assert response.status == 404
    await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    await expect(page.get_by_text("Check the link you followed")).to_be_visible()
    await expect(page.get_by_role("link", name="Back to the menu")).to_have_attribute("href", "/")
    await expect(page.get_by_text("Margherita")).to_have_count(0)


async def test_the_tracker_reconnects_even_when_its_first_reconnect_is_refused(
    phone: Screen, shop: Shop, shot: Shot
) -> None:
    order = await shop.place_order([("tiramisu", 1)])
    page = phone.page
    await page.goto(order["tracking_url"])
    tracker = page.locator("[data-tracker]")
    live = page.locator("[data-live]")
    alert = page.locator("[data-live-alert]")
    await expect(tracker).to_have_attribute("data-status", "awaiting_payment")
    await expect(live).to_have_attribute("data-state", "live")
    await expect(alert).to_be_hidden()
    loads = await loads_from_now(page)

    stream = f"/api/orders/{order['id']}/events"

    def refused(response: Response) -> bool:
        return urlsplit(response.url).path == stream and response.status == 503

    async with shop.order_refused():  # the gateway comes back before Order answers it
        async with page.expect_response(refused):
            async with shop.gateway_down():
                await expect(live).to_have_attribute("data-state", "reconnecting")
                await expect(alert).to_have_text(
                    "Connection lost: reconnecting… "
                    "Your order's progress shows here again once we are back online."
                )
                await shop.pay_behind_the_gateway(order["id"])
                await shot(page, "reconnecting")
        # The gateway answered the tracker's reconnect 503: EventSource gives up on that.
        await expect(live).to_have_attribute("data-state", "reconnecting")
        await expect(alert).to_be_visible()
    await expect(live).to_have_attribute("data-state", "live")
    await expect(alert).to_be_hidden()
    await expect(tracker).to_have_attribute("data-status", "ready", timeout=60_000)
    assert loads == []  # the stream moved it, not a reload
