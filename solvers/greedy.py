"""Greedy list heuristic: the classic dynamic allocation, and the warm start of exact solvers.

Deterministic, pure Python + numpy. It only decides assignments; objective values, utilisation
and the reasons for unplaced tasks are computed by the evaluator, like for every backend.

Placement problems (no task has ``duration``)
---------------------------------------------
Tasks are taken one at a time in this order:

1. tasks a plan must place first (required ones, their gang mates and, in scheduling problems,
   their transitive ``after`` predecessors: ``problems.problem.effectively_required``), so
   that an optional task never takes the room a required one needs; then (repair passes,
   below) tasks moved forward;
2. priority, descending;
3. size, descending: the sum over resources of demand / mean fleet capacity of that resource
   (resources no node offers count 0), so cpu cores and GiB of memory are comparable;
4. file order.

A gang is a unit: it is handled when its first member comes in that order, its members in that
order, and if one member cannot be placed every member placed so far is removed again (all or
none). The replicas of a task are placed all at once on ``replicas`` distinct nodes, or not at
all.

A replica may go to a node that is allowed (``nodes``/``match``), where every resource still
fits (``load + demand <= capacity + 1e-9``, with ``demand_on`` for that node), that runs no task
of ``separate_from`` (either direction) and no other replica of the same task. Among those the
policy picks:

``least-loaded`` (default)
    the smallest peak utilisation after placing: ``max over resources with capacity > 0 of
    (load + demand) / capacity``; spreads the load (good for the ``balance`` term).
``best-fit``
    the largest peak utilisation after placing (the tightest node); packs nodes full (good for
    ``cost`` and ``nodes``).
``first-fit``
    the lowest node index (file order).

Ties (utilisations within 1e-9) go to the lower *marginal cost* (``assign_cost`` of the task
there, plus the node's ``cost`` if the node runs nothing yet, so packing onto already paid
nodes is preferred), then to a node in the task's ``current`` set (fewer ``moves``), then to the
lower node index. Placing one replica changes only its own node, so the ``k`` replicas of a task
go to the ``k`` best distinct nodes of one ranking.

Replanning: when ``moves`` is a term of the objective (with a weight > 0), tasks with a
``current`` node are placed before the others (after the must-place ones; those with a current
node still allowed before those that must move), and a replica goes
to a node of its ``current`` set whenever one has room, before the policy ranks the rest. With
``max_moves``, a task whose choice would take the moves past the limit chooses again among its
current nodes only, and is left unplaced if that fails.

Scheduling problems (some task has ``duration``)
------------------------------------------------
A serial schedule generation scheme. A task becomes ready when every task of its ``after`` list
has been handled; among ready tasks the next one is chosen by: must-place first, then (repair
passes, below) tasks moved forward, then members of a gang that already has a placed member (so
that gangs complete quickly), priority descending, nominal duration descending (``duration``,
or the longest ``duration_on``), file order. Each replica gets the (node, start) with the
earliest end, where

* ``start >= max(release or 0, end of every replica of every after task)``;
* on that node, for every resource and every instant of ``[start, end)``, the usage of what is
  already scheduled there plus the demand stays within the capacity (per-node step functions of
  usage per resource);
* ``end = start + duration_at(node)``, ``end <= deadline`` and ``end <= horizon`` when given;
* the node never runs (at any time) a task of ``separate_from``, nor another replica of the
  task.

Tasks without ``duration`` take 0 time: they start at the earliest allowed instant and use no
capacity at any instant, but their demand must be within the node's capacity. Ties on the end
are broken by the policy, applied to the peak utilisation over ``[start, end)`` (least-loaded:
lower, best-fit: higher, first-fit: lower node index), then as for placement. A task whose
predecessor is unplaced is not placed. When a gang member cannot be placed, the gang's members
already placed are removed, with everything already placed that depends on them transitively
(and, in turn, those tasks' gang mates).

Revision 2: devices, gangs that start together, services, spread
----------------------------------------------------------------
On a node that splits a resource into devices, a replica is a candidate only if its demand there
is a share of one device or a whole number of devices, and the devices have room: a device with
the share free, or that many empty devices, at the same time as the node has room (placement),
or over the whole window [start, end) (scheduling; the devices' usage is kept as step functions
beside the node's). The node is ranked as above; its devices are then chosen best fit: for a
share, the fullest device it fits on (so shares pack together and leave whole devices empty),
for whole devices the empty ones, identical devices in index order.

A gang that starts together is scheduled when all of its members are ready (``after`` between
members is checked, not waited for): the earliest common start is tried first (the latest
release and ``after`` end of any member), then each later breakpoint of its members' nodes (at
most MAX_GANG_STARTS), and at each the members, in order, take nodes where they fit from exactly
that start; the first start at which all fit is kept. Services go first among the tasks of their
rank and occupy [0, horizon). A task with ``spread`` ranks every candidate as above and takes
them in rank order, each only if the remaining replicas can still be spread within
``max_skew`` (:func:`~taskalloc.problems.proofs.spread_feasible`).

Unplaceable tasks, repair passes and limits
-------------------------------------------
Tasks that cannot be placed are left out of the assignments and the greedy goes on with the
rest. Optional ones are simply skipped. If a task the plan must place is among them, another
pass starts from scratch (at most ``passes`` in all, default 5; ``passes=1`` is the plain
one-pass greedy), "squeaky wheel" style: the tasks left out, their gang mates and (scheduling)
everything they come after move ahead of the other must-place tasks (in placement order, in the
ready list, and within their gang), the tasks that failed outright move further ahead, and the
tasks separated from one that failed outright avoid the nodes it fits on, when they have enough
other candidates. The policy still chooses among the remaining candidates. No further pass
starts when every must-place task that failed outright could not be placed even on an empty
fleet (too big for its allowed nodes, too few of them for its replicas, or past its deadline or
the horizon from its release and dependency chain). The pass that leaves out the fewest
must-place tasks (then the least priority) is returned; the message says how many passes ran
when more than one did.

If it still leaves out a task the plan must place, the result has status ``unknown``, the
message names the tasks, and the partial assignments are kept so that the report can explain;
otherwise the status is ``feasible`` (never ``optimal``: nothing is proved). ``time_limit`` is
checked between tasks; when it runs out the greedy stops (an incomplete gang is removed), the
rest is unplaced and no further pass starts. ``seed`` is only echoed: the greedy is
deterministic.

Complexity
----------
Placement: O(T log T) to sort plus, per task, O(A x R) numpy work over its A allowed nodes and
R resources (O(k log k) more for k > 1 replicas), so O(T x N x R) in the worst case; 10,000
tasks on 1,000 nodes with 4 resources take about 0.5 s per pass. Scheduling: per task,
O(A x S x R) numpy work, where S is the largest number of breakpoints in the usage profile of
an allowed node (at most about twice the number of replicas scheduled on it), plus O(S) to
insert each replica into its node's profile. Repair passes multiply this by at most
``passes``, and happen only when a pass leaves out a must-place task.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from taskalloc.problems.entities import DEVICE_RTOL, device_shape, devices_ok
from taskalloc.problems.plan import Assignment, Status
from taskalloc.problems.problem import Problem, Task, effectively_required, topological_order
from taskalloc.problems.proofs import spread_pick
from taskalloc.problems.source import gc_paused
from taskalloc.problems.wording import noun

from .clock import stop_set
from .engine import Params, at_least, choice
from .fleet import inner_order
from .result import Result

POLICIES = ("least-loaded", "best-fit", "first-fit")

CAP_TOL = 1e-9  # absolute tolerance on capacities (FORMATS.md)
TIE_TOL = 1e-9  # utilisations closer than this are a tie
_INF = float("inf")
_MAX_NAMED = 10  # tasks named in the message before "and N more"
DEFAULT_PASSES = 5


def solve(
    problem: Problem,
    *,
    policy: str = "least-loaded",
    seed: int | None = 0,
    time_limit: float | None = None,
    passes: int = DEFAULT_PASSES,
    stop: threading.Event | None = None,
) -> Result:
    """Place (or schedule) ``problem`` greedily; see the module docstring.

    ``passes`` bounds the number of passes (1: the plain one-pass greedy); a further pass runs
    only while tasks the plan must place are left unplaced and time remains. ``stop`` set
    ends it as the time limit does (between two tasks), with what is placed so far.
    """
    choice("policy", policy, POLICIES)
    t0 = time.perf_counter()
    stop_at = None if time_limit is None else t0 + time_limit
    must = effectively_required(problem)
    with gc_paused():  # a pass makes 10^5 small containers, and no cycle: see gc_paused
        best, timed_out, used = _passes(problem, policy, stop_at, passes, must, stop)
    assert best is not None
    missing = sorted(t for t in must if not best.placed[t])
    parts = []
    if timed_out and stop_set(stop):
        parts.append("stopped on request")
    elif timed_out:
        parts.append(f"time limit of {time_limit:g}s reached")
    if missing:
        names = ", ".join(problem.tasks[t].id for t in missing[:_MAX_NAMED])
        more = f" and {len(missing) - _MAX_NAMED} more" if len(missing) > _MAX_NAMED else ""
        parts.append(f"could not place required {noun(len(missing), 'task')} {names}{more}")
    if used > 1:
        parts.append(f"{used} passes")
    return Result(
        solver="greedy",
        status=Status.UNKNOWN if missing else Status.FEASIBLE,
        assignments=best.assignments(),
        seconds=time.perf_counter() - t0,
        seed=seed,
        message="; ".join(parts) or None,
        options={"policy": policy},
    )


def _passes(
    problem: Problem,
    policy: str,
    stop_at: float | None,
    passes: int,
    must: set[int],
    stop: threading.Event | None,
) -> tuple[_Greedy | None, bool, int]:
    """The greedy's passes (see :func:`solve`): the best, whether time ran out, passes made."""
    boost: dict[int, int] = {}
    avoid: dict[int, set[int]] = {}
    best: _Greedy | None = None
    best_key = (0, 0.0)
    timed_out = False
    used = 0
    for k in range(max(1, passes)):
        if k and stop_at is not None and time.perf_counter() > stop_at:
            timed_out = True
            break
        greedy = _Greedy(problem, policy, stop_at, must, boost, avoid, stop)
        if problem.scheduling:
            greedy.run_scheduling()
        else:
            greedy.run_placement()
        used = k + 1
        timed_out |= greedy.stopped
        missing = [t for t in must if not greedy.placed[t]]
        key = (len(missing), greedy.unplaced_value())
        if best is None or key < best_key:
            best, best_key = greedy, key
        if not missing or greedy.stopped or greedy.hopeless():
            break
        greedy.learn(missing, boost, avoid)
    return best, timed_out, used


