"""Events: past-tense facts published by the services onto the event streams."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from shared.contracts.envelope import Envelope

TRIMMED = Field(default_factory=list, description=(
    "single-class task, video: the item's other scenes this one cut to make room (shortened; a "
    "piece split off is a new scene), as they are now (shared.rules.scene_overlaps)"))
REPLACED_SCENES = Field(default_factory=list, description=(
    "single-class task, video: ids of the item's scenes this one covered whole (deleted)"))


class ItemClassified(Envelope):
    """A class annotation was stored on an item.

    Emitted by the annotation service on `events.annotation` once the annotation is
    durable in MongoDB. Consumed by the gateway (to answer the waiting request), the
    workflow service (auto next, from issue 5) and any other team's service.
    `annotation` is the annotation's Dataloop JSON. A command that stores several
    annotations at once (play-to-paint, `PaintScenes`) emits one event: `annotations` then
    holds every one of them in frame order and `annotation` is the first.
    """

    type: Literal["ItemClassified"] = "ItemClassified"
    item_id: str
    dataset_id: str
    project_id: str
    annotation: dict[str, Any]
    replaced: list[str] = Field(default_factory=list)
    annotations: list[dict[str, Any]] = Field(default_factory=list)
    trimmed: list[dict[str, Any]] = TRIMMED


class AnnotationUpdated(Envelope):
    """An annotation's label, attributes or description changed.

    Emitted by the annotation service on `events.annotation` after the change is durable;
    consumed by the gateway and by anyone mirroring annotations. `previous` holds the
    replaced `label` and `attributes`.
    """

    type: Literal["AnnotationUpdated"] = "AnnotationUpdated"
    item_id: str
    project_id: str
    annotation: dict[str, Any]
    previous: dict[str, Any] = Field(default_factory=dict)
    replaced: list[str] = REPLACED_SCENES
    trimmed: list[dict[str, Any]] = TRIMMED


class AnnotationDeleted(Envelope):
    """An annotation was deleted.

    Emitted by the annotation service on `events.annotation` after the delete is durable;
    consumed by the gateway and by anyone mirroring annotations.
    """

    type: Literal["AnnotationDeleted"] = "AnnotationDeleted"
    item_id: str
    project_id: str
    annotation_id: str


class CommandRejected(Envelope):
    """A command was refused and changed nothing.

    Emitted by the service that owns the command's stream, on its event stream, when a
    rule refuses it. `reason` is a machine-readable code (`not_found`, `forbidden`,
    `conflict`, `invalid`); `message` a sentence for people. Consumed by the gateway,
    which maps the reason to an HTTP status.
    """

    type: Literal["CommandRejected"] = "CommandRejected"
    command_type: str
    reason: Literal["not_found", "forbidden", "conflict", "invalid"]
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


AnnotationEvent = Annotated[
    ItemClassified | AnnotationUpdated | AnnotationDeleted | CommandRejected,
    Field(discriminator="type"),
]
ANNOTATION_EVENT: TypeAdapter[
    ItemClassified | AnnotationUpdated | AnnotationDeleted | CommandRejected
] = TypeAdapter(AnnotationEvent)


def parse_event(body: dict[str, Any]) -> Any:
    """Any event of the platform, by its `type`."""
    from shared.contracts.bulk import BULK_EVENT, BULK_EVENT_TYPES
    from shared.contracts.tasks import TASK_EVENT
    from shared.contracts.workflow import WORKFLOW_EVENT, WORKFLOW_EVENT_TYPES

    if body.get("type") in TASK_EVENT_TYPES:
        return TASK_EVENT.validate_python(body)
    if body.get("type") in WORKFLOW_EVENT_TYPES:
        return WORKFLOW_EVENT.validate_python(body)
    if body.get("type") in BULK_EVENT_TYPES:
        return BULK_EVENT.validate_python(body)
    return ANNOTATION_EVENT.validate_python(body)


TASK_EVENT_TYPES = {"TaskChanged", "ItemsPulled", "ItemStatusChanged"}
