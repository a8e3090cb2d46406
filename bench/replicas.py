"""Two replicas of each consumer on the embedded servers (or REDIS_URL / MONGODB_URL), each
SIGKILLed and restarted in turn under load: the issue's full counts of what
tests/e2e/test_replicas.py runs small (tests/e2e/replicas.py holds both).

    python bench/replicas.py                    # both scenarios, replicas killed in turn
    python bench/replicas.py --calm             # the same without the kills, for comparison
    python bench/replicas.py --rounds 1000 --moves 1000 --annotators 20

Prints, per scenario, its figures (how long, how fast, when each replica was killed and back)
and what broke, if anything: two task-service replicas taking 1,000 set-then-clear pairs on
100 items (every item must end as its last command said, the counts right, every command
ended once), and two workflow-service replicas serving one pulling task's 20 annotators for
1,000 moves (no item handed twice, every queue as the task's data says). Exits 1 if
anything broke.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from shared.platform.settings import Settings  # noqa: E402
from tests.e2e.replicas import status_order, workflow_moves  # noqa: E402
from tests.servers import mongodb_server, redis_server  # noqa: E402


def settings(redis_url: str, mongodb_url: str) -> Settings:
    tag = uuid.uuid4().hex[:10]
    return Settings(REDIS_URL=redis_url, MONGODB_URL=mongodb_url, MONGODB_DB=f"bench_{tag}",
                    STREAM_NAMESPACE=f"b{tag}", RECLAIM_IDLE_MS=1000, MAX_DELIVERIES=10,
                    CONSUMER_NAME=f"bench-{tag}", PUBLIC_URL="http://testserver")


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=1000, help="set-then-clear pairs")
    p.add_argument("--items", type=int, default=100, help="items the pairs are spread over")
    p.add_argument("--moves", type=int, default=1000, help="moves on, all annotators together")
    p.add_argument("--annotators", type=int, default=20)
    p.add_argument("--task-replicas", type=int, default=1, choices=[1, 2],
                   help="task-service processes behind the moves (not killed)")
    p.add_argument("--calm", action="store_true", help="no replica killed")
    p.add_argument("--only", choices=["status", "workflow"], help="one scenario")
    args = p.parse_args()
    broke = False
    with contextlib.ExitStack() as stack:
        redis_url, mongodb_url = stack.enter_context(redis_server()), stack.enter_context(mongodb_server())
        if args.only != "workflow":
            figures, problems = await status_order(settings(redis_url, mongodb_url), rounds=args.rounds,
                                                   items=args.items, chaos=not args.calm)
            report("status commands, two task-service replicas", figures, problems)
            broke |= bool(problems)
        if args.only != "status":
            figures, problems = await workflow_moves(settings(redis_url, mongodb_url), moves=args.moves,
                                                     annotators=args.annotators, chaos=not args.calm,
                                                     task_replicas=args.task_replicas)
            report("moves on, two workflow-service replicas", figures, problems)
            broke |= bool(problems)
    return 1 if broke else 0


def report(what: str, figures: dict, problems: list[str]) -> None:
    print(f"{what}: {'BROKE' if problems else 'nothing lost, nothing broken'}", flush=True)
    for key, value in figures.items():
        if key != "timeline":
            print(f"  {key}: {value}")
    for line in figures.get("timeline", []):
        print(f"  {line}")
    for line in problems:
        print(f"  PROBLEM: {line}")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
