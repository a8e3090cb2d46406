"""The workflow service's pure rules: which settings a task allows, whether an annotator may
move on, what auto complete does, when a pulling annotator needs a new batch, and which item
comes next. Each rule is a named object or function; no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Reason = Literal["not_found", "forbidden", "conflict", "invalid"]
COMPLETED = "completed"


@dataclass(frozen=True)
class Refusal:
    reason: Reason
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskMeta:
    """What the workflow needs to know of a task (a copy of the task service's data)."""

    project_id: str
    allocation: str
    single_class: bool
    allow_next_only_on_done: bool
    offers_completed: bool
    batch_size: int = 0
    max_batch_workload: int = 0

    @property
    def pulling(self) -> bool:
        return self.allocation == "pulling"

    @classmethod
    def of_task(cls, task: Mapping[str, Any]) -> TaskMeta:
        """From the task service's stored task document."""
        return cls(
            project_id=task["projectId"], allocation=task["allocation"],
            single_class=bool(task.get("singleClass")),
            allow_next_only_on_done=bool(task.get("allowNextOnlyOnDone")),
            offers_completed=any(a["action"] == COMPLETED for a in task.get("availableActions", [])),
            batch_size=task.get("batchSize") or 0, max_batch_workload=task.get("maxBatchWorkload") or 0,
        )

    @classmethod
    def of_view(cls, view: Mapping[str, Any]) -> TaskMeta:
        """From the task as `TaskChanged` carries it (its batch limits under metadata.system)."""
        system = (view.get("metadata") or {}).get("system") or {}
        return cls.of_task({**view, "batchSize": system.get("batchSize"),
                            "maxBatchWorkload": system.get("maxBatchWorkload")})

    def to_hash(self) -> dict[str, str]:
        return {"projectId": self.project_id, "allocation": self.allocation,
                "singleClass": _flag(self.single_class),
                "allowNextOnlyOnDone": _flag(self.allow_next_only_on_done),
                "offersCompleted": _flag(self.offers_completed),
                "batchSize": str(self.batch_size), "maxBatchWorkload": str(self.max_batch_workload)}

    @classmethod
    def of_hash(cls, h: Mapping[str, str]) -> TaskMeta:
        return cls(project_id=h["projectId"], allocation=h["allocation"],
                   single_class=h["singleClass"] == "1",
                   allow_next_only_on_done=h["allowNextOnlyOnDone"] == "1",
                   offers_completed=h.get("offersCompleted", "1") == "1",
                   batch_size=int(h.get("batchSize") or 0),
                   max_batch_workload=int(h.get("maxBatchWorkload") or 0))


@dataclass
class TaskFacts:
    """The workflow's own copy of a task's facts (kept from the task service's events, or
    asked of it once for a task never seen): its settings, its working assignments (active,
    not the hidden queue, held by an annotator: `_id`, `annotator`, `itemIds` in work order),
    and the allocation version they date from (a copy older than the one held is ignored)."""

    meta: TaskMeta
    assignments: list[dict[str, Any]]
    version: int

    @staticmethod
    def working(assignments: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Of a task's assignments (`AssignmentFact`s or the task service's documents), the
        ones annotators work in, in the copy's shape."""
        return [{"_id": a.get("_id") or a.get("id"), "annotator": a["annotator"],
                 "itemIds": list(a.get("itemIds") or a.get("item_ids") or [])}
                for a in assignments
                if a.get("active", True) and not a.get("queue") and not a.get("removed") and a.get("annotator")]

    def assignment(self, assignment_id: str) -> dict[str, Any] | None:
        return next((a for a in self.assignments if a["_id"] == assignment_id), None)

    def holder(self) -> dict[str, str]:
        """item -> the assignment that holds it."""
        return {i: a["_id"] for a in self.assignments for i in a["itemIds"]}


@dataclass(frozen=True)
class WorkflowSettings:
    """An annotator's settings in one task; both off until they turn them on."""

    auto_next: bool = False
    auto_complete: bool = False

    def to_hash(self) -> dict[str, str]:
        return {"autoNext": _flag(self.auto_next), "autoComplete": _flag(self.auto_complete)}

    @classmethod
    def of_hash(cls, h: Mapping[str, str]) -> WorkflowSettings:
        return cls(auto_next=h.get("autoNext") == "1", auto_complete=h.get("autoComplete") == "1")


def _flag(value: bool) -> str:
    return "1" if value else "0"


# --- settings ----------------------------------------------------------------------------------


class AutoNextNeedsSingleClass:
    """Auto next item fits tasks with one class per item: picking the class finishes it."""

    name = "auto_next_needs_single_class"

    def check(self, task: TaskMeta, wanted: WorkflowSettings) -> Refusal | None:
        if wanted.auto_next and not task.single_class:
            return Refusal("conflict", "Auto next item is only available in single-class tasks; "
                           "this task allows several classes per item", {"field": "autoNext"})
        return None


class AutoCompleteNeedsAutoNext:
    """Auto complete is offered only with Auto next item on."""

    name = "auto_complete_needs_auto_next"

    def check(self, task: TaskMeta, wanted: WorkflowSettings) -> Refusal | None:
        if wanted.auto_complete and not wanted.auto_next:
            return Refusal("invalid", "Auto complete is only offered with Auto next item on",
                           {"field": "autoComplete"})
        return None


class AutoCompleteNeedsCompletedStatus:
    """Auto complete sets `completed`: the task must offer that status."""

    name = "auto_complete_needs_completed_status"

    def check(self, task: TaskMeta, wanted: WorkflowSettings) -> Refusal | None:
        if wanted.auto_complete and not task.offers_completed:
            return Refusal("conflict", "Auto complete sets the status 'completed', which this task "
                           "does not offer", {"field": "autoComplete"})
        return None


SETTINGS_RULES = (AutoNextNeedsSingleClass(), AutoCompleteNeedsAutoNext(),
                  AutoCompleteNeedsCompletedStatus())


def settings_refusal(task: TaskMeta, wanted: WorkflowSettings) -> Refusal | None:
    for rule in SETTINGS_RULES:
        if (refusal := rule.check(task, wanted)) is not None:
            return refusal
    return None


# --- moving on ---------------------------------------------------------------------------------


def completes_on_move(settings: WorkflowSettings, item_is_open: bool) -> bool:
    """Auto complete gives the item left `completed`, if it has no status yet (a status the
    annotator chose is never overwritten)."""
    return settings.auto_next and settings.auto_complete and item_is_open


class NextOnlyOnDone:
    """"Allow next item only on done": no moving on while the item in hand has no status
    (auto complete gives it one on the way, so it passes)."""

    name = "next_only_on_done"

    def check(self, task: TaskMeta, settings: WorkflowSettings, item_id: str | None,
              item_is_open: bool) -> Refusal | None:
        if task.allow_next_only_on_done and item_is_open and not completes_on_move(settings, True):
            return Refusal("conflict", f"this task moves on only from a done item: give item "
                           f"{item_id} a status first", {"itemId": item_id})
        return None


def moves_on_freely(task: TaskMeta, settings: WorkflowSettings) -> bool:
    """Whether moving on from an item just classified can never be refused with these
    settings (then the gateway may show the next item before the move is applied)."""
    return settings.auto_next and NextOnlyOnDone().check(task, settings, None, True) is None


def needs_refill(task: TaskMeta, open_items: int) -> bool:
    """A pulling annotator running low asks for the next batch once a whole batch fits under
    the maximum open workload (the task service caps the pull in any case)."""
    return task.pulling and open_items <= task.max_batch_workload - task.batch_size


def next_after(open_items: Sequence[str], positions: Mapping[str, float], current: str | None) -> str | None:
    """The next open item after the item in hand in work order, wrapping round to the first;
    never the item in hand. `open_items` are in work order. The read model's scripts
    (services.workflow.queue) follow this rule; tests hold them to it."""
    here = positions.get(current) if current else None
    if here is not None:
        for item in open_items:
            if positions[item] > here:
                return item
    return next((item for item in open_items if item != current), None)


# --- leases ------------------------------------------------------------------------------------


def renewal_due(earliest_expiry_ms: int, now_ms: int, ttl_ms: int) -> bool:
    """Work in the task renews leases past half their life (a heartbeat always renews), so
    a busy annotator does not produce a renewal per item."""
    return earliest_expiry_ms < now_ms + ttl_ms // 2


def heartbeat_every_s(ttl_s: float) -> float:
    """How often a page should send heartbeats: three chances before a lease ends."""
    return max(1.0, ttl_s / 3)
