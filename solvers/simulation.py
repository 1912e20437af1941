"""Online replays behind one seam: what ``taskalloc simulate`` and ``taskalloc.simulate`` run.

A replay takes the tasks of a problem as they arrive and places each with an online *policy*,
with no look-ahead and no second thought, to measure what a dispatcher does where a plan
(``solve``) looks at everything at once. Each kind of problem has its replay, registered in
:data:`REPLAYS` (kind -> the module whose ``REPLAY`` follows :class:`Replay`), exactly as the
engines are in :data:`taskalloc.solvers.ENGINES`:

``placement``
    :mod:`taskalloc.solvers.online`: tasks arrive in file order and each is placed on arrival,
    devices included, or dropped (no retry, no departure): the FGD paper's six schedulers and
    the greedy's two policies, with the allocation curve of the GPU.

``scheduling``
    :mod:`taskalloc.solvers.online.schedule`: a discrete-event dispatcher; tasks become ready
    at their release and when their predecessors end, wait in a queue (``queue``: fifo,
    shortest-first, priority) and start where they fit at that instant, or are left out when
    they can no longer meet their deadline.

A new replay is one more module with a ``REPLAY`` and one more line here; its own options are a
frozen dataclass, ``REPLAY.Options``, checked like an engine's (:func:`~.engine.split_options`:
an option the replay does not take is an :class:`~.engine.OptionError`).

:func:`simulate` returns a :class:`Simulation`: the :class:`~.result.Result` (the assignments,
so the plan is made and checked like any engine's, by :func:`~.result.checked_plan`), what the
plan records under ``metrics.simulation`` and the lines of the summary.
:func:`simulation_plan` makes that plan.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import import_module
from typing import TYPE_CHECKING, Any, Protocol

from . import SolverUnavailable
from .engine import OptionError

if TYPE_CHECKING:
    from taskalloc.problems.evaluate import Evaluation
    from taskalloc.problems.plan import Plan
    from taskalloc.problems.problem import Problem

    from .result import Result

#: kind of problem -> the module whose ``REPLAY`` replays it (a new replay: one line here)
REPLAYS: dict[str, str] = {
    "placement": "taskalloc.solvers.online",
    "scheduling": "taskalloc.solvers.online.schedule",
}


#: the reason of a task that had not arrived when the replay was stopped
NOT_ARRIVED = "not arrived: the replay was stopped before it"


class ReplayUnsupported(SolverUnavailable):
    """No replay takes this problem (its kind has none, or it uses what the replay does not
    model); the message says why, in one line."""


@dataclass(frozen=True)
class ReplayParams:
    """What every replay takes: ``seed`` (random draws and tie orders), ``stop`` (an event:
    the replay ends at the next arrival it polls, keeping what it placed so far)."""

    seed: int = 0
    stop: threading.Event | None = None

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise OptionError("seed", f"must be an integer, not {self.seed!r}")


@dataclass
class Simulation:
    """What a replay produced.

    ``result``: the assignments (devices included) with a status (``feasible``, or
    ``unknown`` when a required task was dropped), the seconds and the settings; the plan is
    made from it as from any engine's Result. ``metrics``: what the plan records under
    ``metrics.simulation`` (kind, policy, seed, arrivals, placed, dropped, stopped, and the
    replay's own figures: a placement replay's ``allocated_at_arrived_100`` and ``curve``).
    ``summary``: lines for people. ``stopped``: the replay was asked to stop (the plan holds
    the tasks that arrived before; ``not_arrived`` names the others, whose reason in the plan
    says so). ``detail``: the replay's own record (placement: a
    :class:`taskalloc.solvers.online.Replay`, whose ``curve()`` and ``figure(at)`` read the
    allocation curve at any point).
    """

    result: Result
    metrics: dict[str, Any] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)
    stopped: bool = False
    detail: Any = None
    #: ids of the tasks that had not arrived when the replay was stopped
    not_arrived: tuple[str, ...] = ()
    #: task id -> why the replay left it out (the plan's reason for it, e.g. a missed deadline)
    reasons: dict[str, str] = field(default_factory=dict)

    def to_plan(self, problem: Problem, *, path: str | None = None) -> Plan:
        """The plan of this replay, checked by the evaluator (:func:`simulation_plan`)."""
        return simulation_plan(problem, self, path=path)[0]


class Replay(Protocol):
    """One kind of problem's replay: its policies, its options and ``run``."""

    #: the kind of problem it replays (a key of :data:`REPLAYS`)
    kind: str
    description: str
    #: policy name -> one line saying what it does
    policies: Mapping[str, str]
    #: a frozen dataclass of its own options (fields with defaults; none for the placement replay)
    Options: type[Any]

    def unsupported(self, problem: Problem) -> str | None:
        """Why it cannot replay ``problem`` (one line), or None."""
        ...

    def run(
        self, problem: Problem, policy: str, params: ReplayParams, options: Any
    ) -> Simulation: ...


