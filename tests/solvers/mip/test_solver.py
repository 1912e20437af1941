"""Tests particular to the MILP engine (-s mip): model structure, options and timing, hints,
interrupts, backend quirks, export to LP/MPS and back, the Pyomo-solver path, and the CLI. The
constraint families and the brute-force property run on every OR-Tools backend in
test_backends.py.

Every plan with status optimal/feasible is checked by the evaluator (:func:`run`).
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from typer.testing import CliRunner

from taskalloc.cli.app import app
from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.generate import generate
from taskalloc.problems.plan import Assignment, Status
from taskalloc.problems.problem import Problem, problem_from_dict
from taskalloc.solvers import SolverUnavailable
from taskalloc.solvers import solve as registry_solve
from taskalloc.solvers.engine import OptionError
from taskalloc.solvers.mip import MipRefused, build_model, solve
from taskalloc.solvers.mip.backends import OPTION_NAMES, check_backend, linear_terms
from taskalloc.solvers.mip.export import export_model
from taskalloc.solvers.result import Result
from tests.helpers import EXAMPLES, prob_dict, write_problem
from tests.solving import (
    brute_force,
    lex,
    make,
    node,
    random_gap,
    sched_nodes,
    sched_tasks,
    task,
    terms,
    tiny_problems,
)

LIMIT = 20.0  # seconds per solve; every instance here is solved and proved far faster
ORTOOLS = ("ortools-scip", "ortools-highs", "ortools-cpsat")


def check(problem: Problem, result: Result) -> Result:
    """A plan claimed feasible or optimal must satisfy every constraint."""
    assert result.solver == "mip"
    if result.status in (Status.OPTIMAL, Status.FEASIBLE):
        ev = evaluate(problem, result.assignments)
        assert ev.feasible, [v.message for v in ev.violations]
    elif result.status == Status.INFEASIBLE:
        assert result.assignments == []
    return result


def run(problem: Problem, backend: str = "ortools-scip", **options: Any) -> Result:
    options.setdefault("time_limit", LIMIT)
    return check(problem, solve(problem, backend=backend, **options))


# -- model structure -----------------------------------------------------------------------------


def test_separation_cliques() -> None:
    # an ensemble of three mutually separated tasks: one clique row per node (solved on every
    # engine in test_backends::test_separation)
    p = make(
        [node(f"n{i}", 10, cost=1) for i in range(3)],
        [task("e1"), task("e2", separate_from=["e1"]), task("e3", separate_from=["e1", "e2"])],
        **lex("nodes"),
    )
    model = build_model(p)
    assert model.cliques == [[0, 1, 2]]


def test_symmetry_classes_of_identical_pool_members() -> None:
    p = make(
        [node("n", 10, count=4)],
        [task(f"t{i}", c) for i, c in enumerate([3, 3, 3, 5, 5, 1])],
        **lex("nodes"),
    )
    model = build_model(p)
    assert model.classes == [[0, 1, 2, 3]]
    assert model.cand[0] == [0]  # the first task only on the first member


# -- scheduling (time-indexed) -------------------------------------------------------------------


def test_large_horizon_is_refused_with_a_pointer_to_cpsat() -> None:
    p = make([node("a", 10)], [task(f"t{i}", 1, duration=5) for i in range(20)], horizon=5000)
    with pytest.raises(MipRefused, match="engine cpsat"):
        solve(p)
    with pytest.raises(MipRefused):
        export_model(p, "lp")


# -- search behaviour ----------------------------------------------------------------------------


def test_options_bounds_and_timing_are_recorded() -> None:
    p = problem_from_dict(generate(tasks=25, nodes=6, seed=3))
    r = run(p, "ortools-scip", seed=3, gap=0.5)
    assert r.status in (Status.OPTIMAL, Status.FEASIBLE)
    opts = r.options
    assert opts["backend"] == "ortools-scip" and opts["gap"] == 0.5
    assert opts["applied"]["gap"] == "limits/gap=0.5"
    assert opts["applied"]["seed"] == "randomization/randomseedshift=3"
    assert {"build", "hand_off", "stages"} <= set(opts["seconds"])
    assert opts["model"]["variables"] > 0
    assert r.trajectory
    assert set(OPTION_NAMES) >= set(ORTOOLS) | {"gurobi", "cplex", "cbc", "glpk"}


def test_registry_dispatch_hint_and_unknown_options() -> None:
    p = make(
        [node("a", cost=5), node("b", cost=2), node("c", cost=2)],
        [task("t1", 6), task("t2", 6)],
    )
    hint = [Assignment("t1", 0, "a"), Assignment("t2", 0, "b")]
    with pytest.raises(OptionError, match="policy: not an option of engine mip"):
        registry_solve(p, "mip", hint=hint, time_limit=10, policy="best-fit")
    r = check(p, registry_solve(p, "mip", hint=hint, time_limit=10))
    assert r.status == Status.OPTIMAL
    assert r.options["warm_start"] == "hint"
    assert terms(p, r)["cost"] == 4


@pytest.mark.parametrize("gap", [1, 2, 100, -0.5])
def test_a_gap_outside_0_to_1_is_refused_before_any_solve(gap: float) -> None:
    """A relative gap of 1 or more is met by the first plan: `--gap 2` meant 2 %, and a run
    that stopped at once would hide the mistake."""
    p = make([node("a")], [task("t1", 6)])
    with pytest.raises(OptionError, match="gap: must be"):
        registry_solve(p, "mip", time_limit=10, gap=gap)


def test_the_cli_refuses_gap_2_in_one_line() -> None:
    from tests.helpers import cli

    r = cli("solve", str(EXAMPLES / "inference-fleet.yaml"), "-s", "mip", "--gap", "2")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr == (
        "--gap: must be below 1, not 2 (a fraction: 0.02 for 2 %; a gap of 1 or more stops "
        "at the first plan)\n"
    )


def test_stop_before_start_returns_the_warm_start() -> None:
    p = problem_from_dict(generate(tasks=30, nodes=8, seed=4))
    stop = threading.Event()
    stop.set()
    r = run(p, stop=stop)
    assert r.status == Status.FEASIBLE
    assert "stopped" in (r.message or "")


def stop_when_solving(
    monkeypatch: pytest.MonkeyPatch, stop: threading.Event, delay: float
) -> list[threading.Timer]:
    """Set ``stop`` ``delay`` seconds after the backend first hands a model to its solver (an
    event of the run, not a time since the call: the model build takes seconds under load).
    The timers started, to cancel; empty if no solver ran."""
    from taskalloc.solvers.mip import backends

    watching = backends._watching
    timers: list[threading.Timer] = []

    @contextlib.contextmanager
    def solving(event: threading.Event | None, interrupt: Any) -> Iterator[None]:
        if not timers:
            timers.append(threading.Timer(delay, stop.set))
            timers[0].start()
        with watching(event, interrupt):
            yield

    monkeypatch.setattr(backends, "_watching", solving)
    return timers


@pytest.mark.parametrize("delay", [0.0, 0.5])
def test_stop_interrupts_scip(delay: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stop that comes while SCIP runs (``delay`` seconds after the backend hands it the
    model: 0 is as it starts, when OR-Tools is still copying the model in) ends the search with
    the best plan so far, long before the 60 s limit (an interrupt SCIP missed ran to it)."""
    data = generate(tasks=300, nodes=40, seed=2)
    data["objective"] = {"lexicographic": ["unplaced", "nodes"]}  # not proven in 15 s
    p = problem_from_dict(data)
    stop = threading.Event()
    timers = stop_when_solving(monkeypatch, stop, delay)
    try:
        r = run(p, stop=stop, time_limit=60)
    finally:
        for timer in timers:
            timer.cancel()
    assert timers, "SCIP never ran"
    assert r.status == Status.FEASIBLE
    assert "stopped" in (r.message or "")
    assert r.seconds < 30  # an interrupt SCIP missed runs to the 60 s limit


