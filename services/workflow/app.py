"""The workflow service's subscribers, and its process (`python -m services.workflow`).

Workflow commands go to the runner (shared.platform.runner); task and annotation facts to the
reactions (services.workflow.reactions). FastStream acknowledges a batch once its subscriber
returns."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from faststream.redis import RedisBroker

from services.workflow.reactions import Reactions
from shared.contracts import streams
from shared.contracts.envelope import Envelope
from shared.contracts.events import ANNOTATION_EVENT
from shared.contracts.tasks import TASK_EVENT
from shared.contracts.workflow import WORKFLOW_COMMAND
from shared.platform.messaging import Consumer, DeadLetters, attach
from shared.platform.runner import Runner
from shared.platform.settings import Settings

NAME = "workflow"
FACT_BATCH = 500  # facts per read (commands: CONSUMER_BATCH_SIZE)


def parse_fact(body: Any) -> Envelope:
    """Facts of other services, read tolerantly: the ones the workflow follows typed, any
    other envelope as it is (acknowledged and skipped)."""
    kind = body.get("type") if isinstance(body, dict) else None
    if kind in ("TaskChanged", "ItemsPulled", "ItemStatusChanged"):
        return TASK_EVENT.validate_python(body)
    if kind in ("ItemClassified", "CommandRejected"):
        return ANNOTATION_EVENT.validate_python(body)
    return Envelope.model_validate(body)


def subscribe(broker: RedisBroker, *, runner: Runner, reactions: Reactions, settings: Settings,
              dead_letters: DeadLetters) -> None:
    """The `workflow` command stream and the task and annotation event streams, in the
    service's group."""

    async def on_workflow_commands(commands: list[Any], reply_to: Mapping[str, str] | None = None) -> None:
        await runner.run(commands, reply_to)

    for consumer in (
        Consumer(streams.WORKFLOW, streams.WORKFLOW_GROUP, WORKFLOW_COMMAND.validate_python,
                 on_workflow_commands, streams.WORKFLOW,
                 "Annotators' workflow commands: next and previous item, settings, heartbeats, leaving.",
                 replies=True),
        Consumer(streams.TASK_EVENTS, streams.WORKFLOW_GROUP, parse_fact, reactions.on_task_events,
                 streams.TASK_EVENTS, "Task facts that move annotators' queues and leases.",
                 max_records=FACT_BATCH),
        Consumer(streams.ANNOTATION_EVENTS, streams.WORKFLOW_GROUP, parse_fact,
                 reactions.on_annotation_events, streams.ANNOTATION_EVENTS,
                 "Classifications in pulling tasks: work that renews the annotator's leases.",
                 wanted=reactions.classification_may_matter, max_records=FACT_BATCH),
    ):
        attach(broker, consumer, settings=settings, service=NAME, dead_letters=dead_letters)


def main() -> None:
    from services.workflow.bootstrap import build  # bootstrap imports this module
    from shared.platform import observability
    from shared.platform.runtime import serve

    observability.configure(NAME)  # before the broker is built: its middlewares
    serve(build(Settings()).app, int(os.environ.get("PORT", "8103")))


if __name__ == "__main__":
    main()
