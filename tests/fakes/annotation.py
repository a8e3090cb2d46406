"""The annotation service's repository in memory: what the MongoDB one does, in dicts.
tests/integration/test_annotation_repository_contract.py runs one suite against both."""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from services.annotation.repository import AnnotationRepository


def _copy(doc: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(doc)


def _is_class(doc: dict[str, Any], *, scene: bool) -> bool:
    """A live class annotation: an image class (`scene=False`) or a video scene."""
    has_frame = "frame" in doc.get("metadata", {}).get("system", {})
    return doc.get("type") == "class" and "_deleted" not in doc and has_frame == scene


class FakeAnnotationRepository(AnnotationRepository):
    def __init__(self) -> None:
        self.annotations: dict[str, dict[str, Any]] = {}
        self.operations: dict[str, dict[str, Any]] = {}
        self.counters: dict[str, int] = defaultdict(int)
        self.bulk_plans: dict[str, dict[str, Any]] = {}
        self.bulk_states: dict[str, dict[str, Any]] = {}

    async def create_indexes(self) -> None:
        return None

    async def outcomes(self, command_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {i: _copy(self.operations[i]) for i in command_ids if i in self.operations}

    async def save_outcomes(self, outcomes: list[dict[str, Any]]) -> None:
        for outcome in outcomes:
            self.operations.setdefault(outcome["_id"], _copy(outcome))

    async def insert_new(self, docs: list[dict[str, Any]]) -> set[str]:
        existed = {d["_id"] for d in docs if d["_id"] in self.annotations}
        for doc in docs:
            self.annotations.setdefault(doc["_id"], _copy(doc))
        return existed

    async def get_many(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {i: _copy(self.annotations[i]) for i in ids if i in self.annotations}

    async def replace_many(self, docs: list[dict[str, Any]]) -> None:
        for doc in docs:
            if doc["_id"] in self.annotations:
                self.annotations[doc["_id"]] = _copy(doc)

    async def replace_classes(self, item_id: str, keep: str, before: str, tombstone: dict) -> list[str]:
        ids = [i for i, d in self.annotations.items()
               if d.get("itemId") == item_id and i != keep and _is_class(d, scene=False)
               and d.get("createdAt", "") <= before]
        for i in ids:
            self.annotations[i]["_deleted"] = _copy(tombstone)
        return ids

    async def next_object_ids(self, counts: dict[str, int]) -> dict[str, int]:
        firsts = {}
        for item_id, n in counts.items():
            self.counters[item_id] += n
            firsts[item_id] = self.counters[item_id] - n + 1
        return firsts

    async def replace_unless_changed(self, writes: list[tuple[dict[str, Any], str | None]]) -> set[str]:
        matched = 0
        for doc, rev in writes:
            stored = self.annotations.get(doc["_id"])
            if stored is not None and (stored.get("_scene") or {}).get("rev") == rev:
                self.annotations[doc["_id"]] = _copy(doc)
                matched += 1
        if matched == len(writes):
            return set()
        now = {i: (d.get("_scene") or {}).get("rev") for i, d in self.annotations.items()}
        return {doc["_id"] for doc, _ in writes if now.get(doc["_id"]) != doc["_scene"]["rev"]}

    async def live_scenes(self, item_id: str) -> dict[str, dict[str, Any]]:
        return {i: _copy(d) for i, d in self.annotations.items()
                if d.get("itemId") == item_id and _is_class(d, scene=True)}

    async def bulk_record(self, bulk_id: str) -> dict[str, Any] | None:
        if bulk_id not in self.bulk_plans:
            return None
        return _copy(self.bulk_plans[bulk_id] | self.bulk_states.get(bulk_id, {}))

    async def save_bulk_record(self, record: dict[str, Any]) -> None:
        self.bulk_plans.setdefault(record["_id"], _copy(record))

    async def mark_bulk(self, bulk_id: str, changes: dict[str, Any]) -> None:
        self.bulk_states.setdefault(bulk_id, {"_id": bulk_id}).update(_copy(changes))

    async def bulk_progressed(self, bulk_id: str, done: int) -> None:
        state = self.bulk_states.setdefault(bulk_id, {"_id": bulk_id})
        state["done"] = max(state.get("done", done), done)

    async def live_classes(self, item_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        wanted, found = set(item_ids), defaultdict(list)
        for i, d in self.annotations.items():
            if d.get("itemId") in wanted and _is_class(d, scene=False):
                found[d["itemId"]].append({"_id": i, "itemId": d["itemId"], "label": d.get("label")})
        return found

    async def insert_chunk(self, docs: list[dict[str, Any]]) -> None:
        await self.insert_new(docs)

    async def tombstone(self, ids: list[str], tombstone: dict[str, Any]) -> None:
        for i in ids:
            if i in self.annotations:
                self.annotations[i]["_deleted"] = _copy(tombstone)

    async def revive(self, ids: list[str], command_id: str) -> None:
        for i in ids:
            doc = self.annotations.get(i)
            if doc is not None and (doc.get("_deleted") or {}).get("commandId") == command_id:
                del doc["_deleted"]

    async def ping(self) -> bool:
        return True
