"""The screens in a real browser: Debian's Chromium, driven by Playwright, in front of the
whole platform (every service a process of its own, on the real servers).

Every page runs with the network cut off: a route aborts each request that leaves this
machine and records it, and a test that made one fails, so no screen can depend on a CDN.
A JavaScript error on any page fails its test too. Each journey saves screenshots into the
test run's folder (`<servers_dir>/screenshots/`).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    Route,
    ViewportSize,
    async_playwright,
    expect,
)

from devtools import servers
from devtools.platform import LocalPlatform
from tests.screens.shop import SHOP_NAME, Shop

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = ViewportSize(width=390, height=844)
TABLET = ViewportSize(width=1180, height=820)
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Cooking takes this long per item, so a ticket stays in the cooking column for seconds.
SECONDS_PER_ITEM = 2.5
# The kitchen display's thresholds, set to other than their defaults.
KDS_WARN_SECONDS = 120
KDS_LATE_SECONDS = 240
Shot = Callable[[Page, str], Awaitable[Path]]


@pytest.fixture(scope="session")
def platform(
    servers_dir: Path,
    rabbitmq: servers.RabbitMQ,
    ferretdb: servers.FerretDB,
    consul: servers.Consul,
    stripe_mock: servers.StripeMock,
) -> Iterator[LocalPlatform]:
    started = LocalPlatform(
        servers_dir / "oms-screens",
        rabbitmq,
        ferretdb,
        consul,
        stripe_mock,
        seconds_per_item=SECONDS_PER_ITEM,
    )
    started.base_env["GATEWAY_SHOP_NAME"] = SHOP_NAME
    started.base_env["GATEWAY_KDS_WARN_SECONDS"] = str(KDS_WARN_SECONDS)
    started.base_env["GATEWAY_KDS_LATE_SECONDS"] = str(KDS_LATE_SECONDS)
    try:
        started.start()
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="session")
async def shop(platform: LocalPlatform) -> AsyncIterator[Shop]:
    async with Shop.open(platform) as opened:
        await opened.ready()
        yield opened


@pytest.fixture(autouse=True)
async def own_items_leave_the_menu(shop: Shop) -> AsyncIterator[None]:
    yield
    await shop.take_own_items_off_the_menu()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    expect.set_options(timeout=20_000)  # two shared cores: give a busy machine time
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        await launched.close()


class Offline:
    """Aborts every request that would leave this machine, and remembers it."""

    def __init__(self) -> None:
        self.blocked: list[str] = []

    async def route(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            await route.continue_()
        else:
            self.blocked.append(route.request.url)
            await route.abort("internetdisconnected")


class Screen:
    """One device: a browser context with its own cookies and storage, and its first page."""

    def __init__(self, context: BrowserContext, page: Page, offline: Offline) -> None:
        self.context = context
        self.page = page
        self.offline = offline
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def check(self) -> None:
        assert self.offline.blocked == [], f"requests left the machine: {self.offline.blocked}"
        assert self.errors == [], f"JavaScript errors: {self.errors}"


async def open_screen(browser: Browser, base_url: str, viewport: ViewportSize) -> Screen:
    context = await browser.new_context(
        base_url=base_url, viewport=viewport, locale="en-GB", timezone_id="Europe/Rome"
    )
    offline = Offline()
    await context.route("**/*", offline.route)
    return Screen(context, await context.new_page(), offline)


@pytest.fixture
async def phone(browser: Browser, shop: Shop) -> AsyncIterator[Screen]:
    screen = await open_screen(browser, shop.url, PHONE)
    yield screen
    await screen.context.close()
    screen.check()


@pytest.fixture
async def tablet(browser: Browser, shop: Shop) -> AsyncIterator[Screen]:
    screen = await open_screen(browser, shop.url, TABLET)
    yield screen
    await screen.context.close()
    screen.check()


@pytest.fixture
def shot(servers_dir: Path, request: pytest.FixtureRequest) -> Shot:
    """`await shot(page, "tracker-ready")`: a screenshot in the run's folder, one folder
    per test (`<servers_dir>/screenshots/<test>/tracker-ready.png`)."""
    folder = servers_dir / "screenshots" / re.sub(r"^test_", "", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)

    async def take(page: Page, name: str) -> Path:
        path = folder / f"{name}.png"
        await page.screenshot(path=path, animations="disabled")
        return path

    return take
