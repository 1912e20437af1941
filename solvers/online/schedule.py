"""The scheduling replay (:data:`taskalloc.solvers.simulation.REPLAYS` ``scheduling``): an
online dispatcher, simulated event by event, with no look-ahead.

A task becomes *ready* at its ``release`` (0 without one) once every replica of each task it
comes ``after`` has ended. Ready tasks wait in a queue. At each event time (a release, an end)
the dispatcher takes the waiting tasks in queue order (``--queue``) and starts each at once on
nodes where it fits *now*: free capacity at that instant, free devices where the node splits
a resource, ``separate_from`` against every task that has run on the node, the replicas of one
task on distinct nodes. A task that fits nowhere now keeps waiting and the dispatcher tries
the next one (backfilling; a waiting task holds no resources).

Dispatch units: a task starts all its replicas at one instant (a plan places all or none);
a gang (with or without ``same_start``) starts all its members at one instant, when all are
ready and all fit, or waits. A service starts at 0 and runs to the horizon (the format): it is
dispatched first, at time 0, or left unplaced. Tasks are optional in the replay: a task that
can no longer end by its ``deadline`` (nor by the ``horizon``) on any allowed node is left
unplaced with that reason, and so is a task after one that is unplaced.

The node of each replica is chosen, among those where it fits now and would end in time, by
the policy, scored as the greedy's policies of the same names score a node, but on the load
at that instant (no look-ahead):

``least-loaded``  the smallest peak utilisation after placing (max over resources of
                  (load + demand) / capacity);
``best-fit``      the largest such peak (the tightest node);
``first-fit``     the lowest node index (file order).

Ties go to the lower node index: the replay is deterministic and draws nothing at random (its
``seed`` is recorded and changes nothing). On a split resource a replica takes the tightest
device that fits (a share), or the lowest free whole devices.

``spread`` (``{key, max_skew}``): the replicas of a task are chosen one by one, and a node is a
candidate only if, after it, the replicas still to place can bring every value of the key up to
within ``max_skew`` of the fullest one; so the dispatcher never places a replica where the
skew would break. When that leaves a replica no node, the task waits, and a task that never
starts says so in its reason.

``current`` and ``moves``: a replica started on a node not named by its task's ``current`` is a
move. When the problem counts moves (``max_moves``, or ``moves`` in the objective), a replica
goes to a node of its ``current`` where one fits now (the policy choosing among them), and
elsewhere only when none does. Under ``max_moves: K`` the dispatcher makes at most K moves:
once they are spent, a task waits for a node of its ``current`` (or, without ``current``, is
free to go anywhere: it is never a move), and one that never gets it stays unplaced with that
reason.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..engine import OptionError
from ..simulation import ReplayParams, Simulation

if TYPE_CHECKING:
    from taskalloc.problems.entities import Problem, Task

__all__ = ["POLICY_HELP", "QUEUES", "REPLAY", "ScheduleOptions", "ScheduleReplay"]

POLICY_HELP: dict[str, str] = {
    "least-loaded": "the node with the smallest peak utilisation after starting the task "
    "(the greedy's least-loaded, on the load at that instant)",
    "best-fit": "the node with the largest peak utilisation after starting the task "
    "(the greedy's best-fit, on the load at that instant)",
    "first-fit": "the first node in file order where the task fits now",
}

#: queue discipline -> one line
QUEUES: dict[str, str] = {
    "fifo": "the task ready first goes first (then file order)",
    "shortest-first": "the shortest task goes first (then ready time, file order)",
    "priority": "the highest priority goes first (then ready time, file order)",
}

EPS = 1e-9

#: at most this many points in metrics.simulation.utilisation
SERIES_POINTS = 200


@dataclass(frozen=True)
class ScheduleOptions:
    """``queue``: which waiting task the dispatcher takes next (:data:`QUEUES`)."""

    queue: str = "fifo"

    #: the queue orders (what --queue offers)
    queue_names: ClassVar[tuple[str, ...]] = tuple(QUEUES)

    def __post_init__(self) -> None:
        if self.queue not in QUEUES:
            raise OptionError(
                "queue",
                f"{self.queue!r} is not a queue order (one of {', '.join(QUEUES)})",
                valid=list(QUEUES),
            )


@dataclass
class _Unit:
    """Tasks that start together: one task (all its replicas), or a whole gang."""

    members: tuple[int, ...]
    service: bool
    ready: int | None = None  # when every member became ready
    done: bool = False


class _State:
    """Free capacity and devices at the current instant, and what ran where."""

    def __init__(self, p: Problem) -> None:
        self.p = p
        self.free = [[float(n.capacity.get(r, 0.0)) for r in p.resources] for n in p.nodes]
        self.cap = [list(row) for row in self.free]
        self.size = {
            (n.index, r): n.device_size(r) for n in p.nodes for r in n.devices
        }  # (node, resource) -> device size
        self.dev = {
            (n.index, r): [n.device_size(r)] * k for n in p.nodes for r, k in n.devices.items()
        }
        self.ran: list[set[int]] = [set() for _ in p.nodes]  # task indices that ran on the node

    def devices_for(self, t: Task, n: int, empty: bool) -> dict[str, tuple[int, ...]] | None:
        """Devices a replica of ``t`` would take on ``n`` now ({} when none), None if the
        node's devices cannot serve it (now, or even empty)."""
        use = self.p.device_use(t.index, n)
        if use is None:
            return None
        out: dict[str, tuple[int, ...]] = {}
        for r, (m, take) in use.items():
            if m == 0:
                continue
            size = self.size[(n, r)]
            free = [size] * len(self.dev[(n, r)]) if empty else self.dev[(n, r)]
            if m == 1:
                fit = [(f, i) for i, f in enumerate(free) if f + EPS >= take]
                if not fit:
                    return None
                out[r] = (min(fit)[1],)
            else:
                whole = [i for i, f in enumerate(free) if f + EPS >= size]
                if len(whole) < m:
                    return None
                out[r] = tuple(whole[:m])
        return out

    def fits(self, t: Task, n: int, empty: bool = False) -> dict[str, tuple[int, ...]] | None:
        row = self.cap[n] if empty else self.free[n]
        dem = t.demand_at(n)
        ri = self.p.resource_index
        for r, q in dem.items():
            if q > row[ri[r]] + EPS:
                return None
        return self.devices_for(t, n, empty)

    def take(self, t: Task, n: int, devices: Mapping[str, tuple[int, ...]], sign: float) -> None:
        ri = self.p.resource_index
        for r, q in t.demand_at(n).items():
            self.free[n][ri[r]] -= sign * q
        use = self.p.device_use(t.index, n) or {}
        for r, idx in devices.items():
            take = use[r][1]
            for i in idx:
                self.dev[(n, r)][i] -= sign * take

    def peak(self, t: Task, n: int) -> float:
        ri = self.p.resource_index
        dem = t.demand_at(n)
        best = 0.0
        for r, j in ri.items():
            c = self.cap[n][j]
            if c > 0:
                best = max(best, (c - self.free[n][j] + dem.get(r, 0.0)) / c)
        return best

    def used(self) -> list[float]:
        """Fleet utilisation per resource now (load / capacity, 0 without capacity)."""
        out = []
        for j in range(len(self.p.resources)):
            cap = sum(row[j] for row in self.cap)
            load = cap - sum(row[j] for row in self.free)
            out.append(load / cap if cap > 0 else 0.0)
        return out


