"""Video class scenes of an import: each a `StartScene` on the scene stream, then a
`HideFrames` per hidden range, as the video studio sends them. Few per file (a video's
scenes), so sent one by one; a scene refused by the video's rules is reported, not raised."""

from __future__ import annotations

from typing import Any

from gateway.import_formats import Entry
from gateway.video import video_of
from shared.contracts import streams
from shared.contracts.envelope import Actor, derived_id
from shared.contracts.events import CommandRejected
from shared.contracts.scene_commands import HideFrames, StartScene
from shared.rules.labels import Problem
from shared.rules.scenes import refused, start_scene


def scene_refusal(entry: Entry, item: dict[str, Any]) -> str | None:
    video = video_of(item)
    if isinstance(video, list):
        return "; ".join(f"{p.field}: {p.rule}" for p in video)
    outcome = start_scene(video, entry.frame or 0, entry.label, entry.end_frame)
    if refused(outcome):
        return "; ".join(f"{p.field}: {p.rule}" for p in outcome if isinstance(p, Problem))
    return None


def start_id(job_id: str, annotation_id: str) -> str:
    """The command id of a scene's `StartScene` in an import job: the same in every run of
    the job, so a run after a crash is recognised (and deduplicated by the service)."""
    return derived_id(job_id, f"scene:{annotation_id}:0")


async def send_scene(gw: Any, actor: Actor, dataset: dict[str, Any], item: dict[str, Any],
                     entry: Entry, annotation_id: str, job_id: str) -> str | None:
    """Start the scene and hide its ranges; None when stored, else why not."""
    video = video_of(item)
    common = {"actor": actor, "item_id": item["id"], "dataset_id": dataset["id"],
              "project_id": dataset["projectId"], "recipe_id": dataset.get("recipeId"),
              "video": video, "annotation_id": annotation_id}
    commands: list[Any] = [StartScene(**common, id=start_id(job_id, annotation_id), frame=entry.frame or 0,
                                      end_frame=entry.end_frame, label=entry.label,
                                      attributes=entry.attributes, source="import")]
    commands += [HideFrames(**common, id=derived_id(job_id, f"scene:{annotation_id}:{k}"), first=a, last=b)
                 for k, (a, b) in enumerate(entry.hidden, start=1)]
    for command in commands:
        outcome = await gw.bus.send(streams.SCENE, command, dataset["projectId"], wait_s=60.0)
        if isinstance(outcome, CommandRejected):
            return outcome.message
        if outcome is None:
            return f"not stored within 60 s (command {command.id} may still apply)"
    return None
