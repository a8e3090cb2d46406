"""Each service owns its data: which modules touch which MongoDB collections, read from the
source (every `db.<collection>`, `db["<collection>"]`, and a collection named to the catalog's
generic reads, `catalog.page("<collection>", ...)`).

OWNERS says whose each collection is. A module touching a collection its service does not
own fails the test, unless the pair is in STILL_CROSSING: the reads issue 19 has not moved
behind events or request/reply yet. That list only shrinks: a pair that no longer crosses
must leave it too, so the test fails both ways.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

OWNERS = {
    # the gateway's catalog (gateway/repository.py and its helpers)
    **dict.fromkeys(("users", "tokens", "organizations", "projects", "datasets", "items", "recipes",
                     "keymaps", "preferences", "audit", "links", "imports", "exports", "files"),
                    "gateway"),
    # the task service
    **dict.fromkeys(("tasks", "assignments", "item_statuses", "task_progress", "bulk_operations",
                     "bulk_states", "bulk_status_changes"), "task"),
    "allocations": "task",
    # the annotation service
    **dict.fromkeys(("annotations", "counters", "bulk_classifications", "bulk_progress"), "annotation"),
    # the platform kit's outcome records: every runner writes its commands' outcomes there,
    # and the gateway answers /operations/{id} from them
    "operations": "platform",
}

# (module, collection) reads that still cross an owner's line: none left (the gateway asks the
# task and annotation services for their data, gateway.owners).
STILL_CROSSING: set[tuple[str, str]] = set()


TOUCH = re.compile(r"\b(?:db|database)\s*(?:\.\s*([a-z_]+)\b|\[\s*[\"']([a-z_]+)[\"']\s*\])")
# the catalog's generic reads and its cache take a collection by name: `catalog.page("items", ...)`
BY_NAME = re.compile(r"\b(?:catalog|access)\s*\.\s*\w+\(\s*[\"']([a-z_]+)[\"']")


def owner_of(module: Path) -> str:
    parts = module.relative_to(ROOT).parts
    if parts[0] == "services":
        return parts[1]
    if parts[0] == "shared" and parts[1] == "platform":
        return "platform"
    return parts[0]


def touches() -> set[tuple[str, str]]:
    found = set()
    for top in ("gateway", "services", "shared"):
        for module in (ROOT / top).rglob("*.py"):
            text = module.read_text()
            for match in [*TOUCH.finditer(text), *BY_NAME.finditer(text)]:
                name = next(g for g in match.groups() if g)
                if name in OWNERS:
                    found.add((module.relative_to(ROOT).as_posix(), name))
    return found


def crossings() -> set[tuple[str, str]]:
    """(module, collection) pairs where the module's service is not the owner. The platform's
    outcome records are read by every process through the runner and the gateway's outcome
    reader, so only modules outside the runner's reach count there."""
    return {(module, name) for module, name in touches()
            if OWNERS[name] not in (owner_of(ROOT / module), "platform")}


def test_the_scan_sees_the_collections_it_should():
    seen = {name for _, name in touches()}
    assert {"annotations", "tasks", "items", "operations"} <= seen


def test_no_module_touches_a_collection_its_service_does_not_own():
    new = crossings() - STILL_CROSSING
    assert not new, f"modules reading another owner's collections: {sorted(new)}"


def test_a_crossing_that_is_gone_leaves_the_list():
    gone = STILL_CROSSING - crossings()
    assert not gone, f"no longer crossing, remove from STILL_CROSSING: {sorted(gone)}"


def test_every_collection_has_an_owner():
    for module in ("gateway/repository.py", "services/task/repository.py",
                   "services/annotation/repository.py"):
        text = (ROOT / module).read_text()
        for match in TOUCH.finditer(text):
            name = match.group(1) or match.group(2)
            assert name in OWNERS or name in {"command", "client", "name"}, (module, name)
