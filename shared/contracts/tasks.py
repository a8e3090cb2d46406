"""Task commands and events: task management, item statuses, and the task context of
commands. Consumed and emitted by the task service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, TypeAdapter

from shared.contracts.commands import Classify, DeleteAnnotation, UpdateAnnotation
from shared.contracts.envelope import Contract, Envelope
from shared.contracts.scene_commands import (
    ChangeSceneLabel,
    DeleteScene,
    HideFrames,
    MoveSceneStart,
    PaintScenes,
    SetSceneEnd,
    StartScene,
    UnhideFrames,
)


class StatusAction(Contract):
    """A status a task offers (`availableActions`): `action` is stored, the rest is shown."""

    action: str
    display_name: str
    color: str = "#999999"
    icon: str | None = None


DEFAULT_ACTIONS = (
    StatusAction(action="completed", display_name="Completed", color="#2ca02c"),
    StatusAction(action="discard", display_name="Discard", color="#7f7f7f"),
)


class WorkloadUnit(Contract):
    assignee_id: str  # the annotator's email, as Dataloop's workload names them
    load: float


class ItemFilter(Contract):
    """Which items of the dataset a task takes (all fields optional, combined with AND)."""

    dir: str | None = None
    mimetype_prefix: str | None = None
    name_prefix: str | None = None


class CreateTask(Envelope):
    """Create a task over a dataset's items and allocate them. Stream `tasks`."""

    type: Literal["CreateTask"] = "CreateTask"
    task_id: str
    project_id: str
    dataset_id: str
    recipe_id: str
    name: str
    due_date: datetime | None = None
    priority: int = 2
    item_ids: list[str] | None = None
    filter: ItemFilter | None = None
    assignees: list[str]
    workload: list[WorkloadUnit] | None = None
    available_actions: list[StatusAction] = Field(default_factory=lambda: list(DEFAULT_ACTIONS))
    single_class: bool = True
    allocation: Literal["distribution", "pulling"] = "distribution"
    batch_size: int | None = None
    max_batch_workload: int | None = None
    allowed_assignees: list[str] | None = None
    consensus: bool = False
    allow_next_only_on_done: bool = False
    # The items the task takes, resolved by the gateway, whose catalog holds the items: the
    # dataset's items `item_ids` names (in their order, once each) or that `filter` matches (in
    # id order), refused there if any named id is not in the dataset. The task service takes
    # exactly these and reads no catalog; the gateway sends them instead of `item_ids` and
    # `filter`, which only commands published before carry (refused: nothing resolved them).
    resolved_item_ids: list[str] | None = None


class EditTask(Envelope):
    """Change a task's statuses (items that hold a removed status keep it). Stream `tasks`."""

    type: Literal["EditTask"] = "EditTask"
    task_id: str
    project_id: str
    add_actions: list[StatusAction] = Field(default_factory=list)
    remove_actions: list[str] = Field(default_factory=list)
    name: str | None = None


class ChangeTaskItems(Envelope):
    """Add items to a task or remove them (items holding a status stay). Stream `tasks`."""

    type: Literal["ChangeTaskItems"] = "ChangeTaskItems"
    task_id: str
    project_id: str
    operation: Literal["add", "remove"]
    item_ids: list[str] | None = None
    filter: ItemFilter | None = None
    resolved_item_ids: list[str] | None = None  # as CreateTask's, in the task's dataset


class Redistribute(Envelope):
    """Spread an assignment's remaining items (no status yet) over annotators."""

    type: Literal["Redistribute"] = "Redistribute"
    task_id: str
    project_id: str
    assignment_id: str
    workload: list[WorkloadUnit]


class Reassign(Envelope):
    """Give a whole assignment to another annotator."""

    type: Literal["Reassign"] = "Reassign"
    task_id: str
    project_id: str
    assignment_id: str
    annotator: str


class PullItems(Envelope):
    """An annotator of a pulling task asks for their next batch from the hidden queue."""

    type: Literal["PullItems"] = "PullItems"
    task_id: str
    project_id: str


class ReturnItems(Envelope):
    """Put items an annotator of a pulling task holds but has not finished back in the hidden
    queue, first in line for the next pull (their lease ended, or they left the task). Items
    that hold a status stay. Sent by the workflow service on stream `tasks`; answered by
    `TaskChanged` with change `items-returned`."""

    type: Literal["ReturnItems"] = "ReturnItems"
    task_id: str
    project_id: str
    assignment_id: str
    item_ids: list[str]


