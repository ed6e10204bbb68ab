"""What a person does on the screens, in Playwright's words."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from playwright.async_api import Locator, Page, expect

TIMES = "\N{MULTIPLICATION SIGN}"  # how the screens write a quantity: "2", TIMES, " Margherita"


def short_number(order_id: str) -> str:
    """How the screens call an order: "#4D74"."""
    return "#" + order_id.replace("-", "")[:4].upper()


def card(page: Page, name: str) -> Locator:
    """A dish's card on the menu."""
    return page.locator(".card").filter(has=page.get_by_role("heading", name=name, exact=True))


def order_id_of(page: Page) -> str:
    """The order a tracker (`/orders/<id>?t=...`) or test payment page shows."""
    return urlsplit(page.url).path.rstrip("/").split("/")[-1]


def token_of(page: Page) -> str:
    return parse_qs(urlsplit(page.url).query)["t"][0]


async def sign_in(page: Page, token: str, screen: str) -> None:
    """Open a staff screen, which asks for the staff token first."""
    await page.goto(screen)
    await expect(page).to_have_url(re.compile(rf"/staff/login\?next={screen}$"))
    await page.get_by_label("Staff token").fill(token)
    await page.get_by_label("Staff token").press("Enter")
    await expect(page).to_have_url(re.compile(rf"{screen}$"))
    await expect(page.locator("[data-live]")).to_have_attribute("data-state", "live")


async def loads_from_now(page: Page) -> list[str]:
    """Every page load after the current page's own, as it happens: a live screen that must
    never reload checks that this stays empty."""
    await page.wait_for_load_state()
    loads: list[str] = []
    page.on("load", lambda loaded: loads.append(loaded.url))
    return loads
