"""The annotation service's subscribers, and its process (`python -m services.annotation`).

Each subscriber hands its batch to the runner (shared.platform.runner), with the reply
address of each command that names one (bulk commands too: services.annotation.bulk's
table is part of the runner's) and the batch's acknowledgement, which the runner's outlet
sends with the events once every command ran (FastStream acknowledges a batch it did not
once the subscriber returns)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from faststream.redis import RedisBroker

from shared.contracts import streams
from shared.contracts.commands import parse_classify_stream
from shared.contracts.scene_commands import SCENE_COMMAND
from shared.platform.messaging import Ack, Consumer, DeadLetters, attach
from shared.platform.runner import Runner
from shared.platform.settings import Settings

NAME = "annotation"


def subscribe(broker: RedisBroker, *, runner: Runner, settings: Settings, dead_letters: DeadLetters) -> None:
    """The `classify` and `scene` stream subscribers, in the service's group."""

    async def on_classify(commands: list[Any], reply_to: Mapping[str, str], ack: Ack | None = None) -> None:
        await runner.run(commands, reply_to, ack)

    async def on_scene(commands: list[Any], reply_to: Mapping[str, str], ack: Ack | None = None) -> None:
        await runner.run(commands, reply_to, ack)

    for consumer in (
        Consumer(stream=streams.CLASSIFY, group=streams.ANNOTATION_GROUP, parse=parse_classify_stream,
                 handle=on_classify, title="classify", replies=True, acks=True,
                 description="Classify, UpdateAnnotation and DeleteAnnotation commands from the "
                 "gateway; ClassifyItems and UnclassifyItems (bulk classification) from the task service."),
        Consumer(stream=streams.SCENE, group=streams.ANNOTATION_GROUP, parse=SCENE_COMMAND.validate_python,
                 handle=on_scene, title="scene", replies=True, acks=True,
                 description="Video scene commands from the gateway: StartScene, SetSceneEnd, "
                 "MoveSceneStart, ChangeSceneLabel, HideFrames, UnhideFrames, DeleteScene, PaintScenes."),
    ):
        attach(broker, consumer, settings=settings, service=NAME, dead_letters=dead_letters)


def main() -> None:
    from services.annotation.bootstrap import build  # bootstrap imports this module
    from shared.platform import observability
    from shared.platform.runtime import serve

    observability.configure(NAME)  # before the broker is built: its middlewares
    serve(build(Settings()).app, int(os.environ.get("PORT", "8101")))


if __name__ == "__main__":
    main()