#: scores kept by _Greedy._kept_scores in all (8 bytes each: 64 MB)
_SCORES_KEPT = 8_000_000

#: most candidate common starts tried for a gang that starts together
MAX_GANG_STARTS = 1000


class _Pick(NamedTuple):
    """One replica's place: node, start and end (None in placement problems), demand (R,) and,
    on nodes that split resources into devices, the devices it uses (by resource name) and
    what it takes on each device row (D,)."""

    node: int
    start: int | None
    end: int | None
    demand: np.ndarray
    devices: dict[str, tuple[int, ...]] | None = None
    dvec: np.ndarray | None = None


class _Greedy:
    """Shared state: loads (placement) or usage profiles (scheduling), and what is placed.

    Arrays are resource-major, (R, nodes, ...), so that reductions over resources run along
    the first axis, which numpy vectorises well.
    """

    def __init__(
        self,
        problem: Problem,
        policy: str,
        stop_at: float | None,
        must: set[int],
        boost: dict[int, int],
        avoid: dict[int, set[int]],
        stop: threading.Event | None = None,
    ) -> None:
        self.p = problem
        self.policy = policy
        self.stop_at = stop_at
        self.stop = stop
        self.stopped = False
        obj = problem.objective
        # replanning: when `moves` counts, tasks stay on their `current` node where they fit
        self.sticky = "moves" in obj.terms and (obj.kind != "weights" or obj.weights["moves"] > 0)
        n_nodes, n_tasks = len(problem.nodes), len(problem.tasks)
        cap = np.array(problem.capacity, dtype=float).T
        dem = np.array(problem.demand, dtype=float)
        if cap.shape[0] == 0:  # no resource at all: one dummy resource, capacity and demand 0
            cap = np.zeros((1, n_nodes))
            dem = np.zeros((n_tasks, 1))
        self.n_res = cap.shape[0]
        self.cap = np.ascontiguousarray(cap)  # (R, N)
        self.capx = self.cap + CAP_TOL
        self.invcap = np.divide(1.0, self.cap, out=np.zeros_like(self.cap), where=self.cap > 0)
        self.dem = dem  # (T, R)
        self.dcol = dem[:, :, None]  # (T, R, 1): a task's demand as a column
        self.all_nodes = np.arange(n_nodes, dtype=np.intp)
        self.speed = np.array([n.speed for n in problem.nodes], dtype=float)
        self.node_cost = np.array([n.cost for n in problem.nodes], dtype=float)
        self.any_node_cost = bool((self.node_cost > 0).any())
        self.open_cost = self.node_cost.copy()  # node cost if it runs nothing yet, else 0
        self.n_on = np.zeros(n_nodes, dtype=np.int64)  # replicas on each node
        self.must = must
        self.boost = boost  # task -> how much earlier passes ask to move it forward
        self.avoid = avoid  # task -> nodes to leave to a task it is separated from
        self.failed: list[int] = []  # tasks tried and not placeable (not skipped ones)
        self.placed = [False] * n_tasks
        self.reps: list[list[_Pick]] = [[] for _ in range(n_tasks)]
        self.task_nodes: list[list[int]] = [[] for _ in range(n_tasks)]
        self.task_end = [0] * n_tasks  # latest end of a placed task's replicas (scheduling)
        self.gang_failed: dict[str, bool] = {}
        self.succ: list[list[int]] = [[] for _ in range(n_tasks)]
        if problem.scheduling:
            for t in problem.tasks:
                for q in t.after:
                    self.succ[q].append(t.index)
        self._allowed_cache: dict[int, tuple[tuple[int, ...], np.ndarray]] = {}
        # `max_moves`: the moves of the placed tasks, and the tasks held to their current nodes
        self.max_moves = problem.max_moves
        self.moves = 0
        self.pinned: set[int] = set()
        self.load = np.zeros((self.n_res, n_nodes))  # placement
        # placement, least-loaded: the scores of the allowed nodes for each allowed set and
        # demand seen, kept up to date lazily (see _kept_scores)
        self._scores: dict[tuple[int, bytes], list[Any]] = {}
        self._kept = 0  # scores kept in all
        self._changed: list[int] = []  # nodes whose load changed, in order
        # scheduling: node n's usage is a step function with breakpoints
        # times[n, :count[n]] (the first is 0); usage[:, n, i] holds over
        # [times[n, i], times[n, i + 1]); unused slots have time +inf and usage 0
        self.width = 8 if problem.scheduling else 1
        self.times = np.full((n_nodes, self.width), _INF)
        self.times[:, 0] = 0.0
        self.usage = np.zeros((self.n_res, n_nodes, self.width))
        self.count = np.ones(n_nodes, dtype=np.int64)
        # devices (revision 2): one row per (split resource, device index), over nodes; the
        # rows of resource r are dev_rows[r] = (first row, largest device count of r)
        self.dev_rows: dict[int, tuple[int, int]] = {}
        rows = 0
        for name in problem.split_resources:
            ri = problem.resource_index[name]
            kmax = int(problem.device_count[:, ri].max())
            self.dev_rows[ri] = (rows, kmax)
            rows += kmax
        self.n_dev = rows
        self.dcount = np.ascontiguousarray(problem.device_count.T)  # (R, N)
        self.dsize = np.ascontiguousarray(problem.device_size.T)  # (R, N)
        self.dexists = np.zeros((rows, n_nodes), dtype=bool)
        self.dsz = np.zeros((rows, n_nodes))
        for ri, (off, kmax) in self.dev_rows.items():
            for j in range(kmax):
                self.dexists[off + j] = self.dcount[ri] > j
                self.dsz[off + j] = self.dsize[ri]
        self.dload = np.zeros((rows, n_nodes))  # placement: load per device
        self.dusage = np.zeros((rows, n_nodes, self.width))  # scheduling: usage per device
        self._devres: dict[int, list[int]] = {}

    # -- common helpers ----------------------------------------------------------------------

    def out_of_time(self) -> bool:
        if self.stop_at is not None and time.perf_counter() > self.stop_at:
            self.stopped = True
        if stop_set(self.stop):
            self.stopped = True
        return self.stopped

    def allowed(self, task: Task) -> np.ndarray:
        """Allowed node indices as an array, cached per distinct ``allowed`` tuple (only its
        current nodes for a task held there by ``max_moves``)."""
        if task.index in self.pinned and task.current is not None:
            return np.array(sorted(set(task.allowed) & task.current), dtype=np.intp)
        hit = self._allowed_cache.get(id(task.allowed))
        if hit is None:
            if len(task.allowed) == len(self.p.nodes):
                arr = self.all_nodes
            else:
                arr = np.array(task.allowed, dtype=np.intp)
            # the tuple is kept in the entry so that its id stays valid
            hit = self._allowed_cache[id(task.allowed)] = (task.allowed, arr)
        return hit[1]

    def positions(self, al: np.ndarray, nodes: list[int]) -> np.ndarray:
        """Positions in ``al`` (ascending) of those ``nodes`` that are in it."""
        arr = np.asarray(nodes, dtype=np.intp)
        if al is self.all_nodes:
            return arr
        pos = np.searchsorted(al, arr)
        inside = pos < len(al)
        pos, arr = pos[inside], arr[inside]
        return pos[al[pos] == arr]

    def demand(self, task: Task, al: np.ndarray) -> np.ndarray:
        """Demand per replica as columns: (R, 1), or (R, A) over ``al`` with ``demand_on``."""
        col = self.dcol[task.index]
        if not task.demand_on:
            return col
        cols = np.repeat(col, len(al), axis=1)
        ri = self.p.resource_index
        # the columns of the per-node demands, at once: the positions in ``al`` of the nodes
        # named (each at most once: its keys are distinct nodes), then their vectors
        named = np.fromiter(task.demand_on, dtype=np.intp, count=len(task.demand_on))
        if al is self.all_nodes:
            inside = named
            where = np.arange(len(named))
        else:
            pos = np.searchsorted(al, named).clip(0, max(len(al) - 1, 0))
            hit = al[pos] == named if len(al) else np.zeros(len(named), dtype=bool)
            where = np.flatnonzero(hit)
            inside = pos[where]
        if len(where):
            vecs = np.zeros((len(where), cols.shape[0]))
            maps = list(task.demand_on.values())
            for row, i in enumerate(where.tolist()):
                for r, q in maps[i].items():
                    vecs[row, ri[r]] = q
            cols[:, inside] = vecs.T
        return cols

    # -- devices (revision 2) -----------------------------------------------------------------

    def task_devres(self, task: Task) -> list[int]:
        """Split resources (indices) the task demands somewhere: those whose devices matter."""
        if not self.dev_rows:
            return []
        hit = self._devres.get(task.index)
        if hit is None:
            hit = [
                r
                for r in self.dev_rows
                if self.dem[task.index, r] > 0
                or any(dm.get(self.p.resources[r], 0.0) > 0 for dm in task.demand_on.values())
            ]
            self._devres[task.index] = hit
        return hit

    def _device_terms(
        self, r: int, nodes: np.ndarray, q: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For demand ``q`` of split resource ``r`` over ``nodes``: (relevant, shape ok,
        single device, devices needed m, take per device)."""
        k = self.dcount[r, nodes]
        size = self.dsize[r, nodes]
        q = np.broadcast_to(q, nodes.shape)
        relevant = (k > 0) & (q > 0)
        single = q <= size * (1 + DEVICE_RTOL) + 1e-12
        m = np.where(single, 1.0, np.round(q / np.where(size > 0, size, 1.0)))
        take = np.where(single, q, size)
        return relevant, devices_ok(q, size, k), single, m, take

    def shape_ok(self, task: Task, nodes: np.ndarray, d: np.ndarray) -> np.ndarray | None:
        """Where the devices of each node can serve one replica (a share of one device or a
        whole number of them); None when no device matters for the task."""
        devres = self.task_devres(task)
        if not devres:
            return None
        ok = np.ones(len(nodes), dtype=bool)
        for r in devres:
            relevant, shape, _, _, _ = self._device_terms(r, nodes, d[r])
            ok &= ~relevant | shape
        return ok

    def devices_free_now(self, task: Task, nodes: np.ndarray, d: np.ndarray) -> np.ndarray | None:
        """Placement: where the devices of each node can take one replica now (shape and
        room); None when no device matters for the task."""
        devres = self.task_devres(task)
        if not devres:
            return None
        ok = np.ones(len(nodes), dtype=bool)
        for r in devres:
            relevant, shape, single, m, take = self._device_terms(r, nodes, d[r])
            off, kmax = self.dev_rows[r]
            loads = self.dload[off : off + kmax][:, nodes]
            exists = self.dexists[off : off + kmax][:, nodes]
            size = self.dsize[r, nodes]
            one = ((loads + take <= size + CAP_TOL) & exists).any(axis=0)
            many = ((loads <= CAP_TOL) & exists).sum(axis=0) >= m
            ok &= ~relevant | (shape & np.where(single, one, many))
        return ok

    def choose_devices(
        self, task: Task, n: int, d: np.ndarray, window: tuple[int, int] | None = None
    ) -> tuple[dict[str, tuple[int, ...]] | None, np.ndarray | None]:
        """The devices one replica uses on node ``n`` (best fit: the fullest device it fits
        on, identical devices in index order), and its take per device row. ``window``: the
        replica's [start, end) in a scheduling problem."""
        devres = self.task_devres(task)
        if not devres or not self.dexists[:, n].any():
            return None, None
        chosen: dict[str, tuple[int, ...]] = {}
        dvec = np.zeros(self.n_dev)
        for r in devres:
            k = int(self.dcount[r, n])
            q = float(d[r])
            if k == 0 or q <= 0:
                continue
            size = float(self.dsize[r, n])
            shape = device_shape(q, size, k)
            assert shape is not None  # candidates are filtered by shape_ok
            m, take = shape
            off = self.dev_rows[r][0]
            loads = self._device_loads(off, k, n, window)
            if m == 1:
                cand = np.flatnonzero(loads + take <= size + CAP_TOL)
                picked = [int(cand[int(np.argmax(loads[cand]))])]
            else:
                picked = [int(j) for j in np.flatnonzero(loads <= CAP_TOL)[:m]]
            assert len(picked) == m
            chosen[self.p.resources[r]] = tuple(picked)
            dvec[[off + j for j in picked]] = take
        return (chosen or None), (dvec if chosen else None)

    def _device_loads(self, off: int, k: int, n: int, window: tuple[int, int] | None) -> np.ndarray:
        if window is None:
            return self.dload[off : off + k, n]
        s, e = window
        if e <= s:  # a zero-length run occupies nothing
            return np.zeros(k)
        c = int(self.count[n])
        row = self.times[n, :c]
        i = int(np.searchsorted(row, float(s), side="right")) - 1
        j = int(np.searchsorted(row, float(e), side="left"))
        return self.dusage[off : off + k, n, i : max(j, i + 1)].max(axis=1)

    def fits_empty(self, task: Task, al: np.ndarray) -> np.ndarray:
        """Where one replica fits an empty node of ``al``: capacity and device shape."""
        d = self.demand(task, al)
        ok = (d <= self.capx[:, al]).all(axis=0)
        shape = self.shape_ok(task, al, d)
        return np.asarray(ok if shape is None else ok & shape, dtype=bool)

    def blocked(self, task: Task, al: np.ndarray) -> np.ndarray | None:
        """Positions in ``al`` of nodes running a task separated from ``task``."""
        if not task.separate:
            return None
        nodes = [n for o in task.separate for n in self.task_nodes[o]]
        return self.positions(al, nodes) if nodes else None

    def tie_keys(self, task: Task, nodes: np.ndarray) -> tuple[np.ndarray | None, ...]:
        """(marginal cost, not-current) over ``nodes``; None when they cannot differ."""
        cost = None
        if task.assign_cost or self.any_node_cost:
            cost = self.open_cost[nodes]
            ac = task.assign_cost
            if len(ac) <= 8:
                for n, c in ac.items():
                    cost[nodes == n] += c
            else:
                cost += np.array([ac.get(n, 0.0) for n in nodes.tolist()])
        moved = None
        if task.current:
            moved = ~np.isin(nodes, list(task.current))
        return cost, moved

    def pick(
        self,
        score: np.ndarray,
        k: int,
        nodes: np.ndarray,
        task: Task,
        primary: np.ndarray | None = None,
    ) -> np.ndarray | None:
        """Positions of the ``k`` best candidates: lowest ``primary`` (exact; the end in
        scheduling), then lowest ``score`` (within TIE_TOL), marginal cost, current node, node
        index. Infeasible candidates have an infinite ``primary`` or ``score``. None if fewer
        than ``k`` are feasible."""
        first = score if primary is None else primary
        if task.spread is not None and k > 1:  # rank every candidate, then spread them
            feasible = int(np.count_nonzero(first < _INF))
            if feasible < k:
                return None
            ranked = self.pick(score, feasible, nodes, _no_spread(task), primary)
            return None if ranked is None else self.spread_select(task, nodes, ranked, k)
        keys: list[np.ndarray] = []
        if k == 1:
            j = int(first.argmin())
            m = first[j]
            if m == _INF:
                return None
            if primary is None:
                cand = np.flatnonzero(score <= m + TIE_TOL)
            else:
                cand = np.flatnonzero(primary == m)
                sub = score[cand]
                cand = cand[sub <= sub.min() + TIE_TOL]
            if len(cand) == 1:
                return cand
        else:
            if int(np.count_nonzero(first < _INF)) < k:
                return None
            kth = np.partition(first, k - 1)[k - 1]
            cand = np.flatnonzero(first <= (kth + TIE_TOL if primary is None else kth))
            keys.append(np.round(score[cand] / TIE_TOL))
            if primary is not None:
                keys.append(primary[cand])
        cost, moved = self.tie_keys(task, nodes[cand])
        if cost is not None:
            keys.insert(0, cost)
        if moved is not None:
            keys.insert(0, moved)
        keys.insert(0, nodes[cand])
        return cand[np.lexsort(keys)[:k]]

    def spread_select(
        self, task: Task, nodes: np.ndarray, ranked: np.ndarray, k: int
    ) -> np.ndarray | None:
        """The first ``k`` of the ``ranked`` positions (in ``nodes``) whose label values keep
        the task's spread within max_skew: each in turn, the best one after which the rest can
        still be spread (:func:`~taskalloc.problems.proofs.spread_feasible`)."""
        sp = task.spread
        if sp is None or k <= 1:
            return ranked[:k]
        value = [sp.value_of[int(nodes[j])] for j in ranked]
        taken = spread_pick(value, len(sp.values), k, sp.max_skew)
        return None if taken is None else ranked[taken]

    def commit(self, t: int, picks: list[_Pick]) -> None:
        for n, s, e, d, _, dv in picks:
            if s is None:
                self.load[:, n] += d
                if dv is not None:
                    self.dload[:, n] += dv
                self._changed.append(n)
            elif e is not None and e > s:
                self.add_interval(n, s, e, d, dv)
            self.n_on[n] += 1
            self.open_cost[n] = 0.0
        self.reps[t] = picks
        self.moves += self.off_current(t, picks)
        self.task_nodes[t] = [pick.node for pick in picks]
        self.task_end[t] = max((pick.end or 0 for pick in picks), default=0)
        self.placed[t] = True

    def _kept_scores(self, al: np.ndarray, d: np.ndarray) -> np.ndarray:
        """The least-loaded score of one replica of demand ``d`` (R, 1) on each node of
        ``al`` (inf where it does not fit): what ``_choose_node`` computes over ``al``, element
        for element. Kept per allowed set (``al`` is the array :meth:`allowed` keeps for it)
        and demand, and brought up to date on the nodes whose load changed since its last
        use: 150,000 tasks of 1,300 demands over 5,000 nodes rescore a node or two each
        instead of all 5,000 (read-only: callers copy to change it)."""
        key = (id(al), d.tobytes())
        entry = self._scores.get(key)
        full = al is self.all_nodes
        if entry is not None:
            util, seen = entry
            since = self._changed[seen:]
            if len(since) * 4 > len(al):
                entry = None
            elif since:
                changed = since if len(since) == 1 else sorted(set(since))
                pos = self.positions(al, changed)
                if len(pos):
                    nodes = pos if full else al[pos]
                    new = self.load[:, nodes] + d
                    part = (new * self.invcap[:, nodes]).max(axis=0)
                    part[~(new <= self.capx[:, nodes]).all(axis=0)] = _INF
                    util[pos] = part
                entry[1] = len(self._changed)
        if entry is None:
            new = (self.load if full else self.load[:, al]) + d
            ok = (new <= (self.capx if full else self.capx[:, al])).all(axis=0)
            util = (new * (self.invcap if full else self.invcap[:, al])).max(axis=0)
            util[~ok] = _INF
            if self._kept + len(al) > _SCORES_KEPT:
                while self._scores and self._kept + len(al) > _SCORES_KEPT:
                    oldest = next(iter(self._scores))  # the oldest goes
                    self._kept -= len(self._scores.pop(oldest)[0])
            self._scores[key] = [util, len(self._changed)]
            self._kept += len(al)
        return util

    def off_current(self, t: int, picks: list[_Pick]) -> int:
        """How many of ``picks`` are moves (off the task's ``current`` nodes)."""
        current = self.p.tasks[t].current
        return 0 if current is None else sum(1 for pick in picks if pick.node not in current)

    def within_moves(
        self, t: int, picks: list[_Pick] | None, again: Callable[[], list[_Pick] | None]
    ) -> list[_Pick] | None:
        """``picks`` if they keep the moves within ``max_moves``, else the task's choice
        among its current nodes only (``again()`` chooses again), or None."""
        if picks is None or self.max_moves is None:
            return picks
        if self.moves + self.off_current(t, picks) <= self.max_moves:
            return picks
        self.pinned.add(t)
        try:
            picks = again()
        finally:
            self.pinned.discard(t)
        if picks is not None and self.moves + self.off_current(t, picks) > self.max_moves:
            return None
        return picks

    def uncommit(self, t: int) -> None:
        self.moves -= self.off_current(t, self.reps[t])
        for n, s, e, d, _, dv in self.reps[t]:
            if s is None:
                self.load[:, n] -= d
                if dv is not None:
                    self.dload[:, n] -= dv
                self._changed.append(n)
            elif e is not None and e > s:
                self.remove_interval(n, s, e, d, dv)
            self.n_on[n] -= 1
            if self.n_on[n] == 0:  # an empty node: no rounding drift left behind
                self.open_cost[n] = self.node_cost[n]
                self.load[:, n] = 0.0
                self.dload[:, n] = 0.0
                if s is not None:
                    self.times[n, 1:] = _INF
                    self.usage[:, n, :] = 0.0
                    self.dusage[:, n, :] = 0.0
                    self.count[n] = 1
        self.reps[t] = []
        self.task_nodes[t] = []
        self.placed[t] = False

    def fail_gang(self, gang: str) -> None:
        """Remove the gang's placed members, every placed task depending on them transitively,
        and the gang mates of those, so that no gang is left partly placed."""
        stack = list(self.p.gangs[gang])
        while stack:
            t = stack.pop()
            g = self.p.tasks[t].gang
            if g is not None and not self.gang_failed.get(g):
                self.gang_failed[g] = True
                stack.extend(self.p.gangs[g])
            if self.placed[t]:
                self.uncommit(t)
                stack.extend(s for s in self.succ[t] if self.placed[s])

    def unplaced_value(self) -> float:
        return sum(t.priority * t.replicas for t in self.p.tasks if not self.placed[t.index])

    def learn(self, missing: list[int], boost: dict[int, int], avoid: dict[int, set[int]]) -> None:
        """Squeaky wheel: before the next pass, move forward the must-place tasks this pass left
        out, their gang mates and (scheduling) everything they come after, the tasks that
        failed outright twice as far; and make the tasks separated from a failed one avoid the
        nodes it fits on, when they have other choices."""
        more: set[int] = set()
        stack = list(missing)
        while stack:
            t = stack.pop()
            if t in more:
                continue
            more.add(t)
            task = self.p.tasks[t]
            if task.gang is not None:
                stack.extend(self.p.gangs[task.gang])
            if self.p.scheduling:
                stack.extend(task.after)
        for t in more:
            boost[t] = boost.get(t, 0) + 1
        for t in self.failed:
            if t not in self.must:
                continue
            boost[t] = boost.get(t, 0) + 1
            task = self.p.tasks[t]
            if task.separate:
                al = self.allowed(task)
                fit = al[self.fits_empty(task, al)].tolist()
                for o in task.separate:
                    avoid.setdefault(o, set()).update(fit)

    def hopeless(self) -> bool:
        """Whether every must-place task that failed outright would fail on an empty fleet too
        (too few allowed nodes hold a replica or, scheduling, can end it by its deadline and
        the horizon when it starts as early as its release and dependency chain allow), so
        that no further pass can help."""
        es = self.earliest_start_bounds() if self.p.scheduling else []
        for t in self.failed:
            if t not in self.must:
                continue
            task = self.p.tasks[t]
            al = self.allowed(task)
            ok = self.fits_empty(task, al)
            if self.p.scheduling:
                ok &= es[t] + self.durations(task, al) <= self.limit(task)
            if int(np.count_nonzero(ok)) >= task.replicas:
                return False
        return True

    def earliest_start_bounds(self) -> list[float]:
        """Per task, a lower bound of its start: release, and each predecessor's bound plus its
        shortest duration on a node that can hold it (inf if none can)."""
        p = self.p
        es = [0.0] * len(p.tasks)
        shortest: dict[int, float] = {}
        for t in topological_order(p):
            task = p.tasks[t]
            start = float(task.release or 0)
            for q in task.after:
                if q not in shortest:
                    al = self.allowed(p.tasks[q])
                    fit = self.fits_empty(p.tasks[q], al)
                    dur = self.durations(p.tasks[q], al)[fit]
                    shortest[q] = float(dur.min()) if len(dur) else _INF
                start = max(start, es[q] + shortest[q])
            es[t] = start
        return es

    def limit(self, task: Task) -> float:
        """Latest end of a replica of ``task``: its deadline and the horizon."""
        limit = _INF
        if task.deadline is not None:
            limit = task.deadline
        if self.p.horizon is not None:
            limit = min(limit, self.p.horizon)
        return limit

    def avoided(self, t: int, nodes: np.ndarray, ok: np.ndarray, k: int) -> np.ndarray:
        """``ok`` without the nodes ``t`` should avoid, if at least ``k`` candidates remain."""
        av = self.avoid.get(t)
        if not av:
            return ok
        keep = ok.copy()
        keep[self.positions(nodes, sorted(av))] = False
        return keep if int(np.count_nonzero(keep)) >= k else ok

    def assignments(self) -> list[Assignment]:
        out = []
        ids = [n.id for n in self.p.nodes]
        for task in self.p.tasks:
            for r, pick in enumerate(self.reps[task.index]):
                out.append(
                    Assignment(task.id, r, ids[pick.node], pick.start, pick.end, pick.devices)
                )
        return out

    # -- placement ---------------------------------------------------------------------------

    def placement_order(self) -> list[int]:
        p = self.p
        mean = self.cap.mean(axis=1)
        weight = np.divide(1.0, mean, out=np.zeros_like(mean), where=mean > 0)
        size = self.dem @ weight
        prio = np.array([t.priority for t in p.tasks], dtype=float)
        optional = np.array([t.index not in self.must for t in p.tasks])
        idx = np.arange(len(p.tasks))
        keys = [idx, -size, -prio]
        if self.sticky:  # tasks that run somewhere today keep their place before others come:
            # first those that may stay (a current node is still allowed), then those that
            # must move (so they cannot take the room of one that may stay), then new ones
            keys.append(
                np.array(
                    [
                        2 if t.current is None else 0 if t.current & set(t.allowed) else 1
                        for t in p.tasks
                    ]
                )
            )
        if self.boost:
            boost = np.zeros(len(p.tasks))
            for t, b in self.boost.items():
                boost[t] = b
            keys.append(-boost)
        keys.append(optional)
        return [int(i) for i in np.lexsort(keys)]

    def run_placement(self) -> None:
        p = self.p
        order = self.placement_order()
        rank = {t: i for i, t in enumerate(order)}
        done: set[str] = set()
        for t in order:
            if self.out_of_time():
                return
            gang = p.tasks[t].gang
            if gang is None:
                picks = self.choose_node(t)
                if picks is not None:
                    self.commit(t, picks)
                else:
                    self.failed.append(t)
                continue
            if gang in done:
                continue
            done.add(gang)
            for m in sorted(p.gangs[gang], key=lambda m: (-self.boost.get(m, 0), rank[m])):
                picks = self.choose_node(m)
                if picks is None:
                    self.failed.append(m)
                    self.fail_gang(gang)
                    break
                self.commit(m, picks)

    def choose_node(self, t: int) -> list[_Pick] | None:
        return self.within_moves(t, self._choose_node(t), lambda: self._choose_node(t))

    def _choose_node(self, t: int) -> list[_Pick] | None:
        task = self.p.tasks[t]
        k = task.replicas
        al = self.allowed(task)
        if len(al) < k:
            return None
        d = self.demand(task, al)
        full = al is self.all_nodes
        if (
            t not in self.pinned
            and self.policy == "least-loaded"
            and d.shape[1] == 1
            and not self.task_devres(task)
            and not self.avoid.get(t)
            and not (self.sticky and task.current)
        ):
            util = self._kept_scores(al, d)
            blocked = self.blocked(task, al)
            if blocked is not None:
                util = util.copy()
                util[blocked] = _INF
            found = self.pick(util, k, al, task)
            if found is None:
                return None
            picks = []
            for j in found:
                n = int(al[j])
                devices, dvec = self.choose_devices(task, n, d[:, 0])
                picks.append(_Pick(n, None, None, d[:, 0], devices, dvec))
            return picks
        new = (self.load if full else self.load[:, al]) + d
        ok = (new <= (self.capx if full else self.capx[:, al])).all(axis=0)
        blocked = self.blocked(task, al)
        if blocked is not None:
            ok[blocked] = False
        room = self.devices_free_now(task, al, d)
        if room is not None:
            ok &= room
        ok = self.avoided(t, al, ok, k)
        stay = None
        if self.sticky and task.current:
            stay = np.isin(al, list(task.current)) & ok
            if not stay.any():
                stay = None
        if self.policy == "first-fit":
            pos = np.flatnonzero(ok)
            if stay is not None:  # current nodes first, then the others in index order
                pos = np.concatenate([pos[stay[pos]], pos[~stay[pos]]])
            spread = self.spread_select(task, al, pos, k)
            if spread is None or len(spread) < k:
                return None
            pos = spread
        else:
            util = (new * (self.invcap if full else self.invcap[:, al])).max(axis=0)
            if self.policy == "best-fit":
                util = -util
            if stay is not None:  # any current node ranks before every other node
                util[~stay] += 4.0
            util[~ok] = _INF
            found = self.pick(util, k, al, task)
            if found is None:
                return None
            pos = found
        wide = d.shape[1] > 1
        picks = []
        for j in pos:
            n, dem = int(al[j]), d[:, j] if wide else d[:, 0]
            devices, dvec = self.choose_devices(task, n, dem)
            picks.append(_Pick(n, None, None, dem, devices, dvec))
        return picks

    # -- scheduling --------------------------------------------------------------------------

    def nominal_duration(self, task: Task) -> int:
        return max(task.duration or 0, max(task.duration_on.values(), default=0))

    def durations(self, task: Task, al: np.ndarray) -> np.ndarray:
        """Duration of one replica on each node of ``al`` (same as ``task.duration_at``)."""
        if task.span is not None:  # a service: the whole horizon
            return np.full(len(al), float(task.span))
        if task.duration is None:
            dur = np.zeros(len(al))
        else:
            dur = np.ceil(float(task.duration) / self.speed[al])
        for n, d in task.duration_on.items():
            pos = self.positions(al, [n])
            if len(pos):
                dur[pos[0]] = d
        return dur

    def run_scheduling(self) -> None:
        p = self.p
        n_tasks = len(p.tasks)
        together = p.same_start
        # `after` edges inside a gang that starts together are checked when the gang is
        # scheduled (all members at once), not waited for
        inner = [
            {q for q in t.after if t.gang in together and p.tasks[q].gang == t.gang}
            for t in p.tasks
        ]
        indeg = [len(t.after) - len(inner[t.index]) for t in p.tasks]
        processed = [False] * n_tasks
        gang_open: set[str] = set()
        waiting: dict[str, list[int]] = {}  # gang that starts together -> members ready
        nominal = [self.nominal_duration(t) for t in p.tasks]

        def key(t: int) -> tuple[bool, int, bool, bool, float, int, int]:
            task = p.tasks[t]
            return (
                t not in self.must,
                -self.boost.get(t, 0),
                not task.service,  # services hold their nodes for the whole plan: first
                task.gang not in gang_open,
                -task.priority,
                -nominal[t],
                t,
            )

        heap = [(key(t), t) for t in range(n_tasks) if indeg[t] == 0]
        heapq.heapify(heap)

        def release(t: int) -> None:
            for s in self.succ[t]:
                if t in inner[s]:
                    continue
                indeg[s] -= 1
                if indeg[s] == 0:
                    heapq.heappush(heap, (key(s), s))

        while True:
            while heap:
                _, t = heapq.heappop(heap)
                if processed[t]:
                    continue  # a stale entry (re-pushed when its gang opened)
                if self.out_of_time():
                    break
                processed[t] = True
                task = p.tasks[t]
                gang = task.gang
                if gang is not None and gang in together:
                    ready = waiting.setdefault(gang, [])
                    ready.append(t)
                    if len(ready) == len(p.gangs[gang]):
                        del waiting[gang]
                        self.schedule_together(gang, sorted(ready, key=key))
                        for m in ready:
                            release(m)
                    continue
                blocked = gang is not None and self.gang_failed.get(gang)
                if blocked or not all(self.placed[q] for q in task.after):
                    picks = None  # its gang failed, or a task it comes after is unplaced
                else:
                    est = max([task.release or 0, *(self.task_end[q] for q in task.after)])
                    picks = self.choose_slot(t, est)
                    if picks is None:
                        self.failed.append(t)
                if picks is not None:
                    self.commit(t, picks)
                    if gang is not None and gang not in gang_open:
                        gang_open.add(gang)
                        for m in p.gangs[gang]:  # re-rank its ready members
                            if indeg[m] == 0 and not processed[m]:
                                heapq.heappush(heap, (key(m), m))
                elif gang is not None and not self.gang_failed.get(gang):
                    self.fail_gang(gang)
                release(t)
            if self.stopped or not waiting:
                break
            # a gang that starts together whose members wait for each other through `after`
            # (a member after a task that comes after another member): it cannot be placed
            gang, ready = next(iter(waiting.items()))
            del waiting[gang]
            if not self.gang_failed.get(gang):
                self.fail_gang(gang)
            for m in ready:
                release(m)
        if self.stopped:  # no gang may stay partly placed
            for gang, members in p.gangs.items():
                placed = [self.placed[m] for m in members]
                if any(placed) and not all(placed) and not self.gang_failed.get(gang):
                    self.fail_gang(gang)

    def schedule_together(self, gang: str, members: list[int]) -> None:
        """Place every member of a gang that starts together at one common start, the earliest
        found: from the gang's earliest start (release and ``after`` ends of every member), the
        start jumps to the latest instant at which some member can first run on enough nodes on
        its own; there every member, in turn, takes its nodes (each sees those taken before it).
        If they do not all fit together, the next breakpoint of their nodes' usage is tried (at
        most MAX_GANG_STARTS starts in all)."""
        p = self.p
        if self.gang_failed.get(gang) or not all(
            self.placed[q] for m in members for q in p.tasks[m].after if p.tasks[q].gang != gang
        ):
            self.fail_gang(gang)
            return
        start = max(
            [p.tasks[m].release or 0 for m in members]
            + [
                self.task_end[q]
                for m in members
                for q in p.tasks[m].after
                if p.tasks[q].gang != gang
            ]
        )
        order = inner_order(members, lambda m: self.p.tasks[m].after)
        nodes = np.unique(np.concatenate([self.allowed(p.tasks[m]) for m in members]))
        last: int | None = order[0]
        for _ in range(MAX_GANG_STARTS):
            soonest = max(self.soonest_start(m, start) for m in order)
            if soonest == _INF:
                break
            if soonest > start:  # some member cannot start before: jump there
                start = int(soonest)
                continue
            placed: list[int] = []
            for m in order:
                picks = self.choose_at(m, start)
                if picks is None:
                    last = m
                    break
                self.commit(m, picks)
                placed.append(m)
            else:
                return
            for m in placed:
                self.uncommit(m)
            w = int(self.count[nodes].max())
            later = self.times[nodes, :w]
            later = later[later > start]
            if not len(later) or later.min() == _INF:
                break
            start = int(later.min())
        if last is not None:
            self.failed.append(last)
        self.fail_gang(gang)

    def soonest_start(self, t: int, est: int) -> float:
        """The earliest start >= est at which task ``t`` alone could run on enough nodes (the
        k-th smallest earliest start of a replica, for k replicas); inf if none."""
        found = self.window_candidates(t, est)
        if found is None:
            return _INF
        k, _, _, dur, at = found
        at = np.where(at + dur <= self.limit(self.p.tasks[t]), at, _INF)
        return float(np.partition(at, k - 1)[k - 1])

    def choose_at(self, t: int, start: int) -> list[_Pick] | None:
        return self.within_moves(t, self._choose_at(t, start), lambda: self._choose_at(t, start))

    def _choose_at(self, t: int, start: int) -> list[_Pick] | None:
        """Nodes for every replica of task ``t`` starting exactly at ``start`` (a gang that
        starts together), ranked as :meth:`choose_slot` ranks equal ends; None if too few."""
        p = self.p
        task = p.tasks[t]
        if any(
            self.placed[q] and self.task_end[q] > start
            for q in task.after
            if p.tasks[q].gang == task.gang
        ):
            return None  # a member it comes after ends later
        found = self.window_candidates(t, start)
        if found is None:
            return None
        k, nodes, d, dur, at = found
        end = np.where(at == start, at + dur, _INF)
        if self.avoid:
            end[~self.avoided(t, nodes, end < _INF, k)] = _INF
        if int(np.count_nonzero(end < _INF)) < k:
            return None
        first = np.full(len(nodes), float(start))
        if self.policy == "first-fit":
            score = nodes.astype(float)
        else:
            score = self.peak_utilisation(nodes, d, first, end)
            if self.policy == "best-fit":
                score = -score
        score = np.where(end < _INF, score, _INF)
        chosen = self.pick(score, k, nodes, task, primary=end)
        if chosen is None:
            return None
        return self.slot_picks(task, nodes, d, first, end, chosen)

    def window_candidates(
        self, t: int, est: int
    ) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """(replicas, candidate nodes, their demand columns, durations, earliest starts >= est)
        for task ``t``: allowed nodes where a replica fits an empty node (capacity and device
        shape), can end by its deadline and the horizon from ``est``, and runs no task it is
        kept apart from; None if fewer than its replicas."""
        task = self.p.tasks[t]
        k = task.replicas
        al = self.allowed(task)
        if len(al) < k:
            return None
        d = self.demand(task, al)
        dur = self.durations(task, al)
        ok = (d <= self.capx[:, al]).all(axis=0) & (est + dur <= self.limit(task))
        shape = self.shape_ok(task, al, d)
        if shape is not None:
            ok &= shape
        blocked = self.blocked(task, al)
        if blocked is not None:
            ok[blocked] = False
        cpos = np.flatnonzero(ok)
        if len(cpos) < k:
            return None
        nodes = al[cpos]
        if d.shape[1] > 1:
            d = d[:, cpos]
        dur = dur[cpos]
        return k, nodes, d, dur, self.earliest_starts(nodes, d, dur, float(est), task)

    def choose_slot(self, t: int, est: int) -> list[_Pick] | None:
        return self.within_moves(t, self._choose_slot(t, est), lambda: self._choose_slot(t, est))

    def _choose_slot(self, t: int, est: int) -> list[_Pick] | None:
        task = self.p.tasks[t]
        found = self.window_candidates(t, est)
        if found is None:
            return None
        k, nodes, d, dur, start = found
        end = start + dur
        end[end > self.limit(task)] = _INF
        if self.avoid:
            end[~self.avoided(t, nodes, end < _INF, k)] = _INF
        # only the candidates that can be among the k earliest ends are ranked further (all of
        # them when the replicas must be spread over a label)
        if task.spread is not None and k > 1:
            if int(np.count_nonzero(end < _INF)) < k:
                return None
            cand = np.flatnonzero(end < _INF)
        elif k == 1:
            m = end.min()
            if m == _INF:
                return None
            cand = np.flatnonzero(end == m)
        else:
            if int(np.count_nonzero(end < _INF)) < k:
                return None
            cand = np.flatnonzero(end <= np.partition(end, k - 1)[k - 1])
        nodes, start, end = nodes[cand], start[cand], end[cand]
        if d.shape[1] > 1:
            d = d[:, cand]
        if self.policy == "first-fit":
            score = nodes.astype(float)
        elif len(cand) > 1:
            score = self.peak_utilisation(nodes, d, start, end)
            if self.policy == "best-fit":
                score = -score
        else:
            score = np.zeros(1)
        chosen = self.pick(score, k, nodes, task, primary=end)
        if chosen is None:
            return None
        return self.slot_picks(task, nodes, d, start, end, chosen)

    def slot_picks(
        self,
        task: Task,
        nodes: np.ndarray,
        d: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
        found: np.ndarray,
    ) -> list[_Pick]:
        """The picks at positions ``found``, with their devices over their windows."""
        wide = d.shape[1] > 1
        picks = []
        for j in found:
            n, s, e = int(nodes[j]), int(start[j]), int(end[j])
            dem = d[:, j] if wide else d[:, 0]
            devices, dvec = self.choose_devices(task, n, dem, (s, e))
            picks.append(_Pick(n, s, e, dem, devices, dvec))
        return picks

    def earliest_starts(
        self,
        nodes: np.ndarray,
        d: np.ndarray,
        dur: np.ndarray,
        est: float,
        task: Task | None = None,
    ) -> np.ndarray:
        """Earliest start >= est on each node such that the demand (columns ``d``) fits over
        the whole duration, and (``task`` given) its devices too; inf if never. Zero durations
        start at ``est``."""
        start = np.full(len(nodes), est)
        busy = np.flatnonzero((dur > 0) & (self.count[nodes] > 1))
        if not len(busy):
            return start  # empty profiles: a demand within capacity fits at any time
        sub = nodes[busy]
        # segments that end by ``est`` hold no start: each profile is read from the segment
        # holding ``est`` on (a chain's profiles grow with every task: read whole, quadratic)
        win = _Window(self, sub, np.full(len(sub), est))
        times = win.times()
        cols = d if d.shape[1] == 1 else d[:, busy]
        good = (win.usage() + cols[:, :, None] <= self.capx[:, sub, None]).all(axis=0)
        devres = self.task_devres(task) if task is not None else []
        if devres:
            start[busy] = self._earliest_with_devices(sub, cols, dur[busy], est, good, devres, win)
            return start
        # a run of good segments that starts at segment i lasts until the next bad one starts
        bad_start = np.where(good, _INF, times)
        next_bad = np.minimum.accumulate(bad_start[:, ::-1], axis=1)[:, ::-1]
        run_start = good.copy()
        run_start[:, 1:] &= ~good[:, :-1]
        cand = np.maximum(times, est)
        fits = run_start & (cand + dur[busy][:, None] <= next_bad)
        start[busy] = np.where(fits, cand, _INF).min(axis=1)
        return start

    def _earliest_with_devices(
        self,
        sub: np.ndarray,
        cols: np.ndarray,
        dur: np.ndarray,
        est: float,
        good: np.ndarray,
        devres: list[int],
        win: _Window,
    ) -> np.ndarray:
        """:meth:`earliest_starts` on busy nodes ``sub`` when devices matter: a start in
        segment i is good when the node's resources fit from there for ``dur`` and, for each
        split resource, enough devices (one for a share, ``m`` empty ones for ``m`` whole
        devices) have room over the same window; ``good`` and ``win`` cover the same segments
        of their profiles."""
        times = win.times()
        seg_end = np.empty_like(times)
        seg_end[:, :-1] = times[:, 1:]
        seg_end[:, -1] = _INF
        cand = np.maximum(times, est)
        ends = cand + dur[:, None]
        ok = good & (_next_bad(good, times) >= ends) & (seg_end > cand)
        for r in devres:
            q = cols[r] if cols.shape[1] > 1 else np.full(len(sub), cols[r, 0])
            relevant, _, _, m, take = self._device_terms(r, sub, q)
            off, kmax = self.dev_rows[r]
            size = self.dsize[r, sub]
            usage = win.dusage(off, kmax)  # (K, B, W)
            exists = self.dexists[off : off + kmax][:, sub][:, :, None]
            dgood = (usage + take[None, :, None] <= size[None, :, None] + CAP_TOL) & exists
            room = dgood & (_next_bad(dgood, times[None]) >= ends[None])
            enough = room.sum(axis=0) >= m[:, None]
            ok &= ~relevant[:, None] | enough
        return np.where(ok, cand, _INF).min(axis=1)

    def peak_utilisation(
        self, nodes: np.ndarray, d: np.ndarray, start: np.ndarray, end: np.ndarray
    ) -> np.ndarray:
        """Peak utilisation, demand included, over [start, end) on each node (at the instant
        ``start`` for zero durations)."""
        win = _Window(self, nodes, start)  # the segments before ``start`` are over
        times = win.times()
        seg_end = np.empty_like(times)
        seg_end[:, :-1] = times[:, 1:]
        seg_end[:, -1] = _INF
        e = np.maximum(end, start + 1)[:, None]
        over = (times < e) & (seg_end > start[:, None])
        load = win.usage() + d[:, :, None]
        util = (load * self.invcap[:, nodes, None]).max(axis=0)
        return np.where(over, util, -_INF).max(axis=1)

    def grow(self) -> None:
        n_nodes, w = self.times.shape
        times = np.full((n_nodes, 2 * w), _INF)
        times[:, :w] = self.times
        usage = np.zeros((self.n_res, n_nodes, 2 * w))
        usage[:, :, :w] = self.usage
        dusage = np.zeros((self.n_dev, n_nodes, 2 * w))
        dusage[:, :, :w] = self.dusage
        self.times, self.usage, self.dusage, self.width = times, usage, dusage, 2 * w

    def breakpoint(self, n: int, x: float) -> int:
        """Index of the breakpoint at ``x`` in node ``n``'s profile, splitting a segment."""
        c = int(self.count[n])
        i = int(np.searchsorted(self.times[n, :c], x, side="right")) - 1
        if self.times[n, i] == x:
            return i
        if c == self.width:
            self.grow()
        times, usage, dusage = self.times, self.usage, self.dusage
        times[n, i + 2 : c + 1] = times[n, i + 1 : c]
        usage[:, n, i + 2 : c + 1] = usage[:, n, i + 1 : c]
        times[n, i + 1] = x
        usage[:, n, i + 1] = usage[:, n, i]
        if self.n_dev:
            dusage[:, n, i + 2 : c + 1] = dusage[:, n, i + 1 : c]
            dusage[:, n, i + 1] = dusage[:, n, i]
        self.count[n] = c + 1
        return i + 1

    def add_interval(
        self, n: int, s: int, e: int, d: np.ndarray, dv: np.ndarray | None = None
    ) -> None:
        i = self.breakpoint(n, float(s))
        j = self.breakpoint(n, float(e))
        self.usage[:, n, i:j] += d[:, None]
        if dv is not None:
            self.dusage[:, n, i:j] += dv[:, None]

    def remove_interval(
        self, n: int, s: int, e: int, d: np.ndarray, dv: np.ndarray | None = None
    ) -> None:
        c = int(self.count[n])
        row = self.times[n, :c]
        i = int(np.searchsorted(row, float(s)))
        j = int(np.searchsorted(row, float(e)))
        seg = self.usage[:, n, i:j]
        seg -= d[:, None]
        seg[np.abs(seg) < 1e-12] = 0.0
        if dv is not None:
            dseg = self.dusage[:, n, i:j]
            dseg -= dv[:, None]
            dseg[np.abs(dseg) < 1e-12] = 0.0


class _Window:
    """The usage profiles of ``nodes`` (rows) from the segment holding ``at[i]`` on node
    ``nodes[i]`` to the widest's end; a row shorter than the widest is padded as a profile
    is (time inf, usage 0). What ends by ``at`` is never read: a long profile (a chain's)
    costs what is left of it, not its whole length."""

    # rows start at their own segment (a gather) only when one slice from the earliest of them
    # would be more than ``slack`` times as wide; both read the same (tests set 0: always gather)
    slack = 2.0

    def __init__(self, g: _Greedy, nodes: np.ndarray, at: np.ndarray) -> None:
        self.g = g
        count = g.count[nodes]
        w = int(count.max())
        if len(nodes) <= 16:  # a few binary searches
            times = g.times
            first = np.array(
                [
                    times[n, :c].searchsorted(x, "right") - 1
                    for n, c, x in zip(nodes.tolist(), count.tolist(), at.tolist(), strict=True)
                ],
                dtype=np.int64,
            )
        else:
            first = (g.times[nodes, :w] <= at[:, None]).sum(axis=1) - 1
        first = np.maximum(first, 0)
        lo = int(first.min())
        width = int((count - first).max())
        self.pad: np.ndarray | None = None
        if w - lo <= self.slack * width:  # about as narrow: one slice for every row
            self.rows: Any = nodes
            self.cols: Any = slice(lo, w)
        else:
            cols = first[:, None] + np.arange(width)
            self.pad = cols >= count[:, None]
            self.rows = nodes[:, None]
            self.cols = np.minimum(cols, count[:, None] - 1)

    def times(self) -> np.ndarray:
        times = self.g.times[self.rows, self.cols]
        return times if self.pad is None else np.where(self.pad, _INF, times)

    def usage(self) -> np.ndarray:
        usage = self.g.usage[:, self.rows, self.cols]
        return usage if self.pad is None else np.where(self.pad, 0.0, usage)

    def dusage(self, off: int, k: int) -> np.ndarray:
        usage = self.g.dusage[off : off + k][:, self.rows, self.cols]
        return usage if self.pad is None else np.where(self.pad, 0.0, usage)


def _no_spread(task: Task) -> Task:
    """The task as :meth:`_Greedy.pick` ranks it before spreading (no spread of its own)."""
    from dataclasses import replace

    return replace(task, spread=None)


def _next_bad(good: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Per segment (last axis), the earliest start time of a bad segment at or after it."""
    bad_start = np.where(good, _INF, times)
    return np.minimum.accumulate(bad_start[..., ::-1], axis=-1)[..., ::-1]


# -- the engine seam ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GreedyOptions:
    """The greedy engine's own options: the node ``policy`` (one of :data:`POLICIES`) and at
    most ``passes`` passes (1: the plain one-pass greedy)."""

    policy: str = "least-loaded"
    passes: int = DEFAULT_PASSES

    def __post_init__(self) -> None:
        choice("policy", self.policy, POLICIES)
        at_least("passes", self.passes, 1)


class GreedyEngine:
    name = "greedy"
    description = (
        "priority-then-size list heuristic (placement) / serial schedule generation "
        "(scheduling); deterministic, ignores hint and workers"
    )
    default_time_limit: float | None = None
    Options = GreedyOptions

    def solve(self, problem: Problem, params: Params, options: GreedyOptions) -> Result:
        return solve(
            problem,
            policy=options.policy,
            passes=options.passes,
            seed=params.seed,
            time_limit=params.limit(None),
            stop=params.stop,
        )


ENGINE = GreedyEngine()
