"""The public Python API: what ``import taskalloc`` gives (see :mod:`taskalloc`).

Every function imports what it needs when called, so that ``import taskalloc`` stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from taskalloc.problems.evaluate import CheckReport
    from taskalloc.problems.plan import Plan
    from taskalloc.problems.problem import Problem
    from taskalloc.problems.replan import Replanned, WhatIf
    from taskalloc.solvers.result import Result
    from taskalloc.solvers.simulation import Simulation

ReportFormat = Literal["table", "json", "markdown", "csv", "dict", "html"]


def load(source: str | os.PathLike[str] | Mapping[str, Any], *, name: str | None = None) -> Problem:
    """A problem, validated and compiled: from a file (YAML or JSON; ``"-"`` for stdin) or
    from plain data (a dict laid out as the file format, ``docs/format.md``). ``name``: what
    the errors of plain data call it (default ``<memory>``; a file is named by its path,
    with line and column).

    Raises :class:`InputError` with every error located (``file:line:column: field:
    message``) when the input is not a valid problem.
    """
    if isinstance(source, Mapping):
        from taskalloc.problems.problem import problem_from_dict

        # no line:column: they would point into a JSON text of the data that no one sees
        return problem_from_dict(source, name or "<memory>", locate=False)
    from taskalloc.problems.problem import load_problem

    return load_problem(os.fspath(source))


def solve(problem: Problem, engine: str = "auto", **options: Any) -> Result:
    """Solve ``problem`` with an engine: ``"auto"``, ``"cpsat"``, ``"mip"``, ``"ga"``,
    ``"greedy"`` or ``"devplan"`` (the offline GPU planner, with a bound) (:data:`ENGINES`).

    ``options``: what every engine takes (``time_limit`` seconds, ``seed``, ``workers``,
    ``deterministic``, ``hint`` (assignments to start from), ``stop`` (a
    :class:`threading.Event`), ``progress`` (called with a :class:`Point` at each
    improvement)) and the engine's own (greedy: ``policy``, ``passes``; cpsat: ``lns``,
    ``balance_scale``, ``sub_seconds``; mip: ``backend``, ``gap``; ga: ``generations``,
    ``population``, ``stagnation``; devplan: ``rounds``, ``search``). An option the engine
    does not take raises :class:`OptionError`, naming the valid ones.

    ``partitions=K`` solves the problem in K parts at once and puts their plans together
    (``solve --partitions``): ``executor`` (``"local"`` worker processes or ``"ray"``),
    ``ray_address``, ``jobs`` (parts at once), ``improve`` (re-solve unions of two parts and
    repair, default True).

    The :class:`Result` holds the assignments and the engine's status, bound and message;
    :meth:`Result.to_plan` makes the checked plan (every metric recomputed by the
    evaluator).
    """
    from taskalloc import solvers

    return solvers.solve(problem, engine, **options)


def simulate(problem: Problem, policy: str, *, seed: int = 0, **options: Any) -> Simulation:
    """Replay ``problem`` online, as a dispatcher would: its tasks arrive in file order and
    ``policy`` places each on arrival, devices included, or drops it (no retry, no
    departure). Policies: the FGD paper's ``"random"``, ``"dot-product"``,
    ``"gpu-clustering"``, ``"gpu-packing"``, ``"best-fit"`` (the paper's BestFit score, not
    the greedy's best-fit) and ``"fgd"``, and the greedy's ``"least-loaded"`` and
    ``"first-fit"``. ``seed`` fixes random draws and the order that breaks ties between nodes;
    ``stop`` (a :class:`threading.Event`) ends the replay early with the tasks that arrived.

    A scheduling problem (a task has a ``duration``) is dispatched over time instead: tasks
    wait in a queue until they fit (``queue="fifo"``, ``"shortest-first"`` or
    ``"priority"``), ``policy`` (``"least-loaded"``, ``"best-fit"`` or ``"first-fit"``) picks
    each replica's node at that instant, and ``metrics`` holds the makespan, tardiness and
    waits (``taskalloc simulate --queue``).

    The :class:`Simulation` holds the :class:`Result` (``simulation.result``: the
    assignments), the figures (``metrics``: placed, dropped, the allocation curve of the GPU
    and ``allocated_at_arrived_100``) and ``summary`` lines; :meth:`Simulation.to_plan` makes
    the checked plan. Raises :class:`SolverUnavailable` for a problem no replay models (one
    line saying why) and :class:`OptionError` for a policy or option it does not take.
    """
    from taskalloc.solvers.simulation import simulate as run

    return run(problem, policy, seed=seed, **options)


def pareto(
    problem: Problem, terms: list[str], engine: str = "auto", **options: Any
) -> list[Result]:
    """The Pareto front of 2 or 3 objective ``terms``: one Result per non-dominated plan
    (``"cpsat"``: the exact front of 2 terms, ``points=K`` at most K of them; ``"ga"``:
    NSGA-II; ``"auto"``: cpsat for 2 terms, ga for 3). Options as for :func:`solve`."""
    from taskalloc import solvers

    return solvers.pareto(problem, engine, terms, **options)


def replan(
    problem: Problem,
    plan: Plan | Result,
    *,
    fail: Sequence[str] = (),
    drain: Sequence[str] = (),
    add: Sequence[Mapping[str, Any]] = (),
    remove: Sequence[str] = (),
    scale_demand: Mapping[str, float] | None = None,
    scale_capacity: Mapping[str, float] | None = None,
    max_moves: int | None = None,
    now: int | None = None,
    best_effort: bool = False,
    engine: str = "auto",
    **options: Any,
) -> Replanned:
    """Replan after a change: nodes that failed (``fail``) or are drained (``drain``, node or
    pool ids), tasks added (``add``, task entries as in the file), removed or whose demand is
    scaled (``scale_demand``, task id or ``"*"`` -> factor), capacities scaled, at most
    ``max_moves`` moves, and for schedules the instant ``now``. ``best_effort``: every task
    optional (``required: false``), so that when the required tasks no longer fit the plan
    places what still does, priorities deciding what stays (the CLI's ``--best-effort``).

    The changed problem has ``current`` = where the old plan runs each task and ``moves`` right
    after ``unplaced`` in the objective; it is solved with the old plan as the hint (options
    as for :func:`solve`). Returns :class:`~taskalloc.problems.replan.Replanned`: ``problem``,
    the checked ``plan`` and ``moves``, the move report (what moved, from where to where, and
    why). Raises :class:`~taskalloc.problems.replan.ReplanError` for a change naming a node
    or task the problem does not have.
    """
    from taskalloc import solvers
    from taskalloc.problems.replan import Changes, Replanned, moves_of, replan_problem
    from taskalloc.solvers.result import checked_plan

    changes = Changes(
        fail=tuple(fail),
        drain=tuple(drain),
        add=tuple(add),
        remove=tuple(remove),
        scale_demand=tuple((scale_demand or {}).items()),
        scale_capacity=tuple((scale_capacity or {}).items()),
        max_moves=max_moves,
        now=now,
        optional=best_effort,
    )
    rp = replan_problem(problem, _plan(problem, plan), changes)
    options.setdefault("hint", list(rp.hint))
    result = solvers.solve(rp.problem, engine, **options)
    new, _ = checked_plan(rp.problem, result)
    moves = moves_of(rp, new) if new.solver.status in ("optimal", "feasible") else []
    return Replanned(rp, new, tuple(moves))


def whatif(
    problem: Problem,
    plan: Plan | Result | None = None,
    *,
    fail_each_node: bool = False,
    fail_each_pool: bool = False,
    fail_zone: Sequence[str] = (),
    scale_demand: Sequence[float] = (),
    scale_capacity: Sequence[float] = (),
    engine: str = "auto",
    **options: Any,
) -> WhatIf:
    """What if a node, a pool or a zone (``LABEL=VALUE``) were lost, or every demand or
    capacity scaled: each scenario replanned from ``plan`` (default: ``problem`` solved
    first, with the same engine and options) and solved here, one after the other (the
    CLI's ``whatif`` runs them in parallel). Returns :class:`~taskalloc.problems.replan.WhatIf`:
    the baseline plan, one row per scenario (feasible, objective delta, moves, unplaced
    tasks and GPUs, most loaded resource) and the weakest node/pool/zone."""
    from taskalloc import solvers
    from taskalloc.problems.replan import WhatIf, replan_problem, scenarios, weakest, whatif_row
    from taskalloc.solvers.result import checked_plan

    base = (
        _plan(problem, plan)
        if plan is not None
        else checked_plan(problem, solvers.solve(problem, engine, **options))[0]
    )
    rows = []
    for sc in scenarios(
        problem,
        fail_each_node=fail_each_node,
        fail_each_pool=fail_each_pool,
        fail_zone=fail_zone,
        scale_demand=scale_demand,
        scale_capacity=scale_capacity,
    ):
        rp = replan_problem(problem, base, sc.changes)
        result = solvers.solve(rp.problem, engine, **{"hint": list(rp.hint), **options})
        new, _ = checked_plan(rp.problem, result)
        rows.append(whatif_row(sc, problem, base, rp.problem, new, str(new.solver.status)))
    return WhatIf(base, tuple(rows), weakest(rows))


def check(problem: Problem, plan: Plan | Result) -> CheckReport:
    """Every constraint of ``problem`` and the plan's stated objective against the
    recomputed one. ``report.ok`` is True when the plan holds; ``report.violations`` lists
    what does not."""
    from taskalloc.problems.evaluate import check as run_check

    return run_check(problem, _plan(problem, plan))


def read_plan(path: str | os.PathLike[str]) -> Plan:
    """A plan file (YAML or JSON; ``"-"`` for stdin). Raises :class:`InputError` with the
    located errors when it is malformed."""
    from taskalloc.problems.plan import read_plan as read

    return read(os.fspath(path))


def write_plan(
    plan: Plan, path: str | os.PathLike[str], *, fmt: Literal["yaml", "json"] | None = None
) -> None:
    """Write ``plan`` to ``path`` atomically (a reader never sees a partial file); ``fmt``
    by default from the suffix (``.json``: JSON, else YAML)."""
    from taskalloc.problems.files import write_atomic

    target = Path(path)
    chosen = fmt or ("json" if target.suffix.lower() == ".json" else "yaml")
    write_atomic(target, plan.dumps(chosen))


def report(
    problem: Problem,
    plan: Plan | Result,
    fmt: ReportFormat = "table",
    *,
    view: str | Sequence[str] = "summary",
) -> Any:
    """A plan's report, recomputed from the problem and the plan's assignments.

    ``view``: ``"summary"`` (utilisation, objective terms, fitness, unplaced tasks and why),
    ``"nodes"`` (each node's replicas, devices and load), ``"tasks"`` (each task's nodes,
    times, slack, why it is unplaced), ``"schedule"`` (a Gantt chart; scheduling problems), or
    several (a list, or ``"nodes,tasks"``). ``fmt``: ``"table"`` (text), ``"json"``,
    ``"markdown"``, ``"csv"`` (one view) as strings; ``"dict"``, the JSON as data;
    ``"html"``, the self-contained HTML report with its charts (every view; needs matplotlib,
    ``pip install 'taskalloc[plot]'``). A view the problem cannot have, or several in CSV,
    raises :class:`OptionError`.
    """
    from taskalloc.problems.evaluate import evaluate

    if fmt not in ("table", "json", "markdown", "csv", "dict", "html"):
        raise ValueError(f"fmt: {fmt!r} is not one of table, json, markdown, csv, dict, html")
    chosen = _plan(problem, plan)
    ev = evaluate(problem, chosen.assignments)
    if fmt == "html":
        from . import html

        text, _ = html.render(problem, chosen, ev)
        return text
    from . import views

    names = views.parse_views([view] if isinstance(view, str) else list(view))
    if fmt == "dict":
        import json

        if names == ["summary"]:
            from . import render

            return render.report_data(problem, chosen, ev)
        return json.loads(views.render(problem, chosen, ev, names, "json"))
    return views.render(problem, chosen, ev, names, fmt)


def _plan(problem: Problem, plan: Plan | Result) -> Plan:
    from taskalloc.solvers.result import Result

    return plan.to_plan(problem) if isinstance(plan, Result) else plan
