"""Exact solver: OR-Tools CP-SAT, with a proof of optimality (or of infeasibility) when it can.

``taskalloc.solvers.solve(problem, "cpsat", time_limit=..., workers=2, seed=0,
deterministic=False, hint=None, progress=None, stop=None, lns=None)`` returns a
:class:`~taskalloc.solvers.result.Result` (:class:`CpsatOptions`: this engine's own options). The
model is built by :class:`.model.AllocationModel` (one method per constraint family), solved by
:mod:`.exact`; the integer scaling of decimals is :mod:`..scaling`. Every plan it returns as
``optimal`` or ``feasible`` has been accepted by the evaluator.

Formulation
-----------
*Candidates.* A pair (task t, node n) exists only when n is allowed (``nodes``/``match``) and one
replica fits n when empty on every resource (scaled integers; in scheduling problems a replica
that runs 0 time there fits anywhere, and the pair also needs ``ES[t] + d <= min(deadline,
horizon)``, ``ES[t]`` the earliest start: the release, and the earliest end of every ``after``
task).

*Placement.* One bool ``y[t,n]`` per candidate pair: "t has a replica on n". Replicas of a task
are identical, so that suffices; replica numbers are given after solving, in node order. A bool
``p[t]`` says whether t is placed: ``sum_n y[t,n] = replicas * p[t]`` (all replicas or none, on
distinct nodes), and ``p[t] = 1`` for every task a plan must place (required ones, their gang
mates and, when scheduling, their ``after`` predecessors: ``effectively_required``). A task a
plan must place that has exactly ``replicas`` candidates is *fixed*: its ``p`` and ``y`` are
constants 1 (variables fixed to 1) and every constraint on its replicas is unconditional.
*Gangs*: ``p`` equal across members. *Separation*: ``y[a,n] + y[b,n] <= 1`` for every separated
pair on every shared candidate (at any time, also when scheduling).

*Capacity (placement).* Per node and resource, ``sum_t demand_on(t, n, r) * y[t,n] <= cap`` in
scaled integers; left out when every candidate together fits.

*Scheduling.* Per candidate pair an integer ``start[t,n]`` in ``[ES[t], min(deadline,
horizon) - d]`` with ``d = task.duration_at(node)`` (``speed``, ``duration_on``) and, when
``d > 0``, a fixed-size interval, optional (present iff ``y[t,n]``) unless t is fixed. Each
replica of a task starts at or after the end of every replica of each of its ``after`` tasks:
directly (``start >= start[q,m] + d``) for a fixed predecessor, else through ``E[q] >= start
+ d`` for each present replica of q; and ``p[t] <= p[q]`` (a task is placed only with its
predecessors). Per node and resource a cumulative over the intervals with positive demand
(zero-duration replicas occupy nothing, as in the evaluator); left out when the demands
together fit; a no-overlap instead when every demand exceeds half the capacity (no two fit
together: unit-capacity machines, job shops). Redundant no-overlaps: per node (with 3 to 200
intervals), intervals pairwise unable to overlap (demands together above a capacity, or one a
transitive ``after`` predecessor of the other) form cliques; each greedy maximal clique of at
least three with a resource conflict in it gets a no-overlap (at most 8 interval references
per interval of the node). On PSPLIB j30 they turn the hardest proof from ~4 s into 0.1 s.
Without a ``horizon`` in the file, the model uses a safe one: the last release
plus the sum over replicas of their longest duration (any plan can be compressed to end by
then without changing what runs together, so no optimum is cut off; the greedy's makespan
would cut off optima of objectives that trade time for placement, balance or cost).

*Node use.* ``u[n]`` (only when ``nodes`` or a node ``cost`` is in the objective, or the node
is in a symmetry class): ``y[t,n] <= u[n]`` and ``u[n] <= sum_t y[t,n]``.

*Symmetry.* Members of one pool that no task tells apart (same allowed status, assign_cost,
demand, duration and ``current`` membership for every task) are interchangeable; within such a
class consecutive members are ordered: ``u[k] >= u[k+1]`` and ``key[k] >= key[k+1]``, where
key is the load on the class's most used resource (placement) or the number of replicas
(scheduling). Sorting a class by (key, use) descending turns any plan into one that satisfies
both, with the same objective; warm starts are relabelled that way before they are hinted.

*Revision 2* (FORMATS.md). Devices: a pair (t, n) is a candidate only if each demand of a
resource n splits into k devices of size S is a share of one device or a whole number m of
them (:meth:`taskalloc.problems.problem.Problem.device_use`); per such pair and resource, bools
``x[t,n,r,j]`` with ``sum_j x = m * y[t,n]``; per device, ``sum take * x <= S`` (placement) or a
cumulative (a no-overlap when no two takes fit together) over optional intervals [start, start
+ d) present iff ``x`` (scheduling). Device sizes join the integer scaling (exact when the
decimals allow). Identical devices are ordered by first user: with a node's users in task
order, a user takes device j+1 only if it or an earlier user takes device j (prefix bools, linear
in users x devices); any plan can be relabelled so (:meth:`.model.AllocationModel.canonical`).
Same-start gangs: one start variable per gang, equal to every present replica's start.
Services: their duration is the horizon, so their window is [0, 0]; ``makespan`` and its bounds
skip them. Spread: per value of the key over the task's allowed nodes, the count of its replicas
there lies in ``[lo, hi]`` with ``hi - lo <= max_skew`` (values without candidates count 0).
Plans carry their devices (:class:`.model.DevicePlan`). Large placement problems with devices
or spread go to :mod:`.devlns` (the flat LNS does not model them).

Objective terms, as integer expressions (real value = expression / unit)
-----------------------------------------------------------------------
* ``unplaced`` = ``sum_t priority * replicas * (1 - p[t])`` (unit: the priority scale).
* ``cost`` = ``sum assign_cost * y + sum node cost * u`` (unit: the cost scale).
* ``nodes`` = ``sum u``. ``moves`` = ``sum`` of ``y[t,n]`` over tasks with ``current`` and nodes
  outside it (= replicas * p - replicas kept on current nodes).
* ``makespan`` = ``M`` with ``M >= start + d`` of every present replica, ``M`` at least its
  trivial bound (below).
* ``tardiness`` = ``sum priority * L[t,n]`` with ``L >= start + d - due`` when present,
  ``L >= 0`` (per replica).
* ``balance`` = ``B / S`` (``S`` = 10,000 by default, ``balance_scale=``): an integer
  ``B in [0, S]`` with ``S * load[n,r] <= B * cap[n,r]`` for every node and resource with
  capacity > 0 that a candidate uses, so ``B = ceil(S * balance)`` at the optimum. Placement:
  ``load = sum demand * y``. Scheduling: the load is the peak at the busiest instant; each
  watched cumulative gets a *variable capacity* ``P[n,r] in [0, cap]`` (CP-SAT accepts an
  affine capacity), which is exactly an upper bound on that node's peak, and
  ``S * P[n,r] <= B * cap[n,r]``. No bisection is needed and the model stays exact.
  Lexicographic objectives make ``balance`` exact: after the optimal grid value ``B*``, the
  driver repeatedly asks for a plan whose every utilisation is strictly below the current
  plan's exact balance ``a/b`` (``load <= floor((a * cap - 1) / b)``, under an assumption
  literal) until CP-SAT proves none exists (at most 50 rounds); later stages keep
  ``load <= floor(a * cap / b)``. A ``weights`` objective uses the grid value ``B / S``: its
  optimum is within ``weight / S`` of the true one (the message says so, and the reported
  ``weighted`` bound subtracts that).

Weighted objectives are one solve of ``sum a[t] * term[t]`` with integers ``a[t] = weight[t] *
m / unit[t]``, ``m`` the smallest integer making all of them integral
(``options.weight_scale``). Lexicographic objectives are successive solves, one per term, each
constraining the earlier terms to their optimum (``==``) when proven, or to the best value
found (``<=``) otherwise; each solve gets an equal share of the time that is left and is hinted
with the previous solution (every variable). A stage is not solved at all when the best plan
known (the warm start or the previous stage's) already reaches a lower bound known without
search (``unplaced``: the priority of tasks with too few candidate nodes; ``nodes``: 1 if
something must be placed; ``makespan``: the latest earliest end ``ES + d`` of a must-place task
(a critical path), and per node and resource the earliest start of its fixed replicas plus
their energy over the capacity, rounded up; ``cost``, ``moves``, ``tardiness``: 0): typically
``unplaced = 0`` after a greedy that places everything, which leaves the whole time limit to
the next term. A stage that finds no solution in its share keeps its term at most the best
known plan's value and the driver goes on.

Scaling (:mod:`.scaling`): each number is read as the decimal it prints as; one exact factor
per resource, one for costs, one for priorities (least common multiple of denominators), as
long as the factor is <= 10^6 and scaled numbers stay <= 10^9; beyond that capacities are
rounded down and demands up (plans stay feasible; ``optimal``/``infeasible`` are then never
claimed) and the message says so. ``options.scales`` lists the factors.

Search, status and reports
--------------------------
Warm start: ``hint`` when given, else the greedy (``best-fit`` when cost, nodes or moves is the
first term after ``unplaced``, ``least-loaded`` for balance and time; and also with ``-s
greedy``'s default ``least-loaded`` when that differs, the better plan of the two:
:func:`taskalloc.solvers.warm.floor_start`), relabelled for the symmetry breaking
and hinted on ``y``, ``p``, ``start`` and ``u``. The greedy runs before the model is built and may
use the whole time limit (it takes a fraction of it; a greedy cut at a tenth of 3 s placed 3,975
of a 10,000-task chain). When less time is left than building the model would take (about
2e-5 s per pair), CP-SAT is not started and the warm start is the plan. Except for *pure
scheduling* (every task fixed) up to 1,000 pairs without a ``hint``: there CP-SAT finds a
schedule at once and a hint slowed its proofs on PSPLIB, so the greedy runs only after CP-SAT
(a plan to return, a check of an infeasibility claim, the floor below).

Never worse than the greedy: the result is compared with the plan of ``-s greedy`` (its
default policy, ``least-loaded``), through the evaluator, and that
plan is returned (status ``feasible``, the message says so) when it is better
(:mod:`taskalloc.solvers.baseline`; the dispatch in :func:`taskalloc.solvers.solve` checks
every engine the same way).

Scheduling stages: when the model is pure scheduling and the stage minimises ``makespan``,
``tardiness`` or a weighted sum of those (and of terms constant when every task is fixed), the
stage runs CP-SAT's full search beside a schedule-generation search and a neighbourhood search
on one pool of schedules (:mod:`.hybrid`, :mod:`.timeline`, :mod:`.listsearch`, :mod:`.schedlns`);
the stage then gets a full solution of the model, so everything below holds as for a plain
solve.

Parameters: ``num_workers = workers`` (1 when ``deterministic``), ``random_seed = seed``,
``max_time_in_seconds`` (``max_deterministic_time`` when ``deterministic``: then runs are
reproducible), ``log_search_progress = False`` (nothing is printed), ``catch_sigint_signal =
False`` (CP-SAT's own SIGINT handler races ours when many solves run: ``stop`` ends searches);
pure scheduling with 2 workers outside the scheduling stages above: ``num_full_subsolvers = 2``
(default_lp and fixed search rather than one full search and the LNS thread); when a resource
became a no-overlap, ``use_strong_propagation_in_disjunctive`` in the default_lp subsolver (job
shop proofs 5-10x faster: ft10 in ~5 s instead of none in 60 s; the other searches stay without
it, as it slows easy 15x5 and 20x5 shops 10x). Above 5,000 candidate pairs, presolve is light
(``max_presolve_iterations = 1``, ``symmetry_level = 0``): on large models CP-SAT's full
presolve alone can outlast the time limit, so no plan would come out. ``time_limit`` covers
every solve (default 60 s, ``math.inf``: no limit; in deterministic mode it is deterministic
time, and the warm start and model building are not counted).

Status: ``optimal`` when every stage (and the balance refinement) is proven and the scaling is
exact; ``feasible`` when a plan exists otherwise (also after ``stop`` or the time limit; if CP-SAT
found nothing, the warm start when the evaluator accepts it); ``infeasible`` when CP-SAT (or the
structural pre-checks, which the seam runs before any engine) prove no plan exists, with exact
scaling; ``unknown`` otherwise. ``bound`` (unscaled): lexicographic, each stage up to the first
unproven one (its optimum, or CP-SAT's bound); weights, ``weighted`` plus trivially known per-term
bounds (``unplaced`` of tasks that fit nowhere, ``makespan`` its trivial bound above).
``trajectory``: ``(seconds, objective, bound)`` at each improving solution, and where CP-SAT's
bound rose without one (the exact search's solves, at most every 0.1 s; not the LNS, nor the
hybrid of pure scheduling problems), the objective in the units of the stage that found it (a
term's value, or the weighted scalar); ``progress`` is called with the same points, naming the
stage's term (:class:`~taskalloc.solvers.clock.Point`). ``stop`` (a :class:`threading.Event`,
e.g. set by a SIGINT handler) is polled by the solution callback and by a watcher thread every
20 ms, which call ``StopSearch``; the best plan so far is returned as ``feasible``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..engine import Params, at_least, choice
from ..features import refuse_unhandled
from ..scaling import BALANCE_SCALE

if TYPE_CHECKING:
    from taskalloc.problems.problem import Problem

    from ..result import Result

#: seconds when no time limit is given (``math.inf``: none)
DEFAULT_TIME_LIMIT = 60.0


@dataclass(frozen=True)
class CpsatOptions:
    """The cpsat engine's own options.

    ``lns``: True always runs the large neighbourhood search of :mod:`.lns`, False never,
    None by size (its dispatch rule: no durations, a linear objective, more than 20,000
    (task, allowed node) pairs, or 400 for the hybrid that runs the exact path first; above
    50 million pairs, with True or None, the LNS at scale of :mod:`.lns.scale`, from the
    greedy's plan and without the LP bound); ``"scale"``: the LNS at scale whatever the size
    for the placement problems the LNS takes (the parts of ``--partitions`` at 150,000 x
    5,000, each from its share of the whole problem's greedy plan).
    ``balance_scale``: steps of the ``balance`` grid for a utilisation of 1.
    ``sub_seconds``: the LNS's seconds per sub-solve (None: adaptive).
    ``floor``: False only for a caller that keeps the greedy's floor itself (the parts of
    ``--partitions``, whose floor is the whole problem's greedy plan): the LNS at scale then
    starts from the hint without running the greedy, and the result is not compared with it.
    """

    lns: bool | str | None = None
    balance_scale: int = BALANCE_SCALE
    sub_seconds: float | None = None
    floor: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.lns, str):
            choice("lns", self.lns, ("scale",))
        at_least("balance_scale", self.balance_scale, 1)
        at_least("sub_seconds", self.sub_seconds, 0.001)


@dataclass(frozen=True)
class CpsatFrontOptions:
    """Options of the exact Pareto front (:mod:`.pareto`): at most ``points`` points, evenly
    spaced (None: every point); ``on_point(i, values)`` is called as each point is found."""

    points: int | None = None
    on_point: Callable[[int, dict[str, float]], None] | None = None
    balance_scale: int = BALANCE_SCALE

    def __post_init__(self) -> None:
        at_least("points", self.points, 2)
        at_least("balance_scale", self.balance_scale, 1)


class CpsatEngine:
    name = "cpsat"
    description = (
        "OR-Tools CP-SAT: exact placement and scheduling, proves optimality or infeasibility; "
        "large placement problems by large neighbourhood search"
    )
    default_time_limit: float | None = DEFAULT_TIME_LIMIT
    Options = CpsatOptions
    FrontOptions = CpsatFrontOptions

    def solve(self, problem: Problem, params: Params, options: CpsatOptions) -> Result:
        """Large placement problems go to the LNS (:func:`.lns.route`); every other problem
        is solved by the exact path (:func:`.exact.solve`)."""
        from .exact import solve as exact
        from .lns import route
        from .lns import solve as lns_solve

        refuse_unhandled(problem, "cpsat")  # revision-2 features it cannot model yet
        common: dict[str, Any] = {
            "time_limit": params.limit(DEFAULT_TIME_LIMIT),
            "workers": params.workers,
            "seed": params.seed,
            "deterministic": params.deterministic,
            "hint": params.hint_list(),
            "progress": params.progress,
            "stop": params.stop,
        }
        lns = options.lns
        if isinstance(lns, str):  # "scale": the LNS at scale wherever the LNS would go
            mode = "scale" if route(problem, True) in ("lns", "scale") else route(problem)
        else:
            mode = route(problem, lns)
        if mode in ("devlns", "devhybrid"):  # devices or spread: the LNS that models them
            from .devlns import hybrid as devhybrid
            from .devlns import solve as devlns

            run = devlns if mode == "devlns" else devhybrid
            return run(problem, sub_seconds=options.sub_seconds, **common)
        if mode == "scale":  # huge: the LNS from the greedy's plan, no LP (lns/scale.py)
            from .lns.scale import solve as scale_solve

            return scale_solve(
                problem, sub_seconds=options.sub_seconds, floor=options.floor, **common
            )
        if mode is not None:
            return lns_solve(problem, lns=mode == "lns", sub_seconds=options.sub_seconds, **common)
        return exact(problem, balance_scale=options.balance_scale, **common)

    def front(
        self, problem: Problem, terms: list[str], params: Params, options: CpsatFrontOptions
    ) -> list[Result]:
        from .pareto import front

        return front(
            problem,
            terms,
            points=options.points,
            time_limit=params.limit(DEFAULT_TIME_LIMIT),
            workers=params.workers,
            seed=params.seed,
            deterministic=params.deterministic,
            hint=params.hint_list(),
            stop=params.stop,
            on_point=options.on_point,
            balance_scale=options.balance_scale,
        )


ENGINE = CpsatEngine()


def solve(problem: Problem, **options: Any) -> Result:
    """``taskalloc.solvers.solve(problem, "cpsat", **options)``."""
    from .. import solve as seam

    return seam(problem, "cpsat", **options)


__all__ = ["ENGINE", "CpsatFrontOptions", "CpsatOptions", "solve"]
