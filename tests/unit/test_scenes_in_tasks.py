"""Scene commands made in a task: the task service forwards an accepted one with the task and
assignment it was made in, and whether the task is single-class (then the video's scenes
never share a frame: shared.rules.scene_overlaps); it never marks it to replace the item's classes
(a video holds many scenes); a classify in a single-class task still is."""

from __future__ import annotations

import pytest

from services.task.handlers import forwardable
from shared.contracts.commands import Classify
from shared.contracts.envelope import Actor
from shared.contracts.scene_commands import PaintScenes, SetSceneEnd, StartScene, SwitchIn
from shared.contracts.tasks import CheckInTask
from shared.rules.scenes import Video

pytestmark = pytest.mark.unit

ACTOR = Actor(user_id="u1", email="ann@example.com", role="annotator")
VIDEO = Video(fps=25, frame_count=100, duration=4)
COMMON = dict(actor=ACTOR, item_id="i1", dataset_id="d1", project_id="p1", video=VIDEO)


def check(command) -> CheckInTask:
    return CheckInTask(actor=ACTOR, task_id="t1", project_id="p1", command=command)


@pytest.mark.parametrize("command", [
    StartScene(**COMMON, annotation_id="a1", frame=10, label="walking"),
    SetSceneEnd(**COMMON, annotation_id="a1", end_frame=40),
    PaintScenes(**COMMON, annotation_ids=["a1"], switches=[SwitchIn(frame=0, label="walking")]),
], ids=lambda c: c.type)
def test_an_accepted_scene_command_is_forwarded_with_its_task_and_assignment(command):
    forwarded = forwardable(check(command), "as1", single_class=True)
    assert type(forwarded) is type(command) and forwarded.id == command.id
    assert (forwarded.task_id, forwarded.assignment_id) == ("t1", "as1")
    assert not hasattr(forwarded, "replace_classes") and forwarded.single_class
    assert not forwardable(check(command), "as1", single_class=False).single_class


def test_a_classify_in_a_single_class_task_still_replaces_the_items_class():
    classify = Classify(actor=ACTOR, annotation_id="a1", item_id="i1", dataset_id="d1",
                        project_id="p1", label="walking")
    forwarded = forwardable(check(classify), "as1", single_class=True)
    assert forwarded.replace_classes and forwarded.task_id == "t1"
