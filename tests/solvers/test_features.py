"""Until the exact and genetic engines learn revision 2, they refuse problems that use it (one
line, exit 2) instead of returning plans `check` would reject; `auto` picks the greedy."""

from __future__ import annotations

import pytest

from taskalloc import solvers
from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.plan import Status
from taskalloc.solvers.features import FeatureUnsupported, refuse_unhandled, unhandled
from tests.helpers import EXAMPLES, cli, node, prob, task

DEVICES = prob([node("g", {"gpu": 2}, devices={"gpu": 2})], [task("t", {"gpu": 0.5})])
SPREAD = prob(
    [node("n", {"cpu": 4}, count=2, labels={"zone": "a"})],
    [task("t", replicas=2, spread={"key": "zone"})],
)


@pytest.mark.parametrize("engine", ["cpsat", "ga"])
def test_engines_refuse_what_they_do_not_handle(engine):
    with pytest.raises(FeatureUnsupported) as exc:
        solvers.solve(DEVICES, engine, time_limit=5)
    assert str(exc.value) == f"engine {engine} does not handle `devices` yet (engine greedy does)"
    assert unhandled(SPREAD, engine) == ["spread"]


def test_pareto_and_export_refuse_too():
    with pytest.raises(FeatureUnsupported):
        solvers.pareto(DEVICES, "cpsat", ["unplaced", "cost"])
    with pytest.raises(FeatureUnsupported):
        solvers.pareto(DEVICES, "ga", ["unplaced", "cost"], generations=2)


def test_auto_picks_the_greedy_and_the_greedy_handles_everything():
    assert solvers.choose(DEVICES, "auto") == "greedy"
    assert solvers.choose(SPREAD, "auto") == "greedy"
    refuse_unhandled(DEVICES, "greedy")  # no exception


def test_cli_refusal_is_one_line_and_exit_2():
    path = EXAMPLES / "gpu-cluster.yaml"
    result = cli("solve", str(path), "-s", "cpsat")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "-s cpsat does not handle `devices` or `same_start` or `service` or `spread` "
        "yet (-s greedy does)\n"
    )
    auto = cli("solve", str(path))
    assert auto.exit_code == 0, auto.stderr
    assert auto.stderr.startswith("greedy: feasible")


def test_current_lists_need_nothing_new_from_the_exact_engine():
    """`current` is the union of the list's entries, which is what every engine compares with."""
    p = prob(
        [node("n", {"cpu": 4}, count=3)],
        [task("api", {"cpu": 3}, replicas=2, current=["n-2", "n-3"])],
        objective={"lexicographic": ["unplaced", "moves"]},
    )
    assert p.features == {"current_list"}
    result = solvers.solve(p, "cpsat", time_limit=10, deterministic=True)
    assert result.status == Status.OPTIMAL
    ev = evaluate(p, result.assignments)
    assert ev.feasible and ev.terms["moves"] == 0
