"""The task service's subscribers, and its process (`python -m services.task`).

Task, status and bulk commands go to the runner (shared.platform.runner; the bulk stream's
through services.task.bulk's table); FastStream acknowledges a batch once its subscriber
returns."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from faststream.redis import RedisBroker

from shared.contracts import streams
from shared.contracts.bulk import BULK_COMMAND
from shared.contracts.tasks import TASK_COMMAND
from shared.platform.messaging import Consumer, DeadLetters, attach, decoded_object
from shared.platform.runner import Runner
from shared.platform.settings import Settings

NAME = "task"
StatusRunner = Callable[[Sequence[Any], Mapping[str, str]], Runner]


def positions(broker: RedisBroker, commands: Sequence[Any]) -> dict[str, str]:
    """Command id -> its entry id in the stream, as a sortable string, for the entries being
    handled (the live reader's batch or the reclaimer's one entry): an item's place in the
    log, which orders its status commands whichever replica reads them. The commands come
    parsed in the entries' order; when some entry was not a command (dead-lettered), the
    entries are read again to pair them."""
    message = broker.context.get_local("message")
    if message is None:
        return {}
    entries = [i.decode() if isinstance(i, bytes) else str(i) for i in message.raw_message["message_ids"]]
    if len(entries) == len(commands):
        pairs = zip(entries, (c.id for c in commands), strict=True)
    else:
        bodies = message.body if isinstance(message.body, list) else [message.body]
        pairs = ((entry, (decoded_object(body) or {}).get("id"))
                 for entry, body in zip(entries, bodies, strict=False))
    return {command_id: _sortable(entry) for entry, command_id in pairs if isinstance(command_id, str)}


def _sortable(entry: str) -> str:
    ms, _, seq = entry.partition("-")
    return f"{int(ms):015d}-{int(seq or 0):010d}"


def subscribe(broker: RedisBroker, *, runner: Runner, status_runner: StatusRunner, bulk: Runner,
              settings: Settings, dead_letters: DeadLetters) -> None:
    """The `tasks`, `status` and `bulk-classify` stream subscribers, in the service's group."""

    async def on_task_commands(commands: list[Any], reply_to: Mapping[str, str]) -> None:
        await runner.run(commands, reply_to)

    async def on_status_commands(commands: list[Any], reply_to: Mapping[str, str]) -> None:
        await status_runner(commands, positions(broker, commands)).run(commands, reply_to)

    async def on_bulk_commands(commands: list[Any], reply_to: Mapping[str, str]) -> None:
        await bulk.run(commands, reply_to)

    for consumer in (
        Consumer(streams.TASKS, streams.TASK_GROUP, TASK_COMMAND.validate_python, on_task_commands,
                 streams.TASKS, f"{streams.TASKS} commands, checked against the task's allocation rules; "
                 "commands made in a task, passed on to their own stream once checked.", replies=True),
        Consumer(streams.STATUS, streams.TASK_GROUP, TASK_COMMAND.validate_python, on_status_commands,
                 streams.STATUS, f"{streams.STATUS} commands, checked against the task's allocation rules.",
                 replies=True),
        Consumer(streams.BULK_CLASSIFY, streams.TASK_GROUP, BULK_COMMAND.validate_python, on_bulk_commands,
                 streams.BULK_CLASSIFY, "BulkClassify and UndoBulk, checked against the task's allocation "
                 "rules, then passed on to the annotation service; ClassesStored, sent by earlier versions, left.",
                 replies=True),
    ):
        attach(broker, consumer, settings=settings, service=NAME, dead_letters=dead_letters)


def main() -> None:
    from services.task.bootstrap import build  # bootstrap imports this module
    from shared.platform import observability
    from shared.platform.runtime import serve

    observability.configure(NAME)  # before the broker is built: its middlewares
    serve(build(Settings()).app, int(os.environ.get("PORT", "8102")))


if __name__ == "__main__":
    main()
