"""Video scenes: class annotations over a range of frames. Commands travel on the `scene`
stream like classify does; the frame query reads the stored scenes. Outside a task scene
work is manager work; with `?taskId=` the task service checks the task's rules first (an
annotator works only on items of their own assignment) and forwards the command."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, JSONBody, QueryParameter

from gateway.access import Access
from gateway.answers import Annotation, FrameState, PaintedScenes
from gateway.controllers.common import GONE, accepted
from gateway.dispatch import Commands
from gateway.errors import unprocessable
from gateway.guards import Grant
from gateway.repository import Catalog, new_id
from gateway.roles import at_least
from gateway.scene_schemas import FrameRange, PaintIn, SceneIn, ScenePatch
from gateway.task_reads import TaskReads
from gateway.video import video_of
from shared.contracts import streams
from shared.contracts.scene_commands import (
    ChangeSceneLabel,
    DeleteScene,
    HideFrames,
    MoveSceneStart,
    OnScene,
    PaintScenes,
    SetSceneEnd,
    StartScene,
    SwitchIn,
    UnhideFrames,
)
from shared.rules import scenes as scene_rules
from shared.rules.labels import Problem, check_classification
from shared.rules.painting import Switch, paint
from shared.rules.scenes import Scene, Video, from_annotation, is_scene, refused, start_scene

TaskId = Annotated[str | None, QueryParameter(
    name="taskId", description="the task the scene work is done in: its rules apply (annotators must send it)")]

ONE_CHANGE = "must change exactly one of: endFrame, frame, label (with fromFrame)"


def _painted(outcome: Any) -> PaintedScenes:
    return {"annotations": outcome.annotations}


class SceneWork:
    """A scene request's adapters and what the guard found: each handler's one dependency,
    `work` (built by Litestar from the app's dependencies of the same names)."""

    def __init__(self, request: Request, grant: NamedDependency[Grant],
                 access: NamedDependency[Access], tasks: NamedDependency[TaskReads],
                 commands: NamedDependency[Commands]) -> None:
        self.request, self.grant, self.access, self.tasks, self.commands = \
            request, grant, access, tasks, commands


async def _send(on: SceneWork, command: Any, task_id: str | None, body: Any, success: int,
                render: Any = None) -> Response[Any]:
    """Outside a task, manager work sent as it is; in a task, sent with its task to the task
    service, which checks it against the task's rules and passes it on (answered with its
    outcome, or the task service's refusal)."""
    request, project_id = on.request, on.grant.dataset["projectId"]
    extra = {"render": render} if render else {}
    if task_id is None:
        if not at_least(on.grant.role, "manager"):
            raise PermissionDeniedException(
                "scene work outside a task needs the manager role; annotators do it in a task "
                "(send taskId)")
        return await on.commands.dispatch(request, streams.SCENE, command, project_id, body, success, **extra)
    task = await on.tasks.task(task_id)
    if task is None or task["projectId"] != project_id:
        raise NotFoundException(f"no task {task_id}")
    in_task = command.model_copy(update={"task_id": task_id})
    return await on.commands.dispatch(request, streams.TASKS, in_task, project_id, body, success, **extra)


class SceneController(Controller):
    path = "/api/v1"
    tags = ["scenes"]
    dependencies = {"work": Provide(SceneWork, sync_to_thread=False)}  # noqa: RUF012

    @staticmethod
    def _video_item(grant: Grant) -> tuple[dict, dict, Video]:
        item, dataset = grant.item, grant.dataset
        video = video_of(item)
        if isinstance(video, list):
            raise unprocessable(video, "scenes need a video item with known fps and frame count")
        return item, dataset, video

    def _scene(self, grant: Grant) -> tuple[dict, dict, dict, Scene]:
        doc, annotation_id = grant.annotation, grant.annotation["_id"]
        item, dataset, video = self._video_item(grant)
        scene = from_annotation(doc, video)
        if isinstance(scene, list):
            raise unprocessable(scene, f"annotation {annotation_id} is not a video scene")
        return doc, item, dataset, scene

    @staticmethod
    async def _labels_fit(on: SceneWork, labels: list[str], attributes: dict) -> None:
        ontology = await on.access.ontology(on.grant.dataset["recipeId"])
        for label in dict.fromkeys(labels):
            if problems := check_classification(ontology, label, attributes):
                raise unprocessable(problems, "the scene does not fit the recipe")

    @staticmethod
    def _common(on: SceneWork, item: dict, dataset: dict, video: Video) -> dict[str, Any]:
        return {"actor": on.request.user.actor(on.grant.role), "item_id": item["id"],
                "dataset_id": dataset["id"], "project_id": dataset["projectId"],
                "recipe_id": dataset.get("recipeId"), "video": video}

    @staticmethod
    async def _change(on: SceneWork, scene: Scene, command: OnScene, body: Any,
                      task_id: str | None) -> Response[Any]:
        """Check the change against the scene as stored now (the service checks again
        against the scene as it is when the command is applied), then send it."""
        if refused(outcome := scene_rules.apply(command, scene)):
            raise unprocessable(outcome, "the change does not fit the scene")
        return await _send(on, command, task_id, body, 200)

    @post("/items/{item_id:str}/scenes", responses=accepted())
    async def start_scene(
        self, item_id: FromPath[str], data: JSONBody[SceneIn], work: NamedDependency[SceneWork],
        task_id: TaskId = None,
    ) -> Response[Annotation]:
        """Start a scene at `frame` with `label`; it lasts to the end of the video until an
        end is set. 201 with the annotation (Dataloop JSON)."""
        item, dataset, video = self._video_item(work.grant)
        await self._labels_fit(work, [data.label], data.attributes)
        if refused(outcome := start_scene(video, data.frame, data.label, data.end_frame)):
            raise unprocessable(outcome, "the scene does not fit the video")
        command = StartScene(
            **self._common(work, item, dataset, video), annotation_id=new_id(),
            frame=data.frame, end_frame=data.end_frame, label=data.label,
            attributes=data.attributes, description=data.description, source=data.source,
        )
        return await _send(work, command, task_id, data.model_dump(), 201)

    @post("/items/{item_id:str}/scenes/paint", responses=accepted())
    async def paint_scenes(
        self, item_id: FromPath[str], data: JSONBody[PaintIn], work: NamedDependency[SceneWork],
        task_id: TaskId = None,
    ) -> Response[PaintedScenes]:
        """Play-to-paint: label switches recorded while the video played become scenes in
        one command. 201 with `annotations`, every scene made, in frame order."""
        item, dataset, video = self._video_item(work.grant)
        switches = [Switch(s.frame, s.label) for s in data.switches]
        await self._labels_fit(work, [s.label for s in switches if s.label], data.attributes)
        scenes = paint(video, switches, data.stop_frame)
        if refused(scenes):
            raise unprocessable(scenes, "the switches do not fit the video")  # type: ignore[arg-type]
        command = PaintScenes(
            **self._common(work, item, dataset, video),
            annotation_ids=[new_id() for _ in scenes], stop_frame=data.stop_frame,
            switches=[SwitchIn(frame=s.frame, label=s.label) for s in switches],
            attributes=data.attributes, source=data.source,
        )
        return await _send(work, command, task_id, data.model_dump(), 201,
                           render=_painted)

    @patch("/scenes/{annotation_id:str}", responses=accepted())
    async def change_scene(
        self, annotation_id: FromPath[str], data: JSONBody[ScenePatch],
        work: NamedDependency[SceneWork], task_id: TaskId = None,
    ) -> Response[Annotation]:
        """One change: `endFrame` (null: open again), `frame` (move the start), or `label`
        from `fromFrame` until the scene's next label change."""
        doc, item, dataset, scene = self._scene(work.grant)
        given = data.model_fields_set
        kinds = [k for k in ("end_frame", "frame", "label") if k in given]
        if len(kinds) != 1 or ("from_frame" in given and kinds != ["label"]):
            raise unprocessable([Problem("body", ONE_CHANGE)])
        common = self._common(work, item, dataset, scene.video) | {"annotation_id": annotation_id}
        if kinds == ["end_frame"]:
            command: OnScene = SetSceneEnd(**common, end_frame=data.end_frame)
        elif kinds == ["frame"]:
            if data.frame is None:
                raise unprocessable([Problem("frame", "must be a frame number")])
            command = MoveSceneStart(**common, frame=data.frame)
        else:
            if data.label is None:
                raise unprocessable([Problem("label", "must be a label")])
            await self._labels_fit(work, [data.label],
                                   doc["metadata"]["system"].get("attributes") or {})
            frame = scene.start if data.from_frame is None else data.from_frame
            command = ChangeSceneLabel(**common, frame=frame, label=data.label)
        return await self._change(work, scene, command, data.model_dump(), task_id)

    @post("/scenes/{annotation_id:str}/hide", responses=accepted())
    async def hide_frames(
        self, annotation_id: FromPath[str], data: JSONBody[FrameRange],
        work: NamedDependency[SceneWork], task_id: TaskId = None,
    ) -> Response[Annotation]:
        """Hide frames `from`..`to` of the scene (joined with hidden ranges they touch)."""
        return await self._frames(HideFrames, data, work, task_id)

    @post("/scenes/{annotation_id:str}/unhide", responses=accepted())
    async def unhide_frames(
        self, annotation_id: FromPath[str], data: JSONBody[FrameRange],
        work: NamedDependency[SceneWork], task_id: TaskId = None,
    ) -> Response[Annotation]:
        """Show frames `from`..`to` of the scene again (a hidden range around them splits)."""
        return await self._frames(UnhideFrames, data, work, task_id)

    async def _frames(self, kind: type, data: FrameRange, work: SceneWork,
                      task_id: str | None) -> Response[Any]:
        _, item, dataset, scene = self._scene(work.grant)
        annotation_id = work.grant.annotation["_id"]
        command = kind(**self._common(work, item, dataset, scene.video),
                       annotation_id=annotation_id, first=data.first, last=data.last)
        return await self._change(work, scene, command, data.model_dump(), task_id)

    @delete("/scenes/{annotation_id:str}", status_code=200, responses=GONE | accepted())
    async def delete_scene(self, annotation_id: FromPath[str], work: NamedDependency[SceneWork],
                           task_id: TaskId = None) -> Response[None]:
        _, item, dataset, scene = self._scene(work.grant)
        command = DeleteScene(**self._common(work, item, dataset, scene.video),
                              annotation_id=annotation_id)
        return await _send(work, command, task_id, annotation_id, 204)

    @get("/items/{item_id:str}/frames/{frame:int}")
    async def frame_state(
        self, item_id: FromPath[str], frame: FromPath[int], grant: NamedDependency[Grant],
        catalog: NamedDependency[Catalog],
    ) -> FrameState:
        """What is on frame `frame`: every scene covering it, with its label there and
        whether it is hidden; `labels` the visible labels, `hiddenLabels` the hidden ones."""
        _, _, video = self._video_item(grant)
        if not 0 <= frame <= video.last_frame:
            raise unprocessable([Problem("frame", f"must be a frame of the video: 0 to {video.last_frame}")])
        docs = (await catalog.annotations_of_items([item_id]))[item_id]
        found = []
        for doc in docs:
            scene = from_annotation(doc, video) if is_scene(doc) else None
            at = scene.state_at(frame) if isinstance(scene, Scene) else None
            if at is not None:
                found.append({"annotationId": doc["_id"], "label": at.label, "hidden": at.hidden,
                              "objectId": doc["metadata"]["system"].get("objectId"),
                              "frame": scene.start, "endFrame": scene.end, "open": scene.open})
        return {
            "itemId": item_id, "frame": frame, "time": video.time(frame), "scenes": found,
            "labels": sorted({s["label"] for s in found if not s["hidden"]}),
            "hiddenLabels": sorted({s["label"] for s in found if s["hidden"]}),
        }
