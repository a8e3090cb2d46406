"""An in-memory workflow repository (services.workflow.repository.WorkflowRepository) for
handler tests: the copy of task facts as the real one keeps it, the task service's answers
from plain documents the test seeds (`tasks`, `assignment_docs`, `item_statuses`: what asking
the owner finds), and annotators' queues kept as Python lists with the queue scripts' simplest
meaning (no leases; pulls answered by `pull`, the task service's rules at their simplest:
`hidden` items handed out a batch at a time, the same batch again for the same command id). What the Lua scripts do in full is tested
against real Valkey (tests/integration/test_lua_scripts.py); the copy and the rest, against
the real repository by tests/integration/test_workflow_repository_contract.py."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

from services.workflow import queue
from services.workflow.rules import TaskFacts, TaskMeta, WorkflowSettings
from shared.contracts.events import CommandRejected
from shared.contracts.tasks import ItemsPulled, PullItems


@dataclass
class FakeQueue:
    assignment: str = ""
    order: list[str] = field(default_factory=list)
    open: set[str] = field(default_factory=set)
    current: str | None = None
    history: list[str] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    closing: set[str] = field(default_factory=set)  # auto completed by a move, kept by a sync

    def open_after(self, item: str | None) -> list[str]:
        start = self.order.index(item) + 1 if item in self.order else 0
        return [i for i in self.order[start:] + self.order[:start] if i in self.open and i != item]


class FakeWorkflowRepository:
    def __init__(self) -> None:
        self.tasks: dict[str, dict[str, Any]] = {}  # the task service's task documents
        self.facts: dict[str, TaskFacts] = {}  # the workflow's copy of task facts
        self.held: dict[tuple[str, str], tuple[int, bool, str]] = {}  # (task, item) -> (ms, has, assignment)
        self.asked: list[str] = []  # tasks asked of the task service
        self.behind = True  # task facts on their way (statuses are asked of the task service)
        self.assignment_docs: dict[str, dict[str, Any]] = {}
        self.item_statuses: dict[tuple[str, str], dict[str, Any]] = {}
        self.operations: dict[str, dict[str, Any]] = {}  # outcome records, by command id
        self.metas: dict[str, TaskMeta] = {}
        self.who: dict[str, dict[str, str]] = {}
        self.queues: dict[tuple[str, str], FakeQueue] = {}
        self.waiting: dict[str, str] = {}
        self.notes: dict[str, tuple[str, str, str]] = {}
        self.pulls: set[tuple[str, str]] = set()
        self.hidden: dict[str, list[str]] = {}  # a pulling task's items not handed out yet
        self.pulled: dict[str, Any] = {}  # the task service's answers to pulls, by command id
        self.pull_late = False  # pulls answered after the move stops waiting (None)

    def q(self, task_id: str, email: str) -> FakeQueue:
        return self.queues.setdefault((task_id, email), FakeQueue())

    # the read model ------------------------------------------------------------------------

    async def meta(self, task_id: str) -> TaskMeta | None:
        return self.metas.get(task_id)

    async def write_task(self, task_id: str, meta: TaskMeta, who: dict[str, str]) -> dict[str, str]:
        before = self.who.get(task_id, {})
        self.metas[task_id], self.who[task_id] = meta, dict(who)
        return before

    async def annotators(self, task_id: str) -> dict[str, str]:
        return dict(self.who.get(task_id, {}))

    async def annotator_of(self, task_id: str, assignment_id: str) -> str | None:
        return self.who.get(task_id, {}).get(assignment_id)

    async def state(self, task_id: str, email: str) -> dict[str, str]:
        q = self.queues.get((task_id, email))
        if q is None or not q.assignment:
            return {}
        return {"assignment": q.assignment} | ({"current": q.current} if q.current else {})

    async def save_settings(self, task_id: str, email: str, settings: WorkflowSettings, moves_freely: bool) -> None:
        self.q(task_id, email).settings = settings.to_hash() | {"movesFreely": "1" if moves_freely else "0"}

    async def sync(self, task_id: str, email: str, assignment_id: str, items: Sequence[str], done: set[str],
                   pulling: bool, now_ms: int, *, version: int | None = None,
                   read_ms: int | None = None) -> queue.Synced:
        q = self.q(task_id, email)
        q.assignment, q.order, q.open = (assignment_id if items else ""), list(items), set(items) - done - q.closing
        ahead = q.open_after(q.current)  # the item in hand stays; nothing is in hand before a move
        return queue.Synced([], [], 0, len(q.open), q.current, ahead[0] if ahead else None)

    async def look(self, task_id: str, email: str, item_id: str | None, ahead: int, now_ms: int) -> queue.Look:
        meta = self.metas.get(task_id)
        q = self.queues.get((task_id, email)) or FakeQueue()
        item = item_id or q.current
        return queue.Look(meta.to_hash() if meta else {}, await self.state(task_id, email), dict(q.settings),
                          item, item in q.open, len(q.open), q.open_after(item)[:ahead])

    async def move(self, task_id: str, email: str, from_item: str | None, complete: bool, pulling: bool,
                   now_ms: int, *, to_item: str | None = None, asked_ms: int = 0) -> queue.Move:
        q = self.q(task_id, email)
        completed = from_item if complete and from_item in q.open else None
        if completed:
            q.open.discard(completed)
            q.closing.add(completed)
        ahead = q.open_after(from_item)
        arrived = to_item or (ahead[0] if ahead else None)
        if from_item:
            q.history.append(from_item)
        q.current = arrived
        after = q.open_after(arrived)
        return queue.Move(from_item, completed, arrived, after[0] if after else None, len(q.open), 0, [])

    async def step_back(self, task_id: str, email: str, pulling: bool, now_ms: int) -> queue.Back:
        q = self.q(task_id, email)
        if not q.history:
            return queue.Back(None)
        q.current = q.history.pop()
        after = q.open_after(q.current)
        return queue.Back(q.current, after[0] if after else None, len(q.open))

    async def apply_statuses(self, task_id: str, email: str, changes: Sequence[tuple[str, str, int | None]],
                             pulling: bool, now_ms: int) -> list[queue.StatusApplied]:
        q, applied = self.q(task_id, email), []
        for item_id, has, _ in changes:
            was = item_id in q.open
            if item_id in q.order and has == "1":
                q.open.discard(item_id)
            elif item_id in q.order:
                q.open.add(item_id)
            after = q.open_after(q.current)
            applied.append(queue.StatusApplied(was != (item_id in q.open), False, False, 0, len(q.open),
                                               q.current, after[0] if after else None))
        return applied

    async def renew(self, task_id: str, email: str, pulling: bool, now_ms: int, *, force: bool,
                    item_id: str | None = None, back: bool = False) -> queue.Renewal:
        return queue.Renewal(0, [])

    async def leave(self, task_id: str, email: str, pulling: bool, now_ms: int) -> queue.Leave:
        return queue.Leave([], [], 0, len(self.q(task_id, email).open))

    async def expire(self, task_id: str, email: str, now_ms: int) -> queue.Expiry:
        return queue.Expiry([], [], 0, None, None)

    async def start_pull(self, task_id: str, email: str) -> bool:
        if (task_id, email) in self.pulls:
            return False
        self.pulls.add((task_id, email))
        return True

    async def end_pull(self, task_id: str, email: str) -> None:
        self.pulls.discard((task_id, email))

    async def due_leases(self, now_ms: int, limit: int = 200) -> list[tuple[str, str]]:
        return []

    async def returning(self, task_id: str, email: str) -> list[str]:
        return []

    async def returned(self, task_id: str, item_ids: Iterable[str]) -> None:
        return None

    async def retry_return_at(self, task_id: str, email: str, at_ms: int | None) -> None:
        return None

    async def due_returns(self, now_ms: int, limit: int = 200) -> list[tuple[str, str]]:
        return []

    async def wait_for_outcome(self, command_id: str, move: str) -> None:
        self.waiting[command_id] = move

    async def waiting_moves(self, limit: int = 500) -> dict[str, str]:
        return dict(self.waiting)

    async def take_waiting_move(self, command_id: str) -> bool:
        return self.waiting.pop(command_id, None) is not None

    async def note_auto_completion(self, set_status_id: str, task_id: str, email: str, item_id: str) -> None:
        self.notes[set_status_id] = (task_id, email, item_id)

    async def auto_completion(self, set_status_id: str) -> tuple[str, str, str] | None:
        return self.notes.get(set_status_id)

    # the copy of task facts ----------------------------------------------------------------

    async def task_facts(self, task_id: str) -> TaskFacts | None:
        found = self.facts.get(task_id)
        return TaskFacts(found.meta, deepcopy(found.assignments), found.version) if found else None

    async def keep_task_facts(self, task_id: str, facts: TaskFacts) -> bool:
        held = self.facts.get(task_id)
        if held is not None and held.version > facts.version:
            return False
        self.facts[task_id] = TaskFacts(facts.meta, deepcopy(facts.assignments), facts.version)
        return True

    async def keep_task_meta(self, task_id: str, meta: TaskMeta) -> bool:
        if task_id not in self.facts:
            return False
        self.facts[task_id].meta = meta
        return True

    async def keep_pulled(self, task_id: str, assignment_id: str, item_ids: Sequence[str], version: int) -> bool:
        held = self.facts.get(task_id)
        if held is None:
            return False
        if held.version >= version:
            return True
        mine = held.assignment(assignment_id)
        if held.version != version - 1 or mine is None:
            return False
        mine["itemIds"] += [i for i in item_ids if i not in set(mine["itemIds"])]
        held.version = version
        return True

    async def keep_statuses(self, task_id: str, changes: Sequence[tuple[str, bool, int, str]]) -> None:
        for item_id, has, at_ms, assignment_id in changes:
            held = self.held.get((task_id, item_id))
            if held is None or held[0] <= at_ms:
                self.held[(task_id, item_id)] = (at_ms, has, assignment_id)

    async def facts_behind(self) -> bool:
        return self.behind

    async def done_items(self, task_id: str, item_ids: Iterable[str]) -> set[str]:
        return {i for i in item_ids if (held := self.held.get((task_id, i))) and held[1]}

    async def statuses(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        return {k: {"status": self.held[k][1], "assignmentId": self.held[k][2]} for k in keys if k in self.held}

    # the task service asked ------------------------------------------------------------------

    def _working(self, task_id: str) -> list[dict[str, Any]]:
        return [a for a in self.assignment_docs.values() if a["taskId"] == task_id]

    async def ask_task(self, task_id: str, now_ms: int) -> tuple[TaskFacts, list[tuple[str, bool, int, str]]] | None:
        self.asked.append(task_id)
        task = self.tasks.get(task_id)
        if task is None:
            return None
        facts = TaskFacts(TaskMeta.of_task(task), TaskFacts.working(deepcopy(self._working(task_id))),
                          int(task.get("allocationVersion", 0)))
        return facts, [(item, bool(doc.get("status")), now_ms, doc.get("assignmentId", ""))
                       for (t, item), doc in self.item_statuses.items() if t == task_id]

    async def ask_assignment(self, task_id: str, assignment_id: str) -> tuple[list[str], int] | None:
        doc = self.assignment_docs.get(assignment_id)
        if doc is None or doc["taskId"] != task_id or not doc.get("active", True):
            return None
        return list(doc["itemIds"]), int(self.tasks.get(task_id, {}).get("allocationVersion", 0))

    async def ask_statuses(self, task_id: str, item_ids: Sequence[str]) -> dict[str, bool] | None:
        return {i: bool(doc.get("status")) for i in item_ids if (doc := self.item_statuses.get((task_id, i)))}

    async def pull(self, command: PullItems) -> Any:
        """The task service's pull: refused for a task that does not pull or a caller who is not
        an assignee; else the next `batchSize` hidden items added to the caller's assignment."""
        if command.id not in self.pulled:
            self.pulled[command.id] = self._pull(command)
        return None if self.pull_late else self.pulled[command.id]

    def _pull(self, command: PullItems) -> Any:
        task = self.tasks.get(command.task_id, {})
        mine = next((a for a in self._working(command.task_id) if a["annotator"] == command.actor.email), None)
        if task.get("allocation") != "pulling" or mine is None:
            reason, message = (("forbidden", "you are not an assignee of this task") if mine is None else
                               ("conflict", "only a pulling task hands out items on request"))
            return CommandRejected(correlation_id=command.id, actor=command.actor, command_type="PullItems",
                                   reason=reason, message=message)
        hidden = self.hidden.setdefault(command.task_id, [])
        batch, self.hidden[command.task_id] = hidden[:task["batchSize"]], hidden[task["batchSize"]:]
        mine["itemIds"] = mine["itemIds"] + batch
        task["allocationVersion"] = int(task.get("allocationVersion", 0)) + (1 if batch else 0)
        return ItemsPulled(correlation_id=command.id, actor=command.actor, task_id=command.task_id,
                           project_id=command.project_id, assignment_id=mine["_id"], item_ids=batch,
                           open_items=len(batch), allocation_version=task["allocationVersion"])

    # outcomes ------------------------------------------------------------------------------

    async def outcome_statuses(self, command_ids: Sequence[str]) -> dict[str, str]:
        return {c: self.operations[c]["status"] for c in command_ids if c in self.operations}

    async def outcomes(self, command_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {c: self.operations[c] for c in command_ids if c in self.operations}

    async def save_outcomes(self, outcomes: list[dict[str, Any]]) -> None:
        for record in outcomes:
            self.operations.setdefault(record["_id"], record)


class Outlet:
    """What a workflow runner or its reactions published, in order."""

    def __init__(self) -> None:
        self.published: list[Any] = []

    async def __call__(self, messages: list[Any], reply_to: Any = None) -> None:
        self.published += messages
