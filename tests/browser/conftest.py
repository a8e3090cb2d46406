"""The studio in a real browser: headless Chromium (Debian's chromium-headless-shell, driven
by Playwright) against a live gateway on a loopback port, with the three services in this
process. One platform per test module, one browser per session, a fresh context per test.

The browser: CHROMIUM_PATH, else Debian's paths. None found: the tests fail in CI (CI=true)
and are skipped elsewhere, saying why."""

from __future__ import annotations

import io
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from shared.platform.settings import Settings
from tests.platform import Platform, running_platform, serving  # noqa: F401 - serving: bench/studio.py

ARTIFACTS = Path(__file__).parent / "artifacts"
DOCS = Path(__file__).parents[2] / "docs"
PASSWORD = "a long enough password"
CANDIDATES = ("/usr/lib/chromium/chromium-headless-shell", "/usr/bin/chromium-headless-shell")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


def chromium_path() -> str | None:
    """CHROMIUM_PATH when set (and nothing else then), else the first Debian path found."""
    named = os.environ.get("CHROMIUM_PATH", "")
    for candidate in (named,) if named else CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    path = chromium_path()
    if path is None:
        named = os.environ.get("CHROMIUM_PATH", "")
        reason = (f"CHROMIUM_PATH={named} is not an executable" if named else
                  f"no Chromium for the browser tests at {' or '.join(CANDIDATES)}: set "
                  "CHROMIUM_PATH or apt-get install chromium-headless-shell")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=path, args=ARGS)
        yield chromium
        await chromium.close()


class Live(Platform):
    """The platform with its live origin (`url`) and helpers that build a world for a test."""

    url: str = ""

    async def member(self, email: str, role: str = "annotator", project: str | None = None) -> str:
        """A member with a password (to sign in with in the page); their bearer token."""
        token = await self.add_member(email, role, project)
        user = await self.catalog.db.users.find_one({"email": email})
        await self.gateway.accounts.set_password(user["_id"], PASSWORD)
        return token

    async def images(self, n: int, prefix: str = "img") -> list[str]:
        """`n` uploaded PNG items (so the browser shows real pixels), in name order."""
        ids = []
        for k in range(n):
            files = {"file": (f"{prefix}{k:03d}.png", png(k), "image/png")}
            r = await self.client.post(f"/api/v1/datasets/{self.ids['dataset']}/items/upload",
                                       files=files, headers=self.auth())
            assert r.status_code in (200, 201), r.text
            ids.append(r.json()["id"])
        return ids

    async def task(self, items: list[str], assignees: list[str], **over: Any) -> dict[str, Any]:
        body = {"name": over.pop("name", f"task {uuid.uuid4().hex[:6]}"),
                "datasetId": self.ids["dataset"], "itemIds": items, "assignees": assignees} | over
        r = await self.post(f"/api/v1/projects/{self.ids['project']}/tasks", body)
        assert r.status_code in (200, 201), r.text
        return r.json()

    async def statuses(self, task_id: str) -> dict[str, str | None]:
        rows: dict[str, str | None] = {}
        for a in (await self.get(f"/api/v1/tasks/{task_id}/assignments")).json():
            page = (await self.get(f"/api/v1/assignments/{a['id']}/items?pageSize=1000")).json()
            rows |= {r["itemId"]: r["status"] for r in page["items"]}
        return rows

    async def annotations(self, item_id: str) -> list[dict[str, Any]]:
        return (await self.get(f"/api/v1/items/{item_id}/annotations")).json()["annotations"]


COLOURS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac"]


def to_docs(png: Path, name: str) -> None:
    """Copy a screenshot the tests took to `docs/<name>.png` when asked (`make screenshots`),
    so that an ordinary test run leaves the tree as it found it."""
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        shutil.copy(png, DOCS / f"{name}.png")


def png(k: int) -> bytes:
    image = Image.new("RGB", (320, 240), COLOURS[k % len(COLOURS)])
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, 300, 220), outline="white", width=4)
    draw.text((140, 110), f"#{k}", fill="white")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
async def live(redis_url: str, mongodb_url: str) -> AsyncIterator[Live]:
    """One live platform for the module: services in process, the gateway on a real port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    tag = uuid.uuid4().hex[:10]
    settings = Settings(REDIS_URL=redis_url, MONGODB_URL=mongodb_url, MONGODB_DB=f"b_{tag}",
                        STREAM_NAMESPACE=f"b{tag}", RECLAIM_IDLE_MS=1000, MAX_DELIVERIES=3,
                        CONSUMER_NAME=f"browser-{tag}", PUBLIC_URL=url)
    async with running_platform(settings) as platform:
        live = Live(platform.client, settings, platform.gateway, platform.catalog,
                    platform.token, app=platform.app)
        live.url = url
        await live.seed()
        async with serving(live.app, sock):
            yield live


@pytest.fixture
async def page(browser: Any, live: Live, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    context = await browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    tab = await context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.errors = errors  # type: ignore[attr-defined]
    try:
        yield tab
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
            await tab.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"))
        await context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


async def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path))
    return path


async def sign_in(page: Any, email: str, password: str = PASSWORD, then: str = "/") -> None:
    """Sign in through the page, then open `then`."""
    await page.goto("/sign-in")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(lambda url: "/sign-in" not in url)
    if then != "/" or not page.url.endswith("/"):
        await page.goto(then)
