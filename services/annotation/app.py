"""The annotation service's subscribers, and its process (`python -m services.annotation`).

Each subscriber hands its batch to the runner (shared.platform.runner), with the reply
address of each command that names one, bulk commands to services.annotation.bulk;
FastStream acknowledges the batch once the subscriber returns."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from faststream.redis import RedisBroker

from services.annotation.bulk.handlers import classify_items, unclassify_items
from services.annotation.repository import AnnotationRepository
from shared.contracts import streams
from shared.contracts.bulk import ClassesStored, ClassifyItems, UnclassifyItems
from shared.contracts.commands import parse_classify_stream
from shared.contracts.scene_commands import SCENE_COMMAND
from shared.platform.messaging import Consumer, DeadLetters, attach
from shared.platform.runner import Publish, Runner
from shared.platform.settings import Settings

NAME = "annotation"


def subscribe(broker: RedisBroker, *, runner: Runner, repo: AnnotationRepository, publish: Publish,
              reply: Callable[[ClassesStored], Awaitable[None]], settings: Settings,
              dead_letters: DeadLetters) -> None:
    """The `classify` and `scene` stream subscribers, in the service's group."""

    async def on_classify(commands: list[Any], reply_to: Mapping[str, str]) -> None:
        await runner.run([c for c in commands if not isinstance(c, ClassifyItems | UnclassifyItems)], reply_to)
        for cmd in commands:
            if isinstance(cmd, ClassifyItems):
                await classify_items(cmd, repo=repo, base_url=settings.public_url, publish=publish, reply=reply)
            elif isinstance(cmd, UnclassifyItems):
                await unclassify_items(cmd, repo=repo, publish=publish)

    async def on_scene(commands: list[Any], reply_to: Mapping[str, str]) -> None:
        await runner.run(commands, reply_to)

    for consumer in (
        Consumer(stream=streams.CLASSIFY, group=streams.ANNOTATION_GROUP, parse=parse_classify_stream,
                 handle=on_classify, title="classify", replies=True,
                 description="Classify, UpdateAnnotation and DeleteAnnotation commands from the "
                 "gateway; ClassifyItems and UnclassifyItems (bulk classification) from the task service."),
        Consumer(stream=streams.SCENE, group=streams.ANNOTATION_GROUP, parse=SCENE_COMMAND.validate_python,
                 handle=on_scene, title="scene", replies=True,
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