def kind_of(problem: Problem) -> str:
    """``scheduling`` when a task has a duration, else ``placement`` (FORMATS.md)."""
    return "scheduling" if problem.scheduling else "placement"


def load_replay(kind: str) -> Replay:
    """The replay of problems of ``kind``; ReplayUnsupported when there is none."""
    module = REPLAYS.get(kind)
    if module is None:
        kinds = " and ".join(f"{k} problems" for k in REPLAYS)
        raise ReplayUnsupported(f"simulate replays {kinds} only, not {kind} problems")
    found: Replay = import_module(module).REPLAY
    return found


def simulate(
    problem: Problem,
    policy: str,
    *,
    seed: int = 0,
    stop: threading.Event | None = None,
    **options: Any,
) -> Simulation:
    """Replay ``problem`` online with ``policy`` (:data:`REPLAYS` picks the replay by the
    kind of problem). Raises ReplayUnsupported (one line) for a problem no replay takes,
    OptionError for a policy the replay does not have or an option it does not take."""
    replay = load_replay(kind_of(problem))
    if policy not in replay.policies:
        raise OptionError(
            "policy",
            f"{policy!r} is not a policy of the {replay.kind} replay (its policies: "
            f"{', '.join(replay.policies)})",
            valid=list(replay.policies),
        )
    params = ReplayParams(seed=seed, stop=stop)
    own = [f.name for f in dataclasses.fields(replay.Options)]
    for name in options:
        if name not in own:
            takes = ", ".join(["seed", "stop", *own])
            raise OptionError(
                name, f"not an option of the {replay.kind} replay (it takes {takes})", valid=own
            )
    opts = replay.Options(**options)
    why = replay.unsupported(problem)
    if why is not None:
        raise ReplayUnsupported(f"simulate cannot replay this problem: {why}")
    return replay.run(problem, policy, params, opts)


def simulation_plan(
    problem: Problem, simulation: Simulation, *, path: str | None = None
) -> tuple[Plan, Evaluation]:
    """The plan of a replay, checked by the evaluator as every engine's plan
    (:func:`~.result.checked_plan`), with the replay's figures under ``metrics.simulation``."""
    from taskalloc.problems.plan import Unplaced

    from .result import checked_plan

    plan, ev = checked_plan(problem, simulation.result, path=path)
    plan.metrics["simulation"] = dict(simulation.metrics)
    if simulation.not_arrived or simulation.reasons:
        late = set(simulation.not_arrived)
        why = simulation.reasons
        plan.unplaced = [
            Unplaced(u.task, NOT_ARRIVED)
            if u.task in late
            else Unplaced(u.task, why[u.task])
            if u.task in why
            else u
            for u in plan.unplaced
        ]
    return plan, ev


def against(problem: Problem, online: Plan, plan: Plan, *, name: str) -> dict[str, Any]:
    """The gap of a replay's plan (``online``) to another plan of the same problem (``plan``,
    e.g. ``solve``'s; ``name``: its file), term by term: the objective's terms, and makespan
    and tardiness in a schedule. Both are recomputed by the evaluator from their assignments.
    ``gap``: (online - plan) / plan, None where the plan's value is 0. What the replay's plan
    records under ``metrics.simulation.against``."""
    from taskalloc.problems.evaluate import evaluate

    ours = evaluate(problem, online.assignments)
    theirs = evaluate(problem, plan.assignments)
    names = list(problem.objective.active())
    if problem.scheduling:
        names += ["makespan", "tardiness"]
    terms: dict[str, dict[str, float | None]] = {}
    for t in dict.fromkeys(names):
        a, b = float(ours.terms.get(t, 0.0)), float(theirs.terms.get(t, 0.0))
        terms[t] = {"online": a, "plan": b, "gap": None if b == 0 else round((a - b) / b, 6)}
    return {
        "plan": name,
        "solver": plan.solver.name,
        "feasible": theirs.feasible,
        "same_problem": plan.problem_sha256 == problem.sha256,
        "terms": terms,
    }


def against_line(data: Mapping[str, Any]) -> str:
    """``against PLAN (solver): makespan 374 vs 326 (+14.7 %), ...`` for the summary."""
    parts = []
    for t, v in data["terms"].items():
        gap = v["gap"]
        shown = "" if gap is None else f" ({gap * 100:+.1f} %)"
        parts.append(f"{t} {_num(v['online'])} vs {_num(v['plan'])}{shown}")
    return f"against {data['plan']} ({data['solver']}): " + ", ".join(parts)


def _num(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.4g}"


__all__ = [
    "NOT_ARRIVED",
    "REPLAYS",
    "Replay",
    "ReplayParams",
    "ReplayUnsupported",
    "Simulation",
    "against",
    "against_line",
    "kind_of",
    "load_replay",
    "simulate",
    "simulation_plan",
]
