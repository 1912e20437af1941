"""How numbers, values and schema errors read in messages.

Every message about a user's file goes through these helpers, so that a number prints the same
everywhere (``4``, not ``4.0``) and a pydantic error reads like the rest of taskalloc's
messages (``must be >= 0, got -4``), never with pydantic's own prefixes ("Value error, ...").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: this module is loaded by the light ones (source)
    from pydantic import ValidationError

    from .source import Diagnostic, PathElem, Source

# C0 and C1 control characters, DEL, line and paragraph separators, and the invisible
# direction marks and overrides that reorder what a terminal shows ("Trojan Source")
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` with every character that would act on a terminal (ESC sequences, newlines,
    carriage returns, bells, direction overrides) written as an escape (``\\x1b``, ``\\n``,
    ``\\u202e``), so that a message quoting a user's id, label or file name stays one line
    that shows what is there. Every message about a user's input goes through it; so does
    everything the CLI prints for people."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escape, text)


def _escape(m: re.Match[str]) -> str:
    ch = m.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def num(x: float) -> str:
    """A number as messages print it: integral values without a decimal point (``4``, not
    ``4.0``), very large ones in exponent form (``1e+18``, not 19 digits)."""
    if isinstance(x, int) and not isinstance(x, bool):
        return str(x) if abs(x) < 10**15 else f"{float(x):g}"
    x = float(x)
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:g}"


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
    if isinstance(v, float):  # as written: 2.0 is not the integer 2
        return repr(v) if abs(v) < 1e15 else num(v)
    if isinstance(v, int) and len(str(v)) > 20:
        return f"{str(v)[:12]}... ({len(str(v))} digits)"
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    if v is None:
        return "nothing (null)"
    return str(v)


def listing(items: Sequence[str], limit: int = 6, sep: str = ", ", *, tail: int = 0) -> str:
    """``items`` joined, at most ``limit`` of them: past it, the first ones, how many more, and
    the last ``tail`` ones (``a -> b -> ... (9,993 more) -> y -> a``)."""
    if len(items) <= limit:
        return sep.join(items)
    head = list(items[: limit - tail])
    last = list(items[len(items) - tail :]) if tail else []
    return sep.join([*head, f"... ({len(items) - len(head) - len(last):,} more)", *last])


def noun(n: int, word: str) -> str:
    """``word`` as it reads after the count ``n``: ``task``, ``tasks``."""
    return word if n == 1 else word + "s"


def plural(n: int, word: str) -> str:
    return f"{n} {noun(n, word)}"


# -- pydantic errors -> our messages ---------------------------------------------------------


@cache
def _entity_fields() -> dict[tuple[PathElem, ...], type]:
    from .spec import GangSpec, NodeSpec, ObjectiveSpec, ProblemSpec, SpreadSpec, TaskSpec

    return {
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
# why a number has an upper bound (limits.py): said once, after the bound
_BOUND_WHY: dict[Any, str] = {
    2**31 - 1: " (2^31 - 1: larger times and counts overflow the engines' 64-bit arithmetic)",
    1e18: " (10^18: larger amounts make sums over the replicas inexact or infinite)",
    4096: " (at most 4096 devices per node and resource)",
}
# prefixes pydantic puts before the message of an error raised in a validator
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def _entity_of(loc: Sequence[PathElem]) -> type | None:
    generic = tuple(0 if isinstance(e, int) else e for e in loc)
    if len(generic) == 2 and generic[0] == "gangs":
        generic = ("gangs", "*")
    return _entity_fields().get(generic)


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
    from .source import did_you_mean
    from .spec import ID_PATTERN, TERMS

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
            shown = num(bound) if isinstance(bound, int | float) else fmt_value(bound)
            path, msg = real, f"must be {op} {shown}, got {fmt_value(value)}"
            msg += _BOUND_WHY.get(bound, "") if op == "<=" else ""
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
