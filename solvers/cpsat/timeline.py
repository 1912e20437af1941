"""Pure scheduling in flat arrays: serial schedule generation and forward-backward improvement.

When every task of a scheduling problem sits on fixed nodes (PSPLIB, job shops, pipelines pinned
to machines: :attr:`.model.AllocationModel.pure_scheduling`), a plan is only a start time per
replica. :class:`Timeline` holds such a problem as arrays in the exact model's scaled integers:
one *interval* per replica (task, node) with its duration, its start window ``[lo, hi]`` (release
and the predecessors' earliest ends; deadline and horizon) and its demands on *channels*, the
(node, resource) pairs with a capacity; a usage profile per channel is a row of a time-indexed
array.

:meth:`Timeline.decode` is the serial schedule generation scheme: tasks in the order of an
activity list (every task after its ``after`` tasks), each replica at the earliest start in its
window where its demand fits on every channel over its whole duration. The schedules it makes
are active; for the regular objectives it serves (makespan, tardiness) some activity list
decodes to an optimum. Run on the reversed project (successors as predecessors, time mirrored at
the makespan) it right-justifies a schedule.

:meth:`Timeline.justify` is forward-backward improvement (Valls, Ballestin & Quintanilla 2005,
"Justification and RCPSP: a technique that pays"): right-justify the tasks in decreasing order
of their ends, then left-justify them in increasing order of those late starts; each round keeps
every task's resource needs and can only shorten the makespan. It is repeated while the makespan
drops.

:meth:`Timeline.objective` computes the integer objective the CP-SAT stage minimises (makespan,
tardiness with scaled priorities, or a weighted sum of both; terms that are constant in pure
scheduling are left out, so values compare plans, and equal the stage's value up to a constant).

Costs: one decode is O(sum over replicas of channels x (scanned window)). With durations of
at most :data:`LIST_DECODE_MAX_DURATION` instants (PSPLIB's are 1-10) it runs on plain lists of
free capacity per channel and instant, in pure Python: on PSPLIB j60 (j609_5, random lists)
0.21 ms of CPU time against 0.52 ms on the time-indexed arrays that longer durations use
(numpy's per-call overhead); the list search of :mod:`.hybrid` makes 2.5-5 times the steps in
10 s. The arrays take channels x horizon integers, so :func:`Timeline.build` declines problems
above :data:`MAX_CELLS` (the search then runs on CP-SAT alone).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ortools.sat.python import cp_model

from .model import AllocationModel

MAX_CELLS = 20_000_000  # channels x horizon at most (int32: 80 MB)
FIRST_WINDOW = 32  # the earliest-start scan looks this far ahead first, then doubles
JUSTIFY_ROUNDS = 4  # forward-backward rounds at most (each one is two decodes)
LIST_DECODE_MAX_DURATION = 64  # decode with per-instant lists when no duration is longer

#: the stage terms a Timeline can compute; the others are constant in pure scheduling
REGULAR_TERMS = ("makespan", "tardiness")
CONSTANT_TERMS = ("unplaced", "cost", "nodes", "moves")


class Timeline:
    """A pure scheduling problem in flat arrays (see the module docstring)."""

    def __init__(self, model: AllocationModel) -> None:
        m = self.model = model
        p = model.problem
        self.T = len(p.tasks)
        pairs = sorted(m.start)  # (task, node), one per replica
        self.pairs = pairs
        self.I = len(pairs)
        self.task = np.array([t for t, _ in pairs], dtype=np.int64)
        self.dur = np.array([m.dur[k] for k in pairs], dtype=np.int64)
        self.lo = np.array([m.window[k][0] for k in pairs], dtype=np.int64)
        self.hi = np.array([m.window[k][1] for k in pairs], dtype=np.int64)
        self.horizon = int(model.horizon)
        # channels: the (node, resource) pairs some interval uses, numbered node by node so
        # that the channels of one node are a contiguous block of rows
        used = sorted({(n, r) for (t, n) in pairs for r, q in m.dem[t, n].items() if q > 0})
        channel = {key: g for g, key in enumerate(used)}
        cap = [m.cap[n][r] for n, r in used]
        block: dict[int, tuple[int, int]] = {}
        for g, (n, _) in enumerate(used):
            lo, _hi = block.get(n, (g, g))
            block[n] = (lo, g + 1)
        self.rows: list[tuple[int, int]] = []  # per interval: its node's block of channels
        self.room: list[np.ndarray] = []  # ... and capacity minus its demand there, (k, 1)
        self.dem_col: list[np.ndarray] = []  # ... and its demand on each of them, (k, 1)
        self.ch: list[np.ndarray] = []  # per interval: the channels it uses
        self.q: list[np.ndarray] = []  # ... and its demand on each
        for t, n in pairs:
            a, b = block.get(n, (0, 0))
            dem = np.zeros(b - a, dtype=np.int64)
            chans, qs = [], []
            if m.dur[t, n] > 0:
                for r, q in sorted(m.dem[t, n].items()):
                    if q > 0:
                        dem[channel[n, r] - a] = q
                        chans.append(channel[n, r])
                        qs.append(q)
            if not chans:
                a = b = 0
                dem = dem[:0]
            self.rows.append((a, b))
            self.room.append((np.array(cap[a:b], dtype=np.int64) - dem)[:, None])
            self.dem_col.append(dem[:, None])
            self.ch.append(np.array(chans, dtype=np.int64))
            self.q.append(np.array(qs, dtype=np.int64))
        self.cap = np.array(cap, dtype=np.int64)
        self.G = len(cap)
        self.of_task: list[list[int]] = [[] for _ in range(self.T)]
        for i, t in enumerate(self.task.tolist()):
            self.of_task[t].append(i)
        self.preds: list[tuple[int, ...]] = [tuple(task.after) for task in p.tasks]
        succs: list[list[int]] = [[] for _ in range(self.T)]
        for t, ps in enumerate(self.preds):
            for q in ps:
                succs[q].append(t)
        self.succs: list[tuple[int, ...]] = [tuple(s) for s in succs]
        rank = np.empty(self.T, dtype=np.int64)
        from taskalloc.problems.problem import topological_order

        self.topo = topological_order(p)
        rank[self.topo] = np.arange(self.T)
        self.rank = rank
        # tardiness: scaled priority and due per interval (0 weight: no due or no priority)
        sc = model.scales
        self.due = np.array([p.tasks[t].due or 0 for t, _ in pairs], dtype=np.int64)
        self.late_w = np.array(
            [
                sc.priority_of(p.tasks[t].priority) if p.tasks[t].due is not None else 0
                for t, _ in pairs
            ],
            dtype=np.int64,
        )
        self.weights: dict[str, int] = {"makespan": 1}
        self.ms_floor = int(model.trivial_bound("makespan") or 0)
        self._width = self.horizon + int(self.dur.max(initial=0)) + 1
        self._durs: list[int] = self.dur.tolist()
        #: per interval, its (channel, demand) pairs, for :meth:`_decode_lists`
        self._chq: list[list[tuple[int, int]]] = [
            list(zip(c.tolist(), q.tolist(), strict=True)) if self._durs[i] > 0 else []
            for i, (c, q) in enumerate(zip(self.ch, self.q, strict=True))
        ]
        self._caps: list[int] = self.cap.tolist()
        self._lists = int(self.dur.max(initial=0)) <= LIST_DECODE_MAX_DURATION

    @classmethod
    def build(cls, model: AllocationModel) -> Timeline | None:
        """The timeline of a pure scheduling model, or None when it does not apply (tasks to
        place, or arrays too large)."""
        if not model.pure_scheduling or not model.start:
            return None
        channels = {(n, r) for (t, n), d in model.dem.items() for r, q in d.items() if q > 0}
        if len(channels) * (model.horizon + 1) > MAX_CELLS:
            return None
        return cls(model)

    # -- objective -------------------------------------------------------------------------

    def set_objective(self, weights: dict[str, int]) -> None:
        """Integer weights of ``makespan`` and ``tardiness`` in the stage objective."""
        self.weights = {k: v for k, v in weights.items() if v}

    def makespan(self, start: np.ndarray) -> int:
        if self.I == 0:
            return self.ms_floor
        return max(int((start + self.dur).max()), self.ms_floor)

    def tardiness(self, start: np.ndarray) -> int:
        late = np.maximum(start + self.dur - self.due, 0)
        return int((late * self.late_w).sum())

    def objective(self, start: np.ndarray) -> int:
        value = 0
        w = self.weights.get("makespan", 0)
        if w:
            value += w * self.makespan(start)
        w = self.weights.get("tardiness", 0)
        if w:
            value += w * self.tardiness(start)
        return value

    # -- the plain model ---------------------------------------------------------------------

    def plain_model(
        self,
    ) -> tuple[cp_model.CpModel, list[cp_model.IntVar], cp_model.LinearExprT]:
        """The textbook CP-SAT model of this timeline: one start per interval in its window, a
        fixed-size interval per positive duration, a cumulative per channel whose demands can
        exceed its capacity, a precedence per predecessor's interval, and the objective of
        :meth:`objective` (makespan at least :attr:`ms_floor`; tardiness per interval).
        Returns the model, the start variables (in interval order) and the objective.

        It is the model a user writes by hand for RCPSP (``benchmarks/peers.py``) and nothing
        else: none of the placement variables, optional intervals and redundant no-overlap
        cliques of :class:`.model.AllocationModel`, which every plan of a pure scheduling
        problem fixes or implies. CP-SAT proves PSPLIB instances on it up to three times as
        fast (j605_3: 1.2 s against 3.8 s, one worker)."""
        m = cp_model.CpModel()
        lo, hi, dur = self.lo.tolist(), self.hi.tolist(), self._durs
        start = [m.new_int_var(max(lo[i], 0), hi[i], f"s{i}") for i in range(self.I)]
        by_channel: list[tuple[list[cp_model.IntervalVar], list[int]]] = [
            ([], []) for _ in range(self.G)
        ]
        for i in range(self.I):
            if dur[i] <= 0 or not len(self.ch[i]):
                continue
            iv = m.new_fixed_size_interval_var(start[i], dur[i], f"i{i}")
            for g, q in zip(self.ch[i].tolist(), self.q[i].tolist(), strict=True):
                by_channel[g][0].append(iv)
                by_channel[g][1].append(q)
        for g, (ivs, qs) in enumerate(by_channel):
            cap = int(self.cap[g])
            if sum(qs) > cap:
                m.add_cumulative(ivs, qs, cap)
        for t in range(self.T):
            for p in self.preds[t]:
                for i in self.of_task[t]:
                    for j in self.of_task[p]:
                        m.add(start[i] >= start[j] + dur[j])
        terms: list[cp_model.LinearExprT] = []
        w = self.weights.get("makespan", 0)
        if w:
            top = max([self.ms_floor] + [hi[i] + dur[i] for i in range(self.I)])
            ms = m.new_int_var(self.ms_floor, top, "makespan")
            for i in range(self.I):
                m.add(ms >= start[i] + dur[i])
            terms.append(w * ms)
        w = self.weights.get("tardiness", 0)
        if w:
            for i in range(self.I):
                lw, due = int(self.late_w[i]), int(self.due[i])
                top = hi[i] + dur[i] - due
                if lw and top > 0:
                    late = m.new_int_var(0, top, f"late{i}")
                    m.add(late >= start[i] + dur[i] - due)
                    terms.append(w * lw * late)
        objective = cp_model.LinearExpr.sum(terms)
        m.minimize(objective)
        return m, start, objective

    def plain_hint(self, model: cp_model.CpModel, start: np.ndarray) -> None:
        """Hint every variable of a (clone of a) :meth:`plain_model` with the values the
        schedule ``start`` gives them: the starts, and the makespan and lateness variables
        (the objective's), which a schedule fixes. A hint of the starts alone is incomplete,
        and CP-SAT only takes a *complete* feasible hint as its first solution: a
        neighbourhood search (``use_lns_only``) hinted with the starts alone ignores them and
        starts from a schedule of its own (PSPLIB j6013_1: from feasibility jump's 221, not
        the hint's 121; docs/benchmarks.md, eighth session)."""
        dur = self._durs
        ends = [int(s) + d for s, d in zip(start.tolist(), dur, strict=True)]
        model.clear_hints()
        for idx, var in enumerate(model.proto.variables):
            name = var.name
            if name.startswith("s") and name[1:].isdigit():
                value = int(start[int(name[1:])])
            elif name == "makespan":
                value = max([self.ms_floor, *ends])
            elif name.startswith("late") and name[4:].isdigit():
                value = max(0, ends[int(name[4:])] - int(self.due[int(name[4:])]))
            else:
                continue
            model.add_hint(model.get_int_var_from_proto_index(idx), value)

    # -- plans -----------------------------------------------------------------------------

    def starts_of(self, value: dict[tuple[int, int], int]) -> np.ndarray:
        return np.array([value[k] for k in self.pairs], dtype=np.int64)

    def order_of(self, start: np.ndarray) -> list[int]:
        """The activity list of a schedule: tasks by their first start, then topological rank
        (so that a zero-duration predecessor comes before a task starting with it)."""
        first = np.full(self.T, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, self.task, start)
        return np.lexsort((self.rank, first)).tolist()

    # -- schedule generation ---------------------------------------------------------------

    def decode(
        self, order: Sequence[int], *, reverse: bool = False, mirror: int = 0
    ) -> np.ndarray | None:
        """Serial SGS over ``order`` (each task after its predecessors, or after its successors
        when ``reverse``): the start of every interval, or None when some replica finds no start
        in its window. ``reverse`` schedules the mirrored project (time ``mirror - t``) and
        returns real starts: a right-justified schedule ending by ``mirror``."""
        dur = self.dur
        if reverse:
            lo_arr = np.maximum(mirror - self.hi - dur, 0)
            hi_arr = mirror - self.lo - dur
            before = self.succs
        else:
            lo_arr, hi_arr, before = np.maximum(self.lo, 0), self.hi, self.preds
        lo, hi = lo_arr.tolist(), hi_arr.tolist()
        found = self._decode_lists if self._lists else self._decode_arrays
        out = found(order, lo, hi, before)
        if out is not None and reverse:
            out = mirror - out - dur
        return out

    def _decode_lists(
        self, order: Sequence[int], lo: list[int], hi: list[int], before: list[tuple[int, ...]]
    ) -> np.ndarray | None:
        """:meth:`decode` on a list of free capacity per channel and instant: with short
        durations (PSPLIB's are 1-10) plain Python loops beat numpy's per-call overhead by
        about two to one. A candidate start that does not fit moves just past the latest
        instant of its span where some channel lacks room."""
        durs, chq, width = self._durs, self._chq, self._width
        free = [[c] * width for c in self._caps]
        end = [0] * self.T
        start = [0] * self.I
        of_task = self.of_task
        for t in order:
            est = 0
            for u in before[t]:
                if end[u] > est:
                    est = end[u]
            finish = est
            for i in of_task[t]:
                d = durs[i]
                s = lo[i] if lo[i] > est else est
                chs = chq[i]
                if chs:
                    limit = hi[i] if hi[i] < width - d else width - d
                    while True:
                        if s > limit:
                            return None
                        nxt = s
                        for g, q in chs:
                            row = free[g]
                            for x in range(s + d - 1, nxt - 1, -1):
                                if row[x] < q:
                                    nxt = x + 1
                                    break
                        if nxt == s:
                            break
                        s = nxt
                    for g, q in chs:
                        row = free[g]
                        for x in range(s, s + d):
                            row[x] -= q
                elif s > hi[i]:
                    return None
                start[i] = s
                if s + d > finish:
                    finish = s + d
            end[t] = finish
        return np.array(start, dtype=np.int64)

    def _decode_arrays(
        self, order: Sequence[int], lo: list[int], hi: list[int], before: list[tuple[int, ...]]
    ) -> np.ndarray | None:
        """:meth:`decode` on a time-indexed usage array per channel (long durations)."""
        durs = self._durs
        use = np.zeros((self.G, self._width + 1), dtype=np.int64)
        end = [0] * self.T
        start = [0] * self.I
        of_task, rows, rooms, dems = self.of_task, self.rows, self.room, self.dem_col
        width = self._width
        for t in order:
            est = 0
            for u in before[t]:
                if end[u] > est:
                    est = end[u]
            finish = est
            for i in of_task[t]:
                d = durs[i]
                s = lo[i] if lo[i] > est else est
                a, b = rows[i]
                if d > 0 and b > a:
                    block = use[a:b]
                    s = _earliest(block, rooms[i], d, s, width)
                    if s < 0 or s > hi[i]:
                        return None
                    block[:, s : s + d] += dems[i]
                elif s > hi[i]:
                    return None
                start[i] = s
                if s + d > finish:
                    finish = s + d
            end[t] = finish
        return np.array(start, dtype=np.int64)

    def justify(self, start: np.ndarray) -> np.ndarray:
        """Forward-backward improvement (see the module docstring); never worse in makespan."""
        best = start
        best_ms = int((start + self.dur).max()) if self.I else 0
        for _ in range(JUSTIFY_ROUNDS):
            ends = np.full(self.T, -1, dtype=np.int64)
            np.maximum.at(ends, self.task, best + self.dur)
            back_order = np.lexsort((-self.rank, -ends)).tolist()
            late = self.decode(back_order, reverse=True, mirror=best_ms)
            if late is None:
                break
            fwd = self.decode(self.order_of(late))
            if fwd is None:
                break
            ms = int((fwd + self.dur).max())
            if ms > best_ms:
                break
            improved = ms < best_ms
            best, best_ms = fwd, ms
            if not improved:
                break
        return best


def _earliest(use: np.ndarray, room: np.ndarray, d: int, s: int, width: int) -> int:
    """The earliest start >= s where usage ``use`` (the rows of one node's channels) stays
    within ``room`` (capacity minus the demand, per row) over d instants (-1: none before the
    end of the arrays). Scans a window ahead of s, doubling it when it holds no fit."""
    if s + d <= width and (use[:, s : s + d] <= room).all():
        return s
    span = max(FIRST_WINDOW, 4 * d)
    ones = _ONES.get(d)
    if ones is None:
        ones = _ONES[d] = np.ones(d, dtype=np.int64)
    while s + d <= width:
        stop = min(width, s + span + d)
        bad: np.ndarray = np.asarray((use[:, s:stop] > room).any(axis=0))
        # bad instants in each window of d instants: a fit where there is none
        window = np.convolve(bad.view(np.int8), ones, "valid")
        k = int(window.argmin())
        if window[k] == 0:
            return s + k
        s += len(bad) - int(np.argmax(bad[::-1]))  # just after the last bad instant
        span *= 2
    return -1


_ONES: dict[int, np.ndarray] = {}
