"""Every Lua script ships with the distribution: an installed package (the Docker image
installs one) reads its scripts from package data, so each `.lua` file must be named by
pyproject's `[tool.setuptools.package-data]`."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.unit


def test_every_lua_script_is_package_data():
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = {path for package, patterns in package_data.items() for pattern in patterns
               for path in (ROOT / package.replace(".", "/")).glob(pattern)}
    scripts = {path for top in ("shared", "gateway", "services") for path in (ROOT / top).rglob("*.lua")}
    assert scripts and scripts <= shipped, sorted(str(p.relative_to(ROOT)) for p in scripts - shipped)