def test_default_backend_is_the_portfolio_for_integer_models() -> None:
    p = problem_from_dict(generate(tasks=25, nodes=6, seed=3))
    r = check(p, solve(p, time_limit=LIMIT))
    assert r.options["backend"] == "ortools-portfolio"
    assert {"threads (ortools-scip)", "threads (ortools-cpsat)"} <= set(r.options["applied"])
    assert r.options["applied"]["threads (ortools-cpsat)"] == "num_workers=2"
    assert check(p, solve(p, time_limit=LIMIT, workers=1)).options["backend"] == "ortools-scip"
    balanced = make([node("a", 3), node("b", 3)], [task("x", 1), task("y", 2)], **lex("balance"))
    r = check(balanced, solve(balanced, time_limit=LIMIT))
    assert r.options["backend"] == "ortools-scip" and r.status == Status.OPTIMAL
    with pytest.raises(MipRefused, match="continuous"):
        solve(balanced, backend="ortools-portfolio")


def test_stop_interrupts_the_portfolio(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = generate(tasks=300, nodes=40, seed=2)
    data["objective"] = {"lexicographic": ["unplaced", "nodes"]}  # not proven in 15 s
    p = problem_from_dict(data)
    stop = threading.Event()
    timers = stop_when_solving(monkeypatch, stop, 0.5)
    try:
        r = run(p, "ortools-portfolio", stop=stop, time_limit=60)
    finally:
        for timer in timers:
            timer.cancel()
    assert timers, "the portfolio never ran"
    assert r.status == Status.FEASIBLE
    assert "stopped" in (r.message or "")
    assert r.seconds < 30  # an interrupt missed runs to the 60 s limit
    out, _ = capfd.readouterr()
    assert out == ""  # both engines ran with file descriptor 1 on /dev/null, and it is back
    print("visible")
    assert capfd.readouterr().out == "visible\n"


def test_highs_keeps_its_incumbent_at_the_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """OR-Tools returns no solution when HiGHS stops a MIP at a limit (its time limit, or any
    other); the backend reads HiGHS's last improving solution instead of falling back to the
    warm start. HiGHS is stopped here at its first improving solution, a limit that does not
    depend on the machine's speed (a 3 s limit left HiGHS without a solution under load)."""
    from taskalloc.solvers.mip import backends

    extra = {**backends._EXTRA["ortools-highs"], "mip_max_improving_sols": "1"}
    monkeypatch.setitem(backends._EXTRA, "ortools-highs", extra)
    data = generate(tasks=60, nodes=12, seed=2)
    data["objective"] = {"lexicographic": ["unplaced", "nodes"]}
    p = problem_from_dict(data)
    r = run(p, "ortools-highs", time_limit=60)
    assert r.status == Status.FEASIBLE
    assert "nodes optimal" not in (r.message or "")  # HiGHS was stopped short of the proof
    assert "warm start" not in (r.message or "")
    assert r.bound is not None and r.bound["nodes"] >= 1


def test_stdout_stays_clean_with_highs(capfd: pytest.CaptureFixture[str]) -> None:
    run(problem_from_dict(generate(tasks=20, nodes=5, seed=6)), "ortools-highs")
    out, _ = capfd.readouterr()
    assert out == ""


def test_unavailable_backends_name_what_to_install() -> None:
    with pytest.raises(SolverUnavailable, match="pip install gurobipy"):
        check_backend("gurobi")
    with pytest.raises(SolverUnavailable, match="unknown backend 'ortools-foo'"):
        check_backend("ortools-foo")
    with pytest.raises(SolverUnavailable, match="unknown backend 'no-such-solver'"):
        check_backend("no-such-solver")


def test_linear_terms_reads_any_linear_expression() -> None:
    import pyomo.environ as pyo

    m = pyo.ConcreteModel()
    m.a = pyo.Var()
    m.b = pyo.Var()
    m.c = pyo.Var()
    m.c.fix(2)
    vs, cs, const = linear_terms(3 * (m.a + 2 * m.b) - m.a + 4 + m.c)
    assert dict(zip([v.name for v in vs], cs, strict=True)) == {"a": 2.0, "b": 6.0}
    assert const == 6.0
    with pytest.raises(ValueError, match="not linear"):
        linear_terms(m.a * m.b)


# -- Pyomo solvers (only where installed) --------------------------------------------------------

PYOMO_SOLVERS = [name for name, exe in (("cbc", "cbc"), ("glpk", "glpsol")) if shutil.which(exe)]


@pytest.mark.skipif(not PYOMO_SOLVERS, reason="neither cbc nor glpk is installed")
@pytest.mark.parametrize("name", PYOMO_SOLVERS)
def test_pyomo_solver_solution_is_read_back(name: str) -> None:
    p = make(
        [node("a", 10, cost=2), node("b", 6, cost=1)],
        [task("x", 6), task("y", 5, separate_from=["x"]), task("z", 4, required=False)],
        **lex("unplaced", "cost"),
    )
    r = run(p, name)
    assert r.status == Status.OPTIMAL
    assert terms(p, r)["unplaced"] == 0 and terms(p, r)["cost"] == 3
    p = make(sched_nodes(), sched_tasks(), horizon=10)
    r = run(p, name)
    assert r.status == Status.OPTIMAL and terms(p, r)["makespan"] == 4


# -- export --------------------------------------------------------------------------------------


def _export_problem() -> Problem:
    return make(
        [node("a100", 10, count=2, cost=2), node("cpu-1", 8, cost=1)],
        [
            task("train-llm", 6, replicas=2, priority=3),
            task("svc.x", 5, separate_from=["train-llm"], assign_cost={"cpu-1": 1}),
            task("etl", 3, required=False, priority=2),
        ],
        **lex("unplaced", "cost"),
    )


def _decode(problem: Problem, values: dict[str, float]) -> list[Assignment]:
    """Assignments from an MPS solution, by the readable names x[task#k,node]."""
    out = []
    for name, v in values.items():
        m = re.fullmatch(r"x\[(.+)#(\d+),(.+)\]", name)
        if m and v > 0.5:
            out.append(Assignment(m[1], int(m[2]), m[3]))
    return out


def test_export_mps_reimported_by_ortools_gives_the_same_optimum() -> None:
    from ortools.linear_solver.python import model_builder as mb

    p = _export_problem()
    best = run(p)
    assert best.status == Status.OPTIMAL
    fitness = evaluate(p, best.assignments).fitness
    exported = export_model(p, "mps")
    assert "x[train-llm#0,a100-1]" in exported.text
    model = mb.Model()
    assert model.import_from_mps_string(exported.text)  # check every import's return value
    assert model.num_variables == exported.variables + 1  # + Pyomo's ONE_VAR_CONSTANT
    solver = mb.Solver("scip")
    assert solver.solve(model) == mb.SolveStatus.OPTIMAL
    assert solver.objective_value == pytest.approx(fitness)
    values = {v.name: solver.value(v) for v in model.get_variables()}
    plan = _decode(p, values)
    ev = evaluate(p, plan)
    assert ev.feasible and ev.fitness == pytest.approx(fitness)


def parse_lp(text: str) -> Any:
    """A CPLEX LP file (the subset Pyomo writes: one objective, s.t., bounds, binary/general)
    as an OR-Tools model_builder model, parsed without Pyomo."""
    from ortools.linear_solver.python import model_builder as mb

    model = mb.Model()
    var: dict[str, Any] = {}

    def v(name: str) -> Any:
        if name not in var:
            var[name] = model.new_num_var(-1e30, 1e30, name)
        return var[name]

    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("\\")]
    section, objective, rows = "", None, []
    current: list[str] = []
    for ln in lines:
        low = ln.lower()
        if low in ("min", "max", "s.t.", "bounds", "binary", "general", "end"):
            section = low
            continue
        if section in ("min", "s.t."):
            if ln.endswith(":"):
                if current:
                    rows.append(current)
                current = [ln]
            else:
                current.append(ln)
        elif section == "bounds":
            parts = ln.split()
            if len(parts) == 5 and parts[1] == "<=" and parts[3] == "<=":
                x = v(parts[2])
                x.lower_bound, x.upper_bound = float(parts[0]), float(parts[4])
        elif section in ("binary", "general"):
            x = v(ln)
            x.is_integral = True
            if section == "binary":
                x.lower_bound, x.upper_bound = max(x.lower_bound, 0.0), min(x.upper_bound, 1.0)
    if current:
        rows.append(current)
    for row in rows:
        expr: Any = 0
        sense = rhs = None
        for item in row[1:]:
            parts = item.split()
            if parts[0] in ("<=", ">=", "="):
                sense, rhs = parts[0], float(parts[1])
            else:
                expr = expr + float(parts[0]) * v(parts[1])
        if sense is None:
            objective = expr
        elif sense == "<=":
            model.add(expr <= rhs)
        elif sense == ">=":
            model.add(expr >= rhs)
        else:
            model.add(expr == rhs)
    model.minimize(objective)
    return model


