from __future__ import annotations

import pytest

from tests.platform import running_platform

# Run once more with the gateway's wait at zero: every command is answered 202 and the test
# client follows it to its end (tests/slow_path.py), so the slow path is tested as fully as
# the answer within the wait.
SLOW_PATH_MODULES = {"test_classify", "test_classify_more", "test_task_checks", "test_workflow",
                     "test_bulk", "test_scenes"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    waited_only = metafunc.definition.get_closest_marker("waited_only") is not None
    if module in SLOW_PATH_MODULES and "settings" in metafunc.fixturenames and not waited_only:
        metafunc.parametrize("answer_path", ["waited", "slow"], indirect=True)


@pytest.fixture
def answer_path(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "waited")


@pytest.fixture
def settings(settings, answer_path):
    return settings.model_copy(update={"outcome_wait_s": 0.0}) if answer_path == "slow" else settings


@pytest.fixture
async def platform(settings):
    async with running_platform(settings) as p:
        await p.seed()
        yield p
