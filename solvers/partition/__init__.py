"""One problem on many workers: split it into K parts, solve them in parallel, coalesce, then
improve across the parts.

1. **Split** (:mod:`.split`): a random split of nodes (every pool dealt evenly over the parts)
   and tasks (least loaded part first), keeping gangs, dependency chains, separation groups and
   a spread task's nodes whole; a task bound to nodes by a selector goes to a part holding
   nodes it may use. From a plan (warm, or a hint) the nodes follow it by default
   (``split="plan"``: each part grown along the task groups the plan puts on several nodes,
   still its share of every pool), so that fewer groups are spread over two parts;
   ``split="random"`` is POP's random split.
2. **Solve**: each part is a problem file of its own (:mod:`.subproblem`), solved by the engine
   given (``auto`` by default, chosen per part) in a worker process or a Ray task
   (:mod:`.workers`, the batch executors) under the time limit minus the share kept for the
   steps below. A lost worker's part is retried once; a part that fails again leaves its tasks
   to the repair.
3. **Coalesce**: the parts use disjoint nodes, so their plans together are a plan of the whole
   problem (capacities, separations, gangs, chains and spreads hold part by part).
4. **Improve** (K >= 2): rounds of re-solves of unions of two parts (a random pairing per
   round, pairs in parallel), each started from the current plan of its tasks and kept only
   when it is better on the union and keeps every group of tasks on the nodes of one part.
5. **Repair** (placement problems): the tasks still unplaced, on what the plan leaves of every
   node (capacity left, a used node's cost already paid, nodes of tasks they must be separated
   from left out), solved in this process with what is left of the time.

**At scale** (:func:`at_scale`: cpsat's LNS at scale, 150,000 x 5,000) the run is warm by
default: the greedy's plan of the whole problem comes first (with the whole limit, as the
single process's; the seam's floor then runs no second greedy beside it), the split sends each
task group to the part holding most of its placed replicas, and each part gets its share
(:func:`shares_of`) as its hint. The nodes are dealt following that plan (``split="plan"``),
so that few task groups are spread over two parts; those that are (gangs, separation groups,
tasks whose replicas are on nodes of two parts) are **shared out** (:func:`_portions`,
:data:`SPREAD_GROUPS`): each part places the tasks and replicas the greedy put on its nodes,
starting there (a task on two parts is placed by both, each its replicas; a gang on two parts
is required in both), so every part starts from a whole plan of its tasks and may empty and
close any of its nodes; the join numbers a task's replicas again (:func:`_join_portions`).
(Before: **held** where the greedy put them, out of the parts, :func:`_held`: they kept 97 %
of the nodes open at 150,000 x 5,000, and the parts' search gained a tenth of what it gains
now.) The parts are solved by the LNS at scale (``lns="scale"``: never a whole-part model,
nor an LP bound) without a greedy of their own (``floor=False``: the floor is the whole
problem's, here). A part that dies or misses its
deadline (its limit is its window less what its worker spends outside the engine, estimated
from how long its bytes took to write here; it is killed well past it) keeps its share. The
coalesced plan (the parts' plans, and the held tasks if any) is then improved by the LNS at
scale over the whole problem in this process, with what is left of the limit less a final
share for the checks; no union rounds and no repair sub-problem at this size. What the
coalesced plan leaves unplaced goes first back where the greedy's plan has it when it fits
(:func:`taskalloc.solvers.cpsat.construct.restore`), required tasks even by moving others
(``force_restore``), then first fit with ejection; without the improvement (``improve=False``,
the scaling curve) the coalesced plan is completed the same way, without the search. The
driver returns the better of its plan and the greedy's (:func:`_floor`). The time: the greedy,
the split, :data:`SCALE_PART_SHARE` of the rest for the parts, the rest for the improvement.

The result is evaluated like any engine's (``solve`` checks the plan and keeps the greedy's
plan when it is better). The same problem, K, seed and options give the same split and, with a
deterministic engine and limit (``deterministic=True``, or the greedy), the same plan.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from taskalloc.problems.plan import Assignment, Status

from ..result import Result
from ..run import SolveOptions
from .split import Part, Split, components, split
from .subproblem import sub_bytes, sub_data
from .workers import Job, make_executor, run_jobs

if TYPE_CHECKING:
    from taskalloc.problems.problem import Problem

    from ..batch import Executor
    from ..engine import Params

__all__ = ["Part", "PartitionOptions", "Split", "components", "solve", "split"]

#: terms that add up over parts (the others, balance and makespan, are a maximum)
ADDITIVE = frozenset({"unplaced", "cost", "nodes", "moves", "tardiness"})
#: share of the time left after the split that the parts get when improving follows
PART_SHARE = 0.6
#: share of the whole limit kept for the repair
REPAIR_SHARE = 0.08
#: an improve round is started only with at least this many seconds for it
MIN_ROUND = 2.0
#: a repair with more (task, allowed node) pairs than this is the greedy's
REPAIR_PAIRS = 200_000
#: default time limit when neither the run nor the engine has one (auto: as cpsat)
DEFAULT_LIMIT = 60.0
#: at scale (:func:`at_scale`): the parts' share of the time left after the greedy and the
#: split when the improvement (the LNS at scale over the whole plan, in this process) follows
SCALE_PART_SHARE = 0.65
#: at scale: share of the limit kept for what follows the parts' search and the improvement
#: (the coalesced plan's check and the greedy's floor in :func:`taskalloc.solvers.solve`)
SCALE_FINAL_SHARE = 0.04
#: at scale: what a part's worker spends outside the engine's limit (reading and compiling
#: the part, checking and writing its plan, the driver reading it back), as a multiple of the
#: seconds this process took to write the part's bytes (measured, so that it follows the
#: machine's load): 150,000 x 5,000, K = 2 at load 7-8 on 2 cores, a part of 75,000 tasks
#: (67 MB: pools are written member by member) took 4.2 s to write and 12.3 s in its worker
#: outside the engine; at load 3.7, 2.3 s and 8.9 s (K = 2), 0.7 s and 2.6 s (K = 4), plus
#: the worker's start
PART_OVERHEAD_FACTOR = 4.0
#: at scale from the greedy's plan, the task groups it spread over two parts (gangs,
#: separation groups, tasks whose replicas are on nodes of two parts):
#:
#: * ``share`` (the default): each part places the tasks and replicas the plan puts on its
#:   nodes, starting from there (a gang on two parts is required in each); nothing is held,
#:   so a part may empty and close any of its nodes. 150,000 x 5,000, the scaling curve at
#:   20 s per part (load 5-6): the parts' search gains 3.0-3.4 cost per 1,000 task-seconds
#:   (K = 2), the coalesced plan 25,326.02 against 31,378.94 holding (docs/benchmarks.md).
#: * ``hold``: held where the plan puts them, out of the parts (each part gets what they leave
#:   of its nodes). They keep their nodes open: 97 % of the nodes at 150,000 x 5,000, so the
#:   parts gained 0.2-0.7 per 1,000 task-seconds. (Better than ``insert`` there: at -t 120,
#:   load 4-6, 24,857.73 at K = 2 and 24,378.40 at K = 4 against the greedy's plan.)
#: * ``insert``: each part inserts those of its tasks itself (first fit with ejection into
#:   1/K of the fleet): the parts left required tasks out that the improvement did not place.
SPREAD_GROUPS = "share"
#: at scale: a part's members of a pool are written as a pool (:func:`.subproblem.sub_data`
#: ``names``), not member by member (150,000 x 5,000, K = 2: 70 MB a part before)
POOLS_AS_POOLS = True
#: at scale, the parts alone (``improve=False``): seconds of fleet-wide moves over the whole
#: coalesced plan after them (:func:`.cross.across`; 0: none)
CROSS_SECONDS = 0.0
#: at scale, the parts alone given their own seconds (``improve=False`` with
#: ``part_time_limit``: the scaling curve): in how many rounds of an equal share of those
#: seconds; each round after the first splits again (another seed) along the plan the round
#: before coalesced, so that the borders move (:func:`_in_rounds`)
SCALE_ROUNDS = 1
#: a round's seed is the run's plus this times its number (0 for the first)
ROUND_SEED = 7919
#: at scale: with less than this many times the greedy's seconds left after it, the parts
#: are not started (the greedy's plan is the result)
NO_PARTS_SHARE = 1.0
#: at scale: the improvement runs only with at least this many seconds per task of the
#: problem (preparing the whole problem's search: about 6 s at 150,000 tasks), and 2 s
MIN_IMPROVE_PER_TASK = 60e-6


@dataclass(frozen=True)
class PartitionOptions:
    """How to split and where to run: ``partitions`` (K >= 1), ``executor`` (``local``
    worker processes, or ``ray``), ``ray_address`` (a cluster; default a local Ray for the
    run), ``jobs`` (local processes at once; default: K, at most the cores), ``improve``
    (re-solve unions of parts and repair after the coalesce)."""

    partitions: int
    executor: str = "local"
    ray_address: str | None = None
    jobs: int | None = None
    improve: bool = True
    #: seconds for each part whatever the waves they run in (measuring what K machines do)
    part_time_limit: float | None = None
    #: with no hint given: start every part from its share of the greedy's plan of the whole
    #: problem (task groups go to the part holding their nodes in it), and a part that comes
    #: back without a plan keeps that share (None: warm at scale, :func:`at_scale`)
    warm: bool | None = None
    #: how the nodes are dealt (:func:`.split.split`): ``plan`` (grown along the task groups
    #: the start plan puts on several nodes, so that fewer are spread over two parts and held
    #: out of them; each part still gets its share of every pool) or ``random`` (POP's split).
    #: None: ``plan`` when the parts start from a plan (warm, or a hint), else ``random``
    split: str | None = None

    def __post_init__(self) -> None:
        from ..engine import OptionError
        from .split import NODE_SPLITS

        if self.split is not None and self.split not in NODE_SPLITS:
            raise OptionError("split", f"must be plan or random, not {self.split!r}")
        k = self.partitions
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise OptionError("partitions", f"must be an integer >= 1, not {k!r}")
        if self.executor not in ("local", "ray"):
            raise OptionError("executor", f"must be local or ray, not {self.executor!r}")
        if self.ray_address is not None and self.executor != "ray":
            raise OptionError("ray_address", "needs executor='ray'")


@dataclass
class _State:
    """The plan being built: assignments per task, each task's part, each part's objective."""

    problem: Problem
    by_task: dict[int, list[Assignment]]
    part_of_task: list[int]
    part_of_node: list[int]
    objective: list[dict[str, float] | None]
    stats: dict[str, Any] = field(default_factory=dict)

    def assignments(self) -> list[Assignment]:
        return [a for t in sorted(self.by_task) for a in self.by_task[t]]


def combine(objs: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The objective of parts together: additive terms add up, the others are the maximum."""
    out: dict[str, float] = {}
    for obj in objs:
        for term, v in obj.items():
            if term in ADDITIVE:
                out[term] = out.get(term, 0.0) + v
            else:
                out[term] = max(out.get(term, -math.inf), v)
    return out


