"""What ``solve --pareto`` says about a front the table alone leaves open."""

from __future__ import annotations

from pathlib import Path

from taskalloc.problems.compiler import load_problem
from taskalloc.solvers import pareto
from tests.helpers import EXAMPLES, cli

FLEET = EXAMPLES / "inference-fleet.yaml"


def test_a_one_point_front_says_the_terms_do_not_conflict(tmp_path: Path) -> None:
    # cost alone and balance alone both reach the values of the one point (53.8 and 1 on this
    # example): the single point is the truth, and the output says why
    # deterministic: with 2 workers under load the tie-break's share of the limit may end
    # before it has placed every optional task it could (3, 5 or 6 left out, seen under load)
    r = cli(
        "solve", str(FLEET), "-s", "cpsat", "--pareto", "cost,balance", "--deterministic",
        "--out-dir", str(tmp_path),
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    said = " ".join(r.stderr.split())
    assert "one point (cost=53.8, balance=1)" in said
    assert "cost and balance do not conflict on this problem" in said
    # the front weighs only its terms: the optional tasks it leaves out are named as such
    assert "the front weighs only cost,balance; optional tasks only break ties" in said
    # of the plans of the point, one that places all it can: 2 left out (6 before ties were
    # broken, though 4 of them fit at no cost in cost and balance)
    assert "plan 1 leaves 2 optional tasks out" in said
    assert "add unplaced to --pareto" in said
    assert "the least cost also has the least balance" in said


def test_count_terms_read_fewest(tmp_path: Path) -> None:
    r = cli(
        "solve", str(FLEET), "-s", "cpsat", "--pareto", "cost,nodes", "--out-dir", str(tmp_path)
    )
    assert r.exit_code == 0, r.stderr
    assert "the least cost also has the fewest nodes" in " ".join(r.stderr.split())


def test_a_front_with_unplaced_as_a_term_has_no_such_notes(tmp_path: Path) -> None:
    r = cli(
        "solve", str(FLEET), "-s", "cpsat", "--pareto", "unplaced,cost", "--out-dir", str(tmp_path)
    )
    assert r.exit_code == 0, r.stderr
    assert "one point" not in r.stderr
    assert "the front weighs only" not in r.stderr


def test_coinciding_proven_extremes_make_a_complete_front_also_with_points() -> None:
    problem = load_problem(str(FLEET))
    results = pareto(problem, "cpsat", ["cost", "balance"], points=3, seed=0, workers=1)
    assert len(results) == 1
    assert results[0].options["pareto"]["complete"] is True
