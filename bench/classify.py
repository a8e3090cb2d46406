"""Classify throughput and latency over HTTP against the running platform.

    python bench/classify.py                 # starts the platform with embedded servers
    python bench/classify.py --url http://127.0.0.1:8000 --token <an API token>

Prints: closed-loop throughput at concurrency C (target >= 1,000/s at C=16) and the latency
percentiles at a steady rate (target p99 <= 15 ms at 100/s).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import arguments, closed_loop, demo_classify, open_loop, platform, report  # noqa: E402


async def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("-n", type=int, default=10_000, help="requests in the throughput run")
    parser.add_argument("-c", type=int, default=16, help="concurrency of the throughput run")
    parser.add_argument("--rate", type=float, default=100, help="requests/s of the latency run")
    parser.add_argument("--seconds", type=float, default=20, help="length of the latency run")
    args = parser.parse_args()
    with platform(args.url, args.token) as (url, token):
        headers = {"Authorization": f"Bearer {token}"}
        connector = aiohttp.TCPConnector(limit=256)
        async with aiohttp.ClientSession(url, headers=headers, connector=connector) as http:
            classify = await demo_classify(http)
            await closed_loop(http, classify, 300, 8)  # warm-up
            report(f"classify closed loop, concurrency {args.c}", args.n,
                   *await closed_loop(http, classify, args.n, args.c))
            report(f"classify open loop at {args.rate:.0f}/s", int(args.rate * args.seconds),
                   *await open_loop(http, classify, args.rate, args.seconds))


if __name__ == "__main__":
    asyncio.run(main())
