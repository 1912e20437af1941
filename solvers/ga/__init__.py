"""``-s ga``: a genetic algorithm on DEAP for placement and scheduling, and NSGA-II fronts.

Modules: :mod:`.single` (the GA's loop), :mod:`.nsga2` (NSGA-II), :mod:`.engine` (genes to
evaluated individuals, variation, seeding), :mod:`.population` (evaluation, the process
pool), :mod:`.individual` (module-level DEAP fitness classes), :mod:`.runtime` (settings,
clock, log), :mod:`.compiled` (the problem as arrays, the vectorised fitness), :mod:`.decode`
(repair and local search), :mod:`.assign` (the penalty search of assignment-shaped problems),
:mod:`.dense` (dense shift/swap search), :mod:`.schedule` (the schedule decoders).

Encoding
--------
An individual is a numpy int64 array: one node index per replica slot (``-1``, the sentinel,
leaves the replica unplaced: legitimate for optional tasks), then, in scheduling problems, an
activity list (a priority order of all tasks) decoded by a serial schedule generation scheme,
as in activity-list GAs for the RCPSP. Decoders and repair operators (:mod:`.decode`) keep
individuals feasible where they can: genes only hold allowed nodes (``nodes``/``match``),
replicas go to distinct nodes, ``separate_from`` pairs are split, tasks and gangs are placed
all or none, capacity overloads are moved to nodes with room (placement) or avoided by the
decoder (scheduling: earliest start where the demand fits over the whole duration, before the
deadline and the horizon; the gene node if the replica can run there, else the allowed node
with the earliest end). Repaired genes are written back (Lamarckian). What cannot be repaired
(a must-place task with no room) is penalised: fitness is (violation score, scalar fitness),
compared lexicographically, so a feasible plan always beats an infeasible one.

Scheduling problems whose objective counts only time and left-out tasks (``makespan``,
``tardiness``, ``unplaced``) also have a decoder that chooses the nodes
(:class:`.schedule.ArraySGS`): each replica on the allowed node where it ends earliest (its
gene node on a tie), as the greedy does, so that the activity list alone decides the schedule.
A fifth of the children are decoded with it (the nodes it picks are written back: the same list
on these nodes decodes to the same schedule), and two seeds come from it: the activity lists
of the latest-finish and latest-start priority rules of the critical-path analysis (shortest
durations, no resources). Every feasible schedule is then improved by forward-backward
improvement (justification): a backward pass puts each task as late as possible before its
successors, and the forward decode of the activity list sorted by those late starts replaces
the individual when it is no worse. Scheduling genes skip repair when there is nothing to
repair (every task placed once, no separation, all required: e.g. the RCPSP).

Scheduling decodes give active schedules (no replica can start earlier without moving
another), which contain an optimal plan for every term except ``balance`` in scheduling
problems: its peak can need deliberate delays, which the decoder never makes.

Assignment-shaped placement problems
------------------------------------
Where every task has one replica, nothing is ``separate_from`` anything and ``balance`` is not
a term (the generalized assignment problem and its kin: optional tasks, node costs, several
resources and gangs allowed), feasible-only moves stall on tight capacities. There every child
gets a penalty local search (:mod:`.assign`: shift, swap, ejection and cyclic three-node
exchange moves on the cost plus adaptively weighted capacity excess, a short tabu list,
feasible plans recorded as it passes them) and each generation continues an iterated search of
that kind from its best plan (it starts at a Lagrangian-guided construction: capacities priced
by subgradient steps on the capacity relaxation; it leaves its best plan by a kick or by path
relinking towards an elite plan). The population is 10, two children per generation, and
children get at most a third of the search's work. The first population is the Lagrangian
seed, the plan of ``-s greedy``'s own policy and mutated copies; beyond the Lagrangian seed its
searches get at most 15 % of the limit (at 1,600 tasks each is a long descent).

Revision 2: devices, gangs that start together, services, spread, ``max_moves``
------------------------------------------------------------------------------
Problems that use any of these are decoded by :mod:`.rev2` alone (the repair, the penalty
search and the other decoders know none of them; assignment-shaped ones too). Its decoder is
constructive: a replica goes only where the node and its devices have room (its gene node, with
the devices of its *device hint* when they have room, else best fit; else the node that ranks
first), replicas keep the spread and the moves within ``max_moves``, gangs are all or none,
gangs that start together start at the earliest instant all members fit, and services hold
[0, horizon). So every plan it gives keeps every constraint, except that a task the plan must
place may find no room (penalised). The genes carry, after the nodes, an order of the tasks
(placement problems too: the order in which the decoder packs them) and one device hint per
slot and split resource (a bit mask of devices, written back by every decode and moved with
its slot by crossover): a greedy plan is encoded with its devices, and its genes decode to it.
A fifth of the children are decoded free (each replica on the node that ranks first: earliest
end in time-only schedules, the objective's estimate in placement, so that the order is a
best-fit packing order), two free-decoded seeds join the greedy's, and in placement problems
the best individuals get a local search that keeps every constraint (inserts of optional
tasks, shifts of one replica, closing lightly used nodes). Beyond 100,000 (replica, allowed
node) pairs, children are never decoded free and the first population and restarts hold
mutated seeds, no random individuals (whose decodes fall back on ranking every node for
nearly every task: as slow as free decodes).

Fitness
-------
The scalar is the evaluator's (:func:`taskalloc.problems.evaluate.fitness`: the objective's
weights, or the lexicographic weights built from the terms' upper bounds, ``term_upper_bounds``),
so the GA optimises exactly what the plan reports. It is computed from the genes by the
vectorised :meth:`.compiled.Compiled.measure`, which agrees with the evaluator (tested on
random plans); the final plan is still checked by the evaluator, and only a plan it finds
feasible is returned as ``feasible``.

Search
------
Population (default 60 individuals for up to 100 replicas, 40 up to 1,000, 24 up to 5,000,
12 beyond, 10 for assignment-shaped problems; ``population``) seeded with the greedy plans of
the three policies, the ``hint``, the Lagrangian or priority-rule seeds above, mutated copies of
these and random individuals. Each generation: binary tournament, crossover with probability
0.9 (uniform or two-point over tasks on the node genes, so that a task's replicas travel
together; Hartmann's one-point crossover on the activity list), mutation with probability 0.5
(move a replica, swap two replicas' nodes, toggle an optional task with its gang, shift a task
in the activity list), duplicate children mutated again or dropped, then (mu + lambda) survival
of the best distinct individuals; after every 50 generations without improvement, all but the
best quarter are replaced by heavily mutated copies of it and random individuals. In other
placement problems a local search (:func:`.decode.improve`: shift, insert, close-node and, up to
200,000 (task, allowed node, resource) entries, swap moves, on the objective's own weights)
improves the two best individuals every generation.

The returned plan is never worse than the best greedy plan the GA computed for its seeds (that
plan is kept as it is); the greedy of ``-s greedy``'s own policy may use the whole time limit,
so a limit that leaves it time to finish gives a plan at least as good as ``-s greedy``'s.

Stopping: after ``generations`` generations, at ``time_limit`` seconds (default 60 s when
neither is given; the other greedy seeds get at most 30 % of it), after ``stagnation``
generations without improvement (default max(200, 5 x population)), or when ``stop`` is set
(the best plan so far is returned as ``feasible``). Every random choice comes from generators
seeded with ``seed`` (numpy per generation and individual; Python's ``random`` for DEAP's
selection), so runs that stop by generations are identical for the same seed. With
``deterministic`` the time limit counts work instead of seconds (units of the decoders and
searches, calibrated to about a CPU second of the development machine per second of limit;
:class:`.runtime.Clock`) and one worker is used: the same problem, seed and limit give the same
plan on every run and machine. Other time-limited runs depend on the machine's speed.

``workers`` > 1 evaluates children in a fork-based process pool, only for individuals of at
least 2,000 replica slots (below that, the pool costs more than it saves); otherwise ignored.
Results are the same as with one worker (each evaluation has its own seeded generator).

The plan records the per-generation log under ``solver.generations`` (generation, seconds,
best and mean fitness of the feasible individuals, feasible share; at most 200 rows, thinned
evenly), the improving fitness values under ``solver.trajectory`` (no bound: a GA proves
nothing) and the settings under ``solver.options``.

:func:`pareto` runs NSGA-II over 2 or 3 objective terms and returns one checked plan per
non-dominated feasible point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..engine import Params, at_least
from ..features import refuse_unhandled

if TYPE_CHECKING:
    from taskalloc.problems.problem import Problem

    from ..result import Result


@dataclass(frozen=True)
class GaOptions:
    """The ga engine's own options: stop after ``generations`` generations (None: by time,
    60 s when no time limit is given), ``population`` individuals per generation (None: by
    size), stop after ``stagnation`` generations without improvement (None: max(200, 5 x
    population))."""

    generations: int | None = None
    population: int | None = None
    stagnation: int | None = None

    def __post_init__(self) -> None:
        at_least("generations", self.generations, 0)
        at_least("population", self.population, 4)
        at_least("stagnation", self.stagnation, 1)


@dataclass(frozen=True)
class GaFrontOptions:
    """Options of the NSGA-II front: ``generations`` and ``population`` as in :class:`GaOptions`."""

    generations: int | None = None
    population: int | None = None

    def __post_init__(self) -> None:
        at_least("generations", self.generations, 0)
        at_least("population", self.population, 4)


class GaEngine:
    name = "ga"
    description = (
        "genetic algorithm on DEAP seeded by the greedy (options generations, population); "
        "NSGA-II fronts of 2 or 3 terms"
    )
    default_time_limit: float | None = None  # 60 s, unless generations stop the run
    Options = GaOptions
    FrontOptions = GaFrontOptions

    def solve(self, problem: Problem, params: Params, options: GaOptions) -> Result:
        """Run the GA (module docstring). The GA proves nothing: no plan found is UNKNOWN."""
        from .runtime import Settings
        from .single import run

        refuse_unhandled(problem, "ga")  # revision-2 features it cannot search yet
        return run(
            problem,
            Settings(
                seed=params.seed,
                time_limit=params.time_limit,
                generations=options.generations,
                population=options.population,
                stagnation=options.stagnation,
                workers=params.workers,  # 1 when deterministic (Params)
                hint=params.hint,
                progress=params.progress,
                stop=params.stop,
                deterministic=params.deterministic,
            ),
        )

    def front(
        self, problem: Problem, terms: list[str], params: Params, options: GaFrontOptions
    ) -> list[Result]:
        """NSGA-II over 2 or 3 objective ``terms`` (any term the problem defines: placement
        ``unplaced, cost, nodes, balance, moves``; scheduling also ``makespan, tardiness``).

        Returns one Result (status feasible, checked by the evaluator) per non-dominated
        feasible plan found, sorted by the first term; every Result carries the per-generation
        log (``best``/``mean`` there are of the first term). Raises ValueError for bad
        ``terms``."""
        from .nsga2 import run_pareto
        from .runtime import Settings

        refuse_unhandled(problem, "ga")  # revision-2 features it cannot search yet
        return run_pareto(
            problem,
            list(terms),
            Settings(
                seed=params.seed,
                time_limit=params.time_limit,
                generations=options.generations,
                population=options.population,
                workers=params.workers,
                hint=params.hint,
                progress=params.progress,
                stop=params.stop,
                deterministic=params.deterministic,
            ),
        )


ENGINE = GaEngine()


def solve(problem: Problem, **options: Any) -> Result:
    """``taskalloc.solvers.solve(problem, "ga", **options)``."""
    from .. import solve as seam

    return seam(problem, "ga", **options)


def pareto(problem: Problem, terms: list[str], **options: Any) -> list[Result]:
    """``taskalloc.solvers.pareto(problem, "ga", terms, **options)``."""
    from .. import pareto as seam

    return seam(problem, "ga", terms, **options)


__all__ = ["ENGINE", "GaFrontOptions", "GaOptions", "pareto", "solve"]
