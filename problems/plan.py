"""The plan file (FORMATS.md v1, revision 2): what a solver decided, and the report on it.

A :class:`Plan` is built by :func:`taskalloc.problems.evaluate.make_plan` from a problem and a
solver's assignments (the evaluator, not the solver, fills in objective values, utilisation and
reasons), and read back by :func:`read_plan` for ``check`` and ``report``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from .limits import Limits
from .source import MAX_ERRORS, InputError, Source, gc_paused, load, parse

try:
    from yaml import CSafeDumper as _Dumper
except ImportError:  # pragma: no cover
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]


class Status(StrEnum):
    """Every backend maps its own status into one of these."""

    OPTIMAL = "optimal"  # a plan, proven best for the objective
    FEASIBLE = "feasible"  # a plan that satisfies every constraint, not proven best
    INFEASIBLE = "infeasible"  # proven: no plan exists
    UNKNOWN = "unknown"  # no plan found within the limits (and no proof that none exists)


@dataclass(frozen=True, slots=True)
class Assignment:
    """One replica of a task on a node (and, in scheduling problems, over [start, end)).

    ``devices`` (revision 2) names, per resource the node splits into devices and the replica
    demands there, the indices of the devices it uses (``{"gpu": (3,)}``); None when there is
    none to name."""

    task: str
    replica: int
    node: str
    start: int | None = None
    end: int | None = None
    devices: Mapping[str, tuple[int, ...]] | None = None

    def __post_init__(self) -> None:
        if self.devices is not None:  # a copy (picklable), indices as tuples; {} is None
            copied = {str(r): tuple(int(i) for i in idx) for r, idx in self.devices.items()}
            object.__setattr__(self, "devices", copied or None)

    def __hash__(self) -> int:
        devices = tuple(sorted(self.devices.items())) if self.devices else ()
        return hash((self.task, self.replica, self.node, self.start, self.end, devices))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"task": self.task, "replica": self.replica, "node": self.node}
        if self.start is not None:
            d["start"] = self.start
            d["end"] = self.end
        if self.devices:
            d["devices"] = {r: list(idx) for r, idx in self.devices.items()}
        return d


@dataclass(frozen=True, slots=True)
class Unplaced:
    """A task left unplaced, why (one line), and per allowed node what blocked it."""

    task: str
    reason: str
    details: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"task": self.task, "reason": self.reason}
        if self.details:
            d["details"] = list(self.details)
        return d


@dataclass
class SolverInfo:
    """The ``solver`` section: who produced the plan, how it ended and what it claims."""

    name: str
    status: Status
    objective: dict[str, float] | None = None
    bound: dict[str, float] | None = None
    seconds: float | None = None
    seed: int | None = None
    fitness: float | None = None
    message: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    # (seconds, objective scalar, bound scalar or None): the anytime trajectory, for reports
    trajectory: list[tuple[float, float, float | None]] = field(default_factory=list)
    # what the value of each trajectory point measures, where known (parallel to it; the file
    # gives it as the point's fourth element): an objective term (a lexicographic objective's
    # stage, e.g. ``unplaced`` then ``cost``), ``weighted`` (a weighted sum) or ``fitness``
    stages: list[str | None] = field(default_factory=list)
    # evolutionary solvers: one row per (logged) generation, keys generation, seconds, best
    # (lowest fitness of a feasible individual, or None), mean (of the feasible ones), feasible
    # (share of the population)
    generations: list[dict[str, Any]] | None = None

    def labels(self) -> list[str | None]:
        """:attr:`stages`, one per trajectory point (None where not known)."""
        n = len(self.trajectory)
        return (list(self.stages) + [None] * n)[:n]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "status": str(self.status)}
        if self.objective is not None:
            # full precision: `check` compares with a relative tolerance of 1e-6, which 6
            # decimals can miss (a balance of 0.4921875 would print as 0.492188)
            d["objective"] = {k: _exact(v) for k, v in self.objective.items()}
        if self.bound:
            d["bound"] = {k: _clean(v) for k, v in self.bound.items()}
        if self.seconds is not None:
            d["seconds"] = round(self.seconds, 4)
        if self.seed is not None:
            d["seed"] = self.seed
        if self.fitness is not None:
            d["fitness"] = _clean(self.fitness)
        if self.message:
            d["message"] = self.message
        if self.options:
            d["options"] = dict(self.options)
        if self.trajectory:
            d["trajectory"] = [
                [round(s, 4), _clean(o), _clean(b)] + ([stage] if stage else [])
                for (s, o, b), stage in zip(self.trajectory, self.labels(), strict=True)
            ]
        if self.generations is not None:
            d["generations"] = [_clean_tree(dict(row)) for row in self.generations]
        return d


@dataclass
class Plan:
    """A plan file in memory (docs/format.md, "Plan file"): the problem it was made for
    (``problem_name``, ``problem_sha256``, ``problem_path``, ``problem_text`` when embedded),
    the ``solver`` section, the ``assignments`` (one per placed replica), the ``unplaced``
    tasks with their reasons, the ``metrics`` and, when the status is infeasible, the proofs
    (``infeasibility``). Read one with :func:`taskalloc.read_plan`, make one with
    :meth:`taskalloc.Result.to_plan`, write it with :func:`taskalloc.write_plan` or
    :meth:`dumps` (YAML or JSON text)."""

    problem_name: str | None
    problem_sha256: str
    solver: SolverInfo
    assignments: list[Assignment]
    unplaced: list[Unplaced]
    metrics: dict[str, Any] = field(default_factory=dict)
    problem_path: str | None = None  # where the problem was read from (not for stdin)
    infeasibility: list[str] = field(default_factory=list)  # proofs, when status is infeasible
    # the problem file's text, embedded (``problem.text``) so that the plan is self-contained
    problem_text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        prob: dict[str, Any] = {}
        if self.problem_name is not None:
            prob["name"] = self.problem_name
        prob["sha256"] = self.problem_sha256
        if self.problem_path:
            prob["path"] = self.problem_path
        if self.problem_text is not None:
            prob["text"] = self.problem_text
        d: dict[str, Any] = {
            "taskalloc_plan": 1,
            "problem": prob,
            "solver": self.solver.to_dict(),
            "assignments": [_Flow(a.to_dict()) for a in self.assignments],
            "unplaced": [u.to_dict() for u in self.unplaced],
        }
        if self.infeasibility:
            d["infeasibility"] = list(self.infeasibility)
        if self.metrics:
            d["metrics"] = _clean_tree(self.metrics)
        return d

    def dumps(self, fmt: str = "yaml") -> str:
        return dumps(self.to_dict(), fmt)


def _clean(x: Any) -> Any:
    """Integral floats print as integers; others keep 6 significant decimals."""
    if isinstance(x, float):
        if x != x or x in (float("inf"), float("-inf")):
            return None
        if x.is_integer() and abs(x) < 2**53:
            return int(x)
        return round(x, 6)
    return x


def _exact(x: Any) -> Any:
    """Integral floats print as integers; others with 12 significant digits: exact for what
    `check` compares (relative tolerance 1e-6; 6 decimals are not: 0.4921875 would print as
    0.492188), without float noise (4.800000000000001 prints as 4.8)."""
    if not isinstance(x, float) or x != x or x in (float("inf"), float("-inf")):
        return _clean(x)
    if x.is_integer() and abs(x) < 2**53:
        return int(x)
    return float(f"{x:.12g}")


def tidy(x: Any) -> Any:
    """A number, or a dict of them, as plan files write objective values (:func:`_exact`;
    inf and nan become None): for other outputs (batch summaries) that must agree with plans."""
    if isinstance(x, dict):
        return {k: tidy(v) for k, v in x.items()}
    if isinstance(x, float) and (x != x or x in (float("inf"), float("-inf"))):
        return None
    return _exact(x)


def _clean_tree(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _clean_tree(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean_tree(v) for v in x]
    return _clean(x)


class _Flow(dict[str, Any]):
    """A mapping that YAML writes on one line (an assignment, its devices included)."""


class _Block(dict[str, Any]):
    """A mapping that YAML writes one key a line (``problem``: its sha256 alone is 72
    characters, so inline it made the widest line of every plan)."""


class _PlanDumper(_Dumper):
    """Leaf mappings and short lists inline; lists of sentences one per line."""

    def represent_list(self, data: Any) -> Any:
        block = any(isinstance(x, str) and len(x) > 24 for x in data)
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=not block and None)

    def represent_str(self, data: str) -> Any:
        """Multi-line text (an embedded problem file) as a literal block where YAML allows it;
        the emitter falls back to a quoted scalar otherwise, so the text always reads back
        exactly."""
        style = "|" if "\n" in data else None
        return self.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_PlanDumper.add_representer(list, _PlanDumper.represent_list)
_PlanDumper.add_representer(
    _Flow, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)
)
_PlanDumper.add_representer(str, _PlanDumper.represent_str)
_PlanDumper.add_representer(
    _Block, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data, flow_style=False)
)


_ENCODERS: dict[int, json.JSONEncoder] = {}


def _encoder(level: int) -> json.JSONEncoder:
    """The C encoder whose item separator is a line break and the indent of ``level + 1``."""
    enc = _ENCODERS.get(level)
    if enc is None:
        enc = _ENCODERS[level] = json.JSONEncoder(separators=(",\n" + "  " * (level + 1), ": "))
    return enc


def _flat(x: dict[Any, Any] | list[Any] | tuple[Any, ...]) -> bool:
    values = x.values() if isinstance(x, dict) else x
    return not any(isinstance(v, dict | list | tuple) for v in values)


def _emit(x: Any, level: int, out: list[str]) -> None:
    """``json.dumps(x, indent=2)`` at nesting ``level``, into ``out``."""
    if not isinstance(x, dict | list | tuple) or not x:
        out.append(json.dumps(x))
        return
    pad = "  " * level
    if _flat(x):
        # a container of scalars in one call of the C encoder: its separators put each item
        # on a line of its own, as indent=2 does (which would run the pure-Python encoder)
        text = _encoder(level).encode(x)
        out.extend((text[0], "\n", pad, "  ", text[1:-1], "\n", pad, text[-1]))
        return
    inner = pad + "  "
    if not isinstance(x, dict) and all(isinstance(v, dict) and v and _flat(v) for v in x):
        # a list of mappings of scalars (the assignments): the whole list in one call, then
        # the breaks around each mapping; no raw line break is inside a JSON string, so
        # "},<line break>" is always the end of one mapping
        deeper = inner + "  "
        text = _encoder(level + 1).encode(x)
        body = text[2:-2].replace(
            "},\n" + deeper + "{", "\n" + inner + "},\n" + inner + "{\n" + deeper
        )
        out.extend(("[\n", inner, "{\n", deeper, body, "\n", inner, "}\n", pad, "]"))
        return
    if isinstance(x, dict):
        out.append("{")
        for i, (k, v) in enumerate(x.items()):
            out.append(",\n" if i else "\n")
            out.extend((inner, json.dumps(k if isinstance(k, str) else _key(k)), ": "))
            _emit(v, level + 1, out)
        out.extend(("\n", pad, "}"))
    else:
        out.append("[")
        for i, v in enumerate(x):
            out.extend((",\n" if i else "\n", inner))
            _emit(v, level + 1, out)
        out.extend(("\n", pad, "]"))


def _key(k: Any) -> str:
    """A non-string key as json.dumps writes it."""
    return json.dumps({k: 0})[2:-5]


def json_dumps(data: Any) -> str:
    """Exactly ``json.dumps(data, indent=2)``, several times faster on plans: the containers
    of scalars (an assignment, a node's utilisation) are encoded by the C encoder, which
    ``indent`` turns off (181,042 assignments took 2.7 s)."""
    out: list[str] = []
    _emit(data, 0, out)
    return "".join(out)


def dumps(data: Mapping[str, Any], fmt: str = "yaml") -> str:
    """Serialise plain data as YAML (leaf mappings inline but ``problem`` one key a line, key
    order kept) or JSON. Lines fold at 100 columns, not 80: an assignment with its start, end
    and devices takes 80-95, and one assignment a line is what grep and diff want (at 80 the
    emitter breaks them inside their device lists)."""
    if fmt == "json":
        return json_dumps(data) + "\n"
    if fmt != "yaml":
        raise ValueError(f"unknown format {fmt!r}")
    data = dict(data)
    if type(data.get("problem")) is dict:
        data["problem"] = _Block(data["problem"])
    return yaml.dump(
        data,
        Dumper=_PlanDumper,
        sort_keys=False,
        default_flow_style=None,
        allow_unicode=True,
        width=100,
    )


# -- reading ---------------------------------------------------------------------------------


class _Base(BaseModel):
    """Types are strict (``replica: "0"`` or ``start: true`` is an error, not 0 or 1): a plan
    is checked for what it says, not for what it could be read as. Floats take integers."""

    model_config = ConfigDict(extra="allow", strict=True)


class _AssignmentIn(_Base):
    task: str
    replica: int = Field(0, ge=0)
    node: str
    start: int | None = None
    end: int | None = None
    devices: dict[str, list[int]] | None = None


class _UnplacedIn(_Base):
    task: str
    reason: str = ""
    details: list[str] = Field(default_factory=list)


class _SolverIn(_Base):
    name: str = "unknown"
    status: Annotated[Status, Field(strict=False)]  # the enum from its string
    objective: dict[str, float | None] | None = None
    bound: dict[str, float | None] | None = None
    seconds: float | None = None
    seed: int | None = None
    fitness: float | None = None
    message: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    # [seconds, objective, bound] rows (a fourth element, the stage's term, is taken off
    # before: :func:`_stages_apart`); lists (a tuple only in strict mode), numbers strict
    trajectory: list[
        Annotated[tuple[StrictFloat, StrictFloat | None, StrictFloat | None], Field(strict=False)]
    ] = Field(default_factory=list)


class _ProblemRef(_Base):
    name: str | None = None
    sha256: str
    path: str | None = None
    text: str | None = None


class _PlanIn(_Base):
    taskalloc_plan: Literal[1]
    problem: _ProblemRef
    solver: _SolverIn
    assignments: list[_AssignmentIn]
    unplaced: list[_UnplacedIn]
    metrics: dict[str, Any] = Field(default_factory=dict)
    infeasibility: list[str] = Field(default_factory=list)

    @field_validator("taskalloc_plan", mode="before")
    @classmethod
    def _version_is_the_integer_1(cls, value: Any) -> Any:
        if type(value) is not int:
            raise PydanticCustomError("literal_error", "Input should be 1", {"expected": "1"})
        if value != 1:
            raise PydanticCustomError("plan_version", f"unsupported plan version {value}")
        return value


def read_plan(path: str, *, limits: Limits | None = None) -> Plan:
    """Read a plan file (``-`` for stdin); InputError with locations if it is malformed."""
    return plan_from_source(load(path, limits))


def plan_from_text(name: str, data: bytes, *, limits: Limits | None = None) -> Plan:
    return plan_from_source(parse(name, data, limits))


def plan_from_source(src: Source) -> Plan:
    """The plan in a parsed file (no cyclic GC meanwhile: a model per assignment)."""
    with gc_paused():
        return _plan_from_source(src)


def _stages_apart(raw: dict[str, Any]) -> tuple[dict[str, Any], list[str | None]]:
    """The plan's data with each trajectory point as ``[seconds, objective, bound]``, and
    the fourth element of each (what its objective measures: a text, or null; None where
    the point has three). A point whose fourth element is no text is left whole, so that
    the schema says what is wrong with it, where."""
    solver = raw.get("solver")
    if not isinstance(solver, dict) or not isinstance(solver.get("trajectory"), list):
        return raw, []
    rows = solver["trajectory"]
    kept: list[Any] = []
    stages: list[str | None] = []
    for row in rows:
        if isinstance(row, list) and len(row) == 4 and (row[3] is None or isinstance(row[3], str)):
            kept.append(row[:3])
            stages.append(row[3])
        else:
            kept.append(row)
            stages.append(None)
    return {**raw, "solver": {**solver, "trajectory": kept}}, stages


def _plan_from_source(src: Source) -> Plan:
    from .wording import schema_diagnostics  # shared wording of schema errors

    if not isinstance(src.raw, dict):
        raise InputError([src.diagnostic((), "a plan file must be a mapping")])
    if "taskalloc" in src.raw and "taskalloc_plan" not in src.raw:
        raise InputError([src.diagnostic((), "this is a problem file, not a plan")])
    raw, stages = _stages_apart(src.raw)
    try:
        p = _PlanIn.model_validate(raw)
    except ValidationError as exc:
        diags = schema_diagnostics(src, exc)
        raise InputError(diags[:MAX_ERRORS], total=len(diags)) from None
    s = p.solver
    extra = s.model_extra or {}
    nan = float("nan")
    solver = SolverInfo(
        name=s.name,
        status=s.status,
        objective=_floats(s.objective),
        bound=_floats(s.bound),
        seconds=s.seconds,
        seed=s.seed,
        fitness=s.fitness,
        message=s.message,
        options=dict(s.options),
        trajectory=[(row[0], nan if row[1] is None else row[1], row[2]) for row in s.trajectory],
        stages=stages,
        generations=_generations(extra.get("generations")),
    )
    return Plan(
        problem_name=p.problem.name,
        problem_sha256=p.problem.sha256,
        solver=solver,
        assignments=[
            Assignment(a.task, a.replica, a.node, a.start, a.end, _devices(a.devices))
            for a in p.assignments
        ],
        unplaced=[Unplaced(u.task, u.reason, tuple(u.details)) for u in p.unplaced],
        metrics=dict(p.metrics),
        problem_path=p.problem.path,
        problem_text=p.problem.text,
        infeasibility=list(p.infeasibility),
    )


def _devices(devices: Mapping[str, list[int]] | None) -> dict[str, tuple[int, ...]] | None:
    return None if devices is None else {r: tuple(idx) for r, idx in devices.items()}


def _generations(rows: Any) -> list[dict[str, Any]] | None:
    if rows is None:
        return None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        return None
    return [dict(r) for r in rows]


def _floats(d: Mapping[str, float | None] | None) -> dict[str, float] | None:
    if d is None:
        return None
    return {k: float(v) if v is not None else float("nan") for k, v in d.items()}


def assignments_by_task(assignments: Sequence[Assignment]) -> dict[str, list[Assignment]]:
    out: dict[str, list[Assignment]] = {}
    for a in assignments:
        out.setdefault(a.task, []).append(a)
    return out
