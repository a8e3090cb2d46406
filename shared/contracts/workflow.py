"""Workflow commands and events (auto next, auto complete, the pulling queue and its leases),
and the layout of the workflow service's Redis read model, which the gateway reads.

Commands travel on the `workflow` stream (written by the gateway, consumed by the workflow
service, group `workflow-svc`); events on `events.workflow` (emitted by the workflow service,
read by the gateway for outcomes and the live feed, and by anyone else). Annotators are
named by email, as task assignments name them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from shared.contracts.envelope import Envelope, derived_id
from shared.contracts.events import CommandRejected

# --- commands (stream `workflow`) -------------------------------------------------------------


class MoveOn(Envelope):
    """The annotator moves on from the item in hand (`from_item_id`, else the one the read
    model holds) to their next open item. With auto complete on, the item left gets the
    status `completed` through the `status` stream. Answered by `MovedOn`.

    `to_item_id`: the next item the gateway already showed (answered from the read model
    without waiting); the move goes there while it is still open. A move older than the last
    one applied for the annotator is answered but not applied.

    `after_command_id`: the classification this move follows, when the gateway answered it
    before its outcome was known (Auto next past the wait). The move waits until that
    command's outcome is stored, then moves on if it succeeded and is refused if it was
    refused."""

    type: Literal["MoveOn"] = "MoveOn"
    task_id: str
    project_id: str
    from_item_id: str | None = None
    to_item_id: str | None = None
    after_command_id: str | None = None


def pull_id(move_id: str, why: str = "empty") -> str:
    """The id of the PullItems a MoveOn asks for. In a pulling task, an annotator holding
    nothing gets a batch before moving on: the workflow service sends PullItems (id
    `pull_id(move id)`) to the task service and waits for it; a refused pull refuses the move
    with the pull's reason (CommandRejected with `commandType` PullItems), which the gateway
    answers under the pull's id. One who runs out gets a batch too (`pull_id(move id,
    "refill")`) and moves into it. Derived from the move's id, so a move handled again asks
    for the same batch, which the task service answers once."""
    return derived_id(move_id, f"PullItems:{why}")


class StepBack(Envelope):
    """The annotator steps back to the item they worked on before the one in hand. Answered
    by `SteppedBack`."""

    type: Literal["StepBack"] = "StepBack"
    task_id: str
    project_id: str


class ChangeWorkflowSettings(Envelope):
    """The annotator turns Auto next item / Auto complete on or off for a task. Answered by
    `WorkflowSettingsChanged`, or refused (auto next outside single-class tasks, auto complete
    without auto next)."""

    type: Literal["ChangeWorkflowSettings"] = "ChangeWorkflowSettings"
    task_id: str
    project_id: str
    auto_next: bool
    auto_complete: bool


class Heartbeat(Envelope):
    """The annotator is still at work (the page sends it while an item is open): renews the
    leases they hold in a pulling task. `item_id` is the item open on their page. Answered by
    `LeasesRenewed`."""

    type: Literal["Heartbeat"] = "Heartbeat"
    task_id: str
    project_id: str
    item_id: str | None = None


class LeaveTask(Envelope):
    """The annotator leaves a pulling task: items they had not opened go back to the queue at
    once, the ones they opened when their lease ends. Answered by `LeftTask`."""

    type: Literal["LeaveTask"] = "LeaveTask"
    task_id: str
    project_id: str


class SyncQueue(Envelope):
    """Rebuild a task's read model from the task service's collections (the gateway sends it
    when it finds no read model for a task). Answered by `QueueSynced`."""

    type: Literal["SyncQueue"] = "SyncQueue"
    task_id: str
    project_id: str


WorkflowCommand = Annotated[
    MoveOn | StepBack | ChangeWorkflowSettings | Heartbeat | LeaveTask | SyncQueue,
    Field(discriminator="type"),
]
WORKFLOW_COMMAND: TypeAdapter[Any] = TypeAdapter(WorkflowCommand)


# --- events (stream `events.workflow`) --------------------------------------------------------


class AnnotatorFact(Envelope):
    """Fields of every workflow fact about one annotator's queue in a task."""

    task_id: str
    project_id: str
    assignment_id: str
    annotator: str


class MovedOn(AnnotatorFact):
    """An annotator moved on: `item_id` is the item they arrived at (None: nothing open is
    left), `completed_item_id` the item auto complete asked the task service to complete
    (`SetStatus` with `ifOpen`). Its `ItemStatusChanged` follows on `events.task`, unless the
    item had a status by then (one given just before moving on), which it keeps: the status
    is the task service's fact, not this one's. Outcome of `MoveOn`; consumed by the gateway
    (answer, live feed)."""

    type: Literal["MovedOn"] = "MovedOn"
    from_item_id: str | None = None
    item_id: str | None = None
    next_item_id: str | None = None
    completed_item_id: str | None = None
    open_items: int = 0


class SteppedBack(AnnotatorFact):
    """An annotator stepped back to `item_id`, an item they worked on before. Outcome of
    `StepBack`; consumed by the gateway."""

    type: Literal["SteppedBack"] = "SteppedBack"
    item_id: str
    next_item_id: str | None = None
    open_items: int = 0


class WorkflowSettingsChanged(AnnotatorFact):
    """An annotator's Auto next item / Auto complete settings for a task changed. Outcome of
    `ChangeWorkflowSettings`; consumed by the gateway."""

    type: Literal["WorkflowSettingsChanged"] = "WorkflowSettingsChanged"
    auto_next: bool
    auto_complete: bool


class QueueChanged(AnnotatorFact):
    """An annotator's open items or next item changed for another reason than their own
    move (items pulled, a status set or cleared, leases expired, items returned, the task
    changed). Consumed by the gateway's live feed."""

    type: Literal["QueueChanged"] = "QueueChanged"
    reason: str
    current_item_id: str | None = None
    next_item_id: str | None = None
    open_items: int = 0


class LeasesGranted(AnnotatorFact):
    """Items pulled by an annotator are now held under a lease until `expires_at`. Emitted
    when the pull is seen; consumed by the live feed and anyone auditing hand-outs."""

    type: Literal["LeasesGranted"] = "LeasesGranted"
    item_ids: list[str]
    expires_at: datetime


class LeasesRenewed(AnnotatorFact):
    """An annotator's leases were renewed to `expires_at` (a heartbeat or work in the task;
    `item_ids` may be empty when they hold none). Outcome of `Heartbeat`."""

    type: Literal["LeasesRenewed"] = "LeasesRenewed"
    item_ids: list[str]
    expires_at: datetime | None = None


class LeasesExpired(AnnotatorFact):
    """An annotator's leases ended without renewal (idle past the time-to-live, or after
    leaving); the items go back to the queue. `opened_item_ids` were open on their page."""

    type: Literal["LeasesExpired"] = "LeasesExpired"
    item_ids: list[str]
    opened_item_ids: list[str] = Field(default_factory=list)


class LeasesReleased(AnnotatorFact):
    """Leases ended because the items no longer need holding: they got a status (`done`) or
    left the annotator's assignment another way (`moved`)."""

    type: Literal["LeasesReleased"] = "LeasesReleased"
    item_ids: list[str]
    reason: Literal["done", "moved"]


class ItemsReturned(AnnotatorFact):
    """Items the annotator held are back in the task's hidden queue (the task service
    confirmed), first in line for the next pull. `kept_item_ids` got a status meanwhile and
    stayed."""

    type: Literal["ItemsReturned"] = "ItemsReturned"
    item_ids: list[str]
    kept_item_ids: list[str] = Field(default_factory=list)


class LeftTask(AnnotatorFact):
    """An annotator left a pulling task: `returning_item_ids` are on their way back to the
    queue; `held_item_ids` (opened) follow when their lease ends at `held_until`. Outcome of
    `LeaveTask`."""

    type: Literal["LeftTask"] = "LeftTask"
    returning_item_ids: list[str] = Field(default_factory=list)
    held_item_ids: list[str] = Field(default_factory=list)
    held_until: datetime | None = None


class AutoCompleteRefused(AnnotatorFact):
    """The task service refused the `completed` status auto complete asked for; the item is
    open again. Consumed by the live feed."""

    type: Literal["AutoCompleteRefused"] = "AutoCompleteRefused"
    item_id: str
    reason: str
    message: str


class QueueSynced(Envelope):
    """A task's read model was rebuilt from the task service's collections. Outcome of
    `SyncQueue`."""

    type: Literal["QueueSynced"] = "QueueSynced"
    task_id: str
    project_id: str
    annotators: int


WorkflowEvent = Annotated[
    MovedOn | SteppedBack | WorkflowSettingsChanged | QueueChanged | LeasesGranted
    | LeasesRenewed | LeasesExpired | LeasesReleased | ItemsReturned | LeftTask
    | AutoCompleteRefused | QueueSynced | CommandRejected,
    Field(discriminator="type"),
]
WORKFLOW_EVENT: TypeAdapter[Any] = TypeAdapter(WorkflowEvent)
WORKFLOW_EVENT_TYPES = {
    "MovedOn", "SteppedBack", "WorkflowSettingsChanged", "QueueChanged", "LeasesGranted",
    "LeasesRenewed", "LeasesExpired", "LeasesReleased", "ItemsReturned", "LeftTask",
    "AutoCompleteRefused", "QueueSynced",
}
