"""Offline planning of a GPU fleet down to devices, with a proven bound (issue 14): the engine
``devplan`` (``ENGINE``, :mod:`.engine`; ``taskalloc solve -s devplan``).

Works on the array view of :mod:`taskalloc.solvers.fleet` (the same as the online replay) and
returns, per task, a node index and device indices, or -1::

    fleet, workload = fleet_from_dict(problem)
    result = plan(fleet, workload, time_limit=120)
    result.allocated_percent, result.bound_percent

One module per step: :mod:`.kinds` (tasks grouped by demand), :mod:`.bound` (the device-pattern
LP and its Lagrangian bound), :mod:`.master` (integer counts per node type), :mod:`.pack`
(counts to nodes), :mod:`.repair` (greedy insertion), :mod:`.lns` (CP-SAT neighbourhoods),
:mod:`.state` (the plan under construction), :mod:`.plan` (the whole).
"""

from __future__ import annotations

from .bound import DeviceBound, device_bound
from .engine import ENGINE, DevplanOptions
from .kinds import Kinds, task_kinds
from .plan import OfflinePlan, plan

__all__ = [
    "ENGINE",
    "DeviceBound",
    "DevplanOptions",
    "Kinds",
    "OfflinePlan",
    "device_bound",
    "plan",
    "task_kinds",
]
