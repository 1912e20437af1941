"""The problem as flat numpy arrays, and the vectorised fitness that agrees with the evaluator.

A plan is a vector ``x`` of one node index per *replica slot* (slot ``first[t] + r`` is replica
``r`` of task ``t``; ``-1`` means unplaced) and, in scheduling problems, a vector ``start`` of
one start per slot. :meth:`Compiled.measure` computes from these every objective term exactly as
:func:`taskalloc.problems.evaluate.evaluate` does (same definitions, same float operations where
it matters: durations are ``ceil(duration / speed)``) and a violation score (0 for a feasible
plan) without building assignments, so that the genetic search can afford it for every
individual. ``tests/test_ga.py`` checks the agreement on random (also infeasible) plans.

Pure numpy; no DEAP here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from taskalloc.problems.evaluate import CAP_TOL, fitness_weights
from taskalloc.problems.plan import Assignment
from taskalloc.problems.problem import Problem, effectively_required, topological_order

UNPLACED = -1  # the gene value of an unplaced replica


def _keys_values(entries: dict[int, Any]) -> tuple[np.ndarray, list[Any]]:
    """Sorted keys (task * nodes + node) and their values, in the same order."""
    keys = np.fromiter(entries, dtype=np.int64, count=len(entries))
    order = np.argsort(keys)
    vals = list(entries.values())
    return keys[order], [vals[i] for i in order]


class Compiled:
    """Arrays of one problem, built once per solve (O(tasks x allowed nodes))."""

    def __init__(self, problem: Problem) -> None:
        p = self.p = problem
        T, N = len(p.tasks), len(p.nodes)
        R = max(1, len(p.resources))
        self.T, self.N, self.R = T, N, R
        self.scheduling = p.scheduling
        self.reps = np.array([t.replicas for t in p.tasks], dtype=np.int64)
        self.first = np.zeros(T, dtype=np.int64)
        if T:
            self.first[1:] = np.cumsum(self.reps)[:-1]
        self.S = int(self.reps.sum())
        self.task_of = np.repeat(np.arange(T, dtype=np.int64), self.reps)
        self.replica_of = np.arange(self.S, dtype=np.int64) - self.first[self.task_of]
        must = effectively_required(p)
        self.must = np.array([t.index in must for t in p.tasks], dtype=bool)
        self.required = np.array([t.required for t in p.tasks], dtype=bool)
        self.prio = np.array([t.priority for t in p.tasks], dtype=float)
        # allowed nodes (CSR) and a sorted key array for membership tests
        self.allowed = [np.asarray(t.allowed, dtype=np.int64) for t in p.tasks]
        self.all_allowed = np.array([len(t.allowed) == N for t in p.tasks], dtype=bool)
        self.n_allowed = np.array([len(t.allowed) for t in p.tasks], dtype=np.int64)
        self.allowed_off = np.zeros(T + 1, dtype=np.int64)
        self.allowed_off[1:] = np.cumsum(self.n_allowed)
        self.allowed_flat = (
            np.concatenate(self.allowed) if T and self.allowed_off[-1] else np.zeros(0, np.int64)
        )
        # capacities and demands
        cap = np.zeros((N, R))
        cap[:, : len(p.resources)] = np.asarray(p.capacity)
        self.cap = cap
        self.capx = cap + CAP_TOL
        self.has_cap = cap > 0
        self.invcap = np.divide(1.0, cap, out=np.zeros_like(cap), where=cap > 0)
        dem = np.zeros((T, R))
        dem[:, : len(p.resources)] = np.asarray(p.demand)
        self.dem = dem
        ri = p.resource_index
        don: dict[int, np.ndarray] = {}
        acost: dict[int, float] = {}
        dur_on: dict[int, int] = {}
        cur: list[int] = []
        for t in p.tasks:
            for n, dmap in t.demand_on.items():
                vec = np.zeros(R)
                for r, q in dmap.items():
                    vec[ri[r]] = q
                don[t.index * N + n] = vec
            for n, c in t.assign_cost.items():
                acost[t.index * N + n] = c
            for n, d in t.duration_on.items():
                dur_on[t.index * N + n] = d
            if t.current is not None:
                cur.extend(t.index * N + n for n in t.current)
        self.don_keys, don_vals = _keys_values(don)
        self.don_vals = (
            np.array(don_vals).reshape(len(don_vals), R) if don_vals else np.zeros((0, R))
        )
        self.ac_keys, ac_vals = _keys_values(acost)
        self.ac_vals = np.array(ac_vals, dtype=float)
        self.cur_keys = np.array(sorted(cur), dtype=np.int64)
        self.has_current = np.array([t.current is not None for t in p.tasks], dtype=bool)
        self.node_cost = np.array([n.cost for n in p.nodes], dtype=float)
        # separation and distinct nodes, as slot pairs
        sa: list[int] = []
        sb: list[int] = []
        for t in p.tasks:
            for o in t.separate:
                if o > t.index:
                    for i in range(t.replicas):
                        for j in range(p.tasks[o].replicas):
                            sa.append(int(self.first[t.index]) + i)
                            sb.append(int(self.first[o]) + j)
        self.sep_a = np.array(sa, dtype=np.int64)
        self.sep_b = np.array(sb, dtype=np.int64)
        self.separate = [np.array(sorted(t.separate), dtype=np.int64) for t in p.tasks]
        gang_names = sorted(p.gangs)
        self.gang_of = np.full(T, -1, dtype=np.int64)
        self.gangs = [np.array(p.gangs[g], dtype=np.int64) for g in gang_names]
        for gi, g in enumerate(gang_names):
            self.gang_of[list(p.gangs[g])] = gi
        self.weights = fitness_weights(p)
        self.terms = tuple(p.objective.terms)
        # scheduling
        self.speed = np.array([n.speed for n in p.nodes], dtype=float)
        self.has_dur = np.array([t.duration is not None for t in p.tasks], dtype=bool)
        self.dur = np.array([t.duration or 0 for t in p.tasks], dtype=float)
        # services (revision 2) run from 0 to the horizon: their span is their duration
        self.span = np.array(
            [t.span if t.service and t.span is not None else -1 for t in p.tasks], dtype=np.int64
        )
        self.is_service = self.span >= 0
        #: revision-2 checks (spread, same starts, services, max_moves) of the decoder that
        #: handles them (:class:`.rev2.Rev2`, set by the engine); None without such features
        self.rev2_violations: Any = None
        self.don_dur_keys, dvals = _keys_values(dur_on)
        self.don_dur_vals = np.array(dvals, dtype=np.int64)
        self.release = np.array([t.release or 0 for t in p.tasks], dtype=np.int64)
        big = np.iinfo(np.int64).max // 4
        self.deadline = np.array(
            [t.deadline if t.deadline is not None else big for t in p.tasks], dtype=np.int64
        )
        self.horizon = p.horizon if p.horizon is not None else big
        self.due = np.array([t.due if t.due is not None else big for t in p.tasks], dtype=np.int64)
        self.has_due = np.array([t.due is not None for t in p.tasks], dtype=bool)
        self.after = [list(t.after) for t in p.tasks]
        ea = [(t.index, q) for t in p.tasks for q in t.after] if p.scheduling else []
        self.edge_t = np.array([e[0] for e in ea], dtype=np.int64)
        self.edge_q = np.array([e[1] for e in ea], dtype=np.int64)
        self.topo = topological_order(p) if p.scheduling else list(range(T))
        self.node_ids = [n.id for n in p.nodes]
        self.task_ids = [t.id for t in p.tasks]

    # -- per (task, node) lookups, vectorised ------------------------------------------------

    def _lookup(self, keys: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(hit mask, positions) of ``query`` keys in the sorted ``keys``."""
        if len(keys) == 0:
            return np.zeros(len(query), dtype=bool), np.zeros(len(query), dtype=np.int64)
        pos = np.searchsorted(keys, query).clip(0, len(keys) - 1)
        return keys[pos] == query, pos

    def demand(self, tasks: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """Demand per pair as rows (len, R), ``demand_on`` applied."""
        d = self.dem[tasks]
        if len(self.don_keys):
            hit, pos = self._lookup(self.don_keys, tasks * self.N + nodes)
            if hit.any():
                d = d.copy()
                d[hit] = self.don_vals[pos[hit]]
        return d

    def assign_cost(self, tasks: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        c = np.zeros(len(tasks))
        if len(self.ac_keys):
            hit, pos = self._lookup(self.ac_keys, tasks * self.N + nodes)
            c[hit] = self.ac_vals[pos[hit]]
        return c

    def durations(self, tasks: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """Duration per pair (int64), as ``Task.duration_at``: duration_on, else
        ceil(duration / speed), 0 without a duration."""
        d = np.where(self.has_dur[tasks], np.ceil(self.dur[tasks] / self.speed[nodes]), 0.0)
        d = d.astype(np.int64)
        if self.is_service.any():
            sv = self.is_service[tasks]
            d[sv] = self.span[tasks[sv]]
        if len(self.don_dur_keys):
            hit, pos = self._lookup(self.don_dur_keys, tasks * self.N + nodes)
            d[hit] = self.don_dur_vals[pos[hit]]
        return d

    def is_current(self, tasks: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        hit, _ = self._lookup(self.cur_keys, tasks * self.N + nodes)
        return hit

    def is_allowed(self, tasks: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        ok = self.all_allowed[tasks].copy()
        rest = np.flatnonzero(~ok)
        for i in rest.tolist():  # restricted tasks: binary search in their sorted list
            al = self.allowed[int(tasks[i])]
            j = int(np.searchsorted(al, nodes[i]))
            ok[i] = j < len(al) and al[j] == nodes[i]
        return ok

    # -- the fitness --

    def ends(self, x: np.ndarray, start: np.ndarray | None) -> np.ndarray | None:
        if start is None:
            return None
        placed = x >= 0
        end = start.copy()
        end[placed] = start[placed] + self.durations(self.task_of[placed], x[placed])
        return end

    def measure(
        self, x: np.ndarray, start: np.ndarray | None = None
    ) -> tuple[float, dict[str, float]]:
        """(violation score, every term), as the evaluator computes them. The score is 0 for a
        plan the evaluator finds feasible and positive otherwise (a count of broken constraints
        plus the capacity excess relative to capacity)."""
        N, R = self.N, self.R
        placed = x >= 0
        ps = np.flatnonzero(placed)
        pt = self.task_of[ps]
        pn = x[ps]
        viol = 0.0
        n_task = np.bincount(pt, minlength=self.T)
        task_placed = n_task > 0
        viol += float(np.count_nonzero(task_placed & (n_task != self.reps)))
        viol += float(np.count_nonzero(self.required & ~task_placed))
        for g in self.gangs:
            k = int(np.count_nonzero(task_placed[g]))
            if 0 < k < len(g):
                viol += 1.0
        # distinct nodes per task, allowed nodes, separation
        key = pt * N + pn
        viol += float(len(key) - len(np.unique(key)))
        if not self.all_allowed.all():
            viol += float(np.count_nonzero(~self.is_allowed(pt, pn)))
        if len(self.sep_a):
            xa, xb = x[self.sep_a], x[self.sep_b]
            clash = (xa == xb) & (xa >= 0)
            if clash.any():
                # the evaluator reports a pair (task, other, node) once per node
                trip = np.unique(
                    np.stack(
                        [
                            self.task_of[self.sep_a[clash]],
                            self.task_of[self.sep_b[clash]],
                            xa[clash],
                        ]
                    ),
                    axis=1,
                )
                viol += float(trip.shape[1])
        d = self.demand(pt, pn)
        terms: dict[str, float] = {}
        used = np.bincount(pn, minlength=N) > 0
        end_arr = None
        if self.scheduling:
            assert start is not None
            st = start[ps]
            dur = self.durations(pt, pn)
            en = st + dur
            end_arr = en
            viol += float(np.count_nonzero(st < 0))
            viol += float(np.count_nonzero(st < self.release[pt]))
            viol += float(np.count_nonzero(en > self.deadline[pt]))
            viol += float(np.count_nonzero(en > self.horizon))
            task_end = np.full(self.T, np.iinfo(np.int64).min)
            np.maximum.at(task_end, pt, en)
            task_start = np.full(self.T, np.iinfo(np.int64).max)
            np.minimum.at(task_start, pt, st)
            if len(self.edge_t):
                et, eq = self.edge_t, self.edge_q
                on = task_placed[et]
                bad = on & (~task_placed[eq] | (task_start[et] < task_end[eq]))
                viol += float(np.count_nonzero(bad))
            load = self._peak(pn, st, en, d)
            timed = ~self.is_service[pt]  # makespan ignores services
            terms_makespan = float(en[timed].max()) if timed.any() else 0.0
        else:
            load = np.zeros((N, R))
            for r in range(R):
                load[:, r] = np.bincount(pn, weights=d[:, r], minlength=N)
            terms_makespan = 0.0
        excess = load - self.capx
        over = excess > 0
        if over.any():
            viol += float(np.count_nonzero(over)) + float(
                (excess[over] / np.maximum(self.cap[over], 1.0)).sum()
            )
        if self.rev2_violations is not None:
            viol += self.rev2_violations(x, start)
        terms["unplaced"] = float((self.prio * self.reps)[~task_placed].sum())
        terms["cost"] = float(self.assign_cost(pt, pn).sum() + self.node_cost[used].sum())
        terms["nodes"] = float(np.count_nonzero(used))
        util = np.divide(load, self.cap, out=np.zeros_like(load), where=self.has_cap)
        terms["balance"] = float(max(util.max(initial=0.0), 0.0))
        if self.scheduling:
            terms["makespan"] = terms_makespan
            assert end_arr is not None
            due_mask = self.has_due[pt]
            late = np.maximum(0, end_arr[due_mask] - self.due[pt][due_mask])
            terms["tardiness"] = float((self.prio[pt][due_mask] * late).sum())
        cur = self.has_current[pt]
        if cur.any():
            terms["moves"] = float(np.count_nonzero(~self.is_current(pt[cur], pn[cur])))
        else:
            terms["moves"] = 0.0
        return viol, terms

    def _peak(self, pn: np.ndarray, st: np.ndarray, en: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Peak usage per node and resource over time (intervals [start, end) with end > start;
        ends before starts at the same instant, as the evaluator's sweep)."""
        N, R = self.N, self.R
        peak = np.zeros((N, R))
        live = en > st
        if not live.any():
            return peak
        n, s, e, dd = pn[live], st[live], en[live], d[live]
        nodes = np.concatenate([n, n])
        times = np.concatenate([s, e])
        kind = np.concatenate([np.ones(len(s), np.int64), np.zeros(len(e), np.int64)])
        delta = np.concatenate([dd, -dd])
        order = np.lexsort((kind, times, nodes))
        nodes, delta = nodes[order], delta[order]
        cum = np.cumsum(delta, axis=0)
        bounds = np.flatnonzero(np.r_[True, nodes[1:] != nodes[:-1]])
        base = np.zeros_like(cum)
        # usage within a node's group: cumulative sum minus what came before the group
        prev = np.where(bounds > 0, bounds - 1, 0)
        offs = np.where((bounds > 0)[:, None], cum[prev], 0.0)
        lens = np.diff(np.r_[bounds, len(nodes)])
        base = np.repeat(offs, lens, axis=0)
        usage = cum - base
        top = np.maximum.reduceat(usage, bounds, axis=0)
        peak[nodes[bounds]] = np.maximum(top, 0.0)
        return peak

    def fitness(self, terms: dict[str, float]) -> float:
        """The evaluator's scalar fitness (:func:`~taskalloc.problems.evaluate.fitness`)."""
        return float(sum(w * terms.get(t, 0.0) for t, w in self.weights.items()))

    # -- plans --

    def assignments(self, x: np.ndarray, start: np.ndarray | None = None) -> list[Assignment]:
        end = self.ends(x, start)
        out = []
        for s in np.flatnonzero(x >= 0).tolist():
            t = int(self.task_of[s])
            if start is None or end is None:
                out.append(
                    Assignment(self.task_ids[t], int(self.replica_of[s]), self.node_ids[x[s]])
                )
            else:
                out.append(
                    Assignment(
                        self.task_ids[t],
                        int(self.replica_of[s]),
                        self.node_ids[x[s]],
                        int(start[s]),
                        int(end[s]),
                    )
                )
        return out

    def from_assignments(
        self, assignments: Sequence[Assignment]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Genes of a plan (unknown tasks/nodes and bad replicas are dropped)."""
        x = np.full(self.S, UNPLACED, dtype=np.int64)
        start = np.zeros(self.S, dtype=np.int64) if self.scheduling else None
        ti, ni = self.p.task_index, self.p.node_index
        for a in assignments:
            t, n = ti.get(a.task), ni.get(a.node)
            if t is None or n is None or not 0 <= a.replica < self.reps[t]:
                continue
            s = int(self.first[t]) + a.replica
            x[s] = n
            if start is not None:
                start[s] = a.start or 0
        return x, start
