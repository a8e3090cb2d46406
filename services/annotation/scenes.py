"""Use cases of the `scene` stream: video scene commands in, annotation events out.
Idempotent on command id, exactly like handlers.py: outcomes in `operations`, event ids
derived from the command id, stored events re-published on redelivery."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from services.annotation import scene_room, scene_rules
from services.annotation.handlers import Event, outcome_of, unique
from services.annotation.repository import AnnotationRepository
from services.annotation.scene_events import Create, change, classified, ids_of, invalid, planned
from shared.contracts.events import ANNOTATION_EVENT
from shared.contracts.scene_commands import OnScene, SceneCommand
from shared.rules.scenes import refused

MAX_ATTEMPTS = 5  # conflicting writes to one scene before the batch is left for redelivery


def _new_docs(creates: list[Create], plans: dict[str, list], firsts: dict[str, int],
              base_url: str) -> dict[str, list[dict[str, Any]]]:
    docs: dict[str, list[dict[str, Any]]] = {}
    for cmd in creates:
        if refused(plans[cmd.id]):
            continue
        docs[cmd.id] = []
        for annotation_id, scene in zip(ids_of(cmd), plans[cmd.id], strict=True):
            docs[cmd.id].append(scene_rules.new_scene_annotation(
                cmd, scene, annotation_id, firsts[cmd.item_id], base_url))
            firsts[cmd.item_id] += 1
    return docs


async def handle_scene_commands(
    commands: list[SceneCommand],
    *,
    repo: AnnotationRepository,
    base_url: str,
    publish: Callable[[list[Event]], Awaitable[None]],
) -> list[Event]:
    """Apply a batch of scene commands and publish the events they produce (see
    handlers.handle_commands for the redelivery rules, which are the same). A command that
    takes frames in a single-class task runs on its own, in its place in the batch."""
    events: list[Event] = []
    batch: list[SceneCommand] = []
    for cmd in unique(commands):
        if not scene_room.takes_frames(cmd):
            batch.append(cmd)
            continue
        if batch:
            events += await _handle_batch(batch, repo, base_url, publish)
            batch = []
        events.append(await scene_room.handle(cmd, repo=repo, base_url=base_url, publish=publish))
    if batch:
        events += await _handle_batch(batch, repo, base_url, publish)
    return events


async def _handle_batch(commands: list[SceneCommand], repo: AnnotationRepository, base_url: str,
                        publish: Callable[[list[Event]], Awaitable[None]]) -> list[Event]:
    creates: list[Create] = [c for c in commands if isinstance(c, Create)]
    changes: list[OnScene] = [c for c in commands if not isinstance(c, Create)]
    plans = {c.id: planned(c) for c in creates}
    counts = Counter({c.item_id: 0 for c in creates})
    for cmd in creates:
        if not refused(plans[cmd.id]):
            counts[cmd.item_id] += len(plans[cmd.id])
    firsts = await repo.next_object_ids({i: n for i, n in counts.items() if n}) if +counts else {}
    new_docs = _new_docs(creates, plans, firsts, base_url)
    existed = await repo.insert_new([d for docs in new_docs.values() for d in docs])
    again = [c for c in creates if existed & set(ids_of(c))]
    maybe_done = again + changes
    lookup = {i for c in again for i in ids_of(c)} | {c.annotation_id for c in changes}
    done, stored = await asyncio.gather(
        repo.outcomes(c.id for c in maybe_done) if maybe_done else _nothing(),
        repo.get_many(lookup) if lookup else _nothing(),
    )
    todo = [c for c in commands if c.id not in done]
    replayed = [ANNOTATION_EVENT.validate_python(done[c.id]["event"])
                for c in commands if c.id in done]

    by_command = await _apply_changes([c for c in todo if not isinstance(c, Create)], stored, repo)
    for cmd in todo:
        if isinstance(cmd, Create) and cmd.id not in new_docs:
            by_command[cmd.id] = invalid(cmd, plans[cmd.id])  # type: ignore[arg-type]
        elif isinstance(cmd, Create):
            by_command[cmd.id] = classified(cmd, [stored.get(d["_id"]) or d for d in new_docs[cmd.id]])
    events = [by_command[cmd.id] for cmd in todo]
    outcomes = [outcome_of(cmd, ev) for cmd, ev in zip(todo, events, strict=True)]
    await asyncio.gather(repo.save_outcomes(outcomes), publish(replayed + events))
    return replayed + events


async def _apply_changes(changes: list[OnScene], stored: dict[str, dict[str, Any]],
                         repo: AnnotationRepository) -> dict[str, Event]:
    """Apply change commands in order and store the scenes they change. A scene another
    consumer changed meanwhile is read again and its commands applied again to it."""
    events: dict[str, Event] = {}
    for _ in range(MAX_ATTEMPTS):
        changed: dict[str, dict[str, Any]] = {}
        for cmd in changes:
            doc = changed.get(cmd.annotation_id) or stored.get(cmd.annotation_id)
            events[cmd.id], new = change(cmd, doc)
            if new is not None:
                changed[cmd.annotation_id] = new
        writes = [(new, scene_rules.revision(stored[i])) for i, new in changed.items()]
        lost = await repo.replace_unless_changed(writes)
        if not lost:
            return events
        changes = [c for c in changes if c.annotation_id in lost]
        stored = await repo.get_many(lost)
    raise RuntimeError(f"scenes {sorted(lost)} kept changing under this consumer; will retry")


async def _nothing() -> dict[str, Any]:
    return {}
