"""Typed answers: what an endpoint returns, declared as its return type so the OpenAPI
document describes the answer (field names as on the wire, camelCase). HTTP schemas, apart
from the event contracts: they change for different reasons.

Two kinds. An answer built here for the endpoint is a msgspec Struct (`Answer`). An answer
the gateway has always built as a dict (a stored document, Dataloop's JSON, a job's report)
is declared as a TypedDict: the dict is what goes out, exactly as before (no conversion, no
copy: a TypedDict is a dict at run time), and its declaration names the fields it always
holds (`NotRequired`: only some answers hold it). Dataloop's open parts (an item's or an
annotation's `metadata`, a task's `availableActions`) stay `dict[str, Any]`. A TypedDict
lists the fields the gateway writes; JSON Schema lets an answer hold more (stored documents
may carry fields of older versions).

No `from __future__ import annotations` here: Python 3.11 reads `NotRequired` in a
TypedDict only from evaluated annotations.
"""

from datetime import datetime
from typing import Any, Generic, NotRequired, TypeVar

import msgspec
from typing_extensions import TypedDict  # the one pydantic reads on Python 3.11

T = TypeVar("T")


class Answer(msgspec.Struct, rename="camel", kw_only=True):
    """An answer's fields in snake_case here, camelCase in the JSON."""


class Me(Answer):
    """The caller (GET /users/me)."""

    id: str
    email: str


class WorkflowSettings(Answer):
    """The caller's Auto next item and Auto complete settings in a task, and whether the
    task allows them (Auto complete comes only with Auto next, which only single-class
    tasks allow)."""

    task_id: str
    auto_next: bool
    auto_complete: bool
    auto_next_available: bool
    auto_complete_available: bool


# --- envelopes -----------------------------------------------------------------------------


class Paged(TypedDict, Generic[T]):
    """Dataloop's paged-entity shape (gateway.controllers.common.paged)."""

    items: list[T]
    totalItemsCount: int
    totalPagesCount: int
    page: int
    pageSize: int
    hasNextPage: bool


class Listed(TypedDict, Generic[T]):
    """A short list, whole."""

    items: list[T]


class PendingOperation(TypedDict):
    """202: the command is accepted and still running past the wait; `url` (also in
    `Location`) answers its outcome (gateway.dispatch.answer)."""

    operationId: str
    status: str  # "pending"
    url: str


class Refusal(TypedDict):
    """A command refused by the service that owns its rules (gateway.dispatch.answer)."""

    status_code: int
    detail: str
    reason: str
    details: dict[str, Any]
    operationId: str


# --- accounts, members, links, tokens ---------------------------------------------------------


class SignedIn(TypedDict):
    """The caller just signed in (the answer of every way in)."""

    id: str
    email: str
    name: str


class InvitationInfo(TypedDict):
    """What an invitation is for, without using it up."""

    email: str
    projectId: str
    projectName: str | None
    role: str
    expiresAt: datetime


class IssuedLink(TypedDict):
    """A one-time link just made: its secret `url` is shown in this answer only."""

    id: str
    url: str
    expiresAt: datetime


class PendingLink(TypedDict):
    """A link as an owner sees it: never the secret (gateway.links.link_json)."""

    id: str
    email: str
    userId: str
    role: str | None
    createdAt: datetime
    expiresAt: datetime
    expired: bool
    url: NotRequired[str]


class ReissuedInvitation(TypedDict):
    email: str
    role: str
    invitation: IssuedLink


class PasswordReset(TypedDict):
    """A member's reset link: its `url` when shown to the owner, or `mailed` when it went by
    mail only."""

    id: str
    expiresAt: datetime
    email: str
    url: NotRequired[str]
    mailed: NotRequired[bool]


class Member(TypedDict):
    userId: str
    email: str
    role: str


class AddedMember(Member):
    """A member added; `invitation` when the email has no account yet."""

    invitation: NotRequired[IssuedLink]


