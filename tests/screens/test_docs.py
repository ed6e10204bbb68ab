"""The API's documentation renders from files the gateway ships, with no internet at all."""

from __future__ import annotations

from playwright.async_api import expect

from tests.screens.conftest import Screen, Shot


async def test_swagger_ui_renders_with_the_network_cut_off(tablet: Screen, shot: Shot) -> None:
    page = tablet.page
    await page.goto("/docs")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("OMS Gateway")
    await expect(page.locator(".swagger-ui .opblock-tag", has_text="orders")).to_be_visible()
    create = page.locator(".opblock-post", has_text="/api/orders").first
    await expect(create).to_be_visible()
    await shot(page, "docs")
    await create.locator(".opblock-summary").click()
    key = create.locator(".parameter__name", has_text="idempotency-key")
    await expect(key).to_be_visible()
    await create.scroll_into_view_if_needed()
    await page.mouse.move(0, 0)  # no hover on the operation in the picture
    await shot(page, "create-order")
    assert tablet.offline.blocked == []
