"""Stream and consumer-group names: the messaging topology in one place."""

from __future__ import annotations

# Command streams: written by the gateway, consumed by exactly one owning service.
CLASSIFY = "classify"
BULK_CLASSIFY = "bulk-classify"
STATUS = "status"
SCENE = "scene"
# Task management, and commands made in a task's context: the task service checks them
# against the task's allocation rules and forwards the accepted ones to their stream.
TASKS = "tasks"
# Annotators' navigation in a task (next/previous item, settings, heartbeats, leaving):
# written by the gateway, consumed by the workflow service.
WORKFLOW = "workflow"
COMMAND_STREAMS = (CLASSIFY, BULK_CLASSIFY, STATUS, SCENE, TASKS, WORKFLOW)

# Event streams: facts that happened; any service or other team may consume them.
ANNOTATION_EVENTS = "events.annotation"
TASK_EVENTS = "events.task"
WORKFLOW_EVENTS = "events.workflow"
EVENT_STREAMS = (ANNOTATION_EVENTS, TASK_EVENTS, WORKFLOW_EVENTS)

DLQ_SUFFIX = ".dlq"

# Consumer groups (one per service).
ANNOTATION_GROUP = "annotation-svc"
TASK_GROUP = "task-svc"
WORKFLOW_GROUP = "workflow-svc"

# Which groups read which stream. Groups are created (at id 0) before anything is
# published, by every process at start-up, so no entry is ever written to a stream
# whose reader group does not exist yet (stack.md 1.2).
TOPOLOGY: dict[str, tuple[str, ...]] = {
    CLASSIFY: (ANNOTATION_GROUP,),
    SCENE: (ANNOTATION_GROUP,),
    STATUS: (TASK_GROUP,),
    BULK_CLASSIFY: (TASK_GROUP,),
    TASKS: (TASK_GROUP,),
    WORKFLOW: (WORKFLOW_GROUP,),
    ANNOTATION_EVENTS: (WORKFLOW_GROUP,),
    TASK_EVENTS: (WORKFLOW_GROUP,),
}


def stream(name: str, namespace: str) -> str:
    """The Redis key of a logical stream in a deployment namespace."""
    return f"{namespace}.{name}" if namespace else name


def dead_letter(name: str, namespace: str) -> str:
    return stream(name, namespace) + DLQ_SUFFIX
