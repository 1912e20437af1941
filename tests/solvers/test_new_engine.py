"""Adding an engine takes its module and one registry line (docs/architecture.md): an engine
defined in tests/example_engine.py, registered here, runs through the seam, the one-problem
run and a batch, with its options checked like any other engine's."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskalloc import solvers
from taskalloc.problems.plan import Status, read_plan
from taskalloc.solvers.batch import LocalExecutor, find_problems, plan_items, run_batch
from taskalloc.solvers.engine import OptionError
from taskalloc.solvers.run import Outcome, SolveOptions, solve_problem
from tests.batch_targets import registered_run_spec
from tests.helpers import EXAMPLES, node, prob, task


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    # the one registry line of a new engine
    monkeypatch.setitem(solvers.ENGINES, "firstfit", "tests.example_engine")


@pytest.mark.usefixtures("registered")
def test_a_new_engine_runs_through_the_seam() -> None:
    p = prob([node("a", {"cpu": 2}), node("b", {"cpu": 2})], [task("t", {"cpu": 2}), task("u")])
    r = solvers.solve(p, "firstfit")
    assert r.status == Status.FEASIBLE
    assert [(a.task, a.node) for a in r.assignments] == [("t", "a"), ("u", "b")]
    back = solvers.solve(p, "firstfit", reverse=True)
    assert [(a.task, a.node) for a in back.assignments] == [("t", "b"), ("u", "a")]
    with pytest.raises(OptionError, match="revers: not an option of engine firstfit"):
        solvers.solve(p, "firstfit", revers=True)
    infeasible = prob([node("a")], [task("big", {"cpu": 99})])
    assert solvers.solve(infeasible, "firstfit").proofs  # the seam's structural proofs


@pytest.mark.usefixtures("registered")
def test_a_new_engine_gets_checked_plans_and_ignored_options() -> None:
    p = prob([node("a"), node("b")], [task("t"), task("u")])
    out = solve_problem(
        p, SolveOptions(solver="firstfit", options={"policy": "best-fit"}), path=None
    )
    assert out.outcome == Outcome.OK and out.plan is not None
    assert out.plan.solver.name == "firstfit" and out.plan.solver.objective is not None
    assert out.warnings == ["policy applies to engine greedy; ignored by engine firstfit"]


@pytest.mark.usefixtures("registered")
def test_a_new_engine_runs_in_a_batch(tmp_path: Path) -> None:
    found = find_problems([str(EXAMPLES / "inference-fleet.yaml")])
    items = plan_items(found, tmp_path, "yaml")
    # workers are new processes: the registry line must be in their ENGINES too, as it is
    # for a real engine (the source); here the worker target registers it
    ex = LocalExecutor(1, target=registered_run_spec)
    done, _ = run_batch(items, ex, SolveOptions(solver="firstfit"))
    assert [d.result.outcome for d in done] == [Outcome.OK]
    assert read_plan(str(items[0].plan_path)).solver.name == "firstfit"
