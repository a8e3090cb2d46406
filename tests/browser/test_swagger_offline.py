"""Swagger UI and the vendored libraries work in a browser that can reach nothing but the
gateway: every request stays on it, and each library is the version VERSIONS.md names."""

from __future__ import annotations

import pytest

from gateway.assets import vendor_url

pytestmark = pytest.mark.browser


async def _offline(page, live) -> list[str]:
    """Requests to anywhere but the gateway are refused; the list of those tried."""
    elsewhere: list[str] = []

    async def only_the_gateway(route):
        if route.request.url.startswith(live.url + "/"):
            await route.continue_()
        else:
            elsewhere.append(route.request.url)
            await route.abort()

    await page.route("**/*", only_the_gateway)
    return elsewhere


async def test_swagger_ui_renders_the_api_from_the_gateways_own_files(page, live):
    elsewhere = await _offline(page, live)
    await page.goto("/schema/swagger")
    await page.locator(".swagger-ui .info .title").filter(has_text="Classifier platform API").wait_for()
    await page.locator(".opblock-summary-path", has_text="/api/v1/users/me/keymap").first.wait_for()
    assert elsewhere == [] and page.errors == []


async def test_the_vendored_htmx_and_alpine_are_the_versions_listed(page, live):
    elsewhere = await _offline(page, live)
    await page.goto("/schema/swagger")
    await page.add_script_tag(url=vendor_url("htmx.min.js"))
    await page.add_script_tag(url=vendor_url("alpine.min.js"))
    assert await page.evaluate("htmx.version") == "2.0.11"
    assert await page.evaluate("Alpine.version") == "3.17.5"
    assert elsewhere == [] and page.errors == []