class ScheduleReplay:
    kind = "scheduling"
    description = (
        "tasks become ready at their release and when their predecessors end, wait in a "
        "queue, and start on a node where they fit at that instant (no look-ahead)"
    )
    policies = POLICY_HELP
    Options = ScheduleOptions

    def unsupported(self, problem: Problem) -> str | None:
        if not problem.scheduling:
            return "it is a placement problem (no task has a duration)"
        return None

    def run(
        self, problem: Problem, policy: str, params: ReplayParams, options: ScheduleOptions
    ) -> Simulation:
        from taskalloc.problems.plan import Assignment, Status

        from ..result import Result

        t0 = time.perf_counter()
        p = problem
        st = _State(p)
        units = _units(p)
        unit_of = {m: u for u in units for m in u.members}
        shortest = _Shortest(p, st)  # the queue's nominal durations, the deadline check
        started: dict[int, tuple[int, int]] = {}  # task -> (start, end) of its replicas
        ended: set[int] = set()
        ready_at: dict[int, int] = {}
        placed: list[Assignment] = []
        reasons: dict[str, str] = {}
        missed_deadline = 0
        moves = 0  # replicas started off their task's `current`
        sticky = p.max_moves is not None or "moves" in p.objective.active()
        blocked: dict[int, set[str]] = {}  # task -> what kept its last attempt from starting
        running: list[tuple[int, int, list[tuple[Task, int, dict[str, tuple[int, ...]]]]]] = []
        seq = 0
        series_t: list[int] = []
        series_u: list[list[float]] = []
        stopped = False

        def drop(u: _Unit, why: str) -> None:
            u.done = True
            for m in u.members:
                reasons[p.tasks[m].id] = why

        def key(u: _Unit) -> tuple[float, ...]:
            ready = float(u.ready or 0)
            first = float(min(u.members))
            if options.queue == "shortest-first":
                return (max(shortest[m] or 0 for m in u.members), ready, first)
            if options.queue == "priority":
                return (-max(p.tasks[m].priority for m in u.members), ready, first)
            return (ready, first)

        def try_start(u: _Unit, now: int) -> bool:
            nonlocal moves
            picks: list[tuple[Task, int, dict[str, tuple[int, ...]]]] = []
            ok = True
            new_moves = 0
            for m in u.members:  # what kept it out is this attempt's, not an older one's
                blocked.pop(m, None)
            for m in u.members:
                task = p.tasks[m]
                limit = _limit(p, task)
                sp = task.spread
                counts = [0] * len(sp.values) if sp is not None else []
                for r in range(task.replicas):
                    best: tuple[int, float, int] | None = None
                    best_dev: dict[str, tuple[int, ...]] = {}
                    why: set[str] = set()
                    for n in task.allowed:
                        node = p.nodes[n]
                        d = task.duration_at(node)
                        if limit is not None and now + d > limit:
                            continue
                        if m in st.ran[n] or task.separate & st.ran[n]:
                            continue
                        zero = d == 0 and not task.service
                        dev = st.fits(task, n, empty=zero)
                        if dev is None:
                            continue
                        if sp is not None and not _skew_ok(
                            counts, sp.value_of[n], task.replicas - r - 1, sp.max_skew
                        ):
                            why.add("spread")
                            continue
                        move = int(task.current is not None and n not in task.current)
                        if move and p.max_moves is not None and moves + new_moves >= p.max_moves:
                            why.add("moves")
                            continue
                        if policy == "first-fit":
                            score = 0.0
                        elif policy == "best-fit":
                            score = -st.peak(task, n)
                        else:
                            score = st.peak(task, n)
                        rank = move if sticky else 0
                        if (
                            best is None
                            or rank < best[0]
                            or (rank == best[0] and score < best[1] - EPS)
                        ):
                            best, best_dev = (rank, score, n), dev
                    if best is None:
                        blocked[m] = why
                        ok = False
                        break
                    n = best[2]
                    picks.append((task, n, best_dev))
                    st.ran[n].add(m)
                    if sp is not None:
                        counts[sp.value_of[n]] += 1
                    if task.current is not None and n not in task.current:
                        new_moves += 1
                    if task.duration_at(p.nodes[n]) > 0 or task.service:
                        st.take(task, n, best_dev, 1.0)
                if not ok:
                    break
            if not ok:  # undo the tentative picks
                for task, n, dev in picks:
                    st.ran[n].discard(task.index)
                    if task.duration_at(p.nodes[n]) > 0 or task.service:
                        st.take(task, n, dev, -1.0)
                return False
            moves += new_moves
            nonlocal seq
            by_end: dict[int, list[tuple[Task, int, dict[str, tuple[int, ...]]]]] = {}
            replica: dict[int, int] = {}
            for task, n, dev in picks:
                d = task.duration_at(p.nodes[n])
                end = now + d
                r = replica.get(task.index, 0)
                replica[task.index] = r + 1
                placed.append(
                    Assignment(
                        task=task.id,
                        replica=r,
                        node=p.nodes[n].id,
                        start=now,
                        end=end,
                        devices=dev or None,
                    )
                )
                prev = started.get(task.index)
                started[task.index] = (now, max(end, prev[1]) if prev else end)
                by_end.setdefault(end, []).append((task, n, dev))
            for end, items in by_end.items():
                heapq.heappush(running, (end, seq, items))
                seq += 1
            u.done = True
            return True

        # services first: they start at 0 or never
        for u in units:
            if not u.service:
                continue
            waits = [
                p.tasks[m].id for m in u.members if p.tasks[m].after or (p.tasks[m].release or 0)
            ]
            if waits:  # a gang with a service: its members must all be ready at 0
                drop(u, f"a gang with a service starts at 0, and {waits[0]} is not ready then")
            elif not try_start(u, 0):
                drop(u, "a service starts at 0 and no allowed node had room for it then")
            else:
                for m in u.members:
                    ready_at[m] = 0
        now = 0
        while True:
            if params.stop is not None and params.stop.is_set():
                stopped = True
                break
            while running and running[0][0] <= now:
                end, _, items = heapq.heappop(running)
                for task, n, dev in items:
                    if task.duration_at(p.nodes[n]) > 0 or task.service:
                        st.take(task, n, dev, -1.0)
                for task, _n, _d in items:
                    if started[task.index][1] <= end:
                        ended.add(task.index)
            # readiness, and tasks after an unplaced one
            for t in p.tasks:
                if t.index in ready_at or t.index in started or t.id in reasons:
                    continue
                lost = [p.tasks[a].id for a in t.after if p.tasks[a].id in reasons]
                if lost:
                    drop(unit_of[t.index], f"after {lost[0]}, which is unplaced")
                    continue
                if all(a in ended for a in t.after) and (t.release or 0) <= now:
                    ends = [started[a][1] for a in t.after]
                    ready_at[t.index] = max([t.release or 0, *ends])
            waiting = [u for u in units if not u.done and all(m in ready_at for m in u.members)]
            for u in waiting:
                u.ready = max(ready_at[m] for m in u.members)
            for u in sorted(waiting, key=key):
                late = _late(p, shortest, u, now)
                if late is not None:
                    missed_deadline += 1
                    note = _blocked(p, u, blocked)
                    drop(u, late + (f"; it waited for a node{note}" if note else ""))
                    continue
                try_start(u, now)
            util = st.used()
            if not series_u or util != series_u[-1]:
                series_t.append(now)
                series_u.append(util)
            nexts = [running[0][0]] if running else []
            nexts += [
                t.release
                for t in p.tasks
                if t.release is not None
                and t.release > now
                and not unit_of[t.index].done
                and t.index not in ready_at
            ]
            if not nexts:
                break
            now = max(now, min(nexts))
        not_arrived: list[str] = []
        if not stopped:  # the tasks after one left out in the last event
            from taskalloc.problems.proofs import topological_order

            for i in topological_order(p):
                t = p.tasks[i]
                lost = [p.tasks[a].id for a in t.after if p.tasks[a].id in reasons]
                if lost and not unit_of[i].done:
                    drop(unit_of[i], f"after {lost[0]}, which is unplaced")
        for u in units:
            if u.done:
                continue
            for m in u.members:
                tid = p.tasks[m].id
                if stopped:
                    not_arrived.append(tid)
                elif any(a not in ended for a in p.tasks[m].after):
                    reasons.setdefault(tid, "its predecessors never all ended")
                else:
                    reasons.setdefault(tid, _never(p, u, blocked))
        seconds = time.perf_counter() - t0
        return self._simulation(
            p,
            policy,
            params,
            options,
            placed,
            reasons,
            ready_at,
            missed_deadline,
            series_t,
            series_u,
            stopped,
            not_arrived,
            seconds,
            Result,
            Assignment,
            Status,
        )

    def _simulation(
        self,
        p: Problem,
        policy: str,
        params: ReplayParams,
        options: ScheduleOptions,
        placed: list[Any],
        reasons: dict[str, str],
        ready_at: dict[int, int],
        missed_deadline: int,
        series_t: list[int],
        series_u: list[list[float]],
        stopped: bool,
        not_arrived: list[str],
        seconds: float,
        Result: Any,
        Assignment: Any,
        Status: Any,
    ) -> Simulation:
        ti = p.task_index
        makespan = max((a.end for a in placed if not p.tasks[ti[a.task]].service), default=0)
        tardiness = 0.0
        waits: list[float] = []
        for a in placed:
            task = p.tasks[ti[a.task]]
            if task.due is not None:
                tardiness += task.priority * max(0, a.end - task.due)
            if not task.service:
                waits.append(float(a.start - ready_at[task.index]))
        mean_wait = sum(waits) / len(waits) if waits else 0.0
        p95 = _percentile(waits, 95.0)
        placed_tasks = len({a.task for a in placed})
        unplaced = [t.id for t in p.tasks if t.id in reasons or t.id in not_arrived]
        missed_required = [t.id for t in p.tasks if t.required and t.id in set(unplaced)]
        status = Status.UNKNOWN if missed_required else Status.FEASIBLE
        step = max(1, math.ceil(len(series_t) / SERIES_POINTS))
        keep = list(range(0, len(series_t), step))
        if series_t and keep[-1] != len(series_t) - 1:
            keep.append(len(series_t) - 1)
        series: dict[str, list[float]] = {"time": [float(series_t[i]) for i in keep]}
        for j, r in enumerate(p.resources):
            series[r] = [round(series_u[i][j], 4) for i in keep]
        metrics: dict[str, Any] = {
            "kind": self.kind,
            "policy": policy,
            "queue": options.queue,
            "seed": params.seed,  # recorded (the format has it); it changes nothing here
            "tasks": len(p.tasks),
            "placed": placed_tasks,
            "unplaced": len(unplaced),
            "missed_deadline": missed_deadline,
            "stopped": stopped,
            "makespan": makespan,
            "tardiness": tardiness,
            "mean_wait": round(mean_wait, 4),
            "p95_wait": p95,
            "utilisation": series,
        }
        lines = [
            f"{policy}, queue {options.queue}: {placed_tasks:,} of {len(p.tasks):,} tasks "
            f"started, {len(unplaced):,} unplaced ({missed_deadline:,} missed their deadline; "
            f"{seconds:.2f} s)",
            f"makespan {makespan:,}, tardiness {tardiness:g}, wait mean {mean_wait:.1f} "
            f"p95 {p95:g}",
        ]
        message = lines[0]
        if stopped:
            lines.append(
                f"stopped at an event: {len(not_arrived):,} tasks not started are left out"
            )
            message += "; stopped"
        if missed_required:
            shown = ", ".join(missed_required[:5]) + (
                f" and {len(missed_required) - 5} more" if len(missed_required) > 5 else ""
            )
            note = f"required tasks not started: {shown}"
            lines.append(note)
            message += f"; {note}"
        result = Result(
            solver="simulate",
            status=status,
            assignments=placed,
            seconds=seconds,
            seed=params.seed,  # recorded; the replay draws nothing at random
            message=message,
            options={"policy": policy, "queue": options.queue},
        )
        return Simulation(
            result=result,
            metrics=metrics,
            summary=lines,
            stopped=stopped,
            not_arrived=tuple(not_arrived),
            reasons={k: v for k, v in reasons.items() if k not in not_arrived},
        )