class Token(TypedDict):
    """A personal API token as listed: never its secret."""

    id: str
    name: str
    scopes: list[str]
    createdAt: datetime
    expiresAt: datetime | None
    revokedAt: datetime | None


class NewToken(Token):
    """A token just made: `token`, its secret, in this answer only."""

    token: str


# --- the catalog: organizations, projects, datasets, recipes -----------------------------------


class Organization(TypedDict):
    id: str
    name: str
    creator: str
    createdAt: str
    members: list[Member]


class Project(TypedDict):
    id: str
    name: str
    description: str
    organizationId: str | None
    creator: str
    createdAt: str
    members: list[Member]
    membersVersion: int


class AuditActor(TypedDict):
    userId: str
    email: str
    tokenId: str | None
    role: str | None


class AuditResource(TypedDict):
    type: str
    id: str


class AuditEntry(TypedDict):
    """One successful write request (gateway.audit.entry)."""

    id: str
    projectId: str | None
    actor: AuditActor
    action: str
    method: str
    path: str
    resource: AuditResource | None
    resultId: str | None
    status: int
    at: datetime


class Dataset(TypedDict):
    id: str
    name: str
    projectId: str
    recipeId: str
    creator: str
    createdAt: str


class Ontology(TypedDict):
    id: str
    title: str
    roots: list[dict[str, Any]]
    metadata: dict[str, Any]  # {"attributes": [...]}


class Recipe(TypedDict):
    id: str
    title: str
    projectIds: list[str]
    ontologyIds: list[str]
    instructions: str | None
    creator: str
    createdAt: str
    uiSettings: dict[str, Any]
    metadata: dict[str, Any]
    ontology: Ontology


class LabelUsage(TypedDict):
    """Annotations holding each asked label, in the recipe's datasets."""

    datasets: int
    labels: dict[str, int]


# --- items and annotations (Dataloop JSON) ----------------------------------------------------


class Item(TypedDict):
    """An item as Dataloop writes it, without annotations (gateway.exports.item_json)."""

    id: str
    datasetId: str
    url: str
    dataset: str
    createdAt: str
    dir: str
    filename: str
    type: str  # "file"
    hidden: bool
    metadata: dict[str, Any]  # {"system": {mimetype, refs, taskStatusLog, …}, "user": {…}}
    name: str
    creator: str | None
    stream: str
    thumbnail: str | None


class Annotation(TypedDict):
    """An annotation as Dataloop writes it (shared.contracts.dataloop.Annotation)."""

    id: str
    type: str
    label: str
    attributes: list[str]
    metadata: dict[str, Any]  # {"system": {attributes, frame, endFrame, …}, "user": {…}}
    creator: str | None
    createdAt: str
    updatedBy: str | None
    updatedAt: str
    itemId: str
    datasetId: str
    url: NotRequired[str]
    item: NotRequired[str]
    dataset: NotRequired[str]
    hash: NotRequired[str]
    source: NotRequired[str]
    labelSuggestions: NotRequired[dict[str, float]]
    description: NotRequired[str]


class ItemWithAnnotations(TypedDict):
    """An item with its annotations (Dataloop export layout 1); fields without a value are
    left out (shared.contracts.dataloop.ItemExport)."""

    id: str
    datasetId: str
    url: NotRequired[str]
    dataset: NotRequired[str]
    createdAt: str
    dir: str
    filename: str
    type: str
    hidden: bool
    metadata: dict[str, Any]
    name: str
    creator: NotRequired[str]
    stream: NotRequired[str]
    thumbnail: NotRequired[str]
    annotations: list[Annotation]
    annotationsCount: int
    annotated: bool


class WorkflowPart(TypedDict):
    """With Auto next on in a task, a classification's answer carries the next item and the
    move's state (gateway.moves)."""

    nextItem: "Item | ItemRef | None"
    workflow: "MoveState"


class Classified(Annotation):
    """201: the classification, stored; in a task with Auto next on, the next item too."""

    nextItem: NotRequired["Item | ItemRef | None"]
    workflow: NotRequired["MoveState"]


