"""The engine seam: the registry, the Engine Protocol, checked Params and options, structural
proofs run once, and options given for another engine reported (not sent)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from taskalloc import solvers
from taskalloc.problems.plan import Status
from taskalloc.solvers import ENGINES, SolverUnavailable, load_engine
from taskalloc.solvers.engine import (
    PARAM_NAMES,
    Ignored,
    OptionError,
    Params,
    split_options,
)
from taskalloc.solvers.result import checked_plan
from taskalloc.solvers.run import SolveOptions, engine_options, solve_problem
from tests.helpers import node, prob, task


def tiny() -> Any:
    return prob([node("a"), node("b")], [task("t"), task("u", {"cpu": 2})])


@pytest.mark.parametrize("name", list(ENGINES))
def test_every_engine_follows_the_protocol(name: str) -> None:
    eng = load_engine(name)
    assert eng.name == name
    assert eng.description and "--" not in eng.description  # options, never CLI flags
    assert eng.default_time_limit is None or eng.default_time_limit > 0
    assert dataclasses.is_dataclass(eng.Options)
    options = eng.Options()  # every option has a default
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(options, dataclasses.fields(options)[0].name, None)
    assert not set(PARAM_NAMES) & {f.name for f in dataclasses.fields(eng.Options)}
    assert callable(eng.solve)


@pytest.mark.parametrize("name", list(ENGINES))
def test_every_engine_solves_through_the_seam(name: str) -> None:
    p = tiny()
    extra = {"generations": 3} if name == "ga" else {}
    r = solvers.solve(p, name, time_limit=10, seed=1, **extra)
    assert r.solver == name and r.has_plan
    plan, ev = checked_plan(p, r)
    assert ev.feasible and plan.solver.name == name


@pytest.mark.parametrize("name", list(ENGINES))
def test_an_unknown_option_is_an_error_naming_the_valid_ones(name: str) -> None:
    with pytest.raises(OptionError) as info:
        solvers.solve(tiny(), name, time_limt=5)
    message = str(info.value)
    assert message.startswith(f"time_limt: not an option of engine {name}")
    assert "did you mean time_limit?" in message
    for option in [*PARAM_NAMES, *(f.name for f in dataclasses.fields(load_engine(name).Options))]:
        assert option in message


def test_a_misspelled_greedy_policy_no_longer_runs_least_loaded() -> None:
    with pytest.raises(OptionError, match=r"polcy: not an option of engine greedy \(did you mean"):
        solvers.solve(tiny(), "greedy", polcy="best-fit")
    with pytest.raises(OptionError, match="policy: 'worst' is not one of least-loaded"):
        solvers.solve(tiny(), "greedy", policy="worst")


def test_auto_names_the_engine_it_chose() -> None:
    with pytest.raises(
        OptionError, match=r"policy: not an option of engine cpsat \(chosen by auto\)"
    ):
        solvers.solve(tiny(), "auto", policy="best-fit")


def test_unknown_engine() -> None:
    with pytest.raises(SolverUnavailable, match=r"unknown engine .magic. \(engines: auto, cpsat"):
        solvers.solve(tiny(), "magic")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"time_limit": -1}, "time_limit: must be >= 0 seconds"),
        ({"time_limit": float("nan")}, "time_limit: must be >= 0 seconds"),
        ({"workers": 0}, "workers: must be an integer >= 1"),
        ({"workers": True}, "workers: must be an integer >= 1"),
        ({"seed": 1.5}, "seed: must be an integer"),
    ],
)
def test_params_are_checked(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(OptionError, match=message):
        Params(**changes)


def test_params_deterministic_means_one_worker_and_limits() -> None:
    assert Params(workers=4, deterministic=True).workers == 1
    assert Params().limit(60.0) == 60.0
    assert Params(time_limit=5).limit(60.0) == 5.0
    assert Params(time_limit=float("inf")).limit(60.0) is None
    assert Params().limit(None) is None


def test_option_values_are_checked_by_each_engine() -> None:
    with pytest.raises(OptionError, match="gap: must be at least 0"):
        solvers.solve(tiny(), "mip", gap=-0.1)
    with pytest.raises(OptionError, match="population: must be at least 4"):
        solvers.solve(tiny(), "ga", population=2)
    with pytest.raises(OptionError, match="passes: must be at least 1"):
        solvers.solve(tiny(), "greedy", passes=0)


def test_split_options() -> None:
    eng = load_engine("greedy")
    params, options = split_options("greedy", eng.Options, {"seed": 3, "policy": "best-fit"})
    assert params.seed == 3 and options.policy == "best-fit"


def test_structural_proofs_run_once_and_no_engine_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    import taskalloc.problems.proofs as proofs_module

    p = prob([node("a")], [task("big", {"cpu": 100})])
    calls = []
    real = proofs_module.prove_infeasible

    def counting(problem: Any) -> Any:
        calls.append(1)
        return real(problem)

    monkeypatch.setattr(proofs_module, "prove_infeasible", counting)
    for name in ENGINES:
        calls.clear()
        r = solvers.solve(p, name)
        assert r.status == Status.INFEASIBLE and r.proofs and r.seconds == 0.0
        assert "structural check proves that no plan exists" in (r.message or "")
        assert len(calls) == 1
    calls.clear()
    out = solve_problem(p, SolveOptions(solver="cpsat"), path=None)
    assert out.structural and len(calls) == 1
    assert out.plan is not None and out.plan.infeasibility == r.proofs


def test_options_for_another_engine_are_reported_not_sent() -> None:
    mine, ignored = engine_options("greedy", {"policy": "best-fit", "backend": "x", "gap": 0.1})
    assert mine == {"policy": "best-fit"}
    assert ignored is not None
    assert ignored.render() == "backend and gap apply to engine mip; ignored by engine greedy"
    flags = ignored.render(lambda o: "--" + o, lambda e: f"-s {e}")
    assert flags == "--backend and --gap apply to -s mip; ignored by -s greedy"
    assert engine_options("mip", {"backend": "ortools-scip"}) == ({"backend": "ortools-scip"}, None)
    with pytest.raises(OptionError, match="colour: not an option of engine cpsat"):
        engine_options("cpsat", {"colour": 1})  # no engine takes it: an error, not a warning
    assert (
        Ignored("ga", {"policy": ["greedy"]}).render().startswith("policy applies to engine greedy")
    )


def test_solve_problem_warns_of_ignored_options() -> None:
    seen: list[Ignored] = []
    out = solve_problem(
        tiny(),
        SolveOptions(solver="greedy", options={"generations": 4}),
        path=None,
        warn=seen.append,
    )
    assert out.warnings == ["generations applies to engine ga; ignored by engine greedy"]
    assert [w.options for w in seen] == [{"generations": ["ga"]}]


def test_fronts_are_computed_by_engines_that_have_them() -> None:
    assert solvers.fronts() == ["cpsat", "ga"]
    with pytest.raises(
        SolverUnavailable, match=r"engine mip computes no Pareto front \(fronts: cpsat, ga\)"
    ):
        solvers.pareto(tiny(), "mip", ["cost", "nodes"])
    with pytest.raises(OptionError, match="points: must be at least 2"):
        solvers.pareto(tiny(), "cpsat", ["cost", "nodes"], points=1)
    with pytest.raises(OptionError, match="stagnation: not an option of engine ga"):
        solvers.pareto(tiny(), "ga", ["cost", "nodes"], stagnation=3)


def test_registry_and_engines_load_no_backend() -> None:
    """The package alone loads no numpy or pydantic; every ENGINE loads without OR-Tools,
    Pyomo or DEAP (those come with the first solve)."""
    import subprocess
    import sys

    code = (
        "import sys, taskalloc.solvers;"
        "light = [m for m in ('numpy', 'pydantic') if m in sys.modules];"
        "from taskalloc.solvers import load_engine;"
        "[load_engine(e) for e in taskalloc.solvers.ENGINES];"
        "heavy = [m for m in ('ortools', 'pyomo', 'deap') if m in sys.modules];"
        "print(','.join(light + heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_option_errors_cross_process_boundaries() -> None:
    import pickle

    err = OptionError("polcy", "", engine="greedy", valid=["policy"], unknown=True)
    back = pickle.loads(pickle.dumps(err))
    assert str(back) == str(err) and back.valid == ["policy"] and back.unknown
