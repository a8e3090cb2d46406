"""Limits a task definition must respect (Dataloop's), checked by the gateway before a task
is created and by the task service's rules: one definition for both."""

from __future__ import annotations

from collections.abc import Sequence


def workload_problems(loads: Sequence[tuple[str, float]]) -> list[str]:
    problems = []
    if any(not 0 <= load <= 100 for _, load in loads):
        problems.append("each load must be between 0 and 100")
    if abs(sum(load for _, load in loads) - 100) > 1e-6:
        problems.append("loads must sum to 100")
    if len({a for a, _ in loads}) != len(loads):
        problems.append("an assignee appears twice")
    return problems


def pulling_problems(batch_size: int | None, max_workload: int | None,
                     consensus: bool) -> list[tuple[str, str]]:
    """Pulling: batch 3-100, max workload batch+2 .. 2*batch, and no consensus."""
    problems = []
    if batch_size is None or not 3 <= batch_size <= 100:
        problems.append(("batchSize", "must be between 3 and 100 in a pulling task"))
    elif max_workload is None or not batch_size + 2 <= max_workload <= 2 * batch_size:
        problems.append(("maxBatchWorkload",
                         f"must be between batchSize+2 ({batch_size + 2}) and 2*batchSize ({2 * batch_size})"))
    if consensus:
        problems.append(("consensus", "consensus can not work as a pulling task"))
    return problems