def _units(p: Problem) -> list[_Unit]:
    out: list[_Unit] = []
    seen: set[str] = set()
    for t in p.tasks:
        if t.gang is not None:
            if t.gang in seen:
                continue
            seen.add(t.gang)
            members = tuple(p.gangs[t.gang])
            out.append(_Unit(members, any(p.tasks[m].service for m in members)))
        else:
            out.append(_Unit((t.index,), t.service))
    return out


def _skew_ok(counts: list[int], value: int, left: int, max_skew: int) -> bool:
    """Whether one more replica on ``value`` (counts per value so far) leaves a way to end
    within ``max_skew`` with ``left`` replicas still to place: every value short of the
    fullest minus ``max_skew`` must be filled by them."""
    after = list(counts)
    after[value] += 1
    top = max(after)
    short = sum(max(0, top - max_skew - c) for c in after)
    return short <= left


def _never(p: Problem, u: _Unit, blocked: dict[int, set[str]]) -> str:
    """Why unit ``u``, ready, never started: no room, or room only where its spread or the
    moves left did not let it go (what kept its last attempt out)."""
    gang = " (with its gang)" if len(u.members) > 1 else ""
    return "no allowed node ever had room for it when it was ready" + gang + _blocked(p, u, blocked)


def _blocked(p: Problem, u: _Unit, blocked: dict[int, set[str]]) -> str:
    """What besides room kept unit ``u`` out at its last attempt, as the end of a reason
    ('' when nothing did): its spread, or max_moves used up."""
    why = set().union(*(blocked.get(m, set()) for m in u.members))
    tasks = [p.tasks[m] for m in u.members]
    parts: list[str] = []
    if "spread" in why:
        spreads = [
            f"the spread of {t.id} over {t.spread.key} (max_skew {t.spread.max_skew})"
            for t in tasks
            if t.spread is not None
        ]
        parts.append(" without breaking " + " or ".join(spreads))
    if "moves" in why:
        nodes = sorted({n for t in tasks if t.current is not None for n in t.current})
        shown = ", ".join(p.nodes[n].id for n in nodes[:5])
        more = f" and {len(nodes) - 5} more" if len(nodes) > 5 else ""
        parts.append(
            f" without a move, and max_moves {p.max_moves} was used up (its current "
            f"node{'s' if len(nodes) != 1 else ''}: {shown}{more})"
        )
    return ",".join(parts)


