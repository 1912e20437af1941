"""What ``benchmarks/bench_ga.py`` prints when a run beats the value of known.csv: a new best
known, below it by so much, never a negative gap (the runs themselves are faked: no GA runs)."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_ga
from gapgen import generate, name_of


def _args(root: Path, what: str = "gap") -> argparse.Namespace:
    return argparse.Namespace(
        what=what,
        dir=str(root),
        set=None,
        budget=1.0,
        instances=None,
        limit=None,
        every=None,
        seeds="0,1",
        deterministic=True,
        no_peer=True,
        jobs=1,
    )


def test_a_run_better_than_known_csv_is_a_new_best_not_a_negative_gap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name = name_of("c", 5, 20, 0)
    (tmp_path / "instances").mkdir()
    (tmp_path / "instances" / name).write_text(generate("c", 5, 20, 0).text())
    (tmp_path / "known.csv").write_text(f"instance,known_value,bound\n{name},1000,\n")

    def runs(jobs: list[bench_ga.GapJob], n: int) -> Iterator[bench_ga.GaRun]:
        yield from [(990.0, "checked", 1.0, 1.0, 5), (1000.0, "checked", 1.0, 1.0, 5)]

    monkeypatch.setattr(bench_ga, "_run_gap_jobs", runs)
    bench_ga.run_gap(_args(tmp_path))
    out = capsys.readouterr().out
    assert not re.search(r"(^|[\s(:])-\d", out, re.M), out  # no negative figure
    row = next(line for line in out.splitlines() if line.startswith(name))
    assert "0.000   1.010" in row  # seed 0 is the best; seed 1 is 1.010 % above it
    assert "new best 990, below the best known 1000 by 1.000 %" in row
    assert "mean 0.505 %, max 1.010 %" in out
    assert f"1 new best known: {name} new best 990" in out


def test_best_known_takes_the_better_side_by_sense() -> None:
    assert bench_ga.best_known(100, [99, None, 101], "min") == 99
    assert bench_ga.best_known(100, [99, None, 101], "max") == 101
    assert bench_ga.best_known(100, [None], "min") == 100
    assert bench_ga.new_best(101, 100, "max") == (
        "new best 101, above the best known 100 by 1.000 %"
    )
