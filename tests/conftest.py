"""Fixtures: one real Redis-protocol and one MongoDB-wire server per session; every test gets
its own stream namespace and database, so tests never FLUSHALL each other."""

from __future__ import annotations

import gc
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

os.environ.setdefault("DATALOOP_PATH", tempfile.mkdtemp(prefix="dtlpy-"))
if worker := os.environ.get("PYTEST_XDIST_WORKER"):  # `make test`'s workers: dtlpy's files apart
    os.environ["DATALOOP_PATH"] = os.path.join(os.environ["DATALOOP_PATH"], worker)
    os.makedirs(os.environ["DATALOOP_PATH"], exist_ok=True)

from shared.platform.settings import Settings  # noqa: E402
from tests.servers import mongodb_server, redis_server  # noqa: E402


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection imported (the platform, dtlpy, hypothesis, Playwright...) lives as long
    as the session: moved out of the garbage collector's reach, so that the full collections
    the tests' platforms trigger walk only what the tests made (as gateway.app.main does)."""
    gc.collect()
    gc.freeze()


# The tests that load the machine most for a minute or so (hundreds of requests, services as
# processes killed and started again, the whole API fuzzed): under `make test`'s two workers
# (pytest-xdist) they run one after another on one worker, starting first, never side by side.
HEAVY = {
    "tests/e2e/test_fuzz.py", "tests/e2e/test_access_matrix.py", "tests/e2e/test_replicas.py",
    "tests/e2e/test_bulk_crash.py", "tests/e2e/test_chaos.py", "tests/e2e/test_dev_heals.py",
    "tests/e2e/test_task_check_crash.py", "tests/e2e/test_import_crash.py",
    "tests/e2e/test_workflow.py::test_two_annotators_pulling_concurrently_1000_times_never_share_an_item",
    ("tests/integration/test_workflow_service.py::"
     "test_two_task_service_replicas_pulling_concurrently_never_hand_out_an_item_twice"),
}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Whole files to a worker (the browser tests' module-scoped pages stay together), the
    heavy tests as one unit of work, handed out first."""
    from xdist.scheduler import LoadFileScheduling

    class Scheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file, _, test = nodeid.partition("::")
            heavy = file in HEAVY or f"{file}::{test.split('[')[0]}" in HEAVY
            return "heavy" if heavy else file

        def _assign_work_unit(self, node: object) -> None:
            if "heavy" in self.workqueue:
                self.workqueue.move_to_end("heavy", last=False)
            super()._assign_work_unit(node)

    return Scheduling(config, log)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def mongodb_url() -> Iterator[str]:
    with mongodb_server() as url:
        yield url


@pytest.fixture
def settings(redis_url: str, mongodb_url: str) -> Settings:
    tag = uuid.uuid4().hex[:10]
    return Settings(
        REDIS_URL=redis_url,
        MONGODB_URL=mongodb_url,
        MONGODB_DB=f"t_{tag}",
        STREAM_NAMESPACE=f"t{tag}",
        RECLAIM_IDLE_MS=1000,
        MAX_DELIVERIES=3,
        CONSUMER_NAME=f"test-{tag}",
        PUBLIC_URL="http://testserver",
        # Longer than the 5 s default: on a loaded 2-core machine a test that means the
        # answer within the wait must not get a 202 (the slow path has its own runs).
        OUTCOME_WAIT_SECONDS=15,
    )


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator:
    from shared.platform.messaging import make_redis

    client = make_redis(settings)
    yield client
    await client.aclose()
