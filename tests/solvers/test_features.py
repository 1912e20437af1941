"""Until an engine learns revision 2, it refuses problems that use it (one line, exit 2) instead
of returning plans `check` would reject; `auto` picks an engine that handles them."""

from __future__ import annotations

import pytest

from taskalloc import solvers
from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.plan import Status
from taskalloc.problems.problem import load_problem
from taskalloc.solvers.features import HANDLED, FeatureUnsupported, refuse_unhandled, unhandled
from tests.helpers import EXAMPLES, cli, node, prob, task

#: engines that do not handle devices yet (cpsat does; mip and ga until they learn them)
REFUSING = [e for e in ("cpsat", "mip", "ga") if "devices" not in HANDLED[e]]

DEVICES = prob([node("g", {"gpu": 2}, devices={"gpu": 2})], [task("t", {"gpu": 0.5})])
SPREAD = prob(
    [node("n", {"cpu": 4}, count=2, labels={"zone": "a"})],
    [task("t", replicas=2, spread={"key": "zone"})],
)


@pytest.mark.parametrize("engine", REFUSING)
def test_engines_refuse_what_they_do_not_handle(engine):
    with pytest.raises(FeatureUnsupported) as exc:
        solvers.solve(DEVICES, engine, time_limit=5)
    assert str(exc.value) == f"engine {engine} does not handle `devices` yet (engine greedy does)"
    assert unhandled(SPREAD, engine) == ["spread"]


def test_pareto_and_export_refuse_too():
    if "devices" not in HANDLED["ga"]:
        with pytest.raises(FeatureUnsupported):
            solvers.pareto(DEVICES, "ga", ["unplaced", "cost"], generations=2)
    from taskalloc.solvers.mip.export import export_model

    if "devices" not in HANDLED["mip"]:
        with pytest.raises(FeatureUnsupported):
            export_model(DEVICES, "lp")


def test_auto_picks_cpsat_and_the_greedy_handles_everything():
    assert solvers.choose(DEVICES, "auto") == "cpsat"
    assert solvers.choose(SPREAD, "auto") == "cpsat"
    refuse_unhandled(DEVICES, "greedy")  # no exception
    refuse_unhandled(DEVICES, "cpsat")


@pytest.mark.parametrize("engine", REFUSING[-1:])
def test_cli_refusal_is_one_line_and_exit_2(engine):
    path = EXAMPLES / "gpu-cluster.yaml"
    result = cli("solve", str(path), "-s", engine)
    assert result.exit_code == 2
    assert result.stdout == ""
    missing = " or ".join(f"`{f}`" for f in unhandled(load_problem(str(path)), engine))
    assert result.stderr == f"-s {engine} does not handle {missing} yet (-s greedy does)\n"
    auto = cli("solve", str(path))
    assert auto.exit_code == 0, auto.stderr
    assert "cpsat: optimal" in auto.stderr


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
