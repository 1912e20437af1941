"""Polishing a MILP plan by large-neighbourhood search on the same compiled model.

On hard placement MILPs (the Chu-Beasley GAP instances of type d with 20 agents) SCIP and
CP-SAT's MILP search stall 1-2 % above the optimum within 20 s: the tree search spends its time
proving, not finding. The standard MILP remedy is a matheuristic: re-solve the *same* model
many times with most of its assignment binaries fixed, each sub-MILP small enough to search
well, and keep what improves (Danna et al.'s RINS and local branching are of this family).

What runs here, on the last stage of :func:`.solver.solve` once the plain solve has had its
share of the time (``SHARE_PLAIN``) and proved nothing, when :func:`polisher_for` gives a
polisher: assignment-shaped problems (:func:`assignment_flat`: the GAP and its kin), OR-Tools
backends, models of at most ``MAX_COLUMNS`` columns, not deterministic. The model is the one
already handed over; only column bounds change.
It starts from the plain solve's plan, or from the warm start when that solve found none.
(On other placement problems it was tried and not kept: generated 300 x 40 and 600 x 60 at
20 s gave 221.69 and 130.14 against 221.69 and 123.20 for the plain solve alone.)

``nodes``  a few nodes (used ones, and at least one empty one when there is any), the replicas
           on them and the unplaced tasks free among them; every other ``x`` keeps its value.
           The number of nodes grows after a sub-MILP is proved and shrinks when one runs out
           of time, so small problems end up wholly free.
``core``   (most steps, ``CORE_SHARE``) every task free, but only on a *core* of pairs, those
           of the relaxed solution and the ones of smallest Lagrangian penalty, with random
           noise so that successive cores differ (:func:`..lagrange.core_pairs`); the
           other pairs get upper bound 0.
           The relaxation also gives a lower bound on the cost, often far above the MILP's.

Each sub-MILP is hinted with the incumbent and solved by the run's backend (the portfolio races
SCIP and CP-SAT on it). A plan is kept when the evaluator finds it feasible and its stage
objective strictly lower. The bounds of the model are restored after every sub-MILP, so later
stages and the export see the model unchanged.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from taskalloc.problems.problem import Problem

from .backends import Backend, OrtoolsBackend, Outcome, Settings
from .model import MipModel, Placement

SHARE_PLAIN = 0.2  # share of the stage's time for the plain MILP solve before polishing
MIN_POLISH_SECONDS = 4.0  # less time than this left for polishing: the plain solve gets it all
SUB_SECONDS = 1.0  # time limit of one sub-MILP
CORE_FACTOR = 2.5  # a `core` sub-MILP gets this many
CORE_SHARE = 0.7  # share of the sub-MILPs that search a core, when there is one
CORE_NOISE = 1.0  # see ..cpsat.lns.CORE_NOISE
MAX_COLUMNS = 100_000  # larger models get the whole time for the plain solve (each sub-MILP
# would copy the whole model again)
LAGRANGE_SECONDS = 3.0  # subgradient time at most (and at most 20 % of the time left)
MIN_NODES = 2


def assignment_flat(problem: Problem, terms: list[str]) -> Any:
    """The flat view (:class:`..flat.Flat`) of an assignment-shaped problem, where the
    Lagrangian of :mod:`..lagrange` applies (one replica per task, all tasks placed, one
    resource, cost the only term that can change); None otherwise."""
    from .. import lagrange
    from ..flat import Flat
    from ..scaling import choose_scales

    if problem.scheduling or problem.features & {"devices", "spread", "max_moves"}:
        return None  # the sub-MILPs fix x alone, the Lagrangian knows no devices
    flat = Flat(problem, choose_scales(problem))
    return flat if lagrange.applies(flat, terms) else None


def polisher_for(
    model: MipModel,
    backend: Backend,
    settings: Settings,
    seed: int,
    stop: Any,
    deterministic: bool,
) -> Polisher | None:
    """The polisher of a run, or None when polishing does not apply: it needs an
    assignment-shaped problem (:func:`assignment_flat`) and a backend whose bounds change in
    memory, of at most ``MAX_COLUMNS`` columns, and is skipped in deterministic runs (it is
    driven by the clock)."""
    if deterministic or not isinstance(backend, OrtoolsBackend):
        return None
    if backend.columns > MAX_COLUMNS:
        return None
    problem = model.problem
    flat = assignment_flat(problem, problem.objective.active())
    if flat is None:
        return None
    return Polisher(model, backend, settings, seed, stop, flat=flat)


@dataclass
class Kind:
    name: str
    size: float  # nodes (nodes), or core pairs per task (core)
    tries: int = 0
    improved: int = 0
    proved: int = 0
    seconds: float = 0.0

    def describe(self) -> dict[str, Any]:
        return {
            "tries": self.tries,
            "improved": self.improved,
            "proved": self.proved,
            "size": round(self.size, 2),
            "seconds": round(self.seconds, 2),
        }


class Polisher:
    """One polishing run of the last stage (see the module docstring)."""

    def __init__(
        self,
        model: MipModel,
        backend: OrtoolsBackend,
        settings: Settings,
        seed: int,
        stop: Any = None,
        flat: Any = None,
    ) -> None:
        """``flat``: :func:`assignment_flat` of the problem, which enables the `core`
        neighbourhood and the Lagrangian bound (without it, only `nodes`)."""
        self.model = model
        self.backend = backend
        self.settings = settings
        self.stop = stop
        m = model
        col = backend.col
        self.xcol = np.array([col[id(v)] for v in m.x], dtype=np.int64)
        self.xtask = np.array([k[0] for k in m.xkey], dtype=np.int64)
        self.xnode = np.array([k[2] for k in m.xkey], dtype=np.int64)
        h = backend.helper
        self.lb0 = np.array([h.var_lower_bound(int(c)) for c in self.xcol], dtype=np.float64)
        self.ub0 = np.array([h.var_upper_bound(int(c)) for c in self.xcol], dtype=np.float64)
        self.rng = random.Random(seed)
        self.nrng = np.random.default_rng(seed)
        self.kinds: dict[str, Kind] = {"nodes": Kind("nodes", 4.0)}
        self.lower_bound: float | None = None  # from the Lagrangian, in cost units
        self.lagrangian: dict[str, Any] | None = None
        self.flat = flat
        self.lagr: Any = None
        self.keep: np.ndarray | None = None

    def share_plain(self, budget: float) -> float:
        """Share of the last stage's ``budget`` (seconds) for the plain solve: all of it when
        polishing would get less than ``MIN_POLISH_SECONDS`` (a few sub-MILPs gain little, and
        short runs are better spent proving: gap_orlib at 1 s)."""
        share = SHARE_PLAIN
        return share if budget * (1.0 - share) >= MIN_POLISH_SECONDS else 1.0

    # -- neighbourhoods -------------------------------------------------------------------

    def _on(self, plan: Placement) -> np.ndarray:
        """Which x columns are 1 in ``plan``."""
        on = np.zeros(len(self.xcol), dtype=bool)
        pos = self.model.xpos
        for t, reps in plan.items():
            for k, (n, _) in enumerate(sorted(reps)):
                i = pos.get((t, k, n))
                if i is not None:
                    on[i] = True
        return on

    def nodes_hood(self, plan: Placement, on: np.ndarray, kind: Kind) -> tuple[np.ndarray, ...]:
        """(lower, upper) bounds of the x columns: about ``kind.size`` nodes, used ones first
        and at least one empty one when there is any; the replicas on them and every unplaced
        task free among them, every other x fixed to the plan."""
        nodes = len(self.model.problem.nodes)
        used = sorted({n for reps in plan.values() for n, _ in reps})
        empty = sorted(set(range(nodes)) - set(used))
        k = max(MIN_NODES, min(nodes, round(kind.size)))
        chosen = self.rng.sample(used, min(len(used), k - 1 if empty else k))
        chosen += self.rng.sample(empty, min(len(empty), max(1, k - len(chosen))))
        picked = np.array(chosen, dtype=np.int64)
        placed = np.array(sorted(plan), dtype=np.int64)
        moving = np.unique(self.xtask[on & np.isin(self.xnode, picked)])
        unplaced = self.xtask[~np.isin(self.xtask, placed)]
        tasks = np.union1d(moving, unplaced)
        free = np.isin(self.xtask, tasks) & np.isin(self.xnode, picked)
        lb = np.where(free, self.lb0, np.maximum(self.lb0, on.astype(np.float64)))
        ub = np.where(free | on, self.ub0, 0.0)
        return lb, ub

    def core_hood(self, on: np.ndarray, kind: Kind) -> tuple[np.ndarray, ...]:
        """Every task free on the core pairs and on its own pair."""
        from ..lagrange import core_pairs

        assert self.lagr is not None and self.keep is not None
        _, X, delta = self.lagr.last
        mask = core_pairs(X, delta, self.keep, kind.size, self.nrng, CORE_NOISE)
        allowed = mask[self.xnode, self.xtask] | on
        return self.lb0, np.where(allowed, self.ub0, 0.0)

    # -- the Lagrangian ------------------------------------------------------------------

    def start_lagrangian(self, cost: float, left: float) -> None:
        """Subgradient steps on the relaxation (with ``flat``): enables the `core`
        neighbourhood and sets :attr:`lower_bound`; ``cost`` is the incumbent's."""
        from .. import lagrange

        if self.flat is None:
            return
        unit = self.flat.scales.cost_of(1.0)
        ub = round(cost * unit)
        lagr = lagrange.Lagrangian(self.flat)
        lb = lagr.improve(float(ub), max(0.0, min(LAGRANGE_SECONDS, 0.2 * left)))
        self.keep = lagr.keep(ub)
        self.lagr = lagr
        if math.isfinite(lb):
            self.lower_bound = math.ceil(lb - 1e-6) / unit
        self.lagrangian = {
            "bound": self.lower_bound,
            "iterations": lagr.iterations,
            "seconds": round(lagr.seconds, 2),
        }
        self.kinds["core"] = Kind("core", 1.5)

    # -- the loop ------------------------------------------------------------------------

    def run(
        self,
        plan: Placement,
        value: float,
        deadline: float,
        value_of: Callable[[Placement], float | None],
        hint: Callable[[Placement], None],
        record: Callable[[float], None],
        enough: Callable[[float], bool] | None = None,
    ) -> tuple[Placement, float]:
        """Search from ``plan`` (stage objective ``value``) until ``deadline`` (perf_counter)
        or a stop. ``value_of`` gives a plan's stage objective (None: the evaluator rejects
        it), ``hint`` hands a plan to the backend as its hint, ``record`` is called with each
        better value; the search stops early once ``enough(value)`` (the value meets a proven
        bound, or the user's gap). Returns the best plan and its value."""
        h = self.backend.helper
        overhead = 0.05  # seconds of a step outside the solver's clock (the most seen so far)
        while True:
            step = time.perf_counter()
            left = deadline - step - overhead
            if left < 0.05 or (self.stop is not None and self.stop.is_set()):
                break
            if enough is not None and enough(value):
                break
            on = self._on(plan)
            core = self.kinds.get("core")
            kind = core if core and self.rng.random() < CORE_SHARE else self.kinds["nodes"]
            if kind.name == "core":
                lb, ub = self.core_hood(on, kind)
                budget = SUB_SECONDS * CORE_FACTOR
            else:
                lb, ub = self.nodes_hood(plan, on, kind)
                budget = SUB_SECONDS
            self.settings.time_limit = max(0.05, min(budget, left))
            changed = np.flatnonzero((lb != self.lb0) | (ub != self.ub0))
            cols = self.xcol[changed].tolist()
            for c, lo, hi in zip(cols, lb[changed].tolist(), ub[changed].tolist(), strict=True):
                h.set_var_lower_bound(c, lo)
                h.set_var_upper_bound(c, hi)
            hint(plan)
            began = time.perf_counter()
            try:
                outcome: Outcome = self.backend.solve(self.settings, self.stop)
            finally:
                restore = zip(
                    cols, self.lb0[changed].tolist(), self.ub0[changed].tolist(), strict=True
                )
                for c, lo, hi in restore:
                    h.set_var_lower_bound(c, lo)
                    h.set_var_upper_bound(c, hi)
            kind.tries += 1
            kind.seconds += time.perf_counter() - began
            if outcome.status == "optimal":
                kind.proved += 1
                kind.size = min(kind.size * 1.2 + 0.5, self._max_size(kind))
            else:
                kind.size = max(kind.size * 0.85, self._min_size(kind))
            if outcome.values is None:
                continue
            new = self.model.plan_from(self.backend.value(outcome))
            got = value_of(new)
            if got is not None and got < value - 1e-9:
                plan, value = new, got
                kind.improved += 1
                record(value)
            overhead = max(overhead, time.perf_counter() - step - outcome.seconds)
        return plan, value

    def _max_size(self, kind: Kind) -> float:
        return float(len(self.model.problem.nodes)) if kind.name == "nodes" else 4.0

    def _min_size(self, kind: Kind) -> float:
        return float(MIN_NODES) if kind.name == "nodes" else 1.2

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: v.describe() for k, v in self.kinds.items()}
        if self.lagrangian is not None:
            out["lagrangian"] = self.lagrangian
        return out
