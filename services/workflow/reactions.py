"""How the workflow service follows the facts of other services, and its lease janitor.

Task facts are kept first in the workflow's own copy (services.workflow.repository: settings,
who holds which items, which items hold a status), each applied once whatever the order it
comes in (a copy older than the one held is ignored; a gap in allocation versions, or a task
never seen, is asked of the task service), then re-seed the read model from that copy.
Annotation facts in a pulling task count as work and renew leases. The janitor expires leases
nobody renewed and asks the task service to take the items back.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from cachetools import LRUCache

from services.workflow.handlers import (
    RETURN_RETRY_MS,
    SYSTEM,
    Clock,
    at,
    fact,
    made,
    ms,
    sync_annotator,
    sync_task,
    task_copy,
)
from services.workflow.repository import WorkflowRepository
from services.workflow.rules import TaskFacts, TaskMeta
from shared.contracts.envelope import Envelope, new_id, utcnow
from shared.contracts.events import CommandRejected, ItemClassified
from shared.contracts.tasks import ItemsPulled, ItemStatusChanged, ReturnItems, TaskChanged
from shared.contracts.workflow import (
    AutoCompleteRefused,
    ItemsReturned,
    LeasesExpired,
    LeasesGranted,
    LeasesReleased,
    LeasesRenewed,
    QueueChanged,
)


def _ms(event: Envelope) -> int:
    return int(event.occurred_at.timestamp() * 1000)


_TASK_ID = re.compile(rb'"taskId": ?"([^"]*)"')  # an annotation's metadata.system.taskId
# Allocation tasks remembered (~100 bytes each): past that the least recently classified in is
# forgotten, and its next classification is read once more to learn it again. A service
# running for years sees tasks without end.
ALLOCATION_TASKS_KEPT = 100_000

Publish = Callable[[list[Any]], Awaitable[None]]


class Reactions:
    """`publish` sends what a reaction produced (services.workflow.bootstrap's outlet)."""

    def __init__(self, repo: WorkflowRepository, publish: Publish | None = None, clock: Clock = utcnow) -> None:
        self.queues = repo
        self.publish = publish
        self.clock = clock
        # tasks seen not to pull (fixed at creation), the most recently classified in
        self.allocation_tasks: LRUCache[str, bool] = LRUCache(ALLOCATION_TASKS_KEPT)

    def classification_may_matter(self, raw: Any) -> bool:
        """Of `events.annotation`, only classifications in pulling tasks move anything here;
        the rest is acknowledged unread. A 10,000-item bulk (allocation tasks only) brings
        10,000 classifications, each a kilobyte of annotation to decode for nothing."""
        if not isinstance(raw, (bytes, bytearray)):
            return True
        if b'"ItemClassified"' not in raw:
            return False
        found = _TASK_ID.search(raw)
        return found is None or self.allocation_tasks.get(found.group(1).decode()) is None

    async def send(self, produced: list[Any]) -> None:
        if produced and self.publish is not None:
            await self.publish(produced)

    # task facts ----------------------------------------------------------------------------

    async def on_task_events(self, events: list[Envelope]) -> None:
        produced: list[Any] = []
        for event in events:
            if isinstance(event, TaskChanged):
                await self.keep_task_changed(event)
                await self.when_task_changed(event, produced)
            elif isinstance(event, ItemsPulled):
                await self.keep_items_pulled(event)
                await self.when_items_pulled(event, produced)
            elif isinstance(event, CommandRejected) and event.command_type == "SetStatus":
                await self.when_auto_completion_refused(event, produced)
        changes = [e for e in events if isinstance(e, ItemStatusChanged)]
        if changes:
            await self.keep_statuses(changes)
            await self.when_statuses_changed(changes, produced)
        await self.send(produced)

    # the copy of task facts ----------------------------------------------------------------------

    async def keep_task_changed(self, event: TaskChanged) -> None:
        """A change that may move items carries who holds what: kept unless older than the copy
        held. A task first seen after its creation is asked of the task service instead (the
        fact does not say which items hold a status)."""
        meta = TaskMeta.of_view(event.task)
        if event.assignments is not None and event.allocation_version is not None:
            facts = TaskFacts(meta, TaskFacts.working([a.model_dump() for a in event.assignments]),
                              event.allocation_version)
            if event.change == "created" or await self.queues.task_facts(event.task_id) is not None:
                await self.queues.keep_task_facts(event.task_id, facts)
                return
        elif event.change == "statuses" and await self.queues.keep_task_meta(event.task_id, meta):
            return  # the task's statuses changed, not who holds what
        await task_copy(self.queues, event.task_id, self.clock, fresh=True)

    async def keep_items_pulled(self, event: ItemsPulled) -> None:
        """Pulled items added to the copy; when it cannot tell (facts between not seen yet),
        the task service is asked."""
        if event.allocation_version is None or not event.item_ids:
            return
        if not await self.queues.keep_pulled(event.task_id, event.assignment_id, event.item_ids,
                                             event.allocation_version):
            await task_copy(self.queues, event.task_id, self.clock, fresh=True)

    async def keep_statuses(self, events: list[ItemStatusChanged]) -> None:
        by_task: dict[str, list[tuple[str, bool, int, str]]] = {}
        for e in events:
            by_task.setdefault(e.task_id, []).append((e.item_id, bool(e.status), _ms(e), e.assignment_id))
        for task_id, changes in by_task.items():
            await self.queues.keep_statuses(task_id, changes)

    # what the facts change in the queues -----------------------------------------------------------

    async def when_task_changed(self, event: TaskChanged, produced: list[Any]) -> None:
        if event.change != "items-returned":
            await sync_task(self.queues, event, event.task_id, produced, self.clock)
            return
        assignment_id = event.summary.get("assignmentId", "")
        returned, kept = event.summary.get("returned", []), event.summary.get("kept", [])
        email = await self.queues.annotator_of(event.task_id, assignment_id)
        meta = await self.queues.meta(event.task_id)
        await self.queues.returned(event.task_id, returned + kept)
        if email is None or meta is None:
            return
        if not await self.queues.returning(event.task_id, email):
            await self.queues.retry_return_at(event.task_id, email, None)
        produced.append(fact(event, ItemsReturned, meta, event.task_id, email, assignment_id,
                                            item_ids=returned, kept_item_ids=kept))
        await sync_annotator(self.queues, event, meta, event.task_id, email, assignment_id, produced, self.clock)

    async def when_items_pulled(self, event: ItemsPulled, produced: list[Any]) -> None:
        meta = await self.queues.meta(event.task_id)
        email = await self.queues.annotator_of(event.task_id, event.assignment_id)
        if meta is None or email is None:  # a task (or assignment) not seen yet
            await sync_task(self.queues, event, event.task_id, produced, self.clock)
            return
        await self.queues.end_pull(event.task_id, email)
        if event.item_ids:  # an empty pull changed nothing
            await sync_annotator(self.queues, event, meta, event.task_id, email, event.assignment_id, produced, self.clock)

    async def when_statuses_changed(self, events: list[ItemStatusChanged], produced: list[Any]) -> None:
        """Apply each item's status. A fact that is clearly the newest word on its item is
        applied as it says; the rest (handled out of order or twice, racing another writer,
        older than the queue's seeding: lua/status.lua) and items changed twice in the batch are
        applied as the copy holds them now (the newest word on each item). A bulk brings
        thousands at once: each task's meta and annotators are read once per batch."""
        latest: dict[tuple[str, str], ItemStatusChanged] = {}
        twice: set[tuple[str, str]] = set()
        first_of_task: dict[str, ItemStatusChanged] = {}
        for e in events:
            key = (e.task_id, e.item_id)
            if key in latest:
                twice.add(key)
            latest[key] = e
            first_of_task.setdefault(e.task_id, e)
        tasks: dict[str, tuple[Any, dict[str, str]] | None] = {}
        for task_id, first in first_of_task.items():
            meta = await self.queues.meta(task_id)
            if meta is None:  # not seen yet: seeding reads every status anyway
                await sync_task(self.queues, first, task_id, produced, self.clock)
            tasks[task_id] = (meta, await self.queues.annotators(task_id)) if meta else None
        as_said = {k: e for k, e in latest.items() if k not in twice}
        unsure = await self._apply(tasks, [(e, e.assignment_id, "1" if e.status else "0", _ms(e))
                                           for e in as_said.values()], produced)
        unsure |= twice
        if not unsure:
            return
        truth = await self.queues.statuses(unsure)
        stored = []
        for key in unsure:
            event, doc = latest[key], truth.get(key)
            assignment_id = doc["assignmentId"] if doc else event.assignment_id
            stored.append((event, assignment_id, "1" if doc and doc.get("status") else "0", None))
        await self._apply(tasks, stored, produced)

    async def _apply(self, tasks: dict[str, Any], changes: list[tuple[ItemStatusChanged, str, str, int | None]],
                     produced: list[Any]) -> set[tuple[str, str]]:
        """Apply (fact, assignment, has, fact time) per annotator; the items left to verify."""
        queues: dict[tuple[str, str, str], list[tuple[Envelope, str, str, int | None]]] = {}
        for event, assignment_id, has, when in changes:
            if tasks.get(event.task_id) is None:
                continue
            _, who = tasks[event.task_id]
            if (email := who.get(assignment_id)) is not None:
                queues.setdefault((event.task_id, assignment_id, email), []).append(
                    (event, event.item_id, has, when))
        unsure: set[tuple[str, str]] = set()
        for (task_id, assignment_id, email), mine in queues.items():
            meta = tasks[task_id][0]
            unsure |= await self._apply_statuses(meta, task_id, assignment_id, email, mine, produced)
        return unsure

    async def _apply_statuses(self, meta: Any, task_id: str, assignment_id: str, email: str,
                              changes: list[tuple[Envelope, str, str, int | None]],
                              produced: list[Any]) -> set[tuple[str, str]]:
        """One annotator's statuses (cause, item, has, fact time) in one round trip; lease
        facts per item, the queue's change once, as it stands after the last (a bulk of
        10,000 statuses is not 10,000 QueueChanged facts for every live feed). The items the
        script left to verify."""
        applied = await self.queues.apply_statuses(
            task_id, email, [(item_id, has, made) for _, item_id, has, made in changes], meta.pulling,
            ms(self.clock))

        def item_fact(cause: Envelope, item_id: str, kind: type, **fields: Any) -> Any:
            return fact(cause, kind, meta, task_id, email, assignment_id, item_id, **fields)

        last_change = None
        for (cause, item_id, _, _), result in zip(changes, applied, strict=True):
            if result.released:
                produced.append(item_fact(cause, item_id, LeasesReleased, item_ids=[item_id], reason="done"))
            if result.granted:
                produced.append(item_fact(cause, item_id, LeasesGranted, item_ids=[item_id],
                                            expires_at=at(result.expires_ms)))
            if result.changed:
                last_change = (cause, item_id, result)
        if last_change is not None:
            cause, item_id, result = last_change
            produced.append(item_fact(cause, item_id, QueueChanged, reason="status",
                                        current_item_id=result.current, next_item_id=result.next_item,
                                        open_items=result.open_items))
        own = [cause for cause, _, _, _ in changes if cause.actor.email == email]
        if meta.pulling and own:  # the annotator's own work keeps leases alive
            await self._renew(own[-1], meta, task_id, email, assignment_id, None, produced)
        return {(task_id, item_id) for (_, item_id, _, _), r in zip(changes, applied, strict=True) if r.verify}

    async def when_auto_completion_refused(self, event: CommandRejected, produced: list[Any]) -> None:
        found = await self.queues.auto_completion(event.correlation_id)
        if found is None:
            return
        task_id, email, item_id = found
        meta = await self.queues.meta(task_id)
        state = await self.queues.state(task_id, email)
        if meta is None or not state.get("assignment"):
            return
        produced.append(fact(event, AutoCompleteRefused, meta, task_id, email,
                                            state["assignment"], item_id=item_id, reason=event.reason,
                                            message=event.message))
        await self._apply_statuses(meta, task_id, state["assignment"], email, [(event, item_id, "undo", None)],
                                   produced)

    # annotation facts --------------------------------------------------------------------------

    async def on_annotation_events(self, events: list[Envelope]) -> None:
        """A classification in a pulling task is work: it renews the annotator's leases and
        marks the item opened."""
        produced: list[Any] = []
        seen: set[tuple[str, str]] = set()
        for event in reversed(events):
            if not isinstance(event, ItemClassified):
                continue
            system = (event.annotation.get("metadata") or {}).get("system") or {}
            task_id, assignment_id = system.get("taskId"), system.get("assignmentId")
            if not task_id or not assignment_id or (task_id, assignment_id) in seen:
                continue
            seen.add((task_id, assignment_id))
            meta = await self.queues.meta(task_id)
            if meta is not None and not meta.pulling:
                self.allocation_tasks[task_id] = True
                continue
            email = await self.queues.annotator_of(task_id, assignment_id)
            if meta is not None and meta.pulling and email == event.actor.email:
                await self._renew(event, meta, task_id, email, assignment_id, event.item_id, produced)
        await self.send(produced)

    async def _renew(self, cause: Envelope, meta: Any, task_id: str, email: str, assignment_id: str,
                     item_id: str | None, produced: list[Any]) -> None:
        renewal = await self.queues.renew(task_id, email, True, ms(self.clock), force=False, item_id=item_id)
        if renewal.items:
            produced.append(fact(cause, LeasesRenewed, meta, task_id, email, assignment_id,
                                                item_ids=renewal.items, expires_at=at(renewal.expires_ms)))

    # the janitor -------------------------------------------------------------------------------

    async def tick(self) -> None:
        """Expire the leases due, and ask again for returns the task service has not confirmed."""
        produced: list[Any] = []
        now = ms(self.clock)
        for task_id, email in await self.queues.due_leases(now):
            await self._expire(task_id, email, now, produced)
        for task_id, email in await self.queues.due_returns(now):
            await self._return_again(task_id, email, now, produced)
        await self.send(produced)

    async def _expire(self, task_id: str, email: str, now: int, produced: list[Any]) -> None:
        meta = await self.queues.meta(task_id)
        state = await self.queues.state(task_id, email)
        expiry = await self.queues.expire(task_id, email, now)
        if meta is None or not expiry.expired or not state.get("assignment"):
            return
        cause = Envelope(id=new_id(), actor=SYSTEM)
        mine = lambda kind, **f: fact(cause, kind, meta, task_id, email,
                                              state["assignment"], **f)
        produced += [
            mine(LeasesExpired, item_ids=expiry.expired, opened_item_ids=expiry.opened),
            mine(QueueChanged, reason="expired", current_item_id=expiry.current,
                 next_item_id=expiry.next_item, open_items=expiry.open_items),
        ]
        produced.append(made(cause, ReturnItems, actor=SYSTEM, task_id=task_id,
                                   project_id=meta.project_id, assignment_id=state["assignment"],
                                   item_ids=expiry.expired))
        await self.queues.retry_return_at(task_id, email, now + RETURN_RETRY_MS)

    async def _return_again(self, task_id: str, email: str, now: int, produced: list[Any]) -> None:
        items = await self.queues.returning(task_id, email)
        meta = await self.queues.meta(task_id)
        state = await self.queues.state(task_id, email)
        if not items or meta is None or not state.get("assignment"):
            await self.queues.retry_return_at(task_id, email, None)
            return
        cause = Envelope(id=new_id(), actor=SYSTEM)
        produced.append(made(cause, ReturnItems, actor=SYSTEM, task_id=task_id, project_id=meta.project_id,
                                   assignment_id=state["assignment"], item_ids=items))
        await self.queues.retry_return_at(task_id, email, now + RETURN_RETRY_MS)
