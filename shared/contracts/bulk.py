"""Bulk classification contracts: the commands on `bulk-classify` and `classify`, and the
events that report a bulk's preview, progress, completion and undo.

A bulk's id is its `BulkClassify` command id. The flow is linear: the task service checks
the bulk, plans it and writes its statuses, then passes the classes on to the annotation
service (`ClassifyItems`, with the requester's reply address), which writes them and
announces the end (`BulkCompleted`, or `BulkPreviewed` for a dry run) on `events.task`,
where readers of a bulk's outcome find it. The outcome the caller waits for
(`BulkPreviewed`, `BulkCompleted`, `CommandRejected`) correlates to that id; every per-item
event (`ItemStatusChanged`, `ItemClassified`) and `BulkProgressed` correlates to
`items_correlation(bulk_id)` instead, so a waiting request resolves only on the outcome.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from shared.contracts.envelope import Contract, Envelope, derived_id

MAX_ITEMS = 20_000
OFFENDERS_SHOWN = 100
Mode = Literal["classify", "classify-and-set-status"]


def items_correlation(bulk_id: str) -> str:
    """The correlation id of a bulk's per-item events and progress reports."""
    return derived_id(bulk_id, "items")


def annotation_id(bulk_id: str, item_id: str) -> str:
    """The id of the class annotation a bulk makes on an item: stable across redeliveries."""
    return derived_id(bulk_id, f"annotation:{item_id}")[:24]


class BulkFilter(Contract):
    """A saved filter over the task's items (combined with AND)."""

    assignment_id: str | None = None
    status: str | None = None  # an item status in the task; "none" selects items without one


class BulkClassify(Envelope):
    """Classify many items of an allocation task at once (optionally setting their status),
    or with `dry_run` only preview what would change. Stream `bulk-classify`; consumed by
    the task service, which applies the rules, writes the statuses and forwards one
    `ClassifyItems` to the annotation service, which answers."""

    type: Literal["BulkClassify"] = "BulkClassify"
    task_id: str
    project_id: str
    item_ids: list[str] | None = None
    filter: BulkFilter | None = None
    label: str
    attributes: dict[str, Any] = Field(default_factory=dict)
    mode: Mode = "classify"
    status: str | None = None  # with classify-and-set-status; None means `completed`
    dry_run: bool = False


class UndoBulk(Envelope):
    """Undo a bulk classification as one step. Stream `bulk-classify`; consumed by the task
    service (statuses), which forwards `UnclassifyItems` to the annotation service."""

    type: Literal["UndoBulk"] = "UndoBulk"
    bulk_id: str
    task_id: str
    project_id: str


class BulkItem(Contract):
    item_id: str
    assignment_id: str


class ClassifyItems(Envelope):
    """The accepted part of a bulk for the annotation service: add `label` to every item
    (annotation ids from `annotation_id(bulk_id, item)`). Stream `classify`; the task
    service's statuses are durable when it is sent. When the classes are stored the
    annotation service announces `BulkCompleted`. With `dry_run`, nothing is written: the
    annotation service answers `BulkPreviewed`, completing the task service's counts
    (`preview`) with which items already carry the label."""

    type: Literal["ClassifyItems"] = "ClassifyItems"
    bulk_id: str
    task_id: str
    project_id: str
    dataset_id: str
    recipe_id: str | None = None
    label: str
    attributes: dict[str, Any] = Field(default_factory=dict)
    replace_classes: bool = False
    items: list[BulkItem]
    statuses: dict[str, Any] = Field(default_factory=dict)  # the task service's summary
    dry_run: bool = False
    # a dry run's counts from the task service: total, statusOverwritten, heldByOthers,
    # statusesBefore, and statusChanging (the items whose status would change)
    preview: dict[str, Any] = Field(default_factory=dict)


class ClassesStored(Envelope):
    """The annotation service's half of a bulk is durable. Sent back to the task service by
    earlier versions, which completed the bulk on it; no longer sent (a bulk is linear:
    the annotation service completes it), and one still arriving is acknowledged and left."""

    type: Literal["ClassesStored"] = "ClassesStored"
    bulk_id: str
    task_id: str
    project_id: str
    classified: int
    unchanged: int
    replaced: int


class UnclassifyItems(Envelope):
    """Undo the annotation side of a bulk. Stream `classify`; outcome `BulkUndone`
    correlates to `undo_id` (the `UndoBulk` command id)."""

    type: Literal["UnclassifyItems"] = "UnclassifyItems"
    bulk_id: str
    undo_id: str
    task_id: str
    project_id: str
    statuses: dict[str, Any] = Field(default_factory=dict)  # restored / conflicts from the task service


class BulkPreviewed(Envelope):
    """What a bulk would do (dry run); nothing changed. Emitted on `events.task` (by the
    annotation service, which knows the items already classified)."""

    type: Literal["BulkPreviewed"] = "BulkPreviewed"
    task_id: str
    project_id: str
    total: int
    would_change: int
    already_classified: int
    status_overwritten: int
    held_by_others: dict[str, Any] = Field(default_factory=dict)
    # the items whose status would change, counted by their status before ("none": none)
    statuses_before: dict[str, int] = Field(default_factory=dict)


class BulkProgressed(Envelope):
    """A running bulk's progress (`done` of `total` items). Emitted on `events.annotation`;
    for live feeds."""

    type: Literal["BulkProgressed"] = "BulkProgressed"
    bulk_id: str
    task_id: str
    project_id: str
    done: int
    total: int


class BulkCompleted(Envelope):
    """Every item of a bulk is classified (and its status set) durably. Emitted on
    `events.task` by the annotation service once it has written the classes (the task
    service wrote the statuses before passing the bulk on); correlates to the bulk id."""

    type: Literal["BulkCompleted"] = "BulkCompleted"
    bulk_id: str
    task_id: str
    project_id: str
    total: int
    classified: int
    unchanged: int
    replaced: int
    statuses: dict[str, Any] = Field(default_factory=dict)


class BulkUndone(Envelope):
    """A bulk was undone; items changed since are listed in `conflicts`, not overwritten.
    Emitted by the annotation service on `events.annotation`; correlates to the undo."""

    type: Literal["BulkUndone"] = "BulkUndone"
    bulk_id: str
    task_id: str
    project_id: str
    removed: int
    restored: int
    conflicts: dict[str, Any] = Field(default_factory=dict)
    statuses: dict[str, Any] = Field(default_factory=dict)


BulkCommand = Annotated[BulkClassify | UndoBulk | ClassesStored, Field(discriminator="type")]
BULK_COMMAND: TypeAdapter[Any] = TypeAdapter(BulkCommand)
BulkEvent = Annotated[BulkPreviewed | BulkProgressed | BulkCompleted | BulkUndone,
                      Field(discriminator="type")]
BULK_EVENT: TypeAdapter[Any] = TypeAdapter(BulkEvent)
BULK_EVENT_TYPES = {"BulkPreviewed", "BulkProgressed", "BulkCompleted", "BulkUndone"}


def offenders(items: list[str]) -> dict[str, Any]:
    """The refusal details naming offending items: the first 100 and the count."""
    return {"items": items[:OFFENDERS_SHOWN], "count": len(items)}
