"""A 4xx is the client's mistake: logged at INFO in one line; ERROR with a trace is kept for
a 5xx, what an operator must look at."""

from __future__ import annotations

import logging

import pytest

pytestmark = pytest.mark.e2e


def gateway_records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("litestar") and r.levelno == level]


async def test_a_405_and_an_expected_409_are_logged_at_info_without_a_trace(platform, caplog):
    owner_id = (await platform.get("/api/v1/users/me")).json()["id"]
    caplog.clear()
    with caplog.at_level(logging.INFO):
        wrong_method = await platform.request("PUT", "/api/v1/projects")
        last_owner = await platform.request(
            "PATCH", f"/api/v1/projects/{platform.ids['project']}/members/{owner_id}",
            json={"role": "manager"})
    assert wrong_method.status_code == 405 and last_owner.status_code == 409
    assert not gateway_records(caplog, logging.ERROR) and not gateway_records(caplog, logging.WARNING)
    infos = gateway_records(caplog, logging.INFO)
    assert [r.getMessage().split(" answered ")[1][:3] for r in infos] == ["405", "409"]
    assert not any(r.exc_info or r.exc_text for r in infos)


async def test_a_5xx_is_logged_at_error_with_its_trace(platform, caplog, monkeypatch):
    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(platform.catalog, "page", broken)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        failed = await platform.get("/api/v1/projects")
    assert failed.status_code == 500
    errors = gateway_records(caplog, logging.ERROR)
    assert len(errors) == 1 and "GET /api/v1/projects" in errors[0].getMessage()
    assert errors[0].exc_info and "the disk is on fire" in str(errors[0].exc_info[1])


async def test_a_dependency_down_is_logged_at_warning_in_one_line(platform, caplog, monkeypatch):
    from redis.exceptions import ConnectionError as RedisDown

    async def down(*_: object, **__: object) -> None:
        raise RedisDown("Connection refused")

    monkeypatch.setattr(platform.catalog, "page", down)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        failed = await platform.get("/api/v1/projects")
    assert failed.status_code == 503 and failed.json()["dependency"] == "redis"
    assert not gateway_records(caplog, logging.ERROR)
    warnings = gateway_records(caplog, logging.WARNING)
    assert len(warnings) == 1 and "redis unavailable" in warnings[0].getMessage()
    assert not (warnings[0].exc_info or warnings[0].exc_text)
