"""Use cases of the task service. Task rules arrive with tasks (issue 4); until then every
status or bulk command is refused, so nothing is ever changed by an unchecked command."""

from __future__ import annotations

from typing import Any

from shared.envelope import Actor, derived_id
from shared.events import CommandRejected


def refuse_unknown(commands: list[dict[str, Any]]) -> list[CommandRejected]:
    return [
        CommandRejected(
            id=derived_id(c["id"], "CommandRejected"),
            correlation_id=c["id"],
            actor=Actor.model_validate(c["actor"]),
            command_type=str(c.get("type", "unknown")),
            reason="invalid",
            message="this platform has no task rules deployed for this command",
        )
        for c in commands
    ]