def better(problem: Problem, a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    """Whether objective ``a`` is strictly better than ``b`` (relative tolerance 1e-9)."""
    obj = problem.objective

    def close(x: float, y: float) -> bool:
        return abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y))

    if obj.kind == "lexicographic":
        for term in obj.terms:
            x, y = a.get(term, 0.0), b.get(term, 0.0)
            if not close(x, y):
                return x < y
        return False
    x = sum(w * a.get(t, 0.0) for t, w in obj.weights.items())
    y = sum(w * b.get(t, 0.0) for t, w in obj.weights.items())
    return x < y and not close(x, y)


def _budget(total: int | None, parts: Sequence[Part], problem: Problem) -> list[int | None]:
    """Each part's share of ``max_moves`` (by the replicas with a `current`), rounded down."""
    if total is None:
        return [None] * len(parts)
    weight = [
        sum(problem.tasks[t].replicas for t in p.tasks if problem.tasks[t].current is not None)
        for p in parts
    ]
    whole = sum(weight) or 1
    return [total * w // whole for w in weight]


def _default_jobs(k: int) -> int:
    return max(1, min(k, os.cpu_count() or 1))


def at_scale(problem: Problem, engine: str) -> bool:
    """Whether ``engine`` on ``problem`` is cpsat's LNS at scale (a placement problem of more
    than :data:`~taskalloc.solvers.cpsat.lns.route.SCALE_PAIRS` pairs, 150,000 x 5,000). Such a
    problem is split warm, its parts are solved by the LNS at scale too (``lns="scale"``:
    never a whole-part model, nor the LP bound), and the improvement across the parts is
    that LNS over the whole problem in this process, from the coalesced plan (a union of two
    parts in a worker would load and prepare half the problem again)."""
    if engine not in ("auto", "cpsat") or problem.scheduling:
        return False
    from .. import choose
    from ..cpsat.lns.route import route

    return choose(problem, engine) == "cpsat" and route(problem) == "scale"


def shares_of(
    problem: Problem, sp: Split, hint: Sequence[Assignment]
) -> list[list[Assignment] | None]:
    """Each part's share of the plan ``hint``: the tasks of the part whose every hinted
    replica is on the part's nodes, except the members of a gang that the plan does not put
    whole on them (a partial gang is no plan). The tasks left out (the plan spread their
    replicas, or their group's, over two parts) are placed by the part's engine."""
    task_of, node_of = problem.task_index, problem.node_index
    where = [-1] * len(problem.tasks)
    for p in sp.parts:
        for t in p.tasks:
            where[t] = p.index
    by_task: dict[int, list[Assignment]] = {}
    for x in hint:
        found = task_of.get(x.task)
        if found is not None and x.node in node_of:
            by_task.setdefault(found, []).append(x)

    def home_of(t: int) -> int:
        xs = by_task.get(t)
        home = where[t]
        if not xs or home < 0 or len(xs) != problem.tasks[t].replicas:
            return -1
        return home if all(sp.part_of_node[node_of[x.node]] == home for x in xs) else -1

    shares: list[list[Assignment]] = [[] for _ in sp.parts]
    for t in range(len(problem.tasks)):
        home = home_of(t)
        if home < 0:
            continue
        gang = problem.tasks[t].gang
        if gang is not None and any(home_of(m) != home for m in problem.gangs[gang]):
            continue
        shares[home].extend(by_task[t])
    return [share or None for share in shares]


def solve(
    problem: Problem,
    engine: str,
    params: Params,
    engine_options: Mapping[str, Any],
    options: PartitionOptions,
    *,
    executor: Executor | None = None,
) -> Result:
    """Solve ``problem`` in ``options.partitions`` parts with ``engine`` (see the module's
    docstring). ``engine_options``: options of the engine (each part's engine takes those it
    knows). ``executor``: run the jobs there instead of the one ``options`` names."""
    if (
        SCALE_ROUNDS > 1
        and options.part_time_limit is not None
        and options.partitions >= 2
        and not options.improve
        and at_scale(problem, engine)
    ):
        return _in_rounds(problem, engine, params, engine_options, options, executor)
    return _solve_once(problem, engine, params, engine_options, options, executor=executor)


def _in_rounds(
    problem: Problem,
    engine: str,
    params: Params,
    engine_options: Mapping[str, Any],
    options: PartitionOptions,
    executor: Executor | None,
) -> Result:
    """At scale, the parts alone (``improve=False``) given ``part_time_limit`` seconds each, in
    :data:`SCALE_ROUNDS` rounds of an equal share of them: each round after the first splits
    again, with another seed, along the plan the round before coalesced (so the borders
    move), and its parts start from their shares of that plan (shared out as the greedy's
    is). Each round's statistics, with the wall time it implies on K machines (its split,
    its slowest part, its coalescing and completion), are in ``rounds``."""
    rounds = SCALE_ROUNDS
    assert options.part_time_limit is not None
    each = dataclasses.replace(options, part_time_limit=options.part_time_limit / rounds)
    stop = params.stop if params.stop is not None else threading.Event()
    params = params.replace(stop=stop)
    log: list[dict[str, Any]] = []
    result: Result | None = None
    for r in range(rounds):
        last = r == rounds - 1
        if r == 0:
            now = params
        else:
            assert result is not None
            # another split (another seed) along the plan so far: the borders move
            now = params.replace(seed=params.seed + ROUND_SEED * r, hint=result.assignments)
        got = _solve_once(
            problem,
            engine,
            now,
            engine_options,
            each,
            executor=executor,
            whole_hint=r > 0,
            final=last,
        )
        stats = (got.options or {}).get("partitions") or {}
        walls = [p.get("seconds") or 0.0 for p in stats.get("parts") or []]
        log.append(
            {
                "round": r + 1,
                "implied_seconds": stats.get("implied_seconds"),
                "split_seconds": stats.get("split_seconds"),
                "part_max": max(walls, default=0.0),
                # the parts' costs together (before the completion, if it placed any)
                "cost": combine(
                    [p["objective"] for p in stats.get("parts") or [] if p.get("objective")]
                ).get("cost"),
            }
        )
        usable = got.status in (Status.FEASIBLE, Status.OPTIMAL) and bool(got.assignments)
        if result is not None and not usable:
            break  # (never: a round's coalesced plan is completed) the last round's stands
        result = got
        if stop.is_set() or not usable:
            break
    assert result is not None
    parts = dict((result.options or {}).get("partitions") or {})
    parts["rounds"] = log
    parts["implied_seconds"] = round(sum(x["implied_seconds"] or 0.0 for x in log), 3)
    return dataclasses.replace(
        result,
        seed=params.seed,
        message=f"{len(log)} rounds, each split again along the plan so far; {result.message}",
        options={**result.options, "partitions": parts},
    )


def deterministic_grace(seconds: float) -> float:
    """Seconds past a deterministic limit after which a part's worker is killed: only a stuck
    one. A deterministic limit says nothing of the wall-clock time a part takes; killed on the
    wall clock, its plan (and so the result) would depend on the load (at load 6.4 a part of
    7.68 deterministic seconds ran 25.9 s, 3.3 s short of the default kill at 29.2 s)."""
    return 120.0 + 4 * seconds


def _solve_once(
    problem: Problem,
    engine: str,
    params: Params,
    engine_options: Mapping[str, Any],
    options: PartitionOptions,
    *,
    executor: Executor | None = None,
    whole_hint: bool = False,
    final: bool = True,
) -> Result:
    """One split, its parts and their coalesced plan (:func:`solve`). ``whole_hint``: the hint
    is a whole plan (a round's, :func:`_in_rounds`), shared out at scale as the greedy's is;
    ``final``: compare the plan with the greedy's (not between rounds)."""
    from ..run import default_time_limit

    began = time.monotonic()
    stop = params.stop if params.stop is not None else threading.Event()
    default = DEFAULT_LIMIT if engine == "auto" else default_time_limit(engine)
    limit = params.limit(default)
    deadline = None if limit is None else began + limit

    def left() -> float | None:
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    k = options.partitions
    from ..clock import Stopped, preparing

    scale = at_scale(problem, engine)
    warm = scale if options.warm is None else options.warm
    greedy_seconds = 0.0
    greedy_start = whole_hint  # the hint is a whole plan: the greedy's, run here, or a round's
    try:
        with preparing(stop):  # seconds at 150k tasks: a signal may cut it short
            if warm and not params.hint:
                from ..baseline import greedy_plan

                # the whole problem's greedy plan: each part starts from its share, a part
                # that comes back without a plan keeps it, and it is the floor in the seam
                # (cached on the problem: the seam's floor and the improvement reuse it)
                # (the whole limit, as the single process's LNS at scale gives it: a greedy cut
                # short is a poor floor and a poor start)
                cut = None if limit is None or params.deterministic else limit
                base = greedy_plan(problem, time_limit=cut, stop=stop)
                if base.usable:
                    params = params.replace(hint=list(base.result.assignments))
                    greedy_start = base.complete
                greedy_seconds = time.monotonic() - began
                rest_now = left()
                if (
                    scale
                    and rest_now is not None
                    and not params.deterministic
                    and (not base.complete or rest_now < NO_PARTS_SHARE * greedy_seconds)
                ):
                    # splitting and sending the parts take about 0.4 of the greedy's time,
                    # the parts' workers as much again: no time for them; what is left goes
                    # to the LNS at scale in this process, as a single run would
                    return _whole_instead(problem, params, rest_now, limit, began)
            placed: dict[int, set[int]] = {}
            if params.hint:
                node_of, task_of = problem.node_index, problem.task_index
                for x in params.hint:
                    if x.task in task_of and x.node in node_of:
                        placed.setdefault(task_of[x.task], set()).add(node_of[x.node])
            sp = split(problem, k, params.seed, placed, deal=options.split or "plan")
            del placed
            k = len(sp.parts)
            budgets = _budget(problem.max_moves, sp.parts, problem)
            # each part's share of the hint (whole task groups on the part's nodes)
            hints: list[list[Assignment] | None] = [None] * k
            if params.hint:
                hints = shares_of(problem, sp, params.hint)
            # at scale from the greedy's whole plan: the task groups it spread over two parts
            # are either shared out (each part places the tasks and replicas the plan puts on
            # its nodes: SPREAD_GROUPS "share") or held where it put them, out of the parts,
            # until the improvement over the whole plan (each part gets what they leave of
            # its nodes: "hold")
            from_greedy = scale and greedy_start and bool(params.hint)
            portions: dict[int, dict[int, list[Assignment]]] = {}
            if from_greedy and SPREAD_GROUPS == "share":
                portions = _portions(problem, sp, hints, params.hint or [])
            tasks_in: list[list[int]] = [list(p.tasks) for p in sp.parts]
            replicas_in: list[dict[int, int]] = [{} for _ in sp.parts]
            strict: set[int] = set()
            if portions:
                tasks_in, replicas_in, strict = _shared_out(problem, sp, portions)
                if any(not ts for ts in tasks_in):  # a part left without a task: held
                    portions = {}
                    tasks_in = [list(p.tasks) for p in sp.parts]
                    replicas_in = [{} for _ in sp.parts]
                    strict = set()
                else:
                    hints = _shares_with(problem, hints, portions)
            held = (
                _held(problem, sp, hints, params.hint or [])
                if from_greedy and not portions and SPREAD_GROUPS != "insert"
                else {}
            )
            rooms = _rooms(problem, sp, held)
            if held:  # a share keeps what the part solves
                task_of = problem.task_index
                hints = [
                    [x for x in share if task_of[x.task] not in held] or None
                    if share is not None
                    else None
                    for share in hints
                ]
                tasks_in = [[t for t in p.tasks if t not in held] for p in sp.parts]
            # one part at a time as plain data, kept as bytes only (a worker, a Ray task on
            # another machine, needs nothing else)
            data: list[bytes] = []
            solved: list[int] = []  # the tasks of each part's sub-problem
            sizes: list[int] = []
            writing = 0.0  # the longest a part's bytes took to write
            # at scale a part's pools are written as pools (its node ids then differ from the
            # problem's: its hint and its plan go through them)
            names: list[dict[int, str] | None] = []
            for i, p in enumerate(sp.parts):
                wrote = time.monotonic()
                capacity, cost = rooms[i]
                mine = tasks_in[i]
                solved.append(len(mine))
                names.append({} if scale and POOLS_AS_POOLS else None)
                data.append(
                    sub_bytes(
                        sub_data(
                            problem,
                            mine,
                            p.nodes,
                            capacity=capacity,
                            cost=cost,
                            max_moves=budgets[i],
                            name=f"{problem.name or 'problem'}-part{i + 1}of{k}",
                            relax=True,
                            replicas=replicas_in[i],
                            strict=strict,
                            names=names[i],
                        )
                    )
                )
                writing = max(writing, time.monotonic() - wrote)
                sizes.append(len(data[-1]))
    except Stopped:
        return Result(
            solver=f"{engine} in parts",
            status=Status.UNKNOWN,
            assignments=[],
            seconds=time.monotonic() - began,
            seed=params.seed,
            message="stopped while splitting the problem",
        )
    jobs = options.jobs or _default_jobs(k)
    cores = os.cpu_count() or 1
    workers = params.workers
    if options.executor == "local" and jobs > 1:
        workers = max(1, min(workers, cores // jobs))
    part_options = dict(engine_options)
    if scale and "lns" not in part_options:
        part_options["lns"] = "scale"  # the LNS at scale in every part, whatever its size
        if warm:
            part_options["floor"] = False  # from the share: the whole problem's floor is here

    def opts_for(
        seconds: float | None,
        hint: list[Assignment] | None = None,
        own: Mapping[str, Any] = engine_options,
    ) -> SolveOptions:
        return SolveOptions(
            solver=engine,
            seed=params.seed,
            time_limit=math.inf if seconds is None else max(0.5, seconds),
            workers=workers,
            deterministic=params.deterministic,
            hint=hint,
            options=dict(own),
        )

    limits = problem.source.limits
    split_seconds = time.monotonic() - began
    # unions re-share a max_moves budget that the parts already split: not done (yet)
    improving = options.improve and k >= 2 and problem.max_moves is None
    # parts run in waves of `parallel` at once; each wave gets an equal share of the parts'
    # time. With deterministic, every share is a fixed fraction of the limit (never of the
    # wall-clock time left), so that the same input gives the same plan.
    parallel = jobs if options.executor == "local" else k
    waves = -(-k // max(1, parallel))
    rest = limit if params.deterministic else left()
    reserve = 0.0 if limit is None or not options.improve else REPAIR_SHARE * limit
    part_limit = None
    grace = None
    if scale:
        # at scale: what follows the parts is the improvement over the whole plan and the
        # final check; each part's limit is its window less what its worker spends outside
        # the engine (reading its part, checking and writing its plan), and a part still
        # running a little past that is killed (it keeps its share of the greedy's plan)
        reserve = 0.0 if limit is None else SCALE_FINAL_SHARE * limit
        overhead = PART_OVERHEAD_FACTOR * writing
        if options.part_time_limit is not None:
            part_limit = options.part_time_limit
        elif rest is not None:
            fraction = SCALE_PART_SHARE if improving else 1.0
            window = (rest - reserve) * fraction / waves
            part_limit = max(1.0, window - (0.0 if params.deterministic else overhead))
        if not params.deterministic and options.part_time_limit is None:
            # a part killed loses all it found and keeps only its share: it may run on into
            # the improvement's time, up to the end of its wave's share of the run (its
            # worker's time outside the engine grows with the load: at K = 2, load 5-6, 35 s
            # against the 12 s estimated, and the part was killed 1 s before it was done)
            until_end = None if rest is None else (rest - reserve) / waves

            def grace(seconds: float) -> float:
                # a part killed loses all it found: only a worker clearly stuck is
                least = 4.0 + 2 * overhead + 0.15 * seconds
                return least if until_end is None else max(least, until_end - seconds)

        elif options.part_time_limit is not None:
            # a part given its own seconds (as on a machine of its own, to measure what K
            # machines do) runs to its end: only a stuck one is killed

            def grace(seconds: float) -> float:
                return 120.0 + 2 * seconds

    elif options.part_time_limit is not None:
        part_limit = options.part_time_limit
    elif rest is not None:
        part_limit = (rest - reserve) * (PART_SHARE if improving else 1.0) / waves
    if grace is None and params.deterministic:
        grace = deterministic_grace
    if executor is None:
        executor = make_executor(options.executor, jobs, options.ray_address, grace=grace)
    fixed_rounds = max(1, k // 2)
    union_limit = None
    if params.deterministic and limit is not None:
        pairs_waves = -(-(k // 2) // max(1, parallel))
        union_limit = (limit - reserve) * (1 - PART_SHARE) / fixed_rounds / pairs_waves
    label = problem.name or "problem"
    parts_began = time.monotonic()
    found = run_jobs(
        [
            Job(
                f"{label} part {i + 1}/{k}",
                d,
                opts_for(part_limit, _renamed(problem, hints[i], names[i]), part_options),
            )
            for i, d in enumerate(data)
        ],
        executor,
        limits=limits,
        stop=stop,
    )
    parts_here = time.monotonic() - parts_began  # the parts in waves here, not on K machines
    del data
    for got, named in zip(found, names, strict=True):
        if got is not None and got.assignments is not None and named:
            back = {name: problem.nodes[n].id for n, name in named.items()}
            got.assignments = [dataclasses.replace(x, node=back[x.node]) for x in got.assignments]

    # how long a part ran past its limit (the slowest): loading, building, checking
    overrun = 0.0
    if part_limit is not None:
        walls = [f.wall for f in found if f is not None]
        overrun = max(0.0, max(walls, default=0.0) - part_limit)

    # coalesce
    task_of = problem.task_index
    by_task: dict[int, list[Assignment]] = {}
    part_of_task = [-1] * len(problem.tasks)
    for i, p in enumerate(sp.parts):
        for t in p.tasks:
            part_of_task[t] = i
    objective: list[dict[str, float] | None] = []
    part_stats = []
    kept_shares = 0
    for i, (p, got) in enumerate(zip(sp.parts, found, strict=True)):
        stat: dict[str, Any] = {
            "tasks": len(p.tasks),
            "solved_tasks": solved[i],  # less those held out of it
            "bytes": sizes[i],
            "nodes": len(p.nodes),
            "seconds": None if got is None else round(got.wall, 3),
            "engine_seconds": None if got is None or got.seconds is None else round(got.seconds, 3),
            "status": None if got is None else (got.status or got.outcome),
            # the part's objective on its sub-problem (required tasks relaxed: their
            # unplaced weight is the sub-problem's, not the problem's)
            "objective": None if got is None else got.objective,
            # the engine's stages (at scale: preparing, searching, checking) and its
            # search's cost from start to end (where most of a part's seconds go)
            "stages": None if got is None else got.stages,
            "from_to": None if got is None else got.from_to,
        }
        part_stats.append(stat)
        if got is None or got.assignments is None:
            # lost, late or failed: the part keeps its share of the plan it started from
            share = hints[i]
            if share is None or stop.is_set():
                objective.append(None)
                continue
            kept_shares += 1
            stat["kept"] = "its share of the start plan"
            for a in share:
                by_task.setdefault(task_of[a.task], []).append(a)
            own = None if scale else _share_objective(problem, p, share)
            stat["objective"] = own
            objective.append(own)
            continue
        objective.append(got.objective)
        for a in got.assignments:
            by_task.setdefault(task_of[a.task], []).append(a)
    for t, xs in held.items():
        by_task[t] = list(xs)
    dropped = _join_portions(problem, by_task, portions) if portions else 0
    state = _State(problem, by_task, part_of_task, sp.part_of_node, objective)
    state.stats = {
        "partitions": k,
        "executor": options.executor,
        "warm": bool(params.hint),
        "parts": part_stats,
        "part_limit": None if part_limit is None else round(part_limit, 3),
        "left_out": len(sp.left_out),
        "greedy_seconds": round(greedy_seconds, 3),
        "split_seconds": round(split_seconds, 3),
        "write_seconds": round(writing, 3),
        "held": len(held),
        # tasks of the groups the greedy spread that the parts placed each its share of
        # (split: of them, tasks whose replicas were on two parts or more); dropped: tasks
        # taken out after (a part left a replica or a gang mate unplaced)
        "shared_out": {
            "tasks": len(portions),
            "split": sum(1 for by_part in portions.values() if len(by_part) > 1),
            "strict": len(strict),
            "dropped": dropped,
        }
        if portions
        else None,
        # (plan without a plan to follow is random)
        "split": "plan" if options.split in (None, "plan") and params.hint else "random",
    }
    coalesced = time.monotonic()
    if not held:  # (the parts' objectives leave the held tasks out: not the whole's)
        _tell(params, began, state)

    rounds = 0
    accepted = 0
    repaired = 0
    if improving and scale and not stop.is_set():
        seconds = (
            (limit - reserve) * (1 - SCALE_PART_SHARE)
            if params.deterministic and limit is not None
            else (None if left() is None else left() - reserve)  # type: ignore[operator]
        )
        least = max(2.0, MIN_IMPROVE_PER_TASK * len(problem.tasks))
        if seconds is None or seconds >= least or params.deterministic:
            state.stats["improve"] = _improve_whole(state, params, seconds)
    elif improving and not stop.is_set():
        rnd = random.Random(f"improve:{params.seed}:{k}")
        pairs_waves = -(-(k // 2) // max(1, parallel))
        while not stop.is_set():
            if params.deterministic:
                if rounds >= fixed_rounds:
                    break
                seconds = union_limit
            else:
                # a job runs past its limit by what its worker spends outside the engine's
                # search (loading, model building, checking): twice the parts' overrun for a
                # union of two
                rest = left()
                extra = 2 * overrun
                if rest is not None and rest - reserve < (MIN_ROUND + extra) * pairs_waves:
                    break
                seconds = None if rest is None else (rest - reserve) / pairs_waves - extra
            took = _improve_round(state, sp, rnd, executor, opts_for, seconds, limits, stop)
            rounds += 1
            accepted += took
            if took:
                _tell(params, began, state)
            if limit is None or rounds >= 2 * k:
                break
        state.stats["improve"] = {"rounds": rounds, "unions_kept": accepted}
    if options.improve and not problem.scheduling and not stop.is_set() and not scale:
        # (at scale the improvement places what the parts left unplaced: its start is the
        # coalesced plan completed by first fit with ejection; a repair's sub-problem of tens
        # of thousands of tasks on the whole fleet would take minutes)
        seconds = (REPAIR_SHARE * limit) if params.deterministic and limit else left()
        repaired += _repair(state, engine, params, engine_options, seconds, stop)
    if scale and not improving and not stop.is_set() and state.by_task:
        # no improvement over the whole plan follows (improve=False: the scaling curve): the
        # coalesced plan completed as that improvement would start, without its search
        from ..cpsat.lns.scale import complete

        began_completing = time.monotonic()
        assignments, completed_n = complete(problem, state.assignments())
        if completed_n:
            state.by_task = {}
            for x in assignments:
                state.by_task.setdefault(problem.task_index[x.task], []).append(x)
        state.stats["completed"] = {
            "placed": completed_n,
            "seconds": round(time.monotonic() - began_completing, 2),
        }
        repaired += completed_n
        if CROSS_SECONDS > 0 and not stop.is_set():
            # the fleet-wide moves over the whole coalesced plan: a part's nearly empty
            # nodes into the room the other parts left (counted in the implied wall time)
            from .cross import across

            moved, state.stats["across"] = across(problem, state.assignments(), CROSS_SECONDS)
            if state.stats["across"].get("to_cost") is not None:
                state.by_task = {}
                for x in moved:
                    state.by_task.setdefault(problem.task_index[x.task], []).append(x)
    state.stats["repaired"] = repaired
    # the wall time this run implies on K machines: all it did here but the parts' waves, and
    # its slowest part instead
    slowest = max((f.wall for f in found if f is not None), default=0.0)
    state.stats["implied_seconds"] = round(time.monotonic() - began - parts_here + slowest, 3)

    assignments = state.assignments()
    done = set(state.by_task)
    missing_required = any(t.required and t.index not in done for t in problem.tasks)
    ok = all(o is not None for o in state.objective) or not missing_required
    status = Status.FEASIBLE if ok and not missing_required else Status.UNKNOWN
    seconds = time.monotonic() - began
    state.stats["seconds"] = {
        "parts": round(coalesced - began, 3),
        "total": round(seconds, 3),
    }
    failed = sum(1 for got in found if got is None or got.assignments is None)
    message = (
        f"{k} parts on {options.executor} ({jobs} at a time)"
        if options.executor == "local"
        else f"{k} parts on Ray"
    )
    if params.hint:
        message += ", each from its share of the " + ("greedy's plan" if warm else "hint")
    if failed:
        lost = failed - kept_shares
        message += f"; {failed} without a plan of their own"
        if kept_shares:
            message += f" ({kept_shares} kept their share of the start plan)"
        if lost:
            message += f" ({lost} left their tasks to the repair)"
    improve = state.stats.get("improve") or {}
    if improving and scale and improve:
        message += (
            f"; the LNS at scale over the whole plan: {improve.get('from_cost')} to "
            f"{improve.get('to_cost')} in {improve.get('seconds')} s"
        )
    elif improving and not scale:
        message += f"; {accepted} of the unions re-solved in {rounds} rounds kept"
    if repaired:
        message += f"; {repaired} unplaced tasks placed by the repair"
    if improve.get("restored"):
        message += (
            f"; {improve['restored']} tasks the parts left unplaced put back where the "
            "greedy's plan had them"
        )
    engines = sorted({o.solver for o in found if o is not None and o.solver})
    result = Result(
        solver=f"{'+'.join(engines) or engine} in {k} part{'s' if k > 1 else ''}",
        status=status,
        assignments=assignments,
        seconds=seconds,
        seed=params.seed,
        message=message,
        options={"partitions": state.stats},
    )
    if not final:
        return result
    return _floor(problem, result, missing_required, stop) if warm else result


def _renamed(
    problem: Problem, share: list[Assignment] | None, names: Mapping[int, str] | None
) -> list[Assignment] | None:
    """``share`` with the node ids of a part whose pools are written as pools (``names``:
    node index -> its id in the part, :func:`.subproblem.sub_data`)."""
    if share is None or not names:
        return share
    node_of = problem.node_index
    return [dataclasses.replace(x, node=names[node_of[x.node]]) for x in share]


def _floor(
    problem: Problem, result: Result, missing_required: bool, stop: threading.Event
) -> Result:
    """The better of the parts' plan and the whole problem's greedy plan (the warm start,
    known here), lexicographically or by the weights as :func:`..baseline.compare` says:
    the parts' plan leaving a required task unplaced is no plan, the greedy's is taken
    without an evaluation; otherwise both are evaluated (not when stopped: the seam's floor
    then keeps the parts' plan, as for any engine). Marked as compared, so that the seam's
    floor does not evaluate it again."""
    from taskalloc.problems.evaluate import evaluate

    from ..baseline import DEFAULT_POLICY, compare, known, take_greedy

    base = known(problem, DEFAULT_POLICY)
    if base is None or not base.usable:
        return result
    if missing_required:
        return take_greedy(result, base)
    if stop.is_set():
        return result
    ours = evaluate(problem, result.assignments, reasons=False)
    if compare(problem, ours, base.evaluation) > 0:
        return take_greedy(result, base)
    return dataclasses.replace(result, options={**result.options, "baseline": base.policy})


def _whole_instead(
    problem: Problem, params: Params, rest: float, limit: float | None, began: float
) -> Result:
    """No time for parts: cpsat's LNS at scale over the whole problem from its greedy plan
    (cached: it ran already), with ``rest`` seconds less the final share."""
    from .. import load_engine

    eng = load_engine("cpsat")
    final = 0.0 if limit is None else SCALE_FINAL_SHARE * limit
    res = eng.solve(
        problem,
        params.replace(hint=None, time_limit=max(1.0, rest - final)),
        eng.Options(lns="scale"),
    )
    note = "no time for parts after the greedy: the LNS at scale in this process"
    return dataclasses.replace(
        res,
        solver=f"{res.solver} (no parts)",
        seconds=time.monotonic() - began,
        message=f"{note}; {res.message}" if res.message else note,
        options={**res.options, "partitions": {"parts": [], "no_parts": note}},
    )


def _spread_by(
    problem: Problem,
    sp: Split,
    hints: Sequence[list[Assignment] | None],
    start: Sequence[Assignment],
) -> tuple[dict[int, list[Assignment]], set[int]]:
    """What the plan ``start`` places, per task (its assignments to nodes of the problem: a
    hint may name a node that is gone), and the task groups (:func:`components`) it spread
    over two parts: those with a placed task in no part's share (``hints``)."""
    task_of, node_of = problem.task_index, problem.node_index
    shared: set[int] = set()
    for share in hints:
        for x in share or ():
            shared.add(task_of[x.task])
    at: dict[int, list[Assignment]] = {}
    for x in start:
        found = task_of.get(x.task)
        if found is not None and x.node in node_of:
            at.setdefault(found, []).append(x)
    return at, {sp.component_of[t] for t in at if t not in shared}


def _held(
    problem: Problem,
    sp: Split,
    hints: Sequence[list[Assignment] | None],
    start: Sequence[Assignment],
) -> dict[int, list[Assignment]]:
    """The task groups of the parts (gangs, chains, separation groups: :func:`components`)
    that the plan ``start`` (the greedy's, whole) spread over two parts, a task of which is
    in no part's share: every task of such a group that ``start`` places is held where it
    puts it, out of the parts, until the improvement over the whole plan. So every part
    starts from a whole plan of its tasks, with nothing to insert (at 150,000 x 5,000 the
    parts' first fit left required tasks out that the improvement then could not place in
    time), and the coalesced plan places all that ``start`` places. Empty when a part would
    be left without a task."""
    at, spread = _spread_by(problem, sp, hints, start)
    held: dict[int, list[Assignment]] = {}
    for p in sp.parts:
        mine = {t: at[t] for t in p.tasks if t in at and sp.component_of[t] in spread}
        if len(mine) == len(p.tasks):
            return {}
        held.update(mine)
    return held


def _rooms(
    problem: Problem, sp: Split, held: Mapping[int, Sequence[Assignment]]
) -> list[tuple[dict[int, np.ndarray], dict[int, float]]]:
    """Per part, what its sub-problem gives instead of the whole problem's: each node's
    capacity less what the held tasks use there, and no cost for a node a held task keeps
    open (paid already). (A held task is separated only from tasks of its group: held too.)"""
    node_of = problem.node_index
    out: list[tuple[dict[int, np.ndarray], dict[int, float]]] = [({}, {}) for _ in sp.parts]
    used: dict[int, np.ndarray] = {}
    for t, xs in held.items():
        for x in xs:
            n = node_of[x.node]
            used[n] = used.get(n, 0) + problem.demand_vector(t, n)
    for n, load in used.items():
        i = sp.part_of_node[n]
        if i >= 0:
            out[i][0][n] = problem.capacity[n] - load
            out[i][1][n] = 0.0
    return out


def _share_objective(problem: Problem, part: Part, share: list[Assignment]) -> dict[str, float]:
    """The objective of ``share`` on the part's sub-problem (as its worker would report it)."""
    from taskalloc.problems.compiler import problem_from_dict
    from taskalloc.problems.evaluate import evaluate

    data = sub_data(problem, part.tasks, part.nodes, relax=True)
    sub = problem_from_dict(data, "<part>", locate=False)
    return dict(evaluate(sub, share, reasons=False).objective)


def _improve_whole(state: _State, params: Params, seconds: float | None) -> dict[str, Any]:
    """At scale: cpsat's LNS at scale over the whole problem from the coalesced plan, in this
    process (its fleet-wide moves and sub-models cross the parts' borders, and it inserts
    what the parts left unplaced first); its plan replaces the coalesced one when it is a plan
    (it keeps only plans no worse than its start; the seam compares the result with the
    greedy's plan). The statistics of the step."""
    from .. import load_engine

    problem = state.problem
    began = time.monotonic()
    eng = load_engine("cpsat")
    start = state.assignments()
    res = eng.solve(
        problem,
        params.replace(hint=start, time_limit=math.inf if seconds is None else max(1.0, seconds)),
        eng.Options(lns="scale", floor=False),  # from the coalesced plan: the seam's floor
    )
    out: dict[str, Any] = {
        "mode": "lns at scale over the whole plan",
        "seconds": round(time.monotonic() - began, 2),
        "limit": None if seconds is None else round(seconds, 2),
        "started_from": res.options.get("warm_start"),
        "stages": res.options.get("stage_seconds"),
    }
    trajectory = res.trajectory or []
    if trajectory:
        out["from_cost"] = round(float(trajectory[0][1]), 2)
        out["to_cost"] = round(float(trajectory[-1][1]), 2)
    out["restored"] = res.options.get("restored")  # None: no greedy plan known there
    # kept when the search ran (from the coalesced plan, completed): it keeps only plans no
    # worse than its start, so even with required tasks still unplaced (status unknown) its
    # plan is no worse than the coalesced one; a run that ended before its search returns the
    # greedy's plan, which may be worse than the parts' (the driver compares with it after)
    if (
        res.status in (Status.FEASIBLE, Status.OPTIMAL, Status.UNKNOWN)
        and res.assignments
        and out["started_from"]
    ):
        by_task: dict[int, list[Assignment]] = {}
        for x in res.assignments:
            by_task.setdefault(problem.task_index[x.task], []).append(x)
        state.by_task = by_task
        out["kept"] = True
    return out


def _tell(params: Params, began: float, state: _State) -> None:
    """A progress point: the last lexicographic term (e.g. cost) of the parts together (the
    unplaced term of parts is not the problem's: required tasks are worth more there)."""
    obj = state.problem.objective
    if params.progress is None or obj.kind != "lexicographic":
        return
    term = obj.terms[-1]
    known = [o for o in state.objective if o is not None]
    if term == "unplaced" or not known:
        return
    from ..clock import Point

    value = combine(known).get(term)
    if value is not None:
        params.progress(Point(time.monotonic() - began, value, None, term))


def _improve_round(
    state: _State,
    sp: Split,
    rnd: random.Random,
    executor: Executor,
    opts_for: Any,
    seconds: float | None,
    limits: Any,
    stop: threading.Event,
) -> int:
    """Re-solve the unions of a random pairing of the parts (in parallel); keep each union's
    plan when it is better there and keeps every task group on the nodes of one part.
    Returns how many unions were kept."""
    problem = state.problem
    k = len(sp.parts)
    order = sorted(set(state.part_of_node) - {-1})  # the parts left (unions may merge two)
    rnd.shuffle(order)
    pairs = [(order[i], order[i + 1]) for i in range(0, len(order) - 1, 2)]
    if not pairs:
        return 0
    nodes_of: list[list[int]] = [[] for _ in range(k)]
    for n, p in enumerate(state.part_of_node):
        if p >= 0:
            nodes_of[p].append(n)
    tasks_of: list[list[int]] = [[] for _ in range(k)]
    for t, p in enumerate(state.part_of_task):
        if p >= 0:
            tasks_of[p].append(t)
    jobs: list[Job] = []
    kept_pairs = []
    for a, b in pairs:
        tasks = sorted(tasks_of[a] + tasks_of[b])
        nodes = sorted(nodes_of[a] + nodes_of[b])
        if not tasks:
            continue
        hint = [x for t in tasks for x in state.by_task.get(t, ())]
        try:
            data = sub_bytes(sub_data(problem, tasks, nodes, relax=True))
        except ValueError:
            continue
        label = f"{problem.name or 'problem'} parts {a + 1}+{b + 1}"
        jobs.append(Job(label, data, opts_for(seconds, hint)))
        kept_pairs.append((a, b, tasks))
    found = run_jobs(jobs, executor, limits=limits, stop=stop)
    task_of = problem.task_index
    node_of = problem.node_index
    comp_of, _ = components(problem)
    kept = 0
    for (a, b, tasks), got in zip(kept_pairs, found, strict=True):
        if got is None or got.assignments is None or got.objective is None:
            continue
        before = [o for o in (state.objective[a], state.objective[b]) if o is not None]
        log = state.stats.setdefault("unions", [])
        log.append(
            {
                "parts": [a + 1, b + 1],
                "before": combine(before) if len(before) == 2 else None,
                "after": dict(got.objective),
                "seconds": round(got.wall, 3),
            }
        )
        if len(before) == 2 and not better(problem, got.objective, combine(before)):
            continue
        new: dict[int, list[Assignment]] = {}
        for x in got.assignments:
            new.setdefault(task_of[x.task], []).append(x)
        # every task group on the nodes of one part, so that later rounds keep it whole; else
        # the two parts become one for the rounds that follow
        part_of_comp: dict[int, int] = {}
        whole = True
        for t, xs in new.items():
            for x in xs:
                p = state.part_of_node[node_of[x.node]]
                if part_of_comp.setdefault(comp_of[t], p) != p:
                    whole = False
        for t in tasks:
            state.by_task.pop(t, None)
            if t in new:
                state.by_task[t] = new[t]
                if whole:
                    state.part_of_task[t] = part_of_comp[comp_of[t]]
        obj = dict(got.objective)
        state.objective[a] = obj
        state.objective[b] = {t: (0.0 if t in ADDITIVE else v) for t, v in obj.items()}
        if not whole:
            state.part_of_node = [a if p == b else p for p in state.part_of_node]
            state.part_of_task = [a if p == b else p for p in state.part_of_task]
            state.stats["merged"] = state.stats.get("merged", 0) + 1
        kept += 1
    return kept


def _repair(
    state: _State,
    engine: str,
    params: Params,
    engine_options: Mapping[str, Any],
    seconds: float | None,
    stop: threading.Event,
) -> int:
    """Place what is still unplaced on what the plan leaves (placement problems); returns the
    number of tasks placed."""
    from taskalloc.problems.compiler import problem_from_dict
    from taskalloc.problems.evaluate import evaluate

    from .. import choose
    from .. import solve as solve_engine
    from ..run import engine_options as own_options

    problem = state.problem
    unplaced = [t.index for t in problem.tasks if t.index not in state.by_task]
    if not unplaced:
        return 0
    node_of = problem.node_index
    task_of = problem.task_index
    load = np.zeros_like(problem.capacity)
    used = np.zeros(len(problem.nodes), dtype=bool)
    tasks_on: dict[int, set[int]] = {}
    for t, xs in state.by_task.items():
        for x in xs:
            n = node_of[x.node]
            load[n] += problem.demand_vector(t, n)
            used[n] = True
            tasks_on.setdefault(n, set()).add(t)
    devices = problem.device_count.sum(axis=1) > 0
    open_nodes = [n for n in range(len(problem.nodes)) if not (used[n] and devices[n])]
    capacity = {n: problem.capacity[n] - load[n] for n in open_nodes if used[n]}
    cost = {n: 0.0 for n in open_nodes if used[n]}
    # nodes an unplaced task may not use: those of tasks it must be separated from
    waiting = set(unplaced)
    forbid: dict[int, set[int]] = {}
    for u, xs in state.by_task.items():
        for t in problem.tasks[u].separate & waiting:
            forbid.setdefault(t, set()).update(node_of[x.node] for x in xs)
    open_set = set(open_nodes)
    everywhere = len(open_set) == len(problem.nodes)
    tasks = []
    for t in unplaced:
        ban = forbid.get(t, set())
        allowed = problem.tasks[t].allowed
        if (everywhere and not ban and allowed) or any(
            n in open_set and n not in ban for n in allowed
        ):
            tasks.append(t)
    # a gang goes whole or not at all: only gangs none of whose members is placed
    candidates = set(tasks)

    def whole_gang(t: int) -> bool:
        gang = problem.tasks[t].gang
        return gang is None or all(m in candidates for m in problem.gangs[gang])

    tasks = [t for t in tasks if whole_gang(t)]
    if not tasks:
        return 0
    if any(len(problem.tasks[t].allowed) == len(problem.nodes) for t in tasks):
        needed = sorted(open_set)
    else:
        needed = sorted({n for t in tasks for n in problem.tasks[t].allowed} & open_set)
    try:
        data = sub_data(
            problem,
            tasks,
            needed,
            capacity=capacity,
            cost=cost,
            forbid=forbid,
            max_moves=None if problem.max_moves is None else 0,
            name=f"{problem.name or 'problem'}-repair",
            relax=True,
        )
        sub = problem_from_dict(data, "<repair>", locate=False)
    except (ValueError, Exception):  # a sub-problem that cannot be written: nothing repaired
        return 0
    chosen = choose(sub, engine)
    if sum(len(t.allowed) for t in sub.tasks) > REPAIR_PAIRS:
        chosen = "greedy"  # a large repair: what is left, placed fast
    own, _ = own_options(chosen, dict(engine_options))
    limit = None if seconds is None else max(1.0, seconds)
    res = solve_engine(
        sub,
        chosen,
        seed=params.seed,
        time_limit=math.inf if limit is None else limit,
        workers=params.workers,
        deterministic=params.deterministic,
        stop=stop,
        **own,
    )
    if not res.has_plan or not res.assignments:
        return 0
    ev = evaluate(sub, res.assignments, reasons=False)
    empty = evaluate(sub, [], reasons=False)
    if not ev.feasible or not better(problem, ev.objective, empty.objective):
        return 0
    placed = set()
    for x in res.assignments:
        t = task_of[x.task]
        state.by_task.setdefault(t, []).append(x)
        placed.add(t)
    return len(placed)


def _portions(
    problem: Problem,
    sp: Split,
    hints: Sequence[list[Assignment] | None],
    start: Sequence[Assignment],
) -> dict[int, dict[int, list[Assignment]]]:
    """The task groups (:func:`components`) the plan ``start`` spread over two parts (a task
    of which is in no part's share), shared out: per task of them that ``start`` places, per
    part, its replicas on that part's nodes (in the order of their replica numbers). Empty
    when one of them is on a node of no part."""
    node_of = problem.node_index
    at, spread = _spread_by(problem, sp, hints, start)
    portions: dict[int, dict[int, list[Assignment]]] = {}
    for t, xs in at.items():
        if sp.component_of[t] not in spread:
            continue
        by_part: dict[int, list[Assignment]] = {}
        for x in sorted(xs, key=lambda a: a.replica):
            p = sp.part_of_node[node_of[x.node]]
            if p < 0:
                return {}
            by_part.setdefault(p, []).append(x)
        portions[t] = by_part
    return portions


def _shared_out(
    problem: Problem, sp: Split, portions: Mapping[int, Mapping[int, Sequence[Assignment]]]
) -> tuple[list[list[int]], list[dict[int, int]], set[int]]:
    """Per part: its tasks (those of the split less the shared-out ones, plus each shared-out
    task with replicas on its nodes), the replicas it places of a task it places only some
    of, and the tasks required wherever they are (the members of a gang on two parts)."""
    tasks_in: list[list[int]] = [[t for t in p.tasks if t not in portions] for p in sp.parts]
    replicas_in: list[dict[int, int]] = [{} for _ in sp.parts]
    for t, by_part in portions.items():
        for i, xs in by_part.items():
            tasks_in[i].append(t)
            if len(xs) != problem.tasks[t].replicas:
                replicas_in[i][t] = len(xs)
    for ts in tasks_in:
        ts.sort()
    parts_of_gang: dict[str, set[int]] = {}
    for t, by_part in portions.items():
        gang = problem.tasks[t].gang
        if gang is not None:
            parts_of_gang.setdefault(gang, set()).update(by_part)
    strict = {
        t
        for gang, parts in parts_of_gang.items()
        if len(parts) > 1
        for t in problem.gangs[gang]
        if t in portions
    }
    return tasks_in, replicas_in, strict


def _shares_with(
    problem: Problem,
    hints: Sequence[list[Assignment] | None],
    portions: Mapping[int, Mapping[int, Sequence[Assignment]]],
) -> list[list[Assignment] | None]:
    """Each part's share of the start plan with the shared-out tasks' replicas on its nodes
    (numbered from 0 in the part, as its sub-problem numbers them)."""
    task_of = problem.task_index
    out: list[list[Assignment]] = [
        [x for x in share or () if task_of[x.task] not in portions] for share in hints
    ]
    for _t, by_part in sorted(portions.items()):
        for i, xs in by_part.items():
            out[i].extend(dataclasses.replace(x, replica=j) for j, x in enumerate(xs))
    return [share or None for share in out]


def _join_portions(
    problem: Problem,
    by_task: dict[int, list[Assignment]],
    portions: Mapping[int, Mapping[int, Sequence[Assignment]]],
) -> int:
    """The parts' plans of the shared-out tasks joined in ``by_task``: each task's replicas
    numbered again from 0 (in part order); a task with fewer replicas than it has, and the
    placed mates of a gang with a member left unplaced, taken out (what completes the plan
    places them again). Returns how many tasks were taken out."""
    gone: set[int] = set()
    for t in portions:
        xs = by_task.get(t)
        if not xs:
            continue
        if len(xs) != problem.tasks[t].replicas or len({x.node for x in xs}) != len(xs):
            gone.add(t)
            continue
        by_task[t] = [dataclasses.replace(x, replica=j) for j, x in enumerate(xs)]
    for members in problem.gangs.values():
        if any(m not in by_task or m in gone for m in members):
            gone.update(m for m in members if m in by_task)
    for t in gone:
        by_task.pop(t, None)
    return len(gone)
