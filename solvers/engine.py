"""The engine seam: what every engine is given, what it implements, and how options are checked.

An engine is a module (``taskalloc.solvers.greedy``) or a package (``taskalloc.solvers.cpsat``)
with a module-level ``ENGINE`` object that follows :class:`Engine`; the registry
(:data:`taskalloc.solvers.ENGINES`) maps its name to that module, one line per engine. Every
engine gets the same checked :class:`Params` (time limit, seed, workers, determinism, hint,
stop, progress) and an instance of its own options dataclass (``ENGINE.Options``: ``policy``
of the greedy, ``backend`` and ``gap`` of the MILP, ...), and returns a
:class:`~taskalloc.solvers.result.Result`.

:func:`split_options` turns the keyword arguments of :func:`taskalloc.solvers.solve` into the
two; an unknown or misspelled option is an :class:`OptionError` naming the valid ones, never
silently ignored. Messages here speak of options (``policy``); the CLI maps them to its flags
(``--policy``).

Nothing here imports an engine: importing this module stays cheap.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .clock import Point, Progress

if TYPE_CHECKING:
    from taskalloc.problems.plan import Assignment
    from taskalloc.problems.problem import Problem

    from .result import Result


class OptionError(ValueError):
    """An option an engine does not take, or a value it cannot take.

    ``option`` is the option's name; ``valid`` the names the engine takes (unknown option) or
    the values the option takes (bad value); :meth:`render` writes the message with the names
    mapped (the CLI passes its flags).
    """

    def __init__(
        self,
        option: str,
        problem: str,
        *,
        engine: str | None = None,
        valid: Sequence[str] = (),
        unknown: bool = False,
    ) -> None:
        self.option = option
        self.problem = problem
        self.engine = engine
        self.valid = list(valid)
        self.unknown = unknown
        super().__init__(self.render())

    def __reduce__(self) -> tuple[Any, ...]:  # picklable (batch workers, Ray)
        kw = {"engine": self.engine, "valid": self.valid, "unknown": self.unknown}
        return (_option_error, (self.option, self.problem, kw))

    def render(self, name: Callable[[str], str] = str) -> str:
        """The message, with each option name written as ``name(option)``."""
        if self.unknown:
            close = difflib.get_close_matches(self.option, self.valid, n=1)
            hint = f"did you mean {name(close[0])}? " if close else ""
            what = f"engine {self.engine}" if self.engine else "this engine"
            valid = ", ".join(name(v) for v in self.valid) or "none"
            return f"{name(self.option)}: not an option of {what} ({hint}its options: {valid})"
        return f"{name(self.option)}: {self.problem}"


def _option_error(option: str, problem: str, kw: dict[str, Any]) -> OptionError:
    return OptionError(option, problem, **kw)


@dataclass(frozen=True)
class Params:
    """What every engine takes (checked when made).

    ``time_limit``: seconds for the whole run; None, the engine's default (greedy: none;
    cpsat, mip, ga: 60 s, the GA none when ``generations`` stops it); ``math.inf``: no limit.
    With ``deterministic`` CP-SAT measures it in deterministic time, the GA in work units.
    ``seed`` makes randomised searches repeatable. ``workers``: search threads (1 when
    ``deterministic``). ``hint``: a plan to start from (any assignments of the problem; what
    does not fit is dropped).
    ``stop``: an event that asks the engine to end with its best plan. ``progress``: called
    with a :class:`~taskalloc.solvers.clock.Point` at each improvement.
    """

    time_limit: float | None = None
    seed: int = 0
    workers: int = 2
    deterministic: bool = False
    hint: Sequence[Assignment] | None = None
    stop: threading.Event | None = None
    progress: Progress | None = None

    def __post_init__(self) -> None:
        if self.time_limit is not None and not (self.time_limit >= 0):  # also NaN
            raise OptionError("time_limit", f"must be >= 0 seconds, not {self.time_limit}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise OptionError("seed", f"must be an integer, not {self.seed!r}")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise OptionError("workers", f"must be an integer >= 1, not {self.workers!r}")
        if self.deterministic:
            object.__setattr__(self, "workers", 1)

    def limit(self, default: float | None) -> float | None:
        """The time limit, ``default`` when none was given, None for ``math.inf``."""
        limit = default if self.time_limit is None else self.time_limit
        return None if limit is None or math.isinf(limit) else float(limit)

    def hint_list(self) -> list[Assignment] | None:
        return None if self.hint is None else list(self.hint)

    def replace(self, **changes: Any) -> Params:
        return dataclasses.replace(self, **changes)


PARAM_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Params))


@dataclass(frozen=True)
class NoOptions:
    """The options of an engine that has none of its own."""


class Engine(Protocol):
    """One engine: a name, a line for help texts, its options dataclass and ``solve``.

    ``solve`` gets a problem the structural checks found no proof of infeasibility in (the
    seam runs them once, before any engine) and returns a Result whose ``optimal`` or
    ``feasible`` assignments satisfy every constraint (the caller checks them again).
    """

    name: str
    description: str
    #: seconds it runs when no time limit is given (None: none, or its own rule)
    default_time_limit: float | None
    #: a frozen dataclass whose fields (all with defaults) are the engine's own options
    Options: type[Any]

    def solve(self, problem: Problem, params: Params, options: Any) -> Result: ...


class FrontEngine(Engine, Protocol):
    """An engine that also computes Pareto fronts (``taskalloc.solvers.pareto``)."""

    #: the options of ``front`` (a frozen dataclass)
    FrontOptions: type[Any]

    def front(
        self, problem: Problem, terms: list[str], params: Params, options: Any
    ) -> list[Result]: ...


def option_names(options_type: type[Any]) -> list[str]:
    return [f.name for f in dataclasses.fields(options_type)]


def split_options(
    engine: str, options_type: type[Any], given: Mapping[str, Any]
) -> tuple[Params, Any]:
    """``given`` keyword options as (Params, an ``options_type``); raises OptionError for a
    name neither takes, naming the valid ones (and the closest match)."""
    own = option_names(options_type)
    params: dict[str, Any] = {}
    mine: dict[str, Any] = {}
    for key, value in given.items():
        if key in PARAM_NAMES:
            params[key] = value
        elif key in own:
            mine[key] = value
        else:
            raise OptionError(key, "", engine=engine, valid=[*PARAM_NAMES, *own], unknown=True)
    return Params(**params), options_type(**mine)


def choice(option: str, value: Any, choices: Sequence[str]) -> None:
    """Raise OptionError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise OptionError(
            option, f"{value!r} is not one of {', '.join(choices)}", valid=list(choices)
        )


