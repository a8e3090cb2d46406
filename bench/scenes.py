"""Scene command latency over HTTP against the running platform, beside image classify.

    python bench/scenes.py                 # starts the platform with the embedded servers
    python bench/scenes.py --url http://127.0.0.1:8000 --token <an API token>

Prints the latency at a steady rate of: starting scenes, and a mix of scene changes (set
the end, hide and unhide a range) on existing scenes (target p99 <= 15 ms at 100/s, as for
image classify).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import api_session, arguments, open_loop, platform, report  # noqa: E402

LABEL = "men's clothes.polo shirts"
VIDEOS = 20


async def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--rate", type=float, default=100, help="requests/s")
    parser.add_argument("--seconds", type=float, default=20, help="length of each run")
    args = parser.parse_args()
    with platform(args.url, args.token) as (url, token):
        async with api_session(url, token) as http:
            project = (await (await http.get("/api/v1/projects")).json())["items"][0]["id"]
            dataset = (await (await http.get(f"/api/v1/projects/{project}/datasets")).json())["items"][0]["id"]
            videos = []
            for i in range(VIDEOS):  # setup: videos registered by URL with their facts
                body = {"name": f"bench-{i}.webm", "url": f"http://example.com/{i}.webm",
                        "mimetype": "video/webm", "fps": 25, "frameCount": 3000, "duration": 120}
                async with http.post(f"/api/v1/datasets/{dataset}/items", json=body) as r:
                    videos.append((await r.json())["id"])
            scenes: list[str] = []

            async def start(session: aiohttp.ClientSession, i: int) -> int:
                body = {"label": LABEL, "frame": (i * 7) % 2000}
                async with session.post(f"/api/v1/items/{videos[i % VIDEOS]}/scenes", json=body) as r:
                    if r.status == 201:
                        scenes.append((await r.json())["id"])
                    return r.status

            report(f"start scene open loop at {args.rate:.0f}/s", int(args.rate * args.seconds),
                   *await open_loop(http, start, args.rate, args.seconds))

            async def change(session: aiohttp.ClientSession, i: int) -> int:
                scene = scenes[i % len(scenes)]
                step = (i // len(scenes)) % 3
                if step == 0:
                    call = session.patch(f"/api/v1/scenes/{scene}", json={"endFrame": 2900})
                elif step == 1:
                    call = session.post(f"/api/v1/scenes/{scene}/hide", json={"from": 2100, "to": 2200})
                else:
                    call = session.post(f"/api/v1/scenes/{scene}/unhide", json={"from": 2100, "to": 2200})
                async with call as r:
                    await r.read()
                    return r.status

            report(f"scene changes open loop at {args.rate:.0f}/s", int(args.rate * args.seconds),
                   *await open_loop(http, change, args.rate, args.seconds))


if __name__ == "__main__":
    asyncio.run(main())
