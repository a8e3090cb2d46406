"""Scene commands: video scene classification, published by the gateway on the `scene`
stream and consumed by the annotation service. Outcomes are the annotation events
(ItemClassified, AnnotationUpdated, AnnotationDeleted, CommandRejected).

Frames are 0-based and ranges inclusive, as in Dataloop's `frame` / `endFrame`. Each
command carries the video's facts (from the item's `metadata.system`) so the service can
check and time frames without reading the item."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from shared.contracts.envelope import Contract, Envelope


class Video(Contract):
    """What scenes need to know of their video: item `metadata.system` fps, nb_frames, duration."""

    fps: float = Field(gt=0)
    frame_count: int = Field(ge=1)
    duration: float = Field(ge=0)

    @property
    def last_frame(self) -> int:
        return self.frame_count - 1

    def time(self, frame: int) -> float:
        return frame / self.fps


class SceneCommand(Envelope):
    """Fields every scene command has. `task_id`/`assignment_id` are set when the command
    was made in a task's context (the task service checked it first)."""

    item_id: str
    dataset_id: str
    project_id: str
    recipe_id: str | None = None
    video: Video
    task_id: str | None = None
    assignment_id: str | None = None
    single_class: bool = Field(False, description=(
        "set by the task service in a single-class task: the video's scenes never share a "
        "frame, so this scene takes its frames from the scenes that held them "
        "(shared.rules.scene_overlaps)"))


class OnScene(SceneCommand):
    """A command on one scene annotation."""

    annotation_id: str


class StartScene(OnScene):
    """Create a scene from `frame` with `label`. Without `end_frame` it is open: it lasts
    to the last frame of the video until an end is set. `annotation_id` is chosen by the
    gateway so that a redelivered command creates the same annotation, never a second."""

    type: Literal["StartScene"] = "StartScene"
    frame: int
    end_frame: int | None = None
    label: str
    attributes: dict[str, Any] = Field(default_factory=dict)
    source: str = "ui"
    description: str | None = None


class SetSceneEnd(OnScene):
    """Set the scene's last frame (inclusive); `end_frame` absent: open again, to the end."""

    type: Literal["SetSceneEnd"] = "SetSceneEnd"
    end_frame: int | None = None


class MoveSceneStart(OnScene):
    """Move the scene's first frame; it must be a visible frame of the scene, or before it."""

    type: Literal["MoveSceneStart"] = "MoveSceneStart"
    frame: int


class ChangeSceneLabel(OnScene):
    """Change the label from key frame `frame` until the scene's next label change."""

    type: Literal["ChangeSceneLabel"] = "ChangeSceneLabel"
    frame: int
    label: str


class HideFrames(OnScene):
    """Hide frames `first`..`last` (inclusive) of the scene."""

    type: Literal["HideFrames"] = "HideFrames"
    first: int
    last: int


class UnhideFrames(OnScene):
    """Show frames `first`..`last` (inclusive) of the scene again."""

    type: Literal["UnhideFrames"] = "UnhideFrames"
    first: int
    last: int


class DeleteScene(OnScene):
    """Delete the scene annotation."""

    type: Literal["DeleteScene"] = "DeleteScene"


class SwitchIn(Contract):
    """One switch recorded while the video played: from `frame` on, `label` (null: none)."""

    frame: int
    label: str | None = None


class PaintScenes(SceneCommand):
    """Play-to-paint: turn `switches` into scenes (shared.rules.painting), stored at once as
    `annotation_ids[i]` for the i-th scene. The gateway paints first to know how many ids
    to choose; one ItemClassified answers with every scene in `annotations`."""

    type: Literal["PaintScenes"] = "PaintScenes"
    annotation_ids: list[str]
    switches: list[SwitchIn]
    stop_frame: int | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    source: str = "ui"


SceneStreamCommand = Annotated[
    StartScene | SetSceneEnd | MoveSceneStart | ChangeSceneLabel | HideFrames | UnhideFrames
    | DeleteScene | PaintScenes,
    Field(discriminator="type"),
]
SCENE_COMMAND: TypeAdapter[Any] = TypeAdapter(SceneStreamCommand)
