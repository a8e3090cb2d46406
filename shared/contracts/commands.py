"""Commands: imperative requests published by the gateway onto the command streams."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from shared.contracts.envelope import Envelope


class Classify(Envelope):
    """Create a class annotation on an item. Stream `classify`; consumed by the annotation
    service. `annotation_id` is chosen by the gateway so that a redelivered command
    creates the same annotation, never a second one."""

    type: Literal["Classify"] = "Classify"
    annotation_id: str
    item_id: str
    dataset_id: str
    project_id: str
    recipe_id: str | None = None
    label: str
    attributes: dict[str, Any] = Field(default_factory=dict)
    source: str = "ui"
    description: str | None = None
    # Set when made in a task's context: published on `tasks`, checked by the task service
    # against the task's rules (which sets the assignment) and passed on to `classify`.
    task_id: str | None = None
    assignment_id: str | None = None
    # Set by the task service for single-class tasks: the new class replaces the item's
    # earlier class annotations.
    replace_classes: bool = False


class UpdateAnnotation(Envelope):
    """Change the label and/or attributes of an existing annotation. Stream `classify`;
    consumed by the annotation service."""

    type: Literal["UpdateAnnotation"] = "UpdateAnnotation"
    annotation_id: str
    item_id: str
    project_id: str
    label: str | None = None
    attributes: dict[str, Any] | None = None
    description: str | None = None
    # Set when made in a task's context: published on `tasks`, checked by the task service
    # against the task's rules and passed on to `classify`.
    task_id: str | None = None


class DeleteAnnotation(Envelope):
    """Delete an annotation. Stream `classify`; consumed by the annotation service."""

    type: Literal["DeleteAnnotation"] = "DeleteAnnotation"
    annotation_id: str
    item_id: str
    project_id: str
    # Set when made in a task's context (as UpdateAnnotation's).
    task_id: str | None = None


ClassifyStreamCommand = Annotated[
    Classify | UpdateAnnotation | DeleteAnnotation, Field(discriminator="type")
]
CLASSIFY_STREAM_COMMAND: TypeAdapter[Classify | UpdateAnnotation | DeleteAnnotation] = (
    TypeAdapter(ClassifyStreamCommand)
)


def parse_classify_stream(body: Any) -> Any:
    """Any command of the `classify` stream, the bulk ones (shared.contracts.bulk) included."""
    from shared.contracts.bulk import ClassifyItems, UnclassifyItems

    kind = body.get("type") if isinstance(body, dict) else None
    if kind == "ClassifyItems":
        return ClassifyItems.model_validate(body)
    if kind == "UnclassifyItems":
        return UnclassifyItems.model_validate(body)
    return CLASSIFY_STREAM_COMMAND.validate_python(body)