class ClassifyPending(PendingOperation):
    """202: the classification is still running; in a task with Auto next on, what the
    move says so far."""

    nextItem: NotRequired["Item | ItemRef | None"]
    workflow: NotRequired["MoveState"]


class PaintedScenes(TypedDict):
    """Every scene a play-to-paint made, in frame order."""

    annotations: list[Annotation]


class SceneOnFrame(TypedDict):
    annotationId: str
    label: str
    hidden: bool
    objectId: str | None
    frame: int
    endFrame: int
    open: bool


class FrameState(TypedDict):
    """What is on one frame of a video: the scenes covering it."""

    itemId: str
    frame: int
    time: float
    scenes: list[SceneOnFrame]
    labels: list[str]
    hiddenLabels: list[str]


# --- tasks ------------------------------------------------------------------------------------


class ItemStatusCounts(TypedDict):
    completed: int
    remaining: int
    actions: dict[str, int]


class Queue(TypedDict):
    remaining: int


class Task(TypedDict):
    """Dataloop's task entity, with its progress (shared.rules.progress.task_view); a
    pulling task's `queue` in the gateway's task answers."""

    id: str
    name: str
    projectId: str
    datasetId: str
    recipeId: str
    creator: str
    createdAt: str
    updatedAt: str
    dueDate: str | None
    priority: int
    spec: dict[str, Any]
    availableActions: list[dict[str, Any]]
    allocation: str
    singleClass: bool
    allowNextOnlyOnDone: bool
    assignmentIds: list[str]
    totalItems: int
    itemStatus: ItemStatusCounts
    progress: float
    metadata: dict[str, Any]  # {"system": {batchSize, maxBatchWorkload, allowedAssignees}}
    queue: NotRequired[Queue]


class TaskChange(Task):
    """The task after a change; `summary` says what changed (e.g. items not removed because
    they hold a status)."""

    summary: NotRequired[dict[str, Any]]


class Assignment(TypedDict):
    id: str
    taskId: str
    annotator: str
    status: str
    locked: bool
    reassignedTo: str | None
    totalItems: int
    itemStatus: ItemStatusCounts


class AssignmentItem(TypedDict):
    itemId: str
    status: str | None
    mimetype: str | None


class Pulled(TypedDict):
    """The batch a pull handed the caller."""

    assignmentId: str
    itemIds: list[str]
    openItems: int


class ItemStatusSet(TypedDict):
    taskId: str
    itemId: str
    assignmentId: str
    status: str | None
    previous: str | None


class BrowsedClass(TypedDict):
    annotationId: str
    label: str


class BrowsedItem(TypedDict):
    """One row of the task browser (gateway.browse_index.TaskIndex.row)."""

    id: str
    name: str
    dir: str
    createdAt: str | None
    thumbnail: str | None
    stream: str
    status: str | None
    assignmentId: str | None
    assignee: str | None
    classes: list[BrowsedClass]


class MatchingIds(TypedDict):
    ids: list[str]
    totalItemsCount: int


# --- jobs, operations, health -----------------------------------------------------------------


class ExportJob(TypedDict):
    """An export job: `download` once completed; `feed` streams its progress."""

    id: str
    datasetId: str
    projectId: str
    format: str
    status: str
    processed: int
    total: int | None
    creator: str
    createdAt: str
    updatedAt: str
    url: str
    feed: str
    taskId: NotRequired[str]
    download: NotRequired[str]


class ImportJob(TypedDict):
    """An import job and its per-file report; `feed` streams its progress."""

    id: str
    datasetId: str
    projectId: str
    file: str
    creator: str
    status: str
    total: int | None
    processed: int
    createdAt: str
    updatedAt: str
    taskId: str | None
    url: str
    feed: str


class OperationError(TypedDict):
    reason: str
    message: str
    details: dict[str, Any]