def test_export_lp_reparsed_gives_the_same_optimum() -> None:
    from ortools.linear_solver.python import model_builder as mb

    p = _export_problem()
    fitness = evaluate(p, run(p).assignments).fitness
    exported = export_model(p, "lp")
    assert "x(train_llm#0,a100_1)" in exported.text  # readable, with LP's legal characters
    model = parse_lp(exported.text)
    assert model.num_variables == exported.variables + 1
    solver = mb.Solver("scip")
    assert solver.solve(model) == mb.SolveStatus.OPTIMAL
    assert solver.objective_value == pytest.approx(fitness)
    cbc = shutil.which("cbc")
    if cbc is not None:  # an external solver reads the same file
        proc = subprocess.run(
            [cbc, "-import", "/dev/stdin", "solve", "quit"],
            input=exported.text,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        found = re.search(r"Objective value:\s+([-\d.e+]+)", proc.stdout)
        if found is not None:
            assert float(found[1]) == pytest.approx(fitness)


# -- CLI -----------------------------------------------------------------------------------------


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_cli_export_formats(tmp_path: Path) -> None:
    path = write_problem(
        tmp_path / "p.json",
        prob_dict(
            [node("a100", 10, count=2)],
            [task("train-llm", 6, replicas=2), task("svc", 2, required=False)],
        ),
    )
    lp = tmp_path / "m.lp"
    result = cli("export", str(path), "-o", str(lp))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "x(train_llm#1,a100_2)" in lp.read_text()
    assert "variables" in result.stderr and "model written to" in result.stderr
    result = cli("export", str(path), "--format", "mps")
    assert result.exit_code == 0
    assert "x[train-llm#0,a100-1]" in result.stdout
    nl = tmp_path / "m.nl"
    result = cli("export", str(path), "-o", str(nl))
    assert result.exit_code == 0
    assert "x[train-llm#0,a100-1]" in (tmp_path / "m.col").read_text()
    assert (tmp_path / "m.row").exists()
    big = write_problem(
        tmp_path / "big.json",
        prob_dict([node("a")], [task(f"t{i}", duration=9) for i in range(10)], horizon=9000),
    )
    result = cli("export", str(big))
    assert result.exit_code == 2
    assert "-s cpsat" in result.stderr


def test_cli_solve_mip_backends(tmp_path: Path) -> None:
    example = str(EXAMPLES / "inference-fleet.yaml")
    result = cli("solve", example, "-s", "mip", "--backend", "ortools-highs", "-t", "30")
    assert result.exit_code == 0, result.stderr
    plan = yaml.safe_load(result.stdout)
    assert plan["solver"]["name"] == "mip"
    assert plan["solver"]["status"] == "optimal"
    assert plan["solver"]["objective"] == {"unplaced": 0, "cost": 85.8}
    assert plan["solver"]["options"]["backend"] == "ortools-highs"
    result = cli("solve", example, "-s", "mip", "--backend", "gurobi")
    assert result.exit_code == 2
    assert "solver 'gurobi' is not available: pip install gurobipy" in result.stderr
    assert result.stdout == ""
    result = cli("solve", example, "-s", "greedy", "--backend", "ortools-highs")
    assert result.exit_code == 0
    assert "warning: --backend applies to -s mip; ignored by -s greedy" in result.stderr


def test_solve_process_stdout_is_only_the_plan(tmp_path: Path) -> None:
    """A real process: HiGHS writes its banner on file descriptor 1 from C++, which only a
    subprocess (not CliRunner) would see."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "taskalloc",
            "solve",
            str(EXAMPLES / "replanning.yaml"),
            "-s",
            "mip",
            "--backend",
            "ortools-highs",
            "-t",
            "30",
            "-f",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)  # nothing but the plan
    assert plan["solver"]["objective"] == {"unplaced": 0, "moves": 4, "cost": 73.5}
    assert "HiGHS" not in out.stdout


# -- polishing: LNS on the compiled model (polish.py) ----------------------------------------


def _polisher(p: Problem) -> tuple[Any, Any, Any]:
    from taskalloc.solvers.mip.backends import Settings, make_backend
    from taskalloc.solvers.mip.polish import Polisher, assignment_flat
    from taskalloc.solvers.mip.solver import _stages

    flat = assignment_flat(p, p.objective.active())
    model = build_model(p)
    backend = make_backend("ortools-scip", model.m)
    backend.set_objective(_stages(p, model)[-1].expr)  # as the last stage sets it
    settings = Settings(time_limit=None, gap=None, seed=0, workers=1)
    return model, backend, Polisher(model, backend, settings, seed=0, flat=flat)


def _cost_of(p: Problem, model: Any, plan: Any) -> float | None:
    ev = evaluate(p, model.assignments(plan))
    return ev.terms["cost"] if ev.feasible else None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_polish_improves_a_poor_plan_to_the_optimum_and_restores_the_model(seed: int) -> None:
    import time

    from taskalloc.solvers import greedy

    p = random_gap(seed)
    best = evaluate(p, check(p, solve(p, time_limit=LIMIT)).assignments).terms["cost"]
    model, backend, pol = _polisher(p)
    assert pol.flat is not None  # assignment-shaped
    start = model.canonical(model.placement_of(greedy.solve(p, policy="first-fit").assignments))
    value = _cost_of(p, model, start)
    assert value is not None and value > best  # a poor start: there is something to find
    pol.start_lagrangian(value, left=10.0)
    assert pol.lower_bound is not None and pol.lower_bound <= best + 1e-6
    seen: list[float] = []
    hinted: list[int] = []

    def hint(plan: Any) -> None:
        hinted.append(1)
        backend.set_hint(model.values_of(plan))

    deadline = time.perf_counter() + 60.0  # far more than needed: it stops at the optimum
    plan, got = pol.run(
        start,
        value,
        deadline,
        value_of=lambda pl: _cost_of(p, model, pl),
        hint=hint,
        record=seen.append,
        enough=lambda v: v <= best,
    )
    assert got == best == _cost_of(p, model, plan)
    assert seen == sorted(seen, reverse=True) and seen[-1] == best
    assert len(hinted) == sum(k.tries for k in pol.kinds.values())
    # every bound of the model is back as it was
    h = backend.helper
    assert [h.var_lower_bound(int(c)) for c in pol.xcol] == pol.lb0.tolist()
    assert [h.var_upper_bound(int(c)) for c in pol.xcol] == pol.ub0.tolist()


def test_polish_node_neighbourhood_frees_the_tasks_on_the_chosen_nodes_and_the_unplaced() -> None:
    from taskalloc.solvers import greedy

    data = generate(tasks=20, nodes=12, seed=11)
    for t in data["tasks"][::3]:
        t["required"] = False  # some optional tasks, left out of the plan below
    p = problem_from_dict(data)
    model, _, pol = _polisher(p)
    packed = greedy.solve(p, policy="best-fit").assignments  # leaves nodes empty
    plan = model.canonical(model.placement_of(packed))
    for t in list(plan)[::4]:
        if t not in model.must:
            del plan[t]
    used = {n for reps in plan.values() for n, _ in reps}
    empty = set(range(len(p.nodes))) - used
    assert empty and any(t not in plan for t in range(len(p.tasks)))
    on = pol._on(plan)
    for size in (2.0, 4.0, 6.0):
        pol.kinds["nodes"].size = size
        lb, ub = pol.nodes_hood(plan, on, pol.kinds["nodes"])
        free = lb < ub
        chosen = set(pol.xnode[free].tolist())
        assert 1 <= len(chosen) <= round(size) and chosen & empty  # an empty node is offered
        for i in range(len(pol.xcol)):
            t, n = int(pol.xtask[i]), int(pol.xnode[i])
            here = {m for m, _ in plan.get(t, [])}
            movable = t not in plan or bool(here & chosen)
            if movable and n in chosen:
                assert (lb[i], ub[i]) == (0.0, 1.0)  # free among the chosen nodes
            else:
                assert lb[i] == ub[i] == float(on[i])  # fixed to the plan


def test_polish_core_keeps_the_incumbent_and_varies() -> None:
    from taskalloc.solvers import greedy

    p = random_gap(6, agents=5, jobs=30)
    model, _, pol = _polisher(p)
    assert pol.flat is not None
    # the plain solve gets 20 % of a long stage, all of a short one (polishing needs seconds)
    assert pol.share_plain(20.0) == 0.2 and pol.share_plain(1.0) == 1.0
    plan = model.canonical(model.placement_of(greedy.solve(p).assignments))
    pol.start_lagrangian(_cost_of(p, model, plan) or 0.0, left=2.0)
    on = pol._on(plan)
    cores = [pol.core_hood(on, pol.kinds["core"])[1] > 0 for _ in range(5)]
    for allowed in cores:
        assert allowed[on].all()  # the incumbent's pairs are always there
        assert not allowed.all()  # and it is a core, not the whole model
    assert len({c.tobytes() for c in cores}) > 1  # the noise makes them differ


def test_mip_polishes_hard_assignment_problems_and_reports_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from taskalloc.solvers.mip import polish

    p = random_gap(7, agents=10, jobs=100)
    monkeypatch.setattr(polish, "SHARE_PLAIN", 0.05)  # no proof in 0.2 s
    monkeypatch.setattr(polish, "MIN_POLISH_SECONDS", 1.0)
    r = check(p, solve(p, time_limit=4.0, workers=2))
    assert r.status == Status.FEASIBLE
    info = r.options["polish"]
    assert info["core"]["tries"] >= 1 and info["lagrangian"]["bound"] is not None
    cost = evaluate(p, r.assignments).terms["cost"]
    assert r.bound is not None and info["lagrangian"]["bound"] <= r.bound["cost"] <= cost
    assert [v for _, v, _ in r.trajectory][-1] == cost
    # deterministic runs do not polish (it is driven by the clock), nor do problems that are
    # not assignment-shaped (no gain measured there)
    d = check(p, solve(p, time_limit=2.0, deterministic=True))
    assert "polish" not in d.options
    other = problem_from_dict(generate(tasks=300, nodes=40, seed=1))
    assert polish.assignment_flat(other, other.objective.active()) is None
    o = check(other, solve(other, time_limit=2.0, workers=2))
    assert "polish" not in o.options


@settings(
    deadline=None,
    derandomize=True,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(tiny_problems(scheduling=False, terms=("unplaced", "cost", "nodes", "moves")))
def test_polish_alone_reaches_the_brute_force_optimum(data: dict[str, Any]) -> None:
    """From the greedy plan, with no plain solve before it: every plan it keeps is checked and
    better, and the node neighbourhood grows until the optimum is found (one weighted stage:
    the objective becomes the sum of its terms)."""
    import time

    from taskalloc.solvers import greedy

    obj = data["objective"]
    data["objective"] = {"weights": dict.fromkeys(obj.get("lexicographic") or obj["weights"], 1)}
    p = problem_from_dict(data)
    best = brute_force(p)
    model, backend, pol = _polisher(p)
    start = model.canonical(model.placement_of(greedy.solve(p).assignments))

    def value_of(plan: Any) -> float | None:
        ev = evaluate(p, model.assignments(plan))
        return sum(ev.terms[t] for t in p.objective.weights) if ev.feasible else None

    value = value_of(start)
    if best is None or value is None:  # nothing to polish from
        return
    seen: list[float] = []
    plan, got = pol.run(
        start,
        value,
        time.perf_counter() + 60.0,  # it stops at the optimum, long before
        value_of,
        hint=lambda pl: backend.set_hint(model.values_of(pl)),
        record=seen.append,
        enough=lambda v: v <= best[0] + 1e-9,
    )
    assert got == pytest.approx(best[0], abs=1e-9)
    assert value_of(plan) == pytest.approx(got, abs=1e-9)
    assert seen == sorted(seen, reverse=True) and all(v < value for v in seen)
