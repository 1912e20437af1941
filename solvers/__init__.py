"""Solvers: engines behind one seam, all returning :class:`~taskalloc.solvers.result.Result`.

:data:`ENGINES` is the registry: one line per engine, its name and the module whose ``ENGINE``
follows :class:`~taskalloc.solvers.engine.Engine`. :func:`solve` resolves ``auto``, checks the
options (:func:`~taskalloc.solvers.engine.split_options`: an unknown option is an error naming
the valid ones), runs the structural proofs of infeasibility once (a problem they prove
infeasible reaches no engine) and hands the engine its :class:`~.engine.Params` and its own
options; :func:`pareto` does the same for engines that compute fronts. Whatever the engine, the
plan :func:`solve` returns is never worse than the greedy's (:mod:`.baseline`).

Engines are imported when first used, so that importing this package (and starting the CLI)
never loads OR-Tools, Pyomo or DEAP. What two engines share lives beside them: the stage
driver (:mod:`.stages`), the clock (:mod:`.clock`), warm starts (:mod:`.warm`), the integer
scaling (:mod:`.scaling`), the flat view and the Lagrangian of assignment-shaped problems
(:mod:`.flat`, :mod:`.lagrange`), placements (:mod:`.placement`).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskalloc.problems.problem import Problem

    from .engine import Engine, FrontEngine, Params
    from .result import Result

#: engine name -> the module whose ``ENGINE`` implements it (adding an engine: one line here)
ENGINES: dict[str, str] = {
    "cpsat": "taskalloc.solvers.cpsat",
    "mip": "taskalloc.solvers.mip",
    "ga": "taskalloc.solvers.ga",
    "greedy": "taskalloc.solvers.greedy",
    "devplan": "taskalloc.solvers.devplan",
}


class SolverUnavailable(Exception):
    """The named engine does not exist, its backend is not installed, or it cannot take the
    problem."""


#: ``auto`` hands a problem to CP-SAT up to this many (task, allowed node) pairs. Above it, one
#: full CP-SAT model loses (docs/benchmarks.md): placement problems with a linear objective
#: still go to cpsat, whose large neighbourhood search handles them (cloud balancing with
#: 16.8 million pairs in 60 s and 230 MB), the others to the greedy.
AUTO_EXACT_PAIRS = 200_000

#: scheduling problems (or placement ones with ``balance``) with devices, same-start gangs,
#: services or spread go to cpsat's exact model up to this many pairs, above it to the greedy
#: (placement problems with a linear objective go to cpsat at any size: its LNS for devices
#: and spread, cpsat/devlns.py). The exact model of 200 tasks x 40 nodes (8,000 pairs) with
#: devices takes seconds to presolve on a loaded machine (docs/benchmarks.md, issue 13).
AUTO_REV2_PAIRS = 50_000
_REV2_EXACT = frozenset({"devices", "same_start", "service", "spread"})

#: the objective terms the LNS optimises (linear in the placement; ``balance`` is not)
_LNS_TERMS = frozenset({"unplaced", "cost", "nodes", "moves"})


def choose(problem: Problem, solver: str) -> str:
    """Resolve ``auto`` to an engine name: devplan for a GPU fleet it models whose objective
    is ``unplaced`` alone (:func:`devplan_applies`); otherwise cpsat, except for huge problems
    its LNS cannot take (scheduling, or ``balance`` in the objective, above
    :data:`AUTO_EXACT_PAIRS` pairs; devices, same-start gangs, services or spread above
    :data:`AUTO_REV2_PAIRS`) and problems using revision-2 features it does not handle yet
    (:mod:`.features`), which go to the greedy."""
    if solver != "auto":
        return solver
    from .features import unhandled

    if devplan_applies(problem):
        return "devplan"
    if unhandled(problem, "cpsat"):
        return "greedy"  # revision-2 features only the greedy handles yet
    if not problem.scheduling and set(problem.objective.terms) <= _LNS_TERMS:
        # large ones by LNS (with devices or spread: cpsat/devlns.py); above 50 million
        # (task, node) pairs (150,000 x 5,000) the LNS from the greedy's plan without an LP
        # bound (cpsat/lns/scale.py, by size: cpsat/lns/route.py SCALE_PAIRS)
        return "cpsat"
    if problem.features & _REV2_EXACT:  # the exact model alone handles these
        pairs = sum(len(t.allowed) for t in problem.tasks)
        return "cpsat" if pairs <= AUTO_REV2_PAIRS else "greedy"
    pairs = sum(len(t.allowed) for t in problem.tasks)
    return "cpsat" if pairs <= AUTO_EXACT_PAIRS else "greedy"


def devplan_applies(problem: Problem) -> bool:
    """Whether ``auto`` hands ``problem`` to the device planner: nodes split a resource into
    devices (cpsat and mip do not model devices yet; the greedy does, without a bound), the
    objective is ``unplaced`` alone (the only term devplan optimises), and the planner models
    the problem (:func:`.fleet.unsupported`; revision-2 features it handles)."""
    from .features import unhandled

    if problem.scheduling or problem.objective.active() != ["unplaced"]:
        return False
    if "devices" not in problem.features or unhandled(problem, "devplan"):
        return False
    from .fleet import unsupported

    return unsupported(problem) is None


def refusal(problem: Problem, name: str) -> str | None:
    """Why engine ``name`` would refuse ``problem`` without solving it (one line: revision-2
    features it does not handle, or what its own ``refuses(problem)`` names), else None. For
    callers that pick engines themselves (``compare``'s default list)."""
    from .features import unhandled

    missing = unhandled(problem, name)
    if missing:
        return f"engine {name} does not handle {' or '.join(f'`{f}`' for f in missing)} yet"
    check = getattr(load_engine(name), "refuses", None)
    return None if check is None else check(problem)


def load_engine(name: str) -> Engine:
    """The engine registered as ``name``; SolverUnavailable when unknown or not installed."""
    module_name = ENGINES.get(name)
    if module_name is None:
        raise SolverUnavailable(
            f"unknown engine '{name}' (engines: {', '.join(['auto', *ENGINES])})"
        )
    try:
        module = import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module_name.startswith(exc.name):
            raise
        raise SolverUnavailable(f"engine {name}: {module_name} is not installed") from None
    found: Engine = module.ENGINE
    return found


def structural(problem: Problem, name: str, seed: int) -> Result | None:
    """INFEASIBLE (no engine runs) when the structural checks prove that no plan exists; the
    proofs, one line each, are in ``Result.proofs``."""
    from taskalloc.problems.plan import Status
    from taskalloc.problems.proofs import prove_infeasible, structural_summary

    from .result import Result

    proofs = prove_infeasible(problem)
    if not proofs:
        return None
    return Result(
        solver=name,
        status=Status.INFEASIBLE,
        assignments=[],
        seconds=0.0,
        seed=seed,
        message=structural_summary(proofs),
        proofs=[str(d) for d in proofs],
    )


def prepare(
    problem: Problem, name: str, options: dict[str, Any], *, front: bool = False
) -> tuple[Engine, Params, Any]:
    """The engine ``name`` (``auto`` resolved), its checked Params and options (front: its
    FrontOptions); raises SolverUnavailable or OptionError."""
    from .engine import OptionError, split_options

    chosen = choose(problem, name)
    eng = load_engine(chosen)
    options_type: type[Any] | None = eng.Options
    if front:
        options_type = getattr(eng, "FrontOptions", None)
        if options_type is None:
            raise SolverUnavailable(
                f"engine {chosen} computes no Pareto front (fronts: {', '.join(fronts())})"
            )
    assert options_type is not None
    try:
        params, opts = split_options(chosen, options_type, options)
    except OptionError as exc:
        if exc.unknown and name == "auto":
            exc.engine = f"{chosen} (chosen by auto)"
            exc.args = (exc.render(),)
        raise
    return eng, params, opts


def solve(problem: Problem, solver: str = "auto", **options: Any) -> Result:
    """Solve ``problem`` with the engine ``solver`` (``auto``: :func:`choose`).

    ``options``: the :class:`~.engine.Params` every engine takes (``time_limit``, ``seed``,
    ``workers``, ``deterministic``, ``hint``, ``stop``, ``progress``) and the engine's own
    (``ENGINE.Options``: ``policy`` of the greedy, ``backend`` of the MILP, ...). Raises
    OptionError for an option the engine does not take, SolverUnavailable for an unknown
    engine.
    """
    split_run = _partition_options(options)
    if split_run is None and solver == "auto":
        split_run = auto_partitions(problem)
    if split_run is not None:
        return _solve_in_parts(problem, solver, split_run, options)
    import time

    eng, params, opts = prepare(problem, solver, options)
    began = time.monotonic()
    infeasible = structural(problem, eng.name, params.seed)
    if infeasible is not None:
        return infeasible
    from .baseline import no_worse  # whatever the engine: never worse than the greedy's plan

    limit = params.limit(eng.default_time_limit)
    given = params.limit(None)
    asked = params.time_limit
    if given is not None and not params.deterministic:
        # the structural checks count against -t (0.7-1.4 s at 80 x 1,600 GAP under load:
        # a -t 20 run took 23.8 s); a deterministic limit counts the engine's work alone
        params = params.replace(time_limit=max(0.0, given - (time.monotonic() - began)))
    points = _Points(params.progress)
    result = eng.solve(problem, params.replace(progress=points), opts)
    points.label(result)
    if "time_limit" in result.options:
        result.options["time_limit"] = asked  # the plan file records the limit asked for
    # the floor's greedy gets what is left of the limit (no_worse gives it at least a second),
    # not a second limit: -t bounds the whole run
    left = None if limit is None else limit - (time.monotonic() - began)
    return no_worse(problem, result, time_limit=left, stop=params.stop)


class _Points:
    """The progress callback an engine gets: it passes each :class:`~.clock.Point` on to the
    caller's and keeps what each point's value measures (its ``term``), so that the trajectory
    of the result says it (:attr:`.result.Result.stages`): a step up where a lexicographic
    objective's next term begins is then no worse plan, in a report's chart too."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.terms: dict[tuple[float, float, float | None], str | None] = {}

    def __call__(self, point: Any) -> None:
        self.terms[(point.seconds, point.value, point.bound)] = point.term
        if self.progress is not None:
            self.progress(point)

    def label(self, result: Result) -> None:
        """Label each trajectory point the engine recorded through its clock (points it made
        otherwise, such as times shifted after the fact, stay unlabelled)."""
        if result.trajectory and not result.stages:
            keys: list[Any] = [tuple(p) for p in result.trajectory]  # whatever their length
            result.stages = [self.terms.get(k) for k in keys]


#: ``auto`` would split a placement problem with at least this many tasks that it gives to
#: cpsat into parts of about :data:`AUTO_PART_TASKS` tasks, each started from its share of the
#: greedy's plan (:func:`auto_partitions`). Off (None): on one machine the parts share its
#: cores and each pays for loading its part, while cpsat's LNS at scale
#: (cpsat/lns/scale.py) improves the whole plan in this process: at 150,000 x 5,000 the
#: parts (K = 1-16) did not beat the greedy's plan, which the single process improved by
#: 20-29 % (docs/benchmarks.md, issue 18). Splitting is for many machines (``--partitions K
#: --executor ray``).
AUTO_PARTITION_TASKS: int | None = None
AUTO_PART_TASKS = 8_000


def auto_partitions(problem: Problem) -> Any:
    """The :class:`~.partition.PartitionOptions` ``auto`` uses for ``problem`` (local worker
    processes), or None to solve it whole."""
    if AUTO_PARTITION_TASKS is None or len(problem.tasks) < AUTO_PARTITION_TASKS:
        return None
    if problem.scheduling:
        return None
    if choose(problem, "auto") != "cpsat":
        return None
    from .partition import PartitionOptions

    return PartitionOptions(partitions=-(-len(problem.tasks) // AUTO_PART_TASKS), warm=True)


#: the options of :func:`solve` that split the problem (:mod:`.partition`)
PARTITION_KEYS = (
    "partitions",
    "executor",
    "ray_address",
    "jobs",
    "improve",
    "part_time_limit",
    "warm",
)


def _partition_options(options: dict[str, Any]) -> Any:
    """The :class:`~.partition.PartitionOptions` given among ``options`` (taken out of them),
    or None when ``partitions`` is not given (None)."""
    given = {k: options.pop(k) for k in PARTITION_KEYS if k in options}
    if given.get("partitions") is None:
        extra = [k for k, v in given.items() if k != "partitions" and v is not None]
        if extra:
            from .engine import OptionError

            raise OptionError(extra[0], "needs partitions=K")
        return None
    from .partition import PartitionOptions

    return PartitionOptions(**{k: v for k, v in given.items() if v is not None})


def _solve_in_parts(
    problem: Problem, solver: str, split_run: Any, options: dict[str, Any]
) -> Result:
    """:func:`solve` with ``partitions``: the options checked as for one engine, the
    structural proofs, the parts (:func:`.partition.solve`), then the greedy's floor."""
    import time

    from .baseline import no_worse
    from .engine import PARAM_NAMES, Params
    from .partition import solve as solve_parts
    from .run import engine_options

    if solver != "auto":
        load_engine(solver)  # unknown or not installed: SolverUnavailable now, not per part
    chosen = choose(problem, solver)
    own, _ = engine_options(chosen, {k: v for k, v in options.items() if k not in PARAM_NAMES})
    given = {k: v for k, v in options.items() if k in PARAM_NAMES}
    params = Params(**given)
    infeasible = structural(problem, solver, params.seed)
    if infeasible is not None:
        return infeasible
    engine_opts = {k: v for k, v in options.items() if k not in PARAM_NAMES}
    limit = params.limit(60.0 if solver == "auto" else load_engine(solver).default_time_limit)
    del own
    began = time.monotonic()
    floor = None
    from .partition import at_scale

    warm = split_run.warm if split_run.warm is not None else at_scale(problem, solver)
    if solver != "greedy" and not warm:
        # the floor's greedy runs here while the parts run in workers (warm parts start from
        # it: it runs first then; a second greedy beside it would halve its speed)
        import threading

        from .baseline import DEFAULT_POLICY, greedy_plan

        floor = threading.Thread(
            target=greedy_plan, args=(problem, DEFAULT_POLICY, limit), daemon=True
        )
        floor.start()
    result = solve_parts(problem, solver, params, engine_opts, split_run)
    left = None if limit is None else limit - (time.monotonic() - began)
    if floor is not None:
        floor.join(None if left is None else max(1.0, left))
    return no_worse(problem, result, time_limit=left, stop=params.stop)


def pareto(problem: Problem, solver: str, terms: list[str], **options: Any) -> list[Result]:
    """The Pareto front of ``terms`` (2 or 3 objective terms): one Result per non-dominated
    plan. ``cpsat``: the exact front of 2 terms (epsilon-constraint, :mod:`.cpsat.pareto`;
    ``points=K`` limits it to K points); ``ga``: NSGA-II (2 or 3 terms); ``auto``: cpsat for 2
    terms, ga for 3. Other engines raise SolverUnavailable; terms the problem cannot have
    raise :class:`~taskalloc.problems.pareto.TermError`."""
    from taskalloc.problems.pareto import check_terms

    terms = check_terms(problem, terms)
    if solver == "auto":
        solver = "cpsat" if len(terms) == 2 else "ga"
    if solver not in ENGINES:
        raise SolverUnavailable(f"unknown engine '{solver}' (fronts: {', '.join(fronts())})")
    eng, params, opts = prepare(problem, solver, options, front=True)
    front_engine: FrontEngine = eng  # type: ignore[assignment]
    infeasible = structural(problem, eng.name, params.seed)
    if infeasible is not None:
        return [infeasible]
    from .tiebreak import settle  # optional tasks where they cost no term (ga; cpsat settles)

    return settle(
        problem, terms, front_engine.front(problem, terms, params, opts), stop=params.stop
    )


def fronts() -> list[str]:
    """The engines that compute Pareto fronts (imports every engine)."""
    out = []
    for name in ENGINES:
        try:
            if hasattr(load_engine(name), "front"):
                out.append(name)
        except SolverUnavailable:
            continue
    return out


def __getattr__(name: str) -> Any:
    # Result is loaded on first use (PEP 562): importing this package stays cheap (the CLI
    # reads ENGINES at start-up)
    if name == "Result":
        from .result import Result

        return Result
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def explain_infeasible(
    problem: Problem, *, time_limit: float = 10.0, workers: int = 2, stop: Any = None
) -> list[str]:
    """Lines naming up to three disjoint minimal sets of tasks that cannot all be placed, with
    what binds each (CP-SAT assumptions, shrunk by deletion); empty if none found in time, or
    before ``stop`` (an event) was set."""
    from .cpsat.explain import explain

    found = explain(problem, time_limit=time_limit, workers=workers, stop=stop)
    return [line for c in found for line in c.lines]


__all__ = [
    "AUTO_EXACT_PAIRS",
    "AUTO_PARTITION_TASKS",
    "ENGINES",
    "Result",
    "SolverUnavailable",
    "auto_partitions",
    "choose",
    "devplan_applies",
    "explain_infeasible",
    "load_engine",
    "pareto",
    "refusal",
    "solve",
]
