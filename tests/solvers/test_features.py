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

DEVICES = prob([node("g", {"gpu": 2}, devices={"gpu": 2})], [task("t", {"gpu": 0.5})])
SPREAD = prob(
    [node("n", {"cpu": 4}, count=2, labels={"zone": "a"})],
    [task("t", replicas=2, spread={"key": "zone"})],
)


#: every revision-2 feature at once: what a general engine must handle
EVERYTHING = frozenset({"devices", "same_start", "service", "spread", "current_list", "max_moves"})


@pytest.mark.parametrize("engine", ["greedy", "cpsat", "mip", "ga"])
def test_every_general_engine_handles_all_of_revision_2(engine):
    assert HANDLED[engine] == EVERYTHING
    refuse_unhandled(DEVICES, engine)  # no exception
    refuse_unhandled(SPREAD, engine)


def test_an_engine_refuses_what_it_does_not_handle():
    """devplan models devices in placement, not spread: it says so in one line."""
    with pytest.raises(FeatureUnsupported) as exc:
        refuse_unhandled(SPREAD, "devplan")
    assert str(exc.value) == "engine devplan does not handle `spread` yet (engine greedy does)"
    assert unhandled(DEVICES, "devplan") == []


def test_auto_picks_cpsat_for_revision_2():
    assert solvers.choose(DEVICES, "auto") == "cpsat"
    assert solvers.choose(SPREAD, "auto") == "cpsat"


def test_cli_refusal_is_one_line_and_exit_2():
    path = EXAMPLES / "gpu-cluster.yaml"
    missing = unhandled(load_problem(str(path)), "devplan")
    assert missing  # the bundled example uses more than devices
    result = cli("solve", str(path), "-s", "devplan")
    assert result.exit_code == 2
    assert result.stdout == ""
    words = " or ".join(f"`{f}`" for f in missing)
    assert result.stderr == f"-s devplan does not handle {words} yet (-s greedy does)\n"
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
