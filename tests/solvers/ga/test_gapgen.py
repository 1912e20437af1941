"""The GAP generator of ``benchmarks/gapgen.py`` (types c, d, e by the published rules) and its
reference bound: the rules hold cell by cell, the statistics of each type come out as the rules
imply, the same seed gives the same instance, the text round-trips through ``read_gap``, and the
Lagrangian bound never exceeds the optimum (brute force on tiny instances)."""

from __future__ import annotations

import csv
import itertools
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from taskalloc.problems.importers import read_gap
from taskalloc.problems.problem import problem_from_dict
from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from gapgen import Gap, generate, lagrangian_bound, name_of, run_write, sizes, stats


def test_type_c_draws_uses_and_costs_uniformly_and_capacities_at_80_percent() -> None:
    g = generate("c", 10, 400, 0)
    assert (g.m, g.n) == (10, 400)
    assert g.w.min() == 5 and g.w.max() == 25
    assert g.c.min() == 10 and g.c.max() == 50
    assert np.array_equal(g.b, np.floor(0.8 * g.w.sum(axis=1) / 10))
    s = stats(g)
    assert abs(s["w_mean"] - 15) < 0.3 and abs(s["c_mean"] - 30) < 0.5
    assert abs(s["corr"]) < 0.05  # costs and uses drawn apart


def test_type_d_costs_fall_as_uses_grow() -> None:
    g = generate("d", 20, 400, 1)
    assert g.w.min() >= 1 and g.w.max() <= 100
    noise = g.c - (111 - g.w)
    assert noise.min() == -10 and noise.max() == 10
    assert abs(noise.mean()) < 0.3
    assert np.array_equal(g.b, np.floor(0.8 * g.w.sum(axis=1) / 20))
    assert stats(g)["corr"] < -0.97


def test_type_e_uses_are_exponential_and_costs_inverse() -> None:
    g = generate("e", 40, 400, 2)
    w, c = g.w, g.c
    assert w.min() >= 1
    # floor(1 - 10 ln U): P(w = k) = exp(-(k - 1) / 10) - exp(-k / 10)
    share1 = float((w == 1).mean())
    assert abs(share1 - (1 - math.exp(-0.1))) < 0.01
    assert abs(float(w.mean()) - 1 / (1 - math.exp(-0.1))) < 0.3  # geometric mean: 10.51
    # c = floor(1000 / w - 10 U): within ten units below 1000 / w
    gap = 1000.0 / w - c
    assert gap.min() >= 0 and gap.max() <= 11
    assert stats(g)["corr"] < -0.5
    share = np.floor(0.8 * w.sum(axis=1) / 40)
    assert np.array_equal(g.b, np.maximum(share, w.max(axis=1)))


def test_type_e_capacity_holds_the_largest_use_when_agents_have_few_jobs() -> None:
    # five jobs per agent (e20100's ratio): the 0.8 share alone is often below the largest use
    g = generate("e", 20, 100, 0)
    share = np.floor(0.8 * g.w.sum(axis=1) / 20)
    assert (g.b >= g.w.max(axis=1)).all()
    assert (g.b > share).any()
    assert stats(g)["b_by_max"] > 0
    # every job fits every agent alone
    assert (g.w <= g.b[:, None]).all()


def test_the_same_seed_gives_the_same_instance_and_others_differ() -> None:
    a, b = generate("d", 5, 50, 7), generate("d", 5, 50, 7)
    assert a.text() == b.text()
    assert generate("d", 5, 50, 8).text() != a.text()
    assert generate("e", 5, 50, 7).text() != a.text()  # the type seeds the generator too


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown GAP type"):
        generate("a", 5, 50, 0)
    with pytest.raises(ValueError, match="positive"):
        generate("c", 0, 50, 0)
    with pytest.raises(SystemExit, match="AGENTSxJOBS"):
        sizes("10x400,20-400")
    assert sizes("10x400, 80x1600") == [(10, 400), (80, 1600)]
    assert name_of("e", 80, 1600, 3) == "e80x1600s3"


def test_text_round_trips_through_the_gap_reader() -> None:
    g = generate("e", 5, 30, 3)
    assert Gap.parse(g.text()).text() == g.text()
    problem = problem_from_dict(read_gap(g.text(), "e5x30"), name="e5x30")
    assert len(problem.tasks) == 30 and len(problem.nodes) == 5


def _optimum(g: Gap) -> int:
    best = math.inf
    for agents in itertools.product(range(g.m), repeat=g.n):
        x = np.asarray(agents)
        if g.feasible(x):
            best = min(best, g.cost(x))
    return int(best)


@pytest.mark.parametrize(("kind", "seed"), [("c", 0), ("d", 1), ("d", 2), ("e", 3), ("e", 4)])
def test_the_lagrangian_bound_is_below_the_optimum_and_close_to_it(kind: str, seed: int) -> None:
    g = generate(kind, 3, 9, seed)
    opt = _optimum(g)
    bound = lagrangian_bound(g, float(opt))
    assert bound <= opt
    assert bound >= 0.9 * opt  # not a trivial bound: within 10 % on these


def test_write_lays_out_a_set_the_benchmark_reads(tmp_path: Path) -> None:
    import argparse

    out = tmp_path / "gen"
    run_write(argparse.Namespace(out=str(out), types="c,e", sizes="5x20", seed=1))
    files = sorted(p.name for p in (out / "instances").iterdir())
    assert files == ["c5x20s1", "e5x20s1"]
    assert (out / "instances" / "e5x20s1").read_text() == generate("e", 5, 20, 1).text()
    with open(out / "known.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["instance"] for r in rows] == ["c5x20s1", "e5x20s1"]
    # references already computed are kept when the set is written again
    rows[0]["known_value"], rows[0]["bound"] = "123", "120"
    with open(out / "known.csv", "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    run_write(argparse.Namespace(out=str(out), types="c,e", sizes="5x20", seed=1))
    with open(out / "known.csv") as fh:
        again = {r["instance"]: r for r in csv.DictReader(fh)}
    assert again["c5x20s1"]["known_value"] == "123" and again["c5x20s1"]["bound"] == "120"
