"""Two replicas of each consumer, as the Kubernetes overlay runs them (deploy/k8s), on real
servers: the per-item order of status commands holds across two task-service replicas, and
two workflow-service replicas serve one task's 20 annotators, while each replica is
SIGKILLed and restarted in turn. Smaller counts than bench/replicas.py, which runs the
issue's full ones (1,000 set-then-clear pairs, 1,000 moves) and prints their figures; the
load is paced here so that it lasts long enough for both kills."""

from __future__ import annotations

import pytest

from tests.e2e.replicas import status_order, workflow_moves

pytestmark = pytest.mark.e2e

STATUS_ROUNDS = 150  # set-then-clear pairs over 30 items; bench/replicas.py runs 1,000
MOVES = 160  # by 20 annotators; bench/replicas.py runs 1,000


async def test_status_commands_on_one_item_end_as_the_last_said_across_two_task_replicas_each_killed_in_turn(settings):
    figures, problems = await status_order(settings, rounds=STATUS_ROUNDS, items=30, rate=35)
    print(figures)
    assert not problems, "\n".join([*problems, str(figures)])


async def test_two_workflow_replicas_serve_20_annotators_without_handing_an_item_twice_each_killed_in_turn(settings):
    figures, problems = await workflow_moves(settings, moves=MOVES, annotators=20, rate=16)
    print(figures)
    assert not problems, "\n".join([*problems, str(figures)])
