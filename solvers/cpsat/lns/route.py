"""Which problems the LNS takes (:func:`route`, called first by
:func:`taskalloc.solvers.cpsat.solve`).

A problem goes to the LNS when it is a placement problem (no task has a duration), every term
of its objective is one the LNS optimises exactly (``unplaced``, ``cost``, ``nodes``,
``moves``: all linear in the placement; ``balance`` is a maximum over nodes and stays on the
exact path), and either

* ``lns=True`` is passed, or
* its full model would be large: more than :data:`.settings.LNS_PAIRS` (task, allowed node)
  pairs, or
* it is of medium size (more than :data:`.settings.HYBRID_PAIRS` pairs): then the exact path
  runs first with a share of the time (:data:`.settings.EXACT_SHARE`;
  :data:`.settings.EXACT_SHARE_ASSIGNMENT` for assignment-shaped problems, where the Lagrangian
  does better) and its result is returned when it proves optimality (or infeasibility, or was
  stopped); otherwise the LNS goes on from the exact path's best plan with the rest of the
  time (the *hybrid*).

Above :data:`SCALE_PAIRS` pairs (150,000 tasks x 5,000 nodes: about 600 million) a problem
for the LNS goes to :mod:`.scale` (``"scale"``) instead: the LNS from the greedy's plan without
the preparation that grows with the full model (LP bound, constructions).

``lns=False`` keeps any problem on the exact path. Placement problems with devices or spread
(revision 2) never reach the flat LNS, whose sub-models and moves do not model them: they go
to the exact path, or with ``lns=True`` or above :data:`REV2_LNS_PAIRS` pairs to the LNS of
:mod:`..devlns` (``"devlns"``), which keeps devices and spread, and in between to both
(``"devhybrid"``, as the hybrid above). Small problems (the property
tests, the examples) never reach this module.
"""

from __future__ import annotations

from taskalloc.problems.problem import Problem

from ...flat import LINEAR_TERMS
from .settings import HYBRID_PAIRS, LNS_PAIRS

#: revision-2 features of placement problems the flat LNS does not model: such problems go to
#: the exact path, or above :data:`REV2_LNS_PAIRS` pairs (or with ``lns=True``) to
#: :mod:`..devlns`
EXACT_ONLY = frozenset({"devices", "spread"})
REV2_LNS_PAIRS = 5_000
#: above this many (task, allowed node) pairs the LNS is :mod:`.scale`'s (the 150,000 x 5,000
#: generated problem has about 600 million; cloud balancing with 2,400 computers 17 million
#: and the 10,000 x 1,000 generated one 8.7 million stay with the LNS that computes the LP
#: bound, whose preparation at 150,000 x 5,000 had not finished after 7 minutes)
SCALE_PAIRS = 50_000_000
#: ... and between :data:`.settings.HYBRID_PAIRS` and that, the exact path first with
#: :data:`.settings.EXACT_SHARE` of the time, then :mod:`..devlns` from its plan unless it
#: proved optimality (``"devhybrid"``): on a 1,953-pair fleet the exact path alone ended 36 %
#: above the LNS in 10 s, on a 714-pair one it proved the optimum in 4.7 s where the LNS
#: cannot prove it


def pairs(problem: Problem) -> int:
    """(task, allowed node) pairs: an upper bound of the full model's candidate pairs."""
    return sum(len(t.allowed) for t in problem.tasks)


def route(problem: Problem, lns: bool | None = None) -> str | None:
    """``"lns"``, ``"scale"``, ``"hybrid"``, ``"devlns"``, ``"devhybrid"`` or None (the exact
    path), per the module docstring."""
    if lns is False or problem.scheduling or problem.max_moves is not None:
        return None  # max_moves: a constraint of the exact model only
    if problem.features & EXACT_ONLY:
        # the flat LNS knows no devices and no spread: larger ones go to :mod:`..devlns`
        if any(t not in LINEAR_TERMS for t in problem.objective.active()):
            return None
        if lns or pairs(problem) > REV2_LNS_PAIRS:
            return "devlns"
        return "devhybrid" if pairs(problem) > HYBRID_PAIRS else None
    if any(t not in LINEAR_TERMS for t in problem.objective.active()):
        return None
    n = pairs(problem)
    if n > SCALE_PAIRS:
        return "scale"
    if lns:
        return "lns"
    if n > LNS_PAIRS:
        return "lns"
    if n > HYBRID_PAIRS:
        return "hybrid"
    return None
