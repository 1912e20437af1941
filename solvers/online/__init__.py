"""Online replay of a GPU cluster: each task is placed on arrival by a policy, or dropped.

The FGD paper's six schedulers (Weng et al., USENIX ATC 2023) and the greedy's two policies on
the array view of :mod:`taskalloc.solvers.fleet`, devices included::

    fleet, workload = fleet_from_dict(problem)
    r = replay(fleet, workload, "fgd", seed=42)
    r.figure(100)      # allocated GPU % at arrived = 100 %, as the paper reports it

``REPLAY`` (:mod:`.placement`) is this package as the ``placement`` replay of
:mod:`taskalloc.solvers.simulation`: a compiled problem in, a Simulation out (what
``taskalloc simulate`` and ``taskalloc.simulate`` run).

One module per concern: :mod:`.state` (what is left on nodes and devices), :mod:`.policies`
(scores and device choice), :mod:`.fgd` (the fragmentation measure), :mod:`.curve` (the metric),
:mod:`.replay` (the loop), :mod:`.placement` (the replay of a compiled problem).
"""

from __future__ import annotations

from .curve import figure_at, percentages
from .placement import REPLAY
from .policies import PAPER_POLICIES, POLICIES
from .replay import Replay, replay

__all__ = ["PAPER_POLICIES", "POLICIES", "REPLAY", "Replay", "figure_at", "percentages", "replay"]