def at_least(option: str, value: float | None, low: float) -> None:
    """Raise OptionError when ``value`` (None: unset) is below ``low``."""
    if value is not None and not value >= low:
        raise OptionError(option, f"must be at least {low:g}, not {value}")


@dataclass
class Ignored:
    """Options given for an engine that does not take them (``run.solve_problem`` warns)."""

    engine: str
    #: option -> the engines that take it (empty: none)
    options: dict[str, list[str]] = field(default_factory=dict)

    def render(
        self,
        name: Callable[[str], str] = str,
        engine: Callable[[str], str] = lambda e: f"engine {e}",
    ) -> str:
        """The warning, options written as ``name(option)`` and engines as ``engine(name)``."""
        by_owners: dict[tuple[str, ...], list[str]] = {}
        for option, owners in self.options.items():
            by_owners.setdefault(tuple(owners), []).append(name(option))
        parts = []
        for owned_by, flags in by_owners.items():
            verb = "apply" if len(flags) > 1 else "applies"
            where = " and ".join(engine(e) for e in owned_by) if owned_by else "no engine"
            parts.append(f"{' and '.join(flags)} {verb} to {where}")
        return f"{'; '.join(parts)}; ignored by {engine(self.engine)}"


__all__ = [
    "Engine",
    "FrontEngine",
    "Ignored",
    "NoOptions",
    "OptionError",
    "Params",
    "Point",
    "Progress",
    "split_options",
]
