"""Which revision-2 features (FORMATS.md) each engine handles, and the guard that refuses the
others' problems with one line instead of returning a plan that ``check`` would reject.

Every general engine (greedy, cpsat, mip, ga) handles all of revision 2: devices, gangs that
start together, services, spread, ``current`` lists and ``max_moves`` (a hard limit on the
moves, for replanning). ``devplan``, the device-pattern planner for GPU placement, handles
devices and ``current`` lists only and refuses the rest in one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import SolverUnavailable

if TYPE_CHECKING:
    from taskalloc.problems.entities import Problem

#: engine -> the revision-2 features (names of ``Problem.features``) it handles
HANDLED: dict[str, frozenset[str]] = {
    "greedy": frozenset(
        {"devices", "same_start", "service", "spread", "current_list", "max_moves"}
    ),
    "cpsat": frozenset({"devices", "same_start", "service", "spread", "current_list", "max_moves"}),
    "mip": frozenset({"devices", "same_start", "service", "spread", "current_list", "max_moves"}),
    "ga": frozenset({"devices", "same_start", "service", "spread", "current_list", "max_moves"}),
    "devplan": frozenset({"devices", "current_list"}),
}


class FeatureUnsupported(SolverUnavailable):
    """The engine does not handle a revision-2 feature the problem uses (exit 2)."""


def unhandled(problem: Problem, engine: str) -> list[str]:
    """The features ``problem`` uses that ``engine`` does not handle."""
    return problem.unhandled(HANDLED.get(engine, frozenset()))


def refuse_unhandled(problem: Problem, engine: str) -> None:
    """Raise FeatureUnsupported, in one line, if ``engine`` cannot solve ``problem`` right."""
    missing = unhandled(problem, engine)
    if missing:
        names = " or ".join(f"`{f}`" for f in missing)
        # worded for the library (engines by name); the CLI writes them as -s flags
        raise FeatureUnsupported(
            f"engine {engine} does not handle {names} yet (engine greedy does)"
        )
