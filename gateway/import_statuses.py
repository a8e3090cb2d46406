"""Item statuses of an import: each (item, task, status) mapped to a task of this project and
sent as the `SetStatus` the studio sends (stream `status`; the task service checks it and
emits `ItemStatusChanged`).

The task: the ref's task id when that task is in this project, else a task of the project
with the ref's name (our exports write it), else the task the caller named (`taskId`),
else for a CSV row without a task the one task of the dataset holding the item. What maps
to none, to a task of another dataset, or to a status the task does not offer is skipped
with the reason. A status the item already holds there is a duplicate; a status this job
set in an earlier run (its command id is derived from the job) counts as imported."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.import_formats import StatusEntry
from shared.contracts import streams
from shared.contracts.envelope import Actor, derived_id
from shared.contracts.events import CommandRejected
from shared.contracts.tasks import SetStatus

WAIT_S = 60.0
BATCH = 500


@dataclass
class StatusPlan:
    commands: list[tuple[int, SetStatus]] = field(default_factory=list)  # (file index, command)
    skipped: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    already: list[int] = field(default_factory=list)  # set by an earlier run of this job


class _Tasks:
    def __init__(self, tasks: list[dict[str, Any]], holders: dict[str, list[tuple[str, str]]]) -> None:
        self.by_id = {t["_id"]: t for t in tasks}
        self.by_name: dict[str, list[dict[str, Any]]] = {}
        for t in tasks:
            self.by_name.setdefault(t["name"], []).append(t)
        self.holders = holders

    def find(self, entry: StatusEntry, item_id: str, chosen: str | None) -> dict[str, Any] | str:
        """The task the status goes to, or why none."""
        if entry.task and entry.task in self.by_id:
            return self.by_id[entry.task]
        named = self.by_name.get(entry.task_name or "", [])
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            return f"{len(named)} tasks here are named {entry.task_name!r}: give taskId"
        if chosen:
            return self.by_id[chosen]
        if entry.task:
            what = f"task {entry.task}" + (f" ({entry.task_name!r})" if entry.task_name else "")
            return f"{what} is not a task of this project (give taskId to set its statuses in one)"
        holding = {t for t, _ in self.holders.get(item_id, [])}
        if len(holding) == 1:
            return self.by_id[holding.pop()]
        return (f"the item is in {len(holding)} tasks of the dataset: give taskId" if holding
                else "no task of the dataset holds the item (give taskId)")


async def plan_statuses(gw: Any, job_id: str, dataset: dict[str, Any], actor: Actor,
                        entries: list[tuple[int, StatusEntry]], items: dict[str, dict],
                        chosen: str | None) -> StatusPlan:
    plan = StatusPlan()
    if not entries:
        return plan
    tasks = await gw.tasks.task_names(project_id=dataset["projectId"])
    found = _Tasks(tasks, await gw.tasks.memberships(dataset_id=dataset["id"]))
    wanted: dict[tuple[str, str], tuple[int, str, SetStatus]] = {}
    for n, entry in entries:
        item = items.get(entry.item)
        why = _check(entry, item)
        task = why or found.find(entry, item["id"], chosen)
        if isinstance(task, dict):
            why = _task_refusal(task, dataset, entry.status)
        if why or isinstance(task, str):
            plan.skipped.append((n, {"item": entry.item, "task": entry.task, "status": entry.status,
                                     "reason": why or task}))
            continue
        key = (task["_id"], item["id"])
        if key in wanted:
            continue  # the same item's status in the same task twice (a CSV row per class)
        command = SetStatus(id=derived_id(job_id, f"status:{key[0]}:{key[1]}"), actor=actor,
                            task_id=key[0], project_id=dataset["projectId"], item_id=key[1],
                            status=entry.status)
        wanted[key] = (n, entry.status, command)
    holders: dict[str, list[tuple[str, str]]] = {}
    for task_id, item_id in wanted:
        holders.setdefault(item_id, []).append((task_id, ""))
    held = await gw.tasks.statuses_of_items(holders)
    now = {(d["taskId"], d["itemId"]): d for docs in held.values() for d in docs}
    for key, (n, status, command) in wanted.items():
        doc = now.get(key)
        if doc and doc.get("lastCommandId") == command.id:
            plan.already.append(n)
        elif doc and doc.get("status") == status:
            plan.duplicates.append(n)
        else:
            plan.commands.append((n, command))
    return plan


def _check(entry: StatusEntry, item: dict | None) -> str | None:
    if item is None:
        return f"no item {entry.item!r} in the dataset"
    if ";" in entry.status:
        return "one status per task: a CSV status naming several tasks' statuses is not imported"
    return None


def _task_refusal(task: dict[str, Any], dataset: dict[str, Any], status: str) -> str | None:
    if task["datasetId"] != dataset["id"]:
        return f"task {task['name']!r} is a task of another dataset"
    offered = [a["action"] for a in task.get("availableActions", [])]
    if status not in offered:
        return f"status {status!r} is not one of task {task['name']!r}'s statuses ({', '.join(offered)})"
    return None


async def send_statuses(gw: Any, plan: StatusPlan) -> list[tuple[int, str | None]]:
    """Send the plan's commands (one round trip); per command its file and None when set,
    else why not."""
    if not plan.commands:
        return []
    outcomes: list[Any] = []
    for k in range(0, len(plan.commands), BATCH):
        batch = [c for _, c in plan.commands[k:k + BATCH]]
        outcomes += await gw.bus.send_many(streams.STATUS, batch, wait_s=WAIT_S)
    out = []
    for (n, command), outcome in zip(plan.commands, outcomes, strict=True):
        if outcome is None:
            outcome = await gw.bus.await_existing(command.id)
        if isinstance(outcome, CommandRejected):
            out.append((n, outcome.message))
        elif outcome is None:
            out.append((n, f"not set within {WAIT_S:.0f} s (command {command.id} may still apply)"))
        else:
            out.append((n, None))
    return out
