"""The problem file as written by users (FORMATS.md v1, revision 2), as pydantic models.

These models check each entity on its own (types, ranges, unknown keys) and give the JSON Schema
that ``taskalloc schema`` prints. Cross-references (unknown ids, cycles, ...) are checked once,
on the whole problem, in :mod:`taskalloc.problems.problem`.

Keys starting with ``x-`` on the problem, a node, a task or the objective are kept in the raw
data and ignored here. Maps whose keys are names (``capacity``, ``demand``, ``labels``, ...) take
any valid name, ``x-`` included.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .limits import MAX_AMOUNT, MAX_COUNT, MAX_DEVICES, MAX_TIME

ID_PATTERN = r"^[A-Za-z0-9_.:/-]+$"

Ident = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
# every number is bounded by what the engines take (limits.py): times fit CP-SAT's domains and
# their sums and products, amounts keep sums over every replica finite
Amount = Annotated[float, Field(ge=0, le=MAX_AMOUNT)]
Duration = Annotated[int, Field(ge=0, le=MAX_TIME)]
Instant = Annotated[int, Field(ge=0, le=MAX_TIME)]
Count = Annotated[int, Field(ge=1, le=MAX_COUNT)]
LabelValue = str | int | float | bool

Term = Literal["unplaced", "cost", "nodes", "balance", "makespan", "tardiness", "moves"]
TERMS: tuple[str, ...] = ("unplaced", "cost", "nodes", "balance", "makespan", "tardiness", "moves")
SCHEDULING_TERMS = frozenset({"makespan", "tardiness"})
SCHEDULING_FIELDS = ("duration_on", "after", "release", "deadline", "due")
#: fields a service (``service: true``) may not have: it runs over [0, horizon)
SERVICE_EXCLUDES = ("duration", "duration_on", "after", "release", "deadline", "due")


class _Entity(BaseModel):
    """Strict, frozen, no unknown keys except ``x-`` ones."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _drop_extensions(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.keys() <= cls.__pydantic_fields__.keys():
            return data  # field names only (150,000 tasks: a set test each, not a scan)
        if isinstance(data, dict) and any(isinstance(k, str) and k.startswith("x-") for k in data):
            return {
                k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))
            }
        return data


class NodeSpec(_Entity):
    """A node, or a pool of identical nodes when ``count`` >= 2."""

    id: Ident = Field(description="Unique node id; a pool's members are <id>-1 .. <id>-<count>.")
    count: Count = Field(1, description="Number of identical members; 1 keeps the id as it is.")
    capacity: dict[Ident, Amount] = Field(
        default_factory=dict, description="Resource -> amount >= 0; a missing resource is 0."
    )
    labels: dict[Ident, LabelValue] = Field(
        default_factory=dict, description="Label key -> value (compared as strings)."
    )
    cost: Amount = Field(0.0, description="Paid once if the node runs anything.")
    speed: Annotated[float, Field(gt=0, le=MAX_AMOUNT)] = Field(
        1.0, description="Duration on this node = ceil(duration / speed)."
    )
    devices: dict[Ident, Annotated[int, Field(ge=1, le=MAX_DEVICES)]] = Field(
        default_factory=dict,
        description="Resource -> number of identical devices (integer >= 1) that the node's "
        "capacity of that resource is split into (revision 2).",
    )


class SpreadSpec(_Entity):
    """Spread a task's replicas over the values of a node label (revision 2)."""

    key: Ident = Field(description="Label key; the task may only go on nodes that have it.")
    max_skew: Count = Field(
        1,
        description="Replica counts per value (over the task's allowed nodes) differ by at most "
        "this.",
    )


class GangSpec(_Entity):
    """Properties of a gang name used by tasks' `gang` (revision 2)."""

    same_start: bool = Field(
        False,
        description="Scheduling: every replica of every member starts at the same instant.",
    )