class SetStatus(Envelope):
    """Set (or, with `status` None, clear) an item's status in a task. Stream `status`."""

    type: Literal["SetStatus"] = "SetStatus"
    task_id: str
    project_id: str
    item_id: str
    status: str | None = None  # absent on the wire (nulls are not written) means: clear
    # Set only if the item has no status in the task yet, else change nothing (auto complete:
    # a status the annotator gave the item a moment before moving on is never overwritten).
    if_open: bool = False


# A command made in a task's context (a classify, a change or removal of an annotation, or a
# video scene command), its `task_id` set: published on `tasks`, where the task service checks
# it against the task's rules and, if allowed, passes it on (the same command, completed with
# the assignment) to its own stream (`classify`, or `scene` for scene commands).
InTaskCommand = (Classify | UpdateAnnotation | DeleteAnnotation | StartScene | SetSceneEnd | MoveSceneStart
                 | ChangeSceneLabel | HideFrames | UnhideFrames | DeleteScene | PaintScenes)
IN_TASK_COMMANDS: tuple[type, ...] = get_args(InTaskCommand)


class CheckInTask(Envelope):
    """A command made in a task's context, wrapped, to be checked against the task's rules
    and, if allowed, forwarded to its own stream. Stream `tasks`. No longer published (the
    command itself goes on `tasks`, InTaskCommand); still read, for entries already there."""

    type: Literal["CheckInTask"] = "CheckInTask"
    task_id: str
    project_id: str
    command: Annotated[InTaskCommand, Field(discriminator="type")]


TaskCommand = Annotated[
    CreateTask | EditTask | ChangeTaskItems | Redistribute | Reassign | PullItems | SetStatus
    | CheckInTask | ReturnItems | InTaskCommand,
    Field(discriminator="type"),
]
TASK_COMMAND: TypeAdapter[Any] = TypeAdapter(TaskCommand)


class AssignmentFact(Contract):
    """An assignment of a task as the task service holds it after a change: who holds
    which items, in order. The pulling task's hidden queue is one too (`queue`), whose items
    before `next` are handed out already."""

    id: str
    annotator: str | None = None
    item_ids: list[str] = Field(default_factory=list)
    active: bool = True
    queue: bool = False
    next: int = 0


class TaskChanged(Envelope):
    """A task was created or changed (statuses, items, assignments). Emitted by the task
    service on `events.task` once stored; `task` is the task's JSON and `summary` says what
    changed (e.g. items not removed because they hold a status). Consumed by the gateway
    and the workflow service.

    A change that may move items between assignments (every change but `statuses`) also
    carries the task's `assignments` as they are now, items included, and the
    `allocation_version` it made (the task's count of such changes): a consumer keeps its
    own copy of who holds what from these, and ignores a copy older than the one it has."""

    type: Literal["TaskChanged"] = "TaskChanged"
    task_id: str
    project_id: str
    change: str
    task: dict[str, Any]
    summary: dict[str, Any] = Field(default_factory=dict)
    assignments: list[AssignmentFact] | None = None
    allocation_version: int | None = None


class ItemsPulled(Envelope):
    """An annotator of a pulling task received items from the hidden queue. Emitted on
    `events.task`; consumed by the gateway and the workflow service."""

    type: Literal["ItemsPulled"] = "ItemsPulled"
    task_id: str
    project_id: str
    assignment_id: str
    item_ids: list[str]
    open_items: int
    allocation_version: int | None = None  # the task's, after the pull (see TaskChanged)


class ItemStatusChanged(Envelope):
    """An item's status in a task was set or cleared. Emitted on `events.task` after it is
    stored; consumed by the gateway, the workflow service and other teams."""

    type: Literal["ItemStatusChanged"] = "ItemStatusChanged"
    task_id: str
    project_id: str
    assignment_id: str
    item_id: str
    previous: str | None = None
    status: str | None = None


TaskEvent = Annotated[TaskChanged | ItemsPulled | ItemStatusChanged, Field(discriminator="type")]
TASK_EVENT: TypeAdapter[Any] = TypeAdapter(TaskEvent)
