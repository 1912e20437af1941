"""The list thread's load-independent proxy (``benchmarks/bench_listthread.py``): the same
seed repeats the same trail (steps and deterministic time, not seconds), the trail never gets
worse, and a constant that does not exist is refused in one line."""

from __future__ import annotations

import sys

import pytest

from taskalloc.problems.importers import import_file
from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_listthread import build, main, run


def test_a_seed_repeats_its_trail_and_the_trail_never_worsens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from taskalloc.solvers.cpsat import hybrid

    monkeypatch.setattr(hybrid, "LNS_DTIME", 0.05)
    data = import_file("psplib", str(ROOT / "tests" / "data" / "import" / "tiny.sm"))
    tl = build(data, "tiny")
    first = run(tl, seed=3, init=40, rounds=2, between=10)
    assert len(first) == 3
    assert first == sorted(first, reverse=True)
    assert run(tl, seed=3, init=40, rounds=2, between=10) == first


def test_an_unknown_constant_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["bench_listthread.py", "--const", "hybrid.NO_SUCH=1"])
    with pytest.raises(SystemExit, match=r"no constant hybrid\.NO_SUCH"):
        main()
