"""Why a problem has no plan: minimal conflicting task sets, in the user's terms."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from taskalloc.cli.app import app
from taskalloc.problems.problem import load_problem, prove_infeasible
from taskalloc.solvers.cpsat.explain import explain

PACKING_AND_SEPARATION = """\
taskalloc: 1
nodes:
  - {id: a100, count: 2, capacity: {cpu: 64, gpu: 8}, labels: {accel: a100}}
  - {id: cpu, count: 2, capacity: {cpu: 32}}
tasks:
  - {id: train-a, demand: {gpu: 6}, match: {accel: a100}}
  - {id: train-b, demand: {gpu: 5}, match: {accel: a100}}
  - {id: train-c, demand: {gpu: 5}, match: {accel: a100}}
  - {id: web, demand: {cpu: 2}, replicas: 2}
  - {id: db-primary, demand: {cpu: 2}, nodes: [cpu], separate_from: [db-replica, db-backup]}
  - {id: db-replica, demand: {cpu: 2}, nodes: [cpu], separate_from: [db-backup]}
  - {id: db-backup, demand: {cpu: 2}, nodes: [cpu]}
"""

SHORTAGE = """\
taskalloc: 1
nodes:
  - {id: a100, count: 2, capacity: {cpu: 64, gpu: 8}, labels: {accel: a100}}
  - {id: spare, capacity: {cpu: 64, gpu: 8}}
tasks:
  - {id: train-a, demand: {gpu: 6}, match: {accel: a100}}
  - {id: train-b, demand: {gpu: 6}, match: {accel: a100}}
  - {id: train-c, demand: {gpu: 6}, match: {accel: a100}}
  - {id: tiny, demand: {gpu: 1}}
"""

TIME = """\
taskalloc: 1
nodes:
  - {id: gpu, capacity: {gpu: 1}}
tasks:
  - {id: prep, duration: 10, demand: {gpu: 1}, deadline: 25}
  - {id: train, duration: 10, demand: {gpu: 1}, deadline: 25}
  - {id: eval, duration: 10, demand: {gpu: 1}, deadline: 25}
  - {id: other, duration: 5, demand: {gpu: 1}}
"""


def _problem(tmp_path: Path, text: str):
    path = tmp_path / "fleet.yaml"
    path.write_text(text)
    problem = load_problem(str(path))
    assert prove_infeasible(problem) == []  # the structural checks cannot see these
    return problem


def _ids(problem, conflict) -> set[str]:
    return {problem.tasks[t].id for t in conflict.tasks}


def test_packing_conflict_and_a_second_disjoint_one(tmp_path):
    problem = _problem(tmp_path, PACKING_AND_SEPARATION)
    conflicts = explain(problem, time_limit=20)
    assert [_ids(problem, c) for c in conflicts] == [
        {"train-a", "train-b", "train-c"},
        {"db-primary", "db-replica", "db-backup"},
    ]
    assert all(c.minimal for c in conflicts)
    first, second = conflicts
    assert "train-a (" in first.lines[0] and "fleet.yaml:6)" in first.lines[0]
    assert "gpu 6 + 5 + 5 = 16" in first.lines[1]
    assert "nodes allowed by match accel=a100" in first.lines[1]
    assert "separate_from keeps" in second.lines[1]
    assert "nodes [cpu]" in second.lines[1]


def test_resource_shortage_names_the_totals(tmp_path):
    problem = _problem(tmp_path, SHORTAGE)
    (conflict,) = explain(problem, time_limit=20)
    assert _ids(problem, conflict) == {"train-a", "train-b", "train-c"}
    assert conflict.lines[1] == (
        "  together they need gpu 18 on nodes allowed by match accel=a100; "
        "those nodes have 16 in all"
    )


def test_time_window_conflict(tmp_path):
    problem = _problem(tmp_path, TIME)
    (conflict,) = explain(problem, time_limit=20)
    assert _ids(problem, conflict) == {"prep", "train", "eval"}
    assert "between 0 and 25 they need 30 gpu-time units" in conflict.lines[1]


MOVES = """\
taskalloc: 1
max_moves: 1
nodes:
  - {id: old, capacity: {cpu: 4}}
  - {id: big, count: 2, capacity: {cpu: 64}}
tasks:
  - {id: a, demand: {cpu: 3}, current: old}
  - {id: b, demand: {cpu: 3}, current: old}
  - {id: c, demand: {cpu: 2}, current: old}
  - {id: d, demand: {cpu: 1}}
"""


def test_a_max_moves_conflict_names_the_limit_not_a_packing(tmp_path):
    """Three tasks that ran on one node no longer fit there together, and only one may move:
    the other nodes have room for all, so the conflict is the limit, never 'no packing
    exists'."""
    problem = _problem(tmp_path, MOVES)
    (conflict,) = explain(problem, time_limit=20)
    assert _ids(problem, conflict) == {"a", "b", "c"}
    assert (
        "max_moves 1: at most 1 replica may move off the nodes their `current` names"
        in (conflict.lines[1])
    )
    assert "no packing" not in conflict.lines[1]


def test_solve_prints_conflicts_and_writes_them_into_the_plan(tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text(PACKING_AND_SEPARATION)
    result = CliRunner().invoke(app, ["solve", str(path), "-s", "cpsat", "-t", "20"])
    assert result.exit_code == 3
    plan = yaml.safe_load(result.stdout)
    assert plan["solver"]["status"] == "infeasible"
    assert len(plan["infeasibility"]) == 4
    assert "train-a" in result.stderr and "db-backup" in result.stderr


GANG = """\
taskalloc: 1
horizon: 480
gangs:
  pretrain: {same_start: true}
nodes:
  - {id: a100, count: 2, capacity: {cpu: 96, gpu: 8}, devices: {gpu: 8}}
  - {id: cpu, capacity: {cpu: 64}}
tasks:
  - {id: worker, gang: pretrain, replicas: 2, demand: {cpu: 64, gpu: 8}, duration: 240}
  - {id: eval, gang: pretrain, demand: {cpu: 8, gpu: 1}, duration: 240}
  - {id: prep, demand: {cpu: 8}, duration: 40}
"""


def test_a_gang_that_starts_together_is_one_conflict_named_by_what_it_needs_at_once(tmp_path):
    """A node failed under a training gang: 2 workers of 8 GPUs and an evaluator of 1 must
    start together on 16 GPUs. The explanation named each member as its own conflict ('this
    task cannot all be placed: worker', then 'eval') and blamed 'releases, deadlines and
    `after` order' that no task has; it now names the gang once, with what it needs at its
    start against what its nodes have."""
    problem = _problem(tmp_path, GANG)
    (conflict,) = explain(problem, time_limit=20)
    assert _ids(problem, conflict) == {"worker", "eval"}
    head, why = conflict.lines
    assert head.startswith("a minimal conflict: gang pretrain (placed all or none) cannot be ")
    assert "worker (" in head and "eval (" in head
    assert why == (
        "  gang pretrain starts all its members at once: together they need gpu 17 on "
        "the whole fleet; those nodes have 16 in all"
    )
