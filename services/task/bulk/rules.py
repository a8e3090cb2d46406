"""The task service's pure rules for bulk classification: which items a bulk may touch and
what it would change. No I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.task.rules import MANAGERS, BulkNeedsAllocation, Refusal  # noqa: F401 - re-exported
from shared.contracts.bulk import offenders

DEFAULT_STATUS = "completed"


class StatusIsOfferedForBulk:
    """Classify & Set Status needs a status of the task (custom ones included)."""

    name = "bulk_status_is_offered"

    def check(self, task: dict[str, Any], status: str | None) -> Refusal | None:
        offered = [a["action"] for a in task["availableActions"]]
        if status is not None and status not in offered:
            return Refusal("invalid", f"status '{status}' is not one of the task's statuses {offered}",
                           {"field": "status", "offered": offered})
        return None


class ActorMayActOnEveryItem:
    """Every selected item must be open to the actor: in an open (not removed or locked)
    assignment and, for annotators, in one of their own assignments."""

    name = "bulk_actor_may_act_on_every_item"

    def check(self, role: str | None, email: str, items: Sequence[str],
              holders: Mapping[str, dict[str, Any]]) -> Refusal | None:
        bad = [i for i in items if not _open_to(holders[i], role, email)]
        if bad:
            return Refusal("forbidden", f"{len(bad)} selected item(s) are not open to you in this task",
                           offenders(bad))
        return None


def _open_to(assignment: dict[str, Any], role: str | None, email: str) -> bool:
    if assignment.get("removed") or assignment.get("locked"):
        return False
    return role in MANAGERS or assignment.get("annotator") == email


def status_for(mode: str, status: str | None) -> str | None:
    """The status a bulk sets: none for Classify, `completed` unless named otherwise."""
    return (status or DEFAULT_STATUS) if mode == "classify-and-set-status" else None


@dataclass(frozen=True)
class StatusChange:
    item_id: str
    assignment_id: str
    previous: str | None
    existed: bool  # a status document exists (maybe with no status)


def status_changes(items: Sequence[str], holders: Mapping[str, dict[str, Any]], new: str | None,
                   docs: Mapping[str, dict[str, Any]]) -> list[StatusChange]:
    """The items whose status the bulk changes (an item already holding `new` is left)."""
    if new is None:
        return []
    return [StatusChange(i, holders[i]["_id"], docs.get(i, {}).get("status"), i in docs)
            for i in items if docs.get(i, {}).get("status") != new]


def held_by_others(items: Sequence[str], holders: Mapping[str, dict[str, Any]], email: str) -> dict[str, Any]:
    """Items allocated to someone other than the actor, by annotator."""
    theirs = [i for i in items if holders[i].get("annotator") != email]
    by: dict[str, int] = {}
    for i in theirs:
        by[holders[i].get("annotator") or "?"] = by.get(holders[i].get("annotator") or "?", 0) + 1
    return offenders(theirs) | {"byAnnotator": by}
