"""The studio's classify-and-advance loop in headless Chromium: an annotator walks N items
(300 by default) by keyboard alone in a single-class task with Auto next and Auto complete,
pressing the next label key as soon as the next image is painted.

    python bench/studio.py [--items 300]

Starts the platform in this process (embedded servers, or REDIS_URL/MONGODB_URL), serves
the gateway on a loopback port, and drives Debian's chromium-headless-shell (CHROMIUM_PATH)
with Playwright. Prints key press -> next image painted (the frame after the swap, from the
page's own clock) p50/p95/p99 (target p95 <= 50 ms) and items/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DATALOOP_PATH", tempfile.mkdtemp(prefix="dtlpy-"))

from tests.browser.conftest import ARGS, Live, chromium_path, serving  # noqa: E402
from tests.platform import running_platform  # noqa: E402
from tests.servers import mongodb_server, redis_server  # noqa: E402

KEY_AT = """addEventListener("keydown", () => { window.__keyAt = performance.now(); }, true);"""


async def world(live: Live, n: int) -> str:
    await live.seed()
    await live.member("bench@example.com", "annotator")
    t = time.perf_counter()
    items = await live.images(n, prefix="bench")
    print(f"setup: uploaded {n} images in {time.perf_counter() - t:.1f} s", flush=True)
    task = await live.task(items, ["bench@example.com"], name="studio bench")
    token = await live.new_user("bench@example.com")
    r = await live.client.put(f"/api/v1/tasks/{task['id']}/workflow-settings", headers=live.auth(token),
                              json={"autoNext": True, "autoComplete": True})
    assert r.status_code == 200, r.text
    return task["id"]


async def walk(page, n: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    painted = await page.get_attribute("#stage", "data-painted")
    start = time.perf_counter()
    for _ in range(n):
        await page.keyboard.press("2")
        handle = await page.wait_for_function(
            """(before) => {
                 const now = document.querySelector('#stage').dataset.painted;
                 if (now === before) return null;
                 if (!now) return ["", null];  // nothing left
                 const mark = performance.getEntriesByName('painted:' + now).pop();
                 return mark ? [now, mark.startTime - window.__keyAt] : null;
               }""", arg=painted, polling="raf", timeout=30_000)
        painted, ms = await handle.json_value()
        if not painted:
            break
        latencies.append(ms)
    return latencies, time.perf_counter() - start


async def main(n: int) -> None:
    from playwright.async_api import async_playwright

    path = chromium_path()
    if path is None:
        sys.exit("no Chromium: set CHROMIUM_PATH or apt-get install chromium-headless-shell")
    import socket
    import uuid

    from shared.platform.settings import Settings

    with redis_server() as redis_url, mongodb_server() as mongodb_url:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        tag = uuid.uuid4().hex[:8]
        settings = Settings(REDIS_URL=redis_url, MONGODB_URL=mongodb_url, MONGODB_DB=f"bench_{tag}",
                            STREAM_NAMESPACE=f"bench{tag}", PUBLIC_URL=url)
        async with running_platform(settings) as p:
            live = Live(p.client, settings, p.gateway, p.catalog, p.token, app=p.app)
            task_id = await world(live, n)
            async with serving(live.app, sock), async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=path, args=ARGS)
                page = await (await browser.new_context(base_url=url)).new_page()
                await page.add_init_script(KEY_AT)
                await page.goto("/sign-in")
                await page.get_by_label("Email").fill("bench@example.com")
                await page.get_by_label("Password").fill("a long enough password")
                await page.get_by_role("button", name="Sign in").click()
                await page.wait_for_url(lambda u: "/sign-in" not in u)
                await page.goto(f"/tasks/{task_id}/studio")
                await page.wait_for_selector("#studio[data-ready=true]")
                await page.locator("#stage").focus()
                latencies, seconds = await walk(page, n)
                await browser.close()
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    print(f"studio: {len(latencies)} items by keyboard in {seconds:.1f} s = {len(latencies) / seconds:.1f} items/s; "
          f"key press -> next image painted ms p50 {q[49]:.1f}  p95 {q[94]:.1f}  p99 {q[98]:.1f}  "
          f"max {max(latencies):.1f} (target p95 <= 50)", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=300)
    asyncio.run(main(parser.parse_args().items))
