"""Pydantic models of Dataloop JSON: class annotations, item exports, recipes and ontologies.

Field names are Dataloop's own (camelCase); see ../shared/reference/dataloop.md.
Readers are tolerant (unknown keys kept), so exports from Dataloop load unchanged.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

HEX_COLOR = r"^#[0-9a-fA-F]{6}$"


class DataloopModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# --- annotations -------------------------------------------------------------------------


class Snapshot(DataloopModel):
    """A key frame of a video annotation (state from `frame` on)."""

    frame: int
    fixed: bool = True
    type: str = "class"
    label: str
    object_visible: bool = Field(True, alias="objectVisible")
    data: list[Any] = Field(default_factory=list)
    attributes: list[str] = Field(default_factory=list)
    named_attributes: dict[str, Any] = Field(default_factory=dict, alias="namedAttributes")


class SystemMetadata(DataloopModel):
    attributes: dict[str, Any] = Field(default_factory=dict)
    automated: bool = False
    status: str | None = None
    object_id: str | None = Field(None, alias="objectId")
    client_id: str | None = Field(None, alias="clientId")
    parent_id: str | None = Field(None, alias="parentId")
    is_open: bool = Field(False, alias="isOpen")
    is_only_local: bool = Field(False, alias="isOnlyLocal")
    system: bool = False
    recipe_id: str | None = Field(None, alias="recipeId")
    task_id: str | None = Field(None, alias="taskId")
    assignment_id: str | None = Field(None, alias="assignmentId")
    # video scenes only
    frame: int | None = None
    end_frame: int | None = Field(None, alias="endFrame")
    start_time: float | None = Field(None, alias="startTime")
    end_time: float | None = Field(None, alias="endTime")
    snapshots_: list[Snapshot] | None = None


class AnnotationMetadata(DataloopModel):
    system: SystemMetadata = Field(default_factory=SystemMetadata)
    user: dict[str, Any] = Field(default_factory=dict)


class Annotation(DataloopModel):
    """A Dataloop annotation; a classification has `type == "class"` and no coordinates."""

    id: str
    type: str = "class"
    label: str
    attributes: list[str] = Field(default_factory=list)
    metadata: AnnotationMetadata = Field(default_factory=AnnotationMetadata)
    creator: str | None
    created_at: str = Field(alias="createdAt")
    updated_by: str | None = Field(alias="updatedBy")
    updated_at: str = Field(alias="updatedAt")
    item_id: str = Field(alias="itemId")
    dataset_id: str = Field(alias="datasetId")
    url: str | None = None
    item: str | None = None
    dataset: str | None = None
    hash: str | None = None
    source: str = "ui"
    label_suggestions: dict[str, float] = Field(default_factory=dict, alias="labelSuggestions")
    description: str | None = None

    @model_serializer(mode="wrap")
    def _keep_authorship(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        # dtlpy reads `creator` and `updatedBy` unconditionally: null is fine, absent is a
        # KeyError. Keep them through `exclude_none` dumps.
        data = handler(self)
        if info.exclude_none:
            data.setdefault("creator", self.creator)
            data.setdefault("updatedBy" if info.by_alias else "updated_by", self.updated_by)
        return data


# --- items ---------------------------------------------------------------------------------


class ItemSystemMetadata(DataloopModel):
    originalname: str | None = None
    size: int | None = None
    mimetype: str
    encoding: str | None = None
    is_binary: bool = Field(True, alias="isBinary")
    refs: list[dict[str, Any]] = Field(default_factory=list)
    task_status_log: list[dict[str, Any]] = Field(default_factory=list, alias="taskStatusLog")
    width: int | None = None
    height: int | None = None
    channels: int | None = None
    thumbnail_id: str | None = Field(None, alias="thumbnailId")


class ItemMetadata(DataloopModel):
    system: ItemSystemMetadata
    user: dict[str, Any] = Field(default_factory=dict)


class ItemExport(DataloopModel):
    """One item of a dataset export, layout 1 (dataloop.md section 2): the item entity
    with its annotations."""

    id: str
    dataset_id: str = Field(alias="datasetId")
    url: str | None = None
    dataset: str | None = None
    created_at: str = Field(alias="createdAt")
    dir: str = "/"
    filename: str
    type: Literal["file"] = "file"
    hidden: bool = False
    metadata: ItemMetadata
    name: str
    creator: str | None = None
    stream: str | None = None
    thumbnail: str | None = None
    annotations: list[Annotation] = Field(default_factory=list)
    annotations_count: int = Field(0, alias="annotationsCount")
    annotated: bool = False


# --- recipes and ontologies -----------------------------------------------------------------


class AttributeRange(DataloopModel):
    min: float
    max: float
    step: float | None = None


class AttributeDefinition(DataloopModel):
    """An attributes-2.0 definition (`ontology.metadata.attributes[]`)."""

    key: str = Field(min_length=1)
    title: str = ""
    type: Literal["options", "range", "boolean", "freeText"]
    multi: bool = False
    scope: list[str] = Field(default_factory=lambda: ["*"])
    optional: bool = True
    values: list[str] | None = None
    range: AttributeRange | None = None


class LabelValue(DataloopModel):
    tag: str = Field(min_length=1)
    display_label: str | None = Field(None, alias="displayLabel")
    color: str = Field("#999999", pattern=HEX_COLOR)
    attributes: list[str] = Field(default_factory=list)
    display_data: dict[str, Any] = Field(default_factory=dict, alias="displayData")

    @field_validator("tag")
    @classmethod
    def _no_dot(cls, tag: str) -> str:
        if "." in tag:
            raise ValueError("a label tag may not contain '.', which separates hierarchy levels")
        return tag


class LabelNode(DataloopModel):
    value: LabelValue
    children: list[LabelNode] = Field(default_factory=list)


class OntologyMetadata(DataloopModel):
    attributes: list[AttributeDefinition] = Field(default_factory=list)


class Ontology(DataloopModel):
    id: str | None = None
    title: str = ""
    roots: list[LabelNode] = Field(default_factory=list)
    metadata: OntologyMetadata = Field(default_factory=OntologyMetadata)

    def labels(self) -> dict[str, LabelValue]:
        """Every label by its full dot-joined path, in picker order (dtlpy's labels_flat_dict)."""
        flat: dict[str, LabelValue] = {}

        def walk(nodes: list[LabelNode], prefix: str) -> None:
            for node in nodes:
                path = f"{prefix}.{node.value.tag}" if prefix else node.value.tag
                flat[path] = node.value
                walk(node.children, path)

        walk(self.roots, "")
        return flat


class Recipe(DataloopModel):
    id: str
    title: str
    project_ids: list[str] = Field(default_factory=list, alias="projectIds")
    ontology_ids: list[str] = Field(default_factory=list, alias="ontologyIds")
    instructions: str | None = None
    ui_settings: dict[str, Any] = Field(default_factory=dict, alias="uiSettings")
    metadata: dict[str, Any] = Field(default_factory=dict)
    ontology: Ontology


LabelNode.model_rebuild()
