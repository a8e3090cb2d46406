"""Lua scripts kept as `.lua` files in a `lua/` folder beside the module that runs them
(package data of the distribution), so each is read, reviewed and tested as Lua, not as a
Python string. Read when the client that registers them is built, never at import."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def lua(package: str, name: str) -> str:
    """The text of `<package>/lua/<name>.lua`."""
    return resources.files(package).joinpath("lua").joinpath(f"{name}.lua").read_text(encoding="utf-8")