class TaskSpec(_Entity):
    """A task: one or more replicas, each placed on a different node."""

    id: Ident = Field(description="Unique task id.")
    demand: dict[Ident, Amount] = Field(
        default_factory=dict, description="Resource -> amount >= 0, per replica."
    )
    replicas: Count = Field(1, description="Copies, on distinct nodes.")
    priority: Amount = Field(1.0, description="Value of placing each replica.")
    required: bool = Field(True, description="false lets the solver leave it unplaced.")
    nodes: list[Ident] | None = Field(None, description="Allowed node or pool ids.")
    match: dict[Ident, LabelValue | list[LabelValue]] | None = Field(
        None, description="Label selector: each key must equal one of the listed values."
    )
    separate_from: list[Ident] = Field(
        default_factory=list, description="Never on a node that runs any replica of these tasks."
    )
    gang: Ident | None = Field(None, description="Tasks of one gang are placed all or none.")
    assign_cost: dict[Ident, Amount] = Field(
        default_factory=dict, description="Node or pool id -> cost of placing a replica there."
    )
    demand_on: dict[Ident, dict[Ident, Amount]] = Field(
        default_factory=dict, description="Node or pool id -> demand that replaces `demand` there."
    )
    current: Ident | list[Ident] | None = Field(
        None,
        description="Node (or pool) where it runs today, or a list: one entry per replica "
        "(revision 2).",
    )
    duration: Duration | None = Field(None, description="Time units on a node of speed 1.")
    duration_on: dict[Ident, Duration] = Field(
        default_factory=dict, description="Node or pool id -> duration that replaces it there."
    )
    after: list[Ident] = Field(
        default_factory=list, description="Start only when every replica of these has ended."
    )
    release: Instant | None = Field(None, description="Earliest start.")
    deadline: Instant | None = Field(None, description="Latest end (hard).")
    due: Instant | None = Field(None, description="Soft due date (see the `tardiness` term).")
    service: bool = Field(
        False,
        description="Scheduling: runs for the whole plan, [0, horizon); needs `horizon` "
        "(revision 2).",
    )
    spread: SpreadSpec | None = Field(
        None, description="Spread the replicas over the values of a node label (revision 2)."
    )


class ObjectiveSpec(_Entity):
    """Either an ordered list of terms or a weighted sum, not both."""

    lexicographic: list[Term] | None = Field(None, description="Terms, most important first.")
    weights: dict[Term, Amount] | None = Field(None, description="Term -> weight >= 0.")


class ProblemSpec(_Entity):
    """A taskalloc problem file, format version 1."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        allow_inf_nan=False,
        title="taskalloc problem",
        json_schema_extra={"$id": "https://taskalloc.dev/schema/problem-1.json"},
    )

    taskalloc: Literal[1] = Field(description="Format version.")
    name: str | None = Field(None, description="Name of the problem.")
    nodes: Annotated[list[NodeSpec], Field(min_length=1)]
    tasks: Annotated[list[TaskSpec], Field(min_length=1)]
    horizon: Instant | None = Field(None, description="No task may end after it.")
    objective: ObjectiveSpec | None = Field(None, description="Default: [unplaced, cost|makespan].")
    gangs: dict[Ident, GangSpec] = Field(
        default_factory=dict,
        description="Gang name -> properties, for names used by tasks' `gang` (revision 2).",
    )
    max_moves: Annotated[int, Field(ge=0)] | None = Field(
        None,
        description="At most this many moves (replicas off their task's `current`): a hard "
        "limit, for replanning.",
    )

    @field_validator("taskalloc", mode="before")
    @classmethod
    def _version_is_the_integer_1(cls, value: Any) -> Any:
        """``true`` and ``1.0`` equal 1 in Python; the version is the integer 1."""
        if type(value) is not int:
            raise PydanticCustomError("literal_error", "Input should be 1", {"expected": "1"})
        return value


def json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the problem format, ``x-`` keys allowed on entities."""
    schema = ProblemSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    for sub in [schema, *schema.get("$defs", {}).values()]:
        if sub.get("additionalProperties") is False:
            sub["patternProperties"] = {"^x-": {}}
    return schema