def _limit(p: Problem, t: Task) -> int | None:
    """The latest end of a replica of ``t``: its deadline and the horizon."""
    ends = [x for x in (t.deadline, p.horizon) if x is not None]
    return min(ends) if ends else None


class _Shortest(dict[int, int | None]):
    """Task index -> the shortest duration of the task on an allowed node where it fits when
    the node is empty (None: on none), computed on first use: it does not change during the
    replay, and the deadline check asks it at every event a task waits."""

    def __init__(self, p: Problem, st: _State) -> None:
        super().__init__()
        self.p, self.st = p, st

    def __missing__(self, i: int) -> int | None:
        t = self.p.tasks[i]
        ds = [
            t.duration_at(self.p.nodes[n])
            for n in t.allowed
            if self.st.fits(t, n, empty=True) is not None
        ]
        self[i] = min(ds) if ds else None
        return self[i]


def _late(p: Problem, shortest: _Shortest, u: _Unit, now: int) -> str | None:
    """Why unit ``u`` can no longer end in time, started at ``now`` or later, or None."""
    for m in u.members:
        t = p.tasks[m]
        limit = _limit(p, t)
        if limit is None:
            continue
        d = shortest[m]
        if d is None:
            return f"{t.id} fits on no allowed node"
        if now + d > limit:
            what = "deadline" if t.deadline is not None and t.deadline == limit else "horizon"
            return (
                f"missed its {what}: {t.id} must end by {limit}; still waiting at {now}, "
                f"it would end at {now + d} at the earliest"
            )
    return None


def _percentile(xs: list[float], q: float) -> float:
    """Nearest-rank percentile (0 for none)."""
    if not xs:
        return 0.0
    s = sorted(xs)
    k = max(0, math.ceil(q / 100 * len(s)) - 1)
    return s[k]


REPLAY = ScheduleReplay()
