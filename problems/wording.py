"""How numbers, values and schema errors read in messages.

Every message about a user's file goes through these helpers, so that a number prints the same
everywhere (``4``, not ``4.0``) and a pydantic error reads like the rest of taskalloc's
messages (``must be >= 0, got -4``), never with pydantic's own prefixes ("Value error, ...").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .source import Diagnostic, PathElem, Source, did_you_mean
from .spec import (
    ID_PATTERN,
    TERMS,
    GangSpec,
    NodeSpec,
    ObjectiveSpec,
    ProblemSpec,
    SpreadSpec,
    TaskSpec,
)

if TYPE_CHECKING:
    from pydantic import ValidationError


def num(x: float) -> str:
    """A number as messages print it: integral values without a decimal point."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def label_str(value: object) -> str:
    """Labels and selector values compare as strings; booleans as ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def fmt_value(v: Any) -> str:
    """A value from a user's file, as an error message quotes it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    if v is None:
        return "nothing (null)"
    return str(v)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


# -- pydantic errors -> our messages ---------------------------------------------------------

_ENTITY_FIELDS: dict[tuple[PathElem, ...], type] = {
    (): ProblemSpec,
    ("nodes", 0): NodeSpec,
    ("tasks", 0): TaskSpec,
    ("tasks", 0, "spread"): SpreadSpec,
    ("objective",): ObjectiveSpec,
    ("gangs", "*"): GangSpec,
}
_TYPE_WORDS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_parsing": "a number",
    "bool_parsing": "true or false",
    "finite_number": "a finite number",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}
# prefixes pydantic puts before the message of an error raised in a validator
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def _entity_of(loc: Sequence[PathElem]) -> type | None:
    generic = tuple(0 if isinstance(e, int) else e for e in loc)
    if len(generic) == 2 and generic[0] == "gangs":
        generic = ("gangs", "*")
    return _ENTITY_FIELDS.get(generic)


def pydantic_message(err: Any) -> str:
    """The message of a pydantic error without pydantic's prefixes, lower-cased first."""
    ctx = err.get("ctx") or {}
    if err.get("type") in ("value_error", "assertion_error") and ctx.get("error") is not None:
        msg = str(ctx["error"])
    else:
        msg = str(err.get("msg", ""))
        for prefix in _PYDANTIC_PREFIXES:
            if msg.startswith(prefix):
                msg = msg[len(prefix) :]
    return msg[:1].lower() + msg[1:]


def schema_diagnostics(
    src: Source, exc: ValidationError, prefix: Sequence[PathElem] = ()
) -> list[Diagnostic]:
    """Translate pydantic errors into located, user-worded diagnostics (unions collapsed).

    ``prefix`` is the path, in the file, of the data that was validated (empty for the whole
    file)."""
    out: dict[tuple[PathElem, ...], Diagnostic] = {}
    for err in exc.errors(include_url=False):
        loc = [*prefix, *err["loc"]]
        # Walk the raw data; a loc element that does not index it is a pydantic union tag.
        node: Any = src.raw
        real: list[PathElem] = []
        is_key = False
        for elem in loc:
            if elem == "[key]":
                is_key = True
                break
            in_dict = isinstance(node, dict) and elem in node
            in_list = isinstance(node, list) and isinstance(elem, int) and 0 <= elem < len(node)
            if in_dict or in_list:
                node = node[elem]
            elif err["type"] in ("missing", "extra_forbidden") and elem == loc[-1]:
                pass
            else:
                break
            real.append(elem)
        key = tuple(real)
        if key in out and err["type"] != "extra_forbidden":
            continue
        etype = err["type"]
        value = err.get("input")
        ctx = err.get("ctx", {}) or {}
        at_key = False
        if etype == "missing":
            path, msg = real[:-1], f"missing required key '{real[-1]}'"
        elif etype == "extra_forbidden":
            name = str(real[-1])
            entity = _entity_of(real[:-1])
            fields = list(getattr(entity, "model_fields", {}))
            path, msg, at_key = real, f"unknown key '{name}'{did_you_mean(name, fields)}", True
        elif is_key and etype == "literal_error":
            path, at_key = real, True
            expected = ctx.get("expected", "")
            msg = f"must be {expected}, got {fmt_value(real[-1])}"
            msg += did_you_mean(str(real[-1]), TERMS)
        elif is_key:
            path, at_key = real, True
            msg = f"name must match {ID_PATTERN.strip('^$')}, got {fmt_value(real[-1])}"
        elif etype == "string_pattern_mismatch":
            path, msg = real, f"must match {ID_PATTERN.strip('^$')}, got {fmt_value(value)}"
        elif etype in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
            op = {"greater_than_equal": ">=", "greater_than": ">"}.get(etype, "<=")
            bound = next(iter(ctx.values()), "?")
            path, msg = real, f"must be {op} {fmt_value(bound)}, got {fmt_value(value)}"
        elif etype in ("literal_error", "enum"):
            expected = ctx.get("expected", "")
            extra = did_you_mean(str(value), TERMS) if real and real[0] == "objective" else ""
            path, msg = real, f"must be {expected}, got {fmt_value(value)}{extra}"
        elif etype == "too_short":
            path, msg = real, f"must have at least {ctx.get('min_length', 1)} item"
        elif etype in _TYPE_WORDS or "type" in etype:
            want = _TYPE_WORDS.get(etype, etype.replace("_type", ""))
            if len(real) < len(loc) and etype not in ("dict_type", "list_type"):
                if "match" in loc:
                    want = "a string, number or boolean, or a list of them"
                elif "labels" in loc:
                    want = "a string, number or boolean"
                elif "current" in loc:
                    want = "a node or pool id, or a list of them"
            path, msg = real, f"must be {want}, got {fmt_value(value)}"
        else:
            path, msg = real, pydantic_message(err)
        d = src.diagnostic(path, msg, key=at_key)
        out[key if etype != "extra_forbidden" else (*key, "!extra")] = d
    return sorted(out.values(), key=lambda d: (d.line or 0, d.column or 0))
