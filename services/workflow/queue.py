"""Per-annotator next-item queues: the Redis scripts that change one annotator's queue
atomically (the `.lua` files in lua/, one per script), and what they answer. Layout:
shared.contracts.read_model.ReadModel. The repository registers and runs the scripts.

Every script takes the same keys (`annotator_keys`) and first arguments (due member,
now ms, lease time-to-live ms, "1" in a pulling task), then its own. Each ends by storing the
annotator's `next` item (services.workflow.rules.next_after), so the gateway answers "what
comes next" with a single read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.contracts.read_model import ReadModel
from shared.platform.scripts import lua

HISTORY_MAX = 1000
CLOSING_GRACE_MS = 60_000  # an auto completion whose status never landed is dropped after this
FACT_GUARD_MS = 2_000  # status facts closer than this to the item's last are checked (status.lua)


def annotator_keys(rm: ReadModel, task_id: str, email: str) -> list[str]:
    part = lambda name: rm.annotator(task_id, email, name)
    return [part("state"), part("open"), part("order"), part("history"), part("leases"),
            part("opened"), part("closing"), rm.task(task_id, "returning"), rm.lease_due()]


def due_member(task_id: str, email: str) -> str:
    return f"{task_id}|{email}"


SCRIPT_NAMES = ("look", "move", "step_back", "sync", "status", "renew", "leave", "expire")


def scripts() -> dict[str, str]:
    """Each script's full text, by name: this module's constants as Lua locals, the shared
    head (lua/prelude.lua), then the script's own file (lua/<name>.lua)."""
    head = (f"local FACT_GUARD_MS, CLOSING_GRACE_MS = {FACT_GUARD_MS}, {CLOSING_GRACE_MS}\n"
            + lua("services.workflow", "prelude"))
    return {name: head + lua("services.workflow", name) for name in SCRIPT_NAMES}


# --- what the scripts answer -------------------------------------------------------------------


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _opt(value: Any) -> str | None:
    return _s(value) or None if value is not None else None


def _list(value: Any) -> list[str]:
    return [_s(v) for v in value or []]


def _hash(flat: list[Any]) -> dict[str, str]:
    return {_s(k): _s(v) for k, v in zip(flat[::2], flat[1::2], strict=True)}


@dataclass(frozen=True)
class Look:
    """An annotator's queue as one read: the task's meta, their state and settings, the item
    in hand and whether it is open, and the open items ahead of it."""

    meta: dict[str, str]
    state: dict[str, str]
    settings: dict[str, str]
    item: str | None
    item_is_open: bool
    open_items: int
    ahead: list[str]

    @classmethod
    def of(cls, r: list[Any]) -> Look:
        return cls(_hash(r[0]), _hash(r[1]), _hash(r[2]), _opt(r[3]), bool(int(r[4])), int(r[5]),
                   list(dict.fromkeys(_list(r[6]))))


@dataclass(frozen=True)
class Move:
    from_item: str | None
    completed: str | None
    arrived: str | None
    next_item: str | None
    open_items: int
    expires_ms: int
    renewed: list[str]
    stale: bool = False

    @classmethod
    def of(cls, r: list[Any]) -> Move:
        return cls(_opt(r[0]), _opt(r[1]), _opt(r[2]), _opt(r[3]), int(r[4]), int(r[5]), _list(r[6]),
                   bool(int(r[7])))


@dataclass(frozen=True)
class Back:
    item: str | None
    next_item: str | None = None
    open_items: int = 0

    @classmethod
    def of(cls, r: list[Any]) -> Back:
        return cls(_opt(r[0])) if len(r) == 1 else cls(_opt(r[0]), _opt(r[1]), int(r[2]))


@dataclass(frozen=True)
class Synced:
    granted: list[str]
    released: list[str]
    expires_ms: int
    open_items: int
    current: str | None
    next_item: str | None

    @classmethod
    def of(cls, r: list[Any]) -> Synced:
        return cls(_list(r[0]), _list(r[1]), int(r[2]), int(r[3]), _opt(r[4]), _opt(r[5]))


@dataclass(frozen=True)
class StatusApplied:
    changed: bool
    released: bool
    granted: bool
    expires_ms: int
    open_items: int
    current: str | None
    next_item: str | None
    verify: bool = False  # not applied: read the item's status and apply that

    @classmethod
    def each(cls, r: list[Any]) -> list[StatusApplied]:
        """Per item of a STATUS call, in order; the queue as the batch left it."""
        expires, open_items, current, next_item = int(r[1]), int(r[2]), _opt(r[3]), _opt(r[4])
        return [cls(bool(int(c)), bool(int(rel)), bool(int(g)), expires, open_items, current, next_item,
                    bool(int(v))) for c, rel, g, v in r[0]]


@dataclass(frozen=True)
class Renewal:
    expires_ms: int
    items: list[str]

    @classmethod
    def of(cls, r: list[Any]) -> Renewal:
        return cls(int(r[0]), _list(r[1]))


@dataclass(frozen=True)
class Leave:
    returning: list[str]
    held: list[str]
    held_until_ms: int
    open_items: int

    @classmethod
    def of(cls, r: list[Any]) -> Leave:
        return cls(_list(r[0]), _list(r[1]), int(r[2]), int(r[3]))


@dataclass(frozen=True)
class Expiry:
    expired: list[str]
    opened: list[str]
    open_items: int
    current: str | None
    next_item: str | None

    @classmethod
    def of(cls, r: list[Any]) -> Expiry:
        return cls(_list(r[0]), _list(r[1]), int(r[2]), _opt(r[3]), _opt(r[4]))
