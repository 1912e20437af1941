"""Task entries validated in bulk (issue 18): the schema of :class:`~.spec.TaskSpec`, without a
model object per task.

Validating 150,000 tasks into ``TaskSpec`` models took most of a second, and freeing them again
a third of one: a model fills in every default (six empty containers a task) and keeps the set
of fields given. Here the same field types and constraints (read from ``TaskSpec`` itself, so
that the two cannot drift apart) validate the whole list at once into plain dicts, and each dict
becomes the ``__dict__`` of a :class:`TaskRecord`, whose class holds the defaults: the compiler
reads ``record.demand``, ``record.gang``, ... as it reads a model's fields.

The bulk path only ever accepts what the models accept. It takes no ``x-`` keys (the models
drop them); a problem with some, or with any schema error, is validated by the models instead,
whose errors are the ones users read (:func:`~.compiler.build_problem`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, NotRequired, cast

from pydantic import ConfigDict, Field, TypeAdapter
from typing_extensions import TypedDict  # pydantic takes typing's only from Python 3.12

from .spec import ProblemSpec, TaskSpec

#: the configuration of every entity in spec.py (_Entity), for the entries' TypedDict
_CONFIG = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


def _entry_type(model: type[Any]) -> Any:
    """A TypedDict with the fields of ``model``: the same types and constraints; optional fields
    are left out of the dict when the file does not give them."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation = info.rebuild_annotation()
        fields[name] = annotation if info.is_required() else NotRequired[annotation]
    entry = TypedDict(f"{model.__name__}Entry", fields)  # type: ignore[misc]
    setattr(entry, "__pydantic_config__", _CONFIG)  # noqa: B010 - a TypedDict has no such slot
    return entry


class ProblemHead(ProblemSpec):
    """The problem's schema with its tasks taken as they are (validated by :data:`TASKS`)."""

    tasks: list[Any]


#: the ``tasks`` list: at least one entry, each a task entry
_TASK_ENTRY: Any = _entry_type(TaskSpec)
TASKS: TypeAdapter[list[dict[str, Any]]] = TypeAdapter(
    cast(Any, Annotated[list[_TASK_ENTRY], Field(min_length=1)])
)

if TYPE_CHECKING:
    # a record reads like the model it was validated against
    TaskRecord = TaskSpec
else:

    class TaskRecord:
        """A task entry validated by :data:`TASKS`: the entry is the instance's ``__dict__``,
        the class holds every default (shared containers: nothing may change them)."""

        @property
        def model_fields_set(self) -> Any:
            """The fields the file gives (as ``BaseModel.model_fields_set``)."""
            return self.__dict__.keys()

    for _name, _info in TaskSpec.model_fields.items():
        if not _info.is_required():
            setattr(TaskRecord, _name, _info.get_default(call_default_factory=True))


def records(entries: list[dict[str, Any]]) -> list[TaskRecord]:
    """The entries validated by :data:`TASKS` as records (each entry becomes a record's
    ``__dict__``, not copied)."""
    new = object.__new__
    out = []
    for entry in entries:
        rec = new(TaskRecord)
        rec.__dict__ = entry
        out.append(rec)
    return out
