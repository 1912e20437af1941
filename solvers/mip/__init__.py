"""MILP engine: the allocation problem as a mixed-integer linear program, written once in Pyomo.

``taskalloc.solvers.solve(problem, "mip", time_limit=60, workers=2, seed=0, hint=None,
progress=None, stop=None, backend=None, gap=None)`` returns a
:class:`~taskalloc.solvers.result.Result` (:class:`MipOptions`: this engine's own options). The
model is built by :class:`.model.MipModel` (a Pyomo ``ConcreteModel``, one method per constraint
family), handed to a backend by :mod:`.backends` and solved term by term by :mod:`.solver`;
:mod:`.export` writes it as LP, MPS or NL (``taskalloc export``). Every plan returned as ``optimal``
or ``feasible`` has been accepted by the evaluator.

Formulation
-----------
The semantics are those of the CP-SAT model (``solvers/cpsat``), in linear form; numbers stay
floats (no scaling), the solvers' feasibility tolerance is tightened to 1e-9 and every
solution is rounded and checked by the evaluator.

*Candidates.* A (task, node) pair exists only when the node is allowed (``nodes``/``match``) and
one replica fits it when empty (in scheduling problems a replica that runs 0 time there fits
anywhere, and the pair also needs ``release + d <= min(deadline, horizon)``).

*Index sets (sparse).* ``x[r, n]``, binary, one per replica ``r = task#k`` and candidate node
``n`` of its task: ``x[train-llm#0,a100-1]``. ``p[task]`` binary: placed (bounds 1..1 for the
tasks every plan must place: required ones, their gang mates and, when scheduling, their
``after`` predecessors). Replicas of a task are identical, so they are ordered by node: replica
``k`` sits on a node after replica ``k - 1``'s (``order[r]``: sum of candidate positions of
``k`` >= that of ``k - 1`` + ``p``), which also puts them on distinct nodes, and replica ``k``
never uses the first ``k`` or the last ``replicas - 1 - k`` candidates.

*Placement.* ``assign[r]``: ``sum_n x[r, n] = p[task]`` (all replicas or none). ``gang[g, i]``:
``p`` equal along a gang. ``apart[c, n]``: the separation graph (``separate_from``, both
directions) is covered greedily by cliques; per clique and node at most one replica of one
member (one row per clique instead of one per pair, and a tighter one).
``capacity[n, r]``: ``sum demand x <= cap`` (left out when every candidate together fits), or
``<= cap * u[n]`` when node use is needed, which also ties ``u`` to ``x``.

*Node use.* ``u[n]`` binary, only when ``nodes`` or a node ``cost`` is in the objective:
``use[n]``: ``sum x <= count * u[n]`` over the ``x`` no capacity row ties (zero-demand
candidates; every ``x`` when scheduling).

*Symmetry.* Members of a pool that no task tells apart (as in CP-SAT) form a class; the
``j``-th task having the class as candidates uses only its first ``S_j`` members (``S_j``: the
replicas of those tasks up to ``j``): any plan satisfies this once members are relabelled by
the first task each one runs, and ``use_order[n]``: ``u`` does not increase along a class.
Both remove variables or add two-term rows only (the load-ordering rows of CP-SAT would cost
as many non-zeros as the capacity rows).

*Scheduling (time-indexed).* ``s[r, n, t]`` binary for every start time ``t`` in
``[release, min(deadline, horizon) - d]`` (``d`` = duration there: ``speed``,
``duration_on``); ``start[r, n]``: ``sum_t s = x``. ``usage[n, res, t]``: the demand of the
replicas started in ``(t - d, t]`` is at most the capacity, checked at every possible start on
``n`` (the load only rises there), left out when what can run then fits anyway; zero-duration
replicas occupy nothing. ``end[q]`` integer >= the end ``sum (t + d) s`` of each replica of a
predecessor ``q`` (``ends``); ``after[r, q]``: ``sum t s + H (1 - p[task]) >= end[q]``;
``pred[t, q]``: ``p[t] <= p[q]``. Without a ``horizon`` in the file, the safe one of CP-SAT
(last release + every replica's longest duration). **Limit:** the formulation grows with the
horizon: above 50,000 start binaries (replicas x candidate nodes x start times) ``solve``
and ``export`` refuse with a message pointing to engine cpsat (``MipRefused``, exit 2). It
suits small horizons (PSPLIB j30 on one node: about 5,000 binaries), not job shops of
thousands of time units.

*Revision 2* (FORMATS.md), every feature in the model, so every plan it returns passes
``check``:

* Devices. A replica whose demand on a split resource is served by ``m`` devices there (a
  share of one, or ``m`` whole ones) gets its devices from the model. Placement problems:
  replicas taking whole devices are counted (``dev_count[n, res]``: ``sum m x + devices
  holding shares <= k``; their devices are then any that hold no share); the shares are, where
  they come in few sizes (at most ``model.MAX_PATTERNS`` maximal patterns per node: MIG-like
  quarters give 4), counts ``z[n, res, pattern]`` of devices holding each maximal pattern of
  share sizes (:mod:`.patterns`; ``pat_cover`` per size, ``pat_count``): no device symmetry
  left and the configuration LP's bound; otherwise one binary ``y[r, n, res, j]`` per replica
  and device (``dev_assign``: ``sum_j y = x``, ``dev_capacity[n, res, j]``: ``sum take y <=
  size f[j]``). Scheduling problems: ``y`` for every replica using devices and
  device-indexed start binaries ``d[r, n, res, j, t]`` (``dev_start``: ``sum_j d = m s``,
  ``dev_link``: ``y = sum_t d``), ``dev_usage[n, res, j, t]`` per device and start time.
  Identical devices: in the assignment form the item at position ``i`` (x order) of a node
  uses only the first ``m_0 + ... + m_i`` devices (devices relabelled by their lowest user;
  hints are relabelled so); ``model.DEVICE_SYMMETRY`` selects ``prune`` (default), ``order``
  (plus ``dev_order`` rows on prefix counts) or ``none``. Measured (benchmarks/
  bench_mip_devices.py, 2 nodes x 8 devices, 34 shares + 2 whole jobs, SCIP / HiGHS, seconds
  to prove): patterns 0.45 / 0.11, prune 18.5 / 4.4, none 30+ / 7.4, order 30+ / 30+.
* Gangs that start together: ``gang_start[g, t]`` binary, ``gang_one[g]``: ``sum_t = p``,
  ``gang_at[g, r, t]``: ``sum_n s[r, n, t] = gang_start[g, t]`` for every replica of every
  member.
* Services start at 0 and run the horizon (their only start binary); ``makespan`` leaves
  them out.
* Spread: ``spread_most[t]``, ``spread_fewest[t]`` integers bounding the replicas per label
  value (``spread_hi``, ``spread_lo``; every value found on the allowed nodes counts, even one
  without a candidate), ``skew[t]``: ``most - fewest <= max_skew``.
* ``max_moves``: ``sum`` of the ``x`` off their task's ``current`` ``<= max_moves``.
* Polishing skips problems with devices, spread or ``max_moves`` (its sub-MILPs fix x alone).
* ``taskalloc export`` writes the same rows; a solution read back gives devices by the ``y``
  names, or, in the pattern form, by packing the shares of each size into the ``z`` devices
  (in any order: every packing is feasible), whole devices on those left.

Objective terms (all minimised, exact in floats)
-------------------------------------------------
* ``unplaced`` = ``sum_t priority * replicas * (1 - p[t])``.
* ``cost`` = ``sum assign_cost * x + sum node cost * u``. ``nodes`` = ``sum u``.
  ``moves`` = ``sum`` of ``x`` on nodes outside the task's ``current``.
* ``balance`` = ``B``, continuous in [0, 1] with ``load[n, r] <= cap[n, r] * B`` for every node
  and resource with capacity > 0 a candidate uses (``peak[n, r]``; scheduling: the ``usage``
  rows themselves get ``cap * B`` on the right). Exact: no grid, in weighted sums too.
* ``makespan`` = ``M`` >= the end of every replica (``span[r]``).
* ``tardiness`` = ``sum priority * max(0, t + d - due) * s``: linear in the start binaries,
  no extra variable.

Lexicographic objectives are successive solves, one per term, each bounding the earlier terms
by their value (``stage_<term>``: ``term <= value``, + 0.5 for terms that are integers on every
plan, + 1e-6 relative otherwise); each solve gets an equal share of the time left and is
hinted with the best plan so far. As in CP-SAT, a stage is skipped when the best plan known
already reaches a lower bound known without search (typically ``unplaced = 0`` after a
greedy that places everything). Weighted objectives are one solve of ``sum w * term``.

Polishing (:mod:`.polish`). On assignment-shaped problems (the GAP and its kin: one replica
per task, all placed, one resource, ``cost`` the only term that moves; the Lagrangian of
``solvers/lagrange.py`` applies) with an OR-Tools backend (at most 100,000 columns, not
``--deterministic``), the last stage's plain solve gets 20 % of its time (all of it when that
would leave less than 4 s); if it proves nothing, the rest goes to a large-neighbourhood search
on the same compiled model: sub-MILPs with every task free on a noisy Lagrangian core of pairs,
or with a few nodes free and every other ``x`` fixed, each hinted with the incumbent and solved
by the backend; the relaxation also raises the ``cost`` bound. It starts from the warm start
when the plain solve found nothing, and stops at the bound or the ``--gap``. ``options.polish``
in the plan counts the sub-MILPs per neighbourhood. (Chu-Beasley GAP at 20 s: mean gap 0.180 %
before, 0.054 % with it. On other placement problems no gain was measured, so they are not
polished.)

Backends and options
--------------------
``backend`` (``--backend``): by default ``ortools-portfolio`` (SCIP and CP-SAT race on the same
model: :class:`.backends.PortfolioBackend`) when the model has no continuous variable (no
``balance``) and ``workers >= 2``, else ``ortools-scip``; ``ortools-scip`` (SCIP through
OR-Tools' MPSolver, fed the model_builder model in memory, which makes it interruptible),
``ortools-highs`` and ``ortools-cpsat`` (through model_builder), or any Pyomo solver name
(``gurobi``, ``cplex``, ``cbc``, ``glpk``, ``appsi_highs``, ...): Pyomo writes its input, runs
it and loads the solution back; an absent one raises ``SolverUnavailable`` naming what to
install. The OR-Tools hand-off reads each Pyomo constraint's linear expression directly (no
file); see :mod:`.backends`.

Option names per backend (time limit / gap / seed / threads; then warm start and bound):

* ``ortools-portfolio``: each engine's own names below; SCIP gets one thread and CP-SAT
  ``workers`` (one thread more than ``--workers`` in all: SCIP's); ``solver.options.applied``
  lists both, suffixed with the engine.
* ``ortools-scip``: MPSolver's time limit / ``limits/gap`` / ``randomization/randomseedshift``
  / one thread (1); solution hint; SCIP's dual bound.
* ``ortools-highs``: model_builder's time limit / ``mip_rel_gap`` / ``random_seed`` / one
  thread (1); no hint (2); a bound only at optimality (3).
* ``ortools-cpsat``: model_builder's time limit / ``relative_gap_limit`` / ``random_seed`` /
  ``num_workers``; solution hint; CP-SAT's bound. No ``balance`` (a continuous variable,
  which CP-SAT's MILP import cannot hold exactly: ``MipRefused``).
* ``gurobi``: ``TimeLimit`` / ``MIPGap`` / ``Seed`` / ``Threads``; ``warmstart``.
* ``cplex``: ``timelimit`` / ``mip_tolerances_mipgap`` / ``randomseed`` / ``threads``;
  ``warmstart``.
* ``cbc``: ``seconds`` / ``ratioGap`` / ``randomCbcSeed`` / ``threads``; ``warmstart``.
* ``glpk``: ``tmlim`` (whole seconds) / ``mipgap`` / - / -; no warm start. GLPK reads LP
  exports, not Pyomo's MPS (it rejects the OBJSENSE section).
* ``appsi_highs``: ``time_limit`` / ``mip_rel_gap`` / ``random_seed`` / ``threads``.

Pyomo solvers report their bound through Pyomo's results (``problem.lower_bound``).
(1) single-threaded engines: ``--workers`` is recorded, not applied. (2) OR-Tools 9.15 passes
hints to HiGHS through an out-of-bounds write (it crashes), so none are passed. (3) OR-Tools
reports HiGHS's objective as its bound, so a bound is kept only when HiGHS proves optimality;
and when HiGHS stops a MIP at its time limit OR-Tools returns no solution at all, so HiGHS is
asked to write each improving solution to a temporary file and the last one is read back.
The full table is :data:`.backends.OPTION_NAMES`; ``solver.options.applied`` in the plan says
what was sent. ``--gap`` defaults to 0: ``optimal`` always means proven optimal (a stage
stopped at a positive gap is ``feasible``, with its bound). ``stop`` (Ctrl-C) interrupts SCIP
and CP-SAT at once; HiGHS and Pyomo's solver processes run to the end of their time share.
Standard output stays clean: every solve runs with file descriptor 1 on /dev/null.

Status and reports
------------------
``optimal`` when every stage is proven (solver status optimal and its bound equal to the value,
bounds of integer-valued terms rounded up); ``feasible`` when a plan exists otherwise (after
``stop`` or the time limit; if the MILP found nothing, the warm start when the evaluator
accepts it); ``infeasible`` when the solver proves the first stage infeasible (or the
structural pre-checks); ``unknown`` otherwise. ``bound``: lexicographic, each stage up to the
first unproven one; weights, ``weighted`` plus the trivially known per-term bounds.
``trajectory``: ``(seconds, value, bound)`` at the end of each stage and at each plan polishing
finds. ``options`` records the
backend, the options applied, the model size and the seconds spent building the Pyomo model,
handing it off and in each stage. The time limit covers the whole run (default 60 s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import SolverUnavailable
from ..engine import OptionError, Params, at_least
from ..features import refuse_unhandled

if TYPE_CHECKING:
    from taskalloc.problems.problem import Problem

    from ..result import Result
    from .model import MipModel


#: seconds when no time limit is given (``math.inf``: none)
DEFAULT_TIME_LIMIT = 60.0


class MipRefused(SolverUnavailable):
    """The problem is beyond what the MILP formulation handles (use engine cpsat)."""


@dataclass(frozen=True)
class MipOptions:
    """The mip engine's own options: ``backend`` (where the MILP is solved; None: the
    default, see the module docstring) and ``gap`` (stop each solve at this relative gap;
    None or 0: prove optimality)."""

    backend: str | None = None
    gap: float | None = None

    def __post_init__(self) -> None:
        at_least("gap", self.gap, 0)
        if self.gap is not None and self.gap >= 1:
            # a relative gap of 1 or more is met by the first plan (|plan - bound| / |plan| is
            # at most 1 whenever the bound is between 0 and the plan): `--gap 2` meant 2 %
            raise OptionError(
                "gap",
                f"must be below 1, not {self.gap:g} (a fraction: 0.02 for 2 %; a gap of 1 or "
                "more stops at the first plan)",
            )


class MipEngine:
    name = "mip"
    description = "MILP in Pyomo, on OR-Tools SCIP/HiGHS/CP-SAT or any Pyomo solver (backend)"
    default_time_limit: float | None = DEFAULT_TIME_LIMIT
    Options = MipOptions

    def solve(self, problem: Problem, params: Params, options: MipOptions) -> Result:
        from .solver import solve

        refuse_unhandled(problem, "mip")  # revision-2 features it cannot model yet
        return solve(
            problem,
            time_limit=params.time_limit,
            workers=params.workers,
            seed=params.seed,
            deterministic=params.deterministic,
            hint=params.hint_list(),
            progress=params.progress,
            stop=params.stop,
            backend=options.backend,
            gap=options.gap,
        )


ENGINE = MipEngine()


def solve(problem: Problem, **options: Any) -> Result:
    """``taskalloc.solvers.solve(problem, "mip", **options)``."""
    from .. import solve as seam

    return seam(problem, "mip", **options)


def build_model(problem: Problem, terms: list[str] | None = None) -> MipModel:
    """The MILP of ``problem`` (:func:`.solver.build_model`)."""
    from .solver import build_model as build

    return build(problem, terms)


__all__ = ["ENGINE", "MipOptions", "MipRefused", "build_model", "solve"]
