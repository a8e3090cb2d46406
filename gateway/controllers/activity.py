"""A task's live activity for its managers (Server-Sent Events): every annotator's status
changes and classifications in the task, its bulks' progress, and changes of its items and
assignments, as they happen (gateway.task_activity). Annotators have their own queue's feed
(`/tasks/{id}/feed`) and never see other people's work here."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from gateway.task_activity import TaskActivity

KEEP_ALIVE_S = 15.0


class TaskActivityController(Controller):
    path = "/api/v1/tasks/{task_id:str}"
    tags = ["tasks"]

    @get("/activity")
    async def task_activity(
        self, task_id: FromPath[str], activity: NamedDependency[TaskActivity],
        max_events: Annotated[int | None, QueryParameter(name="maxEvents", ge=1, le=100_000,
                                                         description="close after this many facts")] = None,
        seconds: Annotated[float | None, QueryParameter(gt=0, le=86_400,
                                                        description="close after this long")] = None,
    ) -> ServerSentEvent:
        """Server-Sent Events for the task's managers: first `snapshot` (read the task's progress
        from here on), then each fact about the task by type: `ItemStatusChanged` (with the
        assignment, `previous` and `status`: counts move by it), `ItemClassified` and
        `AnnotationUpdated` made in the task, `BulkProgressed` / `BulkCompleted` / `BulkUndone`,
        `TaskChanged` (items, statuses, assignments), `ItemsPulled`. Where a page fell behind or a
        bulk sent more than 50 per-item facts at once, one `Resync` (how many, by type) stands
        for them: read the task again. At-most-once: a reconnection starts with a new snapshot."""
        return ServerSentEvent(self._facts(activity, task_id, max_events, seconds))

    @staticmethod
    async def _facts(activity: TaskActivity, task_id: str, max_events: int | None,
                     seconds: float | None) -> AsyncIterator[ServerSentEventMessage]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds if seconds else None
        with activity.subscribe(task_id) as listener:  # before the snapshot: no gap
            at = datetime.now(UTC).isoformat()
            yield ServerSentEventMessage(event="snapshot", data=json.dumps({"taskId": task_id, "at": at}))
            sent = 0
            while (max_events is None or sent < max_events) and (deadline is None or loop.time() < deadline):
                wait = KEEP_ALIVE_S if deadline is None else min(KEEP_ALIVE_S, deadline - loop.time())
                facts = await listener.take(wait)
                if not facts:
                    yield ServerSentEventMessage(comment="keep-alive")
                for body in facts[:None if max_events is None else max_events - sent]:
                    sent += 1
                    yield ServerSentEventMessage(event=body.get("type"), id=body.get("id"),
                                                 data=json.dumps(body))