class OperationState(TypedDict):
    """A command's outcome: `result` (the outcome event) when it succeeded, `error` when it
    was refused; a classification followed by an Auto next move, that move's part too."""

    id: str
    commandType: str
    status: str
    result: NotRequired[dict[str, Any]]
    error: NotRequired[OperationError]
    nextItem: NotRequired["Item | ItemRef | None"]
    workflow: NotRequired["MoveState"]


class StatusChange(TypedDict):
    status: str | None
    previous: str | None


class Liveness(TypedDict):
    service: str
    status: str


class Readiness(TypedDict):
    """Ready, or what is down (503), in words too (shared.platform.runtime.readiness)."""

    service: str
    ready: bool
    checks: dict[str, bool]
    down: NotRequired[list[str]]
    detail: NotRequired[str]


# --- dtlpy (the Dataloop SDK's routes) ------------------------------------------------------------


class DtlpyUser(TypedDict):
    id: str  # the email, as dtlpy expects
    _id: str
    email: str
    username: str
    firstName: str
    lastName: str
    role: str
    type: str


class DtlpyProject(TypedDict):
    id: str
    name: str
    createdAt: str | None
    creator: str | None
    org: str | None
    role: str
    accountId: None
    isBlocked: bool


class DtlpyDataset(TypedDict):
    id: str
    name: str
    projects: list[str]
    createdAt: str | None
    creator: str | None
    url: str
    items: str
    itemsCount: int
    annotated: int
    readonly: bool
    metadata: dict[str, Any]
    export: dict[str, Any]
    expirationOptions: None
    accessLevel: str


class DtlpyUploadPending(TypedDict):
    """202: an annotation of the upload is still being stored; `stored` the ones before it."""

    status: str
    operationId: str
    stored: list[Annotation]


# --- bulk classification (gateway.controllers.bulk) ------------------------------------------


class BulkClassified(TypedDict):
    """200: every item of the bulk classified (and its status set) within the wait; `url`
    follows it (its outcomes, its undo)."""

    id: str
    status: str  # "completed"
    total: int
    classified: int
    unchanged: int
    replaced: int
    statuses: dict[str, Any]  # the task service's summary: the status set, how many changed
    url: str


class BulkRunning(TypedDict):
    """202: the bulk is accepted and still running past the wait; `url` (also in `Location`)
    follows its progress, not the operation (its id is the bulk's)."""

    id: str
    operationId: str
    status: str  # "running"
    url: str


class BulkPreview(TypedDict):
    """What a bulk would change, counted; nothing is changed."""

    total: int
    wouldChange: int
    alreadyClassified: int
    statusOverwritten: int
    heldByOthers: dict[str, Any]
    statusesBefore: dict[str, int]  # the items whose status would change, by status before


class BulkUndone(TypedDict):
    """The bulk undone as one step: items changed since are in `conflicts`, not overwritten."""

    id: str
    status: str  # "undone"
    removed: int
    restored: int
    conflicts: dict[str, Any]  # {"items": the first 100, "count"}
    statuses: dict[str, Any]  # the task service's part: restored, conflicts


class BulkUndoConflicts(TypedDict):
    """The items an undo left as they were, changed since the bulk (the first 100 of each)."""

    statusConflicts: list[str]
    classConflicts: list[str]


# `class` is a Python keyword: this one is declared by call.
BulkItemOutcome = TypedDict("BulkItemOutcome", {
    "itemId": str,
    "assignmentId": str,
    "class": str,  # "added" or "unchanged" (the item carried the label already)
    "annotationId": str | None,  # the class the bulk added
    "replaced": list[str],  # the annotations it replaced (single-class tasks)
    "statusChange": StatusChange | None,
})
BulkItemOutcome.__doc__ = "What a bulk did to one item."


class BulkProgress(TypedDict):
    """A bulk's progress (`done` of `total`); once completed or undone, each item's outcome,
    page by page; `undo` once an undo was asked."""

    id: str
    taskId: str
    label: str
    mode: str
    status: str | None
    state: str  # "running", "completed" or "undone"
    done: int
    total: int
    url: str
    undo: NotRequired[BulkUndoConflicts]
    outcomes: NotRequired[Paged[BulkItemOutcome]]


