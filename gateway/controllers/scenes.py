"""Video scenes: class annotations over a range of frames. Commands travel on the `scene`
stream like classify does; the frame query reads the stored scenes. Outside a task scene
work is manager work; with `?taskId=` the task service checks the task's rules first (an
annotator works only on items of their own assignment) and forwards the command."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, JSONBody, QueryParameter

from gateway.dispatch import dispatch
from gateway.errors import unprocessable
from gateway.guards import role_here
from gateway.repository import new_id
from gateway.roles import at_least
from gateway.scene_schemas import FrameRange, PaintIn, SceneIn, ScenePatch
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
from shared.contracts.tasks import CheckInTask
from shared.rules import scenes as scene_rules
from shared.rules.labels import Problem, check_classification
from shared.rules.painting import Switch, paint
from shared.rules.scenes import Scene, Video, from_annotation, is_scene, refused, start_scene

TaskId = Annotated[str | None, QueryParameter(
    name="taskId", description="the task the scene work is done in: its rules apply (annotators must send it)")]

ONE_CHANGE = "must change exactly one of: endFrame, frame, label (with fromFrame)"


def _painted(outcome: Any) -> dict[str, Any]:
    return {"annotations": outcome.annotations}


async def _send(request: Request, state: State, command: Any, dataset: dict[str, Any],
                task_id: str | None, body: Any, success: int, render: Any = None) -> Response[Any]:
    """Outside a task, manager work sent as it is; in a task, checked by the task service
    against the task's rules and forwarded (answered with the forwarded command's outcome)."""
    project_id = dataset["projectId"]
    extra = {"render": render} if render else {}
    if task_id is None:
        if not at_least(role_here(request), "manager"):
            raise PermissionDeniedException(
                "scene work outside a task needs the manager role; annotators do it in a task "
                "(send taskId)")
        return await dispatch(request, streams.SCENE, command, project_id, body, success, **extra)
    task = await state.gw.tasks.task(task_id)
    if task is None or task["projectId"] != project_id:
        raise NotFoundException(f"no task {task_id}")
    check = CheckInTask(actor=command.actor, task_id=task_id, project_id=project_id, command=command)
    return await dispatch(request, streams.TASKS, check, project_id, body, success,
                          wait_for=command.id, **extra)


class SceneController(Controller):
    path = "/api/v1"
    tags = ["scenes"]

    async def _video_item(self, item_id: str, request: Request, state: State) -> tuple[dict, dict, Video]:
        item, dataset = await state.gw.access.item(request.user, item_id)
        video = video_of(item)
        if isinstance(video, list):
            raise unprocessable(video, "scenes need a video item with known fps and frame count")
        return item, dataset, video

    async def _scene(self, annotation_id: str, request: Request, state: State) -> tuple[dict, dict, dict, Scene]:
        doc, dataset = await state.gw.access.annotation(request.user, annotation_id)
        item, _, video = await self._video_item(doc["itemId"], request, state)
        scene = from_annotation(doc, video)
        if isinstance(scene, list):
            raise unprocessable(scene, f"annotation {annotation_id} is not a video scene")
        return doc, item, dataset, scene

    async def _labels_fit(self, state: State, dataset: dict, labels: list[str], attributes: dict) -> None:
        ontology = await state.gw.access.ontology(dataset["recipeId"])
        for label in dict.fromkeys(labels):
            if problems := check_classification(ontology, label, attributes):
                raise unprocessable(problems, "the scene does not fit the recipe")

    @staticmethod
    def _common(request: Request, item: dict, dataset: dict, video: Video) -> dict[str, Any]:
        return {"actor": request.user.actor(role_here(request)), "item_id": item["id"],
                "dataset_id": dataset["id"], "project_id": dataset["projectId"],
                "recipe_id": dataset.get("recipeId"), "video": video}

    async def _change(self, request: Request, state: State, dataset: dict, scene: Scene,
                      command: OnScene, body: Any, task_id: str | None) -> Response[Any]:
        """Check the change against the scene as stored now (the service checks again
        against the scene as it is when the command is applied), then send it."""
        if refused(outcome := scene_rules.apply(command, scene)):
            raise unprocessable(outcome, "the change does not fit the scene")
        return await _send(request, state, command, dataset, task_id, body, 200)

    @post("/items/{item_id:str}/scenes")
    async def start_scene(
        self, item_id: FromPath[str], data: JSONBody[SceneIn], request: Request, state: State,
        task_id: TaskId = None,
    ) -> Response[Any]:
        """Start a scene at `frame` with `label`; it lasts to the end of the video until an
        end is set. 201 with the annotation (Dataloop JSON)."""
        item, dataset, video = await self._video_item(item_id, request, state)
        await self._labels_fit(state, dataset, [data.label], data.attributes)
        if refused(outcome := start_scene(video, data.frame, data.label, data.end_frame)):
            raise unprocessable(outcome, "the scene does not fit the video")
        command = StartScene(
            **self._common(request, item, dataset, video), annotation_id=new_id(),
            frame=data.frame, end_frame=data.end_frame, label=data.label,
            attributes=data.attributes, description=data.description, source=data.source,
        )
        return await _send(request, state, command, dataset, task_id, data.model_dump(), 201)

    @post("/items/{item_id:str}/scenes/paint")
    async def paint_scenes(
        self, item_id: FromPath[str], data: JSONBody[PaintIn], request: Request, state: State,
        task_id: TaskId = None,
    ) -> Response[Any]:
        """Play-to-paint: label switches recorded while the video played become scenes in
        one command. 201 with `annotations`, every scene made, in frame order."""
        item, dataset, video = await self._video_item(item_id, request, state)
        switches = [Switch(s.frame, s.label) for s in data.switches]
        await self._labels_fit(state, dataset, [s.label for s in switches if s.label], data.attributes)
        scenes = paint(video, switches, data.stop_frame)
        if refused(scenes):
            raise unprocessable(scenes, "the switches do not fit the video")  # type: ignore[arg-type]
        command = PaintScenes(
            **self._common(request, item, dataset, video),
            annotation_ids=[new_id() for _ in scenes], stop_frame=data.stop_frame,
            switches=[SwitchIn(frame=s.frame, label=s.label) for s in switches],
            attributes=data.attributes, source=data.source,
        )
        return await _send(request, state, command, dataset, task_id, data.model_dump(), 201,
                           render=_painted)

    @patch("/scenes/{annotation_id:str}")
    async def change_scene(
        self, annotation_id: FromPath[str], data: JSONBody[ScenePatch], request: Request, state: State,
        task_id: TaskId = None,
    ) -> Response[Any]:
        """One change: `endFrame` (null: open again), `frame` (move the start), or `label`
        from `fromFrame` until the scene's next label change."""
        doc, item, dataset, scene = await self._scene(annotation_id, request, state)
        given = data.model_fields_set
        kinds = [k for k in ("end_frame", "frame", "label") if k in given]
        if len(kinds) != 1 or ("from_frame" in given and kinds != ["label"]):
            raise unprocessable([Problem("body", ONE_CHANGE)])
        common = self._common(request, item, dataset, scene.video) | {"annotation_id": annotation_id}
        if kinds == ["end_frame"]:
            command: OnScene = SetSceneEnd(**common, end_frame=data.end_frame)
        elif kinds == ["frame"]:
            if data.frame is None:
                raise unprocessable([Problem("frame", "must be a frame number")])
            command = MoveSceneStart(**common, frame=data.frame)
        else:
            if data.label is None:
                raise unprocessable([Problem("label", "must be a label")])
            await self._labels_fit(state, dataset, [data.label],
                                   doc["metadata"]["system"].get("attributes") or {})
            frame = scene.start if data.from_frame is None else data.from_frame
            command = ChangeSceneLabel(**common, frame=frame, label=data.label)
        return await self._change(request, state, dataset, scene, command, data.model_dump(), task_id)

    @post("/scenes/{annotation_id:str}/hide")
    async def hide_frames(
        self, annotation_id: FromPath[str], data: JSONBody[FrameRange], request: Request, state: State,
        task_id: TaskId = None,
    ) -> Response[Any]:
        """Hide frames `from`..`to` of the scene (joined with hidden ranges they touch)."""
        return await self._frames(HideFrames, annotation_id, data, request, state, task_id)

    @post("/scenes/{annotation_id:str}/unhide")
    async def unhide_frames(
        self, annotation_id: FromPath[str], data: JSONBody[FrameRange], request: Request, state: State,
        task_id: TaskId = None,
    ) -> Response[Any]:
        """Show frames `from`..`to` of the scene again (a hidden range around them splits)."""
        return await self._frames(UnhideFrames, annotation_id, data, request, state, task_id)

    async def _frames(self, kind: type, annotation_id: str, data: FrameRange, request: Request,
                      state: State, task_id: str | None) -> Response[Any]:
        _, item, dataset, scene = await self._scene(annotation_id, request, state)
        command = kind(**self._common(request, item, dataset, scene.video),
                       annotation_id=annotation_id, first=data.first, last=data.last)
        return await self._change(request, state, dataset, scene, command, data.model_dump(), task_id)

    @delete("/scenes/{annotation_id:str}", status_code=200)
    async def delete_scene(self, annotation_id: FromPath[str], request: Request, state: State,
                           task_id: TaskId = None) -> Response[Any]:
        _, item, dataset, scene = await self._scene(annotation_id, request, state)
        command = DeleteScene(**self._common(request, item, dataset, scene.video),
                              annotation_id=annotation_id)
        return await _send(request, state, command, dataset, task_id, annotation_id, 204)

    @get("/items/{item_id:str}/frames/{frame:int}")
    async def frame_state(
        self, item_id: FromPath[str], frame: FromPath[int], request: Request, state: State
    ) -> dict[str, Any]:
        """What is on frame `frame`: every scene covering it, with its label there and
        whether it is hidden; `labels` the visible labels, `hiddenLabels` the hidden ones."""
        _, _, video = await self._video_item(item_id, request, state)
        if not 0 <= frame <= video.last_frame:
            raise unprocessable([Problem("frame", f"must be a frame of the video: 0 to {video.last_frame}")])
        docs = (await state.gw.catalog.annotations_of_items([item_id]))[item_id]
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
