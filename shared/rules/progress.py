"""Task progress: how status changes move a task's counts, and a task as the API and
`TaskChanged` show it. Also the stored layout of the task service's `task_progress` counts
(status_key, progress_counts, status_count_pipeline), which only the task service reads
(the gateway keeps its own view of a task's progress from the task events)."""

from __future__ import annotations

from typing import Any


def status_key(status: str) -> str:
    """A status as a MongoDB field name in `task_progress.counts` (a custom status may hold
    `.` or `$`, which field names cannot)."""
    return status.encode().hex()


def progress_counts(progress: dict[str, Any]) -> dict[tuple[str, str], int]:
    """(assignment id, status) -> items, from a `task_progress` document (zeros dropped)."""
    return {(a, bytes.fromhex(k).decode()): n
            for a, by_status in (progress.get("counts") or {}).items()
            for k, n in by_status.items() if n}


def status_count_pipeline(task_id: str) -> list[dict[str, Any]]:
    """The aggregation counting a task's statuses from `item_statuses` (a scan; for tasks
    whose counts are not kept yet). Rows: {_id: {a: assignment, s: status}, n}."""
    return [{"$match": {"taskId": task_id, "status": {"$ne": None}}},
            {"$group": {"_id": {"a": "$assignmentId", "s": "$status"}, "n": {"$sum": 1}}}]


def status_deltas(changes: list[tuple[str, str | None, str | None]]) -> dict[tuple[str, str], int]:
    """How (assignment, previous status, new status) changes move the status counts."""
    deltas: dict[tuple[str, str], int] = {}
    for assignment, previous, new in changes:
        if previous == new:
            continue
        if previous:
            deltas[(assignment, previous)] = deltas.get((assignment, previous), 0) - 1
        if new:
            deltas[(assignment, new)] = deltas.get((assignment, new), 0) + 1
    return {k: n for k, n in deltas.items() if n}


def task_view(task: dict[str, Any], assignment_ids: list[str],
              counts: dict[tuple[str, str], int]) -> dict[str, Any]:
    """A stored task as the API and `TaskChanged` show it (Dataloop's task entity, with
    `itemStatus` progress from `counts`: (assignment id, status) -> items)."""
    by_status: dict[str, int] = {}
    for (_, status), n in counts.items():
        by_status[status] = by_status.get(status, 0) + n
    done = sum(by_status.values())
    total = task["totalItems"]
    return {
        "id": task["_id"], "name": task["name"], "projectId": task["projectId"],
        "datasetId": task["datasetId"], "recipeId": task["recipeId"], "creator": task["creator"],
        "createdAt": task["createdAt"], "updatedAt": task["updatedAt"], "dueDate": task["dueDate"],
        "priority": task["priority"], "spec": {"type": "annotation"},
        "availableActions": task["availableActions"], "allocation": task["allocation"],
        "singleClass": task["singleClass"], "allowNextOnlyOnDone": task["allowNextOnlyOnDone"],
        "assignmentIds": assignment_ids,
        "totalItems": total,
        "itemStatus": {"completed": by_status.get("completed", 0), "remaining": total - done,
                       "actions": by_status},
        "progress": round(100 * done / total, 2) if total else 0.0,
        "metadata": {"system": {"batchSize": task["batchSize"], "maxBatchWorkload": task["maxBatchWorkload"],
                                "allowedAssignees": task["allowedAssignees"]}},
    }
