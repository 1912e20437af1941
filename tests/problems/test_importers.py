"""Importers of benchmark formats (GAP, PSPLIB .sm, job shop); `taskalloc import` is tested in
tests/cli/test_import.py.

Tiny hand-made instances (tests/data/import/) are imported, validated, checked field by field
and solved by brute force twice: on the instance's own data (against a value computed by hand)
and through taskalloc's evaluator on every enumerated plan, which must agree on feasibility and
objective. Malformed texts must fail with the exact line and column. One test imports every
instance of the shared benchmark sets (read in place, never copied) when they are present.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.importers import (
    FORMATS,
    import_file,
    read_gap,
    read_jobshop,
    read_psplib,
)
from taskalloc.problems.plan import Assignment
from taskalloc.problems.problem import Problem, problem_from_dict
from taskalloc.problems.source import InputError
from tests.helpers import DATA as TESTS_DATA
from tests.helpers import NO_SHARED, SHARED

DATA = TESTS_DATA / "import"
BENCH = SHARED / "benchmarks" if SHARED else DATA / "no-shared-benchmarks"
ID = re.compile(r"[A-Za-z0-9_.:/-]+")
KEY_ORDER = ["taskalloc", "name", "horizon", "objective", "x-source", "nodes", "tasks"]

GAP_TEXT = (DATA / "tiny.gap").read_text()
SM_TEXT = (DATA / "tiny.sm").read_text()
JSS_TEXT = (DATA / "tiny.jss").read_text()

# The tiny instances, as written in the files (and what was worked out by hand).
GAP_C = [[5, 8, 4], [6, 3, 7]]
GAP_W = [[3, 4, 2], [2, 3, 5]]
GAP_B = [6, 7]
GAP_MIN_COST = 12  # jobs 1,3 on agent 1, job 2 on agent 2
GAP_MAX_PROFIT = 21  # job 2 on agent 1, jobs 1,3 on agent 2

SM_DUR = {1: 0, 2: 3, 3: 2, 4: 2, 5: 4, 6: 0}
SM_REQ = {1: (0, 0), 2: (2, 0), 3: (2, 1), 4: (1, 1), 5: (0, 1), 6: (0, 0)}
SM_SUCC = {1: [2, 3], 2: [4], 3: [5], 4: [6], 5: [6], 6: []}
SM_CAP = (3, 1)
SM_MAKESPAN = 8  # 3 [0,2), 2 [2,5), 5 [2,6), 4 [6,8)

JSS_JOBS = [[(0, 3), (1, 2)], [(1, 4), (0, 1)]]  # (machine, duration) in order
JSS_MAKESPAN = 6  # machine 1 carries 4 + 2 and job 1 must start there


def compiled(data: dict[str, Any]) -> Problem:
    problem = problem_from_dict(data, str(data["name"]))
    assert not problem.warnings, [str(w) for w in problem.warnings]
    return problem


def assert_ids(data: dict[str, Any]) -> None:
    assert list(data) == [k for k in KEY_ORDER if k in data]
    for n in data["nodes"]:
        assert ID.fullmatch(n["id"]), n["id"]
        assert all(ID.fullmatch(r) for r in n["capacity"])
    for t in data["tasks"]:
        assert ID.fullmatch(t["id"]), t["id"]
        assert all(ID.fullmatch(x) for x in [*t.get("after", []), *t.get("nodes", [])])


def located(exc: pytest.ExceptionInfo[InputError]) -> tuple[str, int | None, int | None, str]:
    (d,) = exc.value.diagnostics
    return d.file, d.line, d.column, d.message


def replace_line(text: str, lineno: int, new: str | None) -> str:
    """``text`` with line ``lineno`` (1-based) replaced by ``new`` (dropped when None)."""
    lines = text.splitlines()
    if new is None:
        del lines[lineno - 1]
    else:
        lines[lineno - 1] = new
    return "\n".join(lines) + "\n"


# -- brute force ---------------------------------------------------------------------------------


def gap_brute_force(c: Sequence[Sequence[int]], w: Sequence[Sequence[int]], b: Sequence[int]):
    """Every assignment of jobs to agents: (agent per job, feasible, sum of c)."""
    m, n = len(c), len(c[0])
    for agents in itertools.product(range(m), repeat=n):
        load = [0] * m
        for j, i in enumerate(agents):
            load[i] += w[i][j]
        ok = all(load[i] <= b[i] for i in range(m))
        yield agents, ok, sum(c[i][j] for j, i in enumerate(agents))


def schedule_ok(
    starts: Sequence[int],
    dur: Sequence[int],
    req: Sequence[Sequence[int]],
    cap: Sequence[int],
    preds: Sequence[Sequence[int]],
    horizon: int | None = None,
) -> bool:
    """Precedences (finish to start), the horizon and capacities at every instant."""
    if any(starts[i] < starts[p] + dur[p] for i in range(len(dur)) for p in preds[i]):
        return False
    end = max(s + d for s, d in zip(starts, dur, strict=True))
    if horizon is not None and end > horizon:
        return False
    for t in range(end):
        running = [i for i in range(len(dur)) if starts[i] <= t < starts[i] + dur[i]]
        for r, q in enumerate(cap):
            if sum(req[i][r] for i in running) > q:
                return False
    return True


def schedules(n: int, window: int) -> Any:
    return itertools.product(range(window), repeat=n)


def plan_agrees(
    problem: Problem,
    assignments: list[Assignment],
    feasible: bool,
    term: str,
    value: float,
) -> None:
    ev = evaluate(problem, assignments, reasons=False)
    assert ev.feasible == feasible, (assignments, [v.message for v in ev.violations])
    if feasible:
        assert ev.objective[term] == value


# -- GAP -----------------------------------------------------------------------------------------


def test_gap_structure():
    data = read_gap(GAP_TEXT, "tests/data/import/tiny.gap")
    assert_ids(data)
    assert data["name"] == "tiny.gap"  # no known suffix is stripped
    assert data["objective"] == {"lexicographic": ["cost"]}
    assert data["x-source"] == {
        "format": "gap",
        "file": "tiny.gap",
        "agents": 2,
        "jobs": 3,
        "sense": "min",
    }
    assert data["nodes"] == [
        {"id": "a1", "capacity": {"cap": 6}},
        {"id": "a2", "capacity": {"cap": 7}},
    ]
    assert [t["id"] for t in data["tasks"]] == ["j1", "j2", "j3"]
    for j, t in enumerate(data["tasks"]):
        assert t["demand"] == {}
        assert "required" not in t  # required by default
        assert t["demand_on"] == {"a1": {"cap": GAP_W[0][j]}, "a2": {"cap": GAP_W[1][j]}}
        assert t["assign_cost"] == {"a1": GAP_C[0][j], "a2": GAP_C[1][j]}
    problem = compiled(data)
    assert not problem.scheduling
    # empty default demand + demand_on on every node: each agent sees its own w[i][j]
    assert problem.tasks[0].demand_at(problem.node_index["a2"]) == {"cap": 2}
    assert all(t.required and len(t.allowed) == 2 for t in problem.tasks)


def test_gap_min_brute_force():
    results = list(gap_brute_force(GAP_C, GAP_W, GAP_B))
    best = min(cost for _, ok, cost in results if ok)
    assert best == GAP_MIN_COST
    problem = compiled(read_gap(GAP_TEXT, "tiny.gap"))
    for agents, ok, cost in results:
        plan = [Assignment(f"j{j + 1}", 0, f"a{i + 1}") for j, i in enumerate(agents)]
        plan_agrees(problem, plan, ok, "cost", cost)


def test_gap_max_sense_offset_recovers_profit():
    data = read_gap(GAP_TEXT, "tiny.gap", sense="max")
    src = data["x-source"]
    big = max(map(max, GAP_C)) + 1
    assert (src["sense"], src["P"], src["offset"]) == ("max", big, 3 * big)
    assert data["tasks"][1]["assign_cost"] == {"a1": big - 8, "a2": big - 3}
    assert all(v >= 1 for t in data["tasks"] for v in t["assign_cost"].values())
    results = list(gap_brute_force(GAP_C, GAP_W, GAP_B))
    assert max(profit for _, ok, profit in results if ok) == GAP_MAX_PROFIT
    problem = compiled(data)
    costs = []
    for agents, ok, profit in results:
        plan = [Assignment(f"j{j + 1}", 0, f"a{i + 1}") for j, i in enumerate(agents)]
        plan_agrees(problem, plan, ok, "cost", src["offset"] - profit)
        if ok:
            costs.append(evaluate(problem, plan, reasons=False).objective["cost"])
    assert src["offset"] - min(costs) == GAP_MAX_PROFIT


def test_gap_numbers_may_wrap_across_lines():
    """Chu & Beasley files wrap rows; only the order of the numbers counts."""
    numbers = GAP_TEXT.split()
    wrapped = "\n".join(" ".join(numbers[k : k + 4]) for k in range(0, len(numbers), 4))
    assert read_gap(wrapped, "tiny.gap") == read_gap(GAP_TEXT, "tiny.gap")
    assert read_gap("\ufeff" + GAP_TEXT.replace("\n", "\r\n"), "tiny.gap")["nodes"]


@pytest.mark.parametrize(
    ("text", "line", "col", "message"),
    [
        (replace_line(GAP_TEXT, 3, " 6 x 7"), 3, 4, "expected an integer (cost c[2][2]"),
        (replace_line(GAP_TEXT, 4, " 3 4.5 2"), 4, 4, "expected an integer (use w[1][2]"),
        (replace_line(GAP_TEXT, 6, None), 5, 7, "file ends early: expected capacity b[1]"),
        (replace_line(GAP_TEXT, 6, " 6"), 6, 3, "file ends early: expected capacity b[2]"),
        (replace_line(GAP_TEXT, 6, " 6 7 9"), 6, 6, "unexpected '9' after the end"),
        (replace_line(GAP_TEXT, 6, " 6 -7"), 6, 4, "capacity b[2] of agent 2 must be >= 0"),
        (replace_line(GAP_TEXT, 1, " 0 3"), 1, 2, "number of agents m must be positive"),
        (replace_line(GAP_TEXT, 1, " 2 three"), 1, 4, "expected an integer (the number of jobs"),
        ("", 1, 1, "the file is empty"),
    ],
    ids=[
        "letter",
        "decimal",
        "truncated",
        "short-row",
        "trailing",
        "negative",
        "m0",
        "header",
        "empty",
    ],
)
def test_gap_malformed(text, line, col, message):
    with pytest.raises(InputError) as exc:
        read_gap(text, "bad.gap")
    file, got_line, got_col, got = located(exc)
    assert (file, got_line, got_col) == ("bad.gap", line, col), got
    assert message in got


def test_gap_header_error_reads_as_expected():
    with pytest.raises(InputError) as exc:
        read_gap(replace_line(GAP_TEXT, 2, " 5 8 four"), "bad.gap")
    assert str(exc.value) == (
        "bad.gap:2:6: costs: expected an integer (cost c[1][3] of job 3 on agent 1), got 'four'"
    )


def test_gap_rejects_an_unknown_sense():
    with pytest.raises(ValueError, match="sense"):
        read_gap(GAP_TEXT, "tiny.gap", sense="maximise")


# -- PSPLIB --------------------------------------------------------------------------------------


def test_psplib_structure_drops_the_dummies():
    data = read_psplib(SM_TEXT, "some/dir/tiny.sm")
    assert_ids(data)
    assert data["name"] == "tiny"
    assert data["horizon"] == 11
    assert data["objective"] == {"lexicographic": ["makespan"]}
    assert data["x-source"]["dropped"] == [1, 6]
    assert data["x-source"]["file"] == "tiny.sm"
    assert data["nodes"] == [{"id": "site", "capacity": {"R1": 3, "R2": 1}}]
    assert data["tasks"] == [
        {"id": "j2", "duration": 3, "demand": {"R1": 2}},
        {"id": "j3", "duration": 2, "demand": {"R1": 2, "R2": 1}},
        {"id": "j4", "duration": 2, "demand": {"R1": 1, "R2": 1}, "after": ["j2"]},
        {"id": "j5", "duration": 4, "demand": {"R2": 1}, "after": ["j3"]},
    ]
    problem = compiled(data)
    assert problem.scheduling and problem.horizon == 11


def test_psplib_brute_force_makespan():
    jobs = [2, 3, 4, 5]  # the real activities; the dummies take no time and nothing
    dur = [SM_DUR[j] for j in jobs]
    req = [SM_REQ[j] for j in jobs]
    preds = [[jobs.index(p) for p in jobs if j in SM_SUCC[p]] for j in jobs]
    problem = compiled(read_psplib(SM_TEXT, "tiny.sm"))
    best = None
    for starts in schedules(len(jobs), 9):
        ok = schedule_ok(starts, dur, req, SM_CAP, preds, horizon=11)
        makespan = max(s + d for s, d in zip(starts, dur, strict=True))
        if ok and (best is None or makespan < best):
            best = makespan
        plan = [
            Assignment(f"j{j}", 0, "site", s, s + d)
            for j, s, d in zip(jobs, starts, dur, strict=True)
        ]
        plan_agrees(problem, plan, ok, "makespan", makespan)
    assert best == SM_MAKESPAN


def test_psplib_keeps_a_first_job_that_is_not_a_dummy():
    text = SM_TEXT.replace("  1      1     0       0    0", "  1      1     1       0    0")
    data = read_psplib(text, "tiny.sm")
    assert data["x-source"]["dropped"] == [6]
    ids = {t["id"]: t for t in data["tasks"]}
    assert ids["j1"]["duration"] == 1
    assert ids["j1"]["demand"] == {}
    assert ids["j2"]["after"] == ["j1"]
    compiled(data)


def test_psplib_without_horizon_has_none():
    data = read_psplib(replace_line(SM_TEXT, 7, None), "tiny.sm")
    assert "horizon" not in data
    compiled(data)


# line numbers of tiny.sm: 6 jobs, 9 renewable, 10 nonrenewable, 17 PRECEDENCE RELATIONS,
# 19-24 precedence rows, 25 stars, 29-34 request rows, 38 capacities, 39 stars (72 wide)
@pytest.mark.parametrize(
    ("line_no", "new", "line", "col", "message"),
    [
        (20, "   2        1          1           x", 20, 36, "expected an integer"),
        (20, "   2        1          2           4", 20, 24, "announces 2 successors but lists 1"),
        (20, "   2        1          1           9", 20, 36, "job 9, which is not in 1..6"),
        (20, "   2        1          1           2", 20, 36, "lists itself as a successor"),
        (20, "   2        2          1           4", 20, 13, "2 modes; only single-mode"),
        (20, "   3        1          1           5", 21, 4, "job 3 is listed twice"),
        (24, None, 24, 1, "5 of 6 jobs listed; job 6 is missing"),
        (24, "   6        1          1           1", 19, 1, "precedence cycle"),
        (31, "  3      1     2       2", 31, 1, "expected 5 numbers (job, mode, duration"),
        (31, "  3      1     2       2   -1", 31, 28, "request for R2 must be >= 0"),
        (31, "  3      1     two     2    1", 31, 16, "expected an integer (duration)"),
        (38, "    3", 38, 1, "expected 2 capacities, got 1"),
        (6, "jobs (incl. supersource/sink ):  six", 6, 34, "expected an integer (number of jobs)"),
        (6, "jobs (incl. supersource/sink ):  7", 25, 1, "6 of 7 jobs listed; job 7 is missing"),
        (9, "  - renewable                 :  3   R", 29, 1, "expected 6 numbers"),
        (10, "  - nonrenewable              :  1   N", 10, 1, "nonrenewable resources are not"),
        (6, None, 16, 1, "missing header line 'jobs : ...'"),
        (17, "PRECEDENCES:", 39, 73, "missing section 'PRECEDENCE RELATIONS:'"),
    ],
)
def test_psplib_malformed(line_no, new, line, col, message):
    with pytest.raises(InputError) as exc:
        read_psplib(replace_line(SM_TEXT, line_no, new), "bad.sm")
    file, got_line, got_col, got = located(exc)
    assert (file, got_line, got_col) == ("bad.sm", line, col), got
    assert message in got


def test_psplib_truncated_file():
    text = "\n".join(SM_TEXT.splitlines()[:31]) + "\n"  # ends inside REQUESTS/DURATIONS
    with pytest.raises(InputError) as exc:
        read_psplib(text, "bad.sm")
    assert located(exc)[1:3] == (31, 30)
    assert "3 of 6 jobs listed; job 4 is missing" in located(exc)[3]
    with pytest.raises(InputError, match=r"bad\.sm:1:1: the file is empty"):
        read_psplib("\n\n", "bad.sm")


# -- job shop ------------------------------------------------------------------------------------


def test_jobshop_structure():
    data = read_jobshop(JSS_TEXT, "tiny.jss")
    assert_ids(data)
    assert data["name"] == "tiny"
    assert "horizon" not in data
    assert data["objective"] == {"lexicographic": ["makespan"]}
    assert data["x-source"] == {"format": "jobshop", "file": "tiny.jss", "jobs": 2, "machines": 2}
    assert data["nodes"] == [
        {"id": "m0", "capacity": {"slot": 1}},
        {"id": "m1", "capacity": {"slot": 1}},
    ]
    assert data["tasks"] == [
        {"id": "j0-o0", "demand": {"slot": 1}, "nodes": ["m0"], "duration": 3},
        {"id": "j0-o1", "demand": {"slot": 1}, "nodes": ["m1"], "duration": 2, "after": ["j0-o0"]},
        {"id": "j1-o0", "demand": {"slot": 1}, "nodes": ["m1"], "duration": 4},
        {"id": "j1-o1", "demand": {"slot": 1}, "nodes": ["m0"], "duration": 1, "after": ["j1-o0"]},
    ]
    compiled(data)


def test_jobshop_brute_force_makespan():
    ops = [(j, o, m, d) for j, job in enumerate(JSS_JOBS) for o, (m, d) in enumerate(job)]
    dur = [d for *_, d in ops]
    req = [tuple(int(m == k) for k in range(2)) for _, _, m, _ in ops]
    preds = [[ops.index((j, o - 1, *JSS_JOBS[j][o - 1]))] if o else [] for j, o, _, _ in ops]
    problem = compiled(read_jobshop(JSS_TEXT, "tiny.jss"))
    best = None
    for starts in schedules(len(ops), 8):
        ok = schedule_ok(starts, dur, req, (1, 1), preds)
        makespan = max(s + d for s, d in zip(starts, dur, strict=True))
        if ok and (best is None or makespan < best):
            best = makespan
        plan = [
            Assignment(f"j{j}-o{o}", 0, f"m{m}", s, s + d)
            for (j, o, m, d), s in zip(ops, starts, strict=True)
        ]
        plan_agrees(problem, plan, ok, "makespan", makespan)
    assert best == JSS_MAKESPAN


# tiny.jss: lines 1-3 comments, 4 header, 5-6 jobs
@pytest.mark.parametrize(
    ("text", "line", "col", "message"),
    [
        (
            replace_line(JSS_TEXT, 5, "0 3 1 x"),
            5,
            7,
            "expected an integer (duration of operation 1)",
        ),
        (replace_line(JSS_TEXT, 5, "0 3 1"), 5, 1, "expected 4 numbers (2 machine-duration pairs)"),
        (replace_line(JSS_TEXT, 6, "2 4 0 1"), 6, 1, "machine 2 is not in 0..1"),
        (replace_line(JSS_TEXT, 6, "1 4 0 -1"), 6, 7, "duration of operation 1 must be >= 0"),
        (replace_line(JSS_TEXT, 6, None), 5, 8, "the file ends early: 1 of 2 job lines"),
        (JSS_TEXT + "# more\n1 1 0 1\n", 8, 1, "unexpected data after the 2 job lines"),
        (replace_line(JSS_TEXT, 4, "2 2 2"), 4, 1, "expected 'n_jobs n_machines'"),
        (replace_line(JSS_TEXT, 4, "2 zero"), 4, 3, "expected an integer (number of machines)"),
        (replace_line(JSS_TEXT, 4, "0 2"), 4, 1, "number of jobs must be positive"),
        ("# nothing\n\n", 1, 1, "no data"),
    ],
    ids=[
        "letter",
        "odd",
        "machine",
        "negative",
        "truncated",
        "trailing",
        "header",
        "header-word",
        "no-jobs",
        "empty",
    ],
)
def test_jobshop_malformed(text, line, col, message):
    with pytest.raises(InputError) as exc:
        read_jobshop(text, "bad.jss")
    file, got_line, got_col, got = located(exc)
    assert (file, got_line, got_col) == ("bad.jss", line, col), got
    assert message in got


# -- import_file ---------------------------------------------------------------------------------


def test_import_file_from_path_and_stdin(monkeypatch):
    path = str(DATA / "tiny.jss")
    assert import_file("jobshop", path) == read_jobshop(JSS_TEXT, path)
    stdin = io.TextIOWrapper(io.BytesIO(SM_TEXT.encode()))
    monkeypatch.setattr(sys, "stdin", stdin)
    data = import_file("psplib", "-")
    assert data["name"] == "stdin" and data["x-source"]["file"] == "<stdin>"
    assert data["tasks"] == read_psplib(SM_TEXT, "tiny.sm")["tasks"]
    assert import_file("gap", str(DATA / "tiny.gap"), sense="max")["x-source"]["sense"] == "max"
    assert set(FORMATS) == {"gap", "psplib", "jobshop"}


def test_import_file_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown format"):
        import_file("mps", str(DATA / "tiny.gap"))
    with pytest.raises(ValueError, match="gap format only"):
        import_file("jobshop", str(DATA / "tiny.jss"), sense="max")
    with pytest.raises(InputError, match="no such file"):
        import_file("gap", str(tmp_path / "missing.gap"))
    bad = tmp_path / "latin1.gap"
    bad.write_bytes(b"2 3\n\xe9\n")
    with pytest.raises(InputError, match="not UTF-8"):
        import_file("gap", str(bad))


# -- every shared benchmark instance ------------------------------------------------------------

SETS = [
    ("gap_orlib", "gap", "max"),  # known.csv: OR-Library's max profits
    ("gap_chu_beasley", "gap", None),
    ("psplib_j30", "psplib", None),
    ("jobshop", "jobshop", None),
]


def _known(path: Path) -> dict[str, int]:
    with path.open(newline="") as f:
        return {row["instance"]: int(row["known_value"]) for row in csv.DictReader(f)}


def _critical_path(data: dict[str, Any]) -> int:
    end: dict[str, int] = {}
    for t in data["tasks"]:  # the importers list every task after its predecessors
        end[t["id"]] = max((end[p] for p in t.get("after", [])), default=0) + t["duration"]
    return max(end.values())


def _gap_checks(data: dict[str, Any], known: int, sense: str) -> None:
    least = sum(min(t["assign_cost"].values()) for t in data["tasks"])
    if sense == "max":  # max profit = offset - min cost, and min cost >= sum of the cheapest
        assert data["x-source"]["offset"] - known >= least
    else:
        assert known >= least


def _psplib_checks(data: dict[str, Any], known: int) -> None:
    assert _critical_path(data) <= known <= data["horizon"], data["name"]


def _jobshop_checks(data: dict[str, Any], known: int) -> None:
    load: dict[str, int] = {}
    for t in data["tasks"]:
        load[t["nodes"][0]] = load.get(t["nodes"][0], 0) + t["duration"]
    assert max(_critical_path(data), *load.values()) <= known, data["name"]


SANITY: dict[str, Callable[[dict[str, Any], int], None]] = {
    "gap_orlib": lambda d, k: _gap_checks(d, k, "max"),
    "gap_chu_beasley": lambda d, k: _gap_checks(d, k, "min"),
    "psplib_j30": _psplib_checks,
    "jobshop": _jobshop_checks,
}


@pytest.mark.skipif(not BENCH.is_dir(), reason=f"no shared benchmarks: {NO_SHARED}")
def test_every_benchmark_instance_imports_and_validates():
    total = 0
    start = time.perf_counter()
    for set_name, kind, sense in SETS:
        root = BENCH / set_name
        known = _known(root / "known.csv")
        files = sorted(p for p in (root / "instances").iterdir() if p.is_file())
        assert len(files) == len(known), set_name
        names = set()
        for path in files:
            data = import_file(kind, str(path), sense=sense)
            assert_ids(data)
            problem = compiled(data)
            assert data["name"] in known, (set_name, path.name)
            names.add(data["name"])
            SANITY[set_name](data, known[data["name"]])
            if kind == "gap":
                m, n = data["x-source"]["agents"], data["x-source"]["jobs"]
                assert (len(problem.nodes), len(problem.tasks)) == (m, n)
            total += 1
        assert names == set(known), set_name
    known_min = _known(BENCH / "gap_orlib" / "known_min.csv")
    assert set(known_min) == set(_known(BENCH / "gap_orlib" / "known.csv"))
    for name, value in known_min.items():
        data = import_file("gap", str(BENCH / "gap_orlib" / "instances" / name))
        _gap_checks(data, value, "min")
    assert total == 226
    elapsed = time.perf_counter() - start
    assert elapsed < 60, f"importing {total} instances took {elapsed:.1f} s"