class BulkNotStarted(TypedDict):
    """A bulk with no record yet: `refused` (`error` says why) or `pending` (accepted, about
    to start)."""

    id: str
    taskId: str
    state: str
    url: str
    done: NotRequired[int]
    error: NotRequired[OperationError]


# --- moving through a task (gateway.controllers.workflow, gateway.moves) -----------------------


class ItemRef(TypedDict):
    """An item the caller may no longer see: its id only (gateway.moves.Moves.item_view)."""

    id: str


class QueueView(TypedDict):
    """The caller's queue in a task, from the workflow read model
    (gateway.workflow_reads.Snapshot.view)."""

    assignmentId: str | None
    currentItemId: str | None
    nextItemId: str | None
    openItems: int
    allocation: str | None
    autoNext: bool
    autoComplete: bool
    allowNextOnlyOnDone: bool
    left: bool


class QueueSnapshot(QueueView):
    """The caller's queue in a task: the live feed's first `snapshot` event."""

    taskId: str


class NextItemLook(QueueSnapshot):
    """The item moving on would reach (a look: nothing changes), with the caller's queue."""

    nextItem: Item | ItemRef | None


class _MoveFields(TypedDict):
    taskId: str
    assignmentId: str
    fromItemId: str | None
    completedItemId: str | None  # the item Auto complete asked to complete
    nextItemId: str | None
    thenItemId: str | None
    openItems: int


class Moved(_MoveFields):
    """A move made: the item reached (`nextItem`, None when nothing open is left) and the one
    after it (gateway.moves.Moves.moved_view)."""

    nextItem: Item | ItemRef | None


class MoveMade(_MoveFields):
    """A classification's Auto next move, made within the wait (gateway.moves.workflow_part)."""

    operationId: str


class MoveShown(TypedDict):
    """A classification's Auto next move, answered from the read model and sent on without
    waiting (gateway.moves.Moves.with_next_item)."""

    taskId: str
    assignmentId: str | None
    fromItemId: str
    nextItemId: str
    autoComplete: bool
    operationId: str


class MovePending(TypedDict):
    """A classification's Auto next move still on its way: its operation answers later."""

    operationId: str
    status: str  # "pending"


class MoveRefusal(TypedDict):
    reason: str
    message: str


class MoveRefused(TypedDict):
    """A classification's Auto next move, refused by the workflow service."""

    refused: MoveRefusal


MoveState = MoveMade | MoveShown | MovePending | MoveRefused


class SteppedBackTo(TypedDict):
    """A step back: the item worked on before (`item`) is in hand again."""

    taskId: str
    assignmentId: str
    item: Item | ItemRef | None
    itemId: str
    nextItemId: str | None
    openItems: int


class WorkflowSettingsSet(TypedDict):
    """Auto next item and Auto complete, as now set."""

    taskId: str
    autoNext: bool
    autoComplete: bool


class Lease(TypedDict):
    itemId: str
    expiresAt: str
    opened: bool


class QueueState(QueueView):
    """The caller's whole queue: open items in work order, history, leases with their expiry
    (gateway.workflow_reads.WorkflowReads.queue_state)."""

    taskId: str
    annotator: str
    open: list[str]
    history: list[str]
    back: int
    leases: list[Lease]
    returning: list[str]
    leaseTtlSeconds: float | None
    heartbeatEverySeconds: float | None


class LeasesRenewedAnswer(TypedDict):
    """A heartbeat: the leases renewed, until `expiresAt`."""

    taskId: str
    itemIds: list[str]
    expiresAt: str | None


class TaskLeft(TypedDict):
    """A pulling task left: `returningItemIds` go back to the queue now, `heldItemIds`
    (opened) when their lease ends at `heldUntil`."""

    taskId: str
    returningItemIds: list[str]
    heldItemIds: list[str]
    heldUntil: str | None
