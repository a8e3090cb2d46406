from __future__ import annotations

import pytest

from tests.platform import running_platform


@pytest.fixture
async def platform(settings):
    async with running_platform(settings) as p:
        await p.seed()
        yield p
