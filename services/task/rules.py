"""The task service's pure rules: allocation arithmetic and the allocation rules, each a
named object that says whether a command may act on an item. No I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.rules.task_limits import pulling_problems, workload_problems  # noqa: F401 - re-exported

MANAGERS = ("owner", "manager")
Reason = Literal["not_found", "forbidden", "conflict", "invalid"]


@dataclass(frozen=True)
class Refusal:
    reason: Reason
    message: str
    details: dict[str, Any] = field(default_factory=dict)


# --- allocation arithmetic -------------------------------------------------------------------


def even_loads(assignees: Sequence[str]) -> list[tuple[str, float]]:
    """Dataloop's Workload.generate: 100 split evenly, the remainder to the first assignees."""
    n = len(assignees)
    base, extra = divmod(100, n)
    return [(a, float(base + (1 if i < extra else 0))) for i, a in enumerate(assignees)]


def split(items: Sequence[str], loads: Sequence[tuple[str, float]]) -> dict[str, list[str]]:
    """Contiguous shares of `items` by percentage (largest remainder, so shares sum exactly;
    ties go to the earlier assignee)."""
    total = sum(load for _, load in loads)
    exact = [len(items) * load / total for _, load in loads]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(loads)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in by_remainder[: len(items) - sum(counts)]:
        counts[i] += 1
    shares, start = {}, 0
    for (assignee, _), count in zip(loads, counts, strict=True):
        shares[assignee] = list(items[start:start + count])
        start += count
    return shares


def pull_size(batch_size: int, max_workload: int, open_items: int) -> int:
    """How many items a pull hands out: a batch, never past the maximum open workload."""
    return max(0, min(batch_size, max_workload - open_items))


# --- the allocation rules --------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What a rule needs to know about one command on one item."""

    task: dict[str, Any]
    item_id: str
    assignment: dict[str, Any] | None  # the assignment (or hidden queue) holding the item
    actor_id: str
    actor_email: str
    actor_role: str | None
    status: str | None = None


class ItemIsInTask:
    name = "item_is_in_task"

    def check(self, ctx: Context) -> Refusal | None:
        if ctx.assignment is None:
            return Refusal("not_found", f"item {ctx.item_id} is not in task {ctx.task['_id']}",
                           {"itemId": ctx.item_id})
        return None


class ActorOwnsItem:
    """An annotator acts only on items of their own assignment; managers and owners on any
    item of the task."""

    name = "actor_owns_item"

    def check(self, ctx: Context) -> Refusal | None:
        if ctx.actor_role in MANAGERS or ctx.assignment is None:
            return None
        if ctx.assignment.get("queue") or ctx.assignment.get("annotator") != ctx.actor_email:
            return Refusal("forbidden", f"item {ctx.item_id} is not in one of your assignments",
                           {"itemId": ctx.item_id})
        return None


class AssignmentIsOpen:
    """A removed or locked assignment accepts nothing."""

    name = "assignment_is_open"

    def check(self, ctx: Context) -> Refusal | None:
        a = ctx.assignment
        if a is not None and not a.get("queue") and (a.get("removed") or a.get("locked")):
            state = "removed" if a.get("removed") else "locked"
            return Refusal("conflict", f"assignment {a['_id']} is {state} and accepts nothing",
                           {"assignmentId": a["_id"]})
        return None


class StatusIsOffered:
    """A status must be one of the task's statuses (clearing is always allowed)."""

    name = "status_is_offered"

    def check(self, ctx: Context) -> Refusal | None:
        offered = [a["action"] for a in ctx.task["availableActions"]]
        if ctx.status is not None and ctx.status not in offered:
            return Refusal("invalid", f"status '{ctx.status}' is not one of the task's statuses {offered}",
                           {"field": "status", "offered": offered})
        return None


ITEM_RULES = (ItemIsInTask(), AssignmentIsOpen(), ActorOwnsItem())
STATUS_RULES = (StatusIsOffered(), *ITEM_RULES)


def first_refusal(rules: Sequence[Any], ctx: Context) -> Refusal | None:
    for rule in rules:
        if (refusal := rule.check(ctx)) is not None:
            return refusal
    return None


class BulkNeedsAllocation:
    """Bulk classification only in allocation (distribution) tasks, and only when every
    selected item is allocated to an assignment of the task."""

    name = "bulk_needs_allocation"

    def check(self, task: dict[str, Any], unallocated: Sequence[str]) -> Refusal | None:
        if task["allocation"] == "pulling":
            return Refusal("conflict", "bulk classification is not available in a pulling task: "
                           "its items wait in the hidden queue", {"taskId": task["_id"]})
        if unallocated:
            return Refusal("conflict", f"{len(unallocated)} selected item(s) are not allocated to "
                           "an assignment of the task", {"items": list(unallocated[:100]),
                                                         "count": len(unallocated)})
        return None
