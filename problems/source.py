"""Reading YAML/JSON input with exact error locations.

Parsing takes the fast path (``json`` or libyaml through PyYAML's C loader, when present); line
and column numbers are looked up only when a message needs one, by composing the YAML node tree
(JSON is YAML) once and walking it along the field path. Every error is a :class:`Diagnostic`
that prints as ``file:line:column: where: message``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:  # libyaml is ~10x faster; fall back to the pure-python loader where it is missing
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

MAX_ERRORS = 50
PathElem = str | int


@dataclass(frozen=True)
class Diagnostic:
    """One problem with an input file, located as precisely as the input allows."""

    file: str
    line: int | None
    column: int | None
    where: str
    message: str

    def __str__(self) -> str:
        loc = self.file
        if self.line is not None:
            loc += f":{self.line}:{self.column or 1}"
        return f"{loc}: {self.where}: {self.message}" if self.where else f"{loc}: {self.message}"


class InputError(Exception):
    """Bad input (syntax, schema or cross-reference); the CLI maps it to exit code 2."""

    def __init__(self, diagnostics: Sequence[Diagnostic], total: int | None = None) -> None:
        self.diagnostics = list(diagnostics)
        self.total = total if total is not None else len(self.diagnostics)
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [str(d) for d in self.diagnostics]
        if self.total > len(self.diagnostics):
            lines.append(f"... and {self.total - len(self.diagnostics)} more errors")
        return "\n".join(lines)


class _DupKeyLoader(_BaseLoader):
    """Safe loader that rejects duplicate mapping keys instead of keeping the last."""

    duplicates: list[tuple[Any, Any]]

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue  # PyYAML reports unhashable keys itself, located
            key = key_node.value
            if key in seen:
                self.duplicates.append((key, key_node.start_mark))
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# YAML 1.2 reads 1e3, 1E-3 and 2.5e3 as numbers; PyYAML follows YAML 1.1, whose floats need a
# dot and a signed exponent (1e3 would be the string '1e3'). Users write YAML 1.2 numbers.
_DupKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text


@dataclass
class Source:
    """The bytes of one input file, parsed, with a lazy map from field paths to positions."""

    name: str
    data: bytes
    raw: Any
    kind: str  # "yaml" or "json"
    locate: bool = True  # False: messages carry no line and column (data that was no file)
    _tree: Any = field(default=None, repr=False)
    _tree_built: bool = field(default=False, repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    # -- positions -------------------------------------------------------------------------
    def _node_tree(self) -> Any:
        if not self._tree_built:
            self._tree_built = True
            try:
                self._tree = yaml.compose(_strip_bom(self.data.decode("utf-8")), Loader=_BaseLoader)
            except Exception:  # positions are a nicety; never fail on them
                self._tree = None
        return self._tree

    def position(self, path: Sequence[PathElem], *, key: bool = False) -> tuple[int, int] | None:
        """1-based (line, column) of the value at ``path`` (of its key when ``key``).

        When the path does not exist in full, the deepest existing node is returned.
        """
        if not self.locate:
            return None
        node = self._node_tree()
        if node is None:
            return None
        mark = node.start_mark
        for i, elem in enumerate(path):
            last = i == len(path) - 1
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if str(k.value) == str(elem):
                        if last and key:
                            return k.start_mark.line + 1, k.start_mark.column + 1
                        node, mark = v, v.start_mark
                        break
                else:
                    break
            elif isinstance(node, yaml.SequenceNode) and isinstance(elem, int):
                if 0 <= elem < len(node.value):
                    node = node.value[elem]
                    mark = node.start_mark
                else:
                    break
            else:
                break
        return mark.line + 1, mark.column + 1

    def diagnostic(
        self, path: Sequence[PathElem], message: str, *, key: bool = False
    ) -> Diagnostic:
        pos = self.position(path, key=key)
        return Diagnostic(
            self.name,
            pos[0] if pos else None,
            pos[1] if pos else None,
            describe_path(self.raw, path),
            message,
        )


def describe_path(raw: Any, path: Sequence[PathElem]) -> str:
    """``tasks[3] (train-llm).demand.gpu``: list items are named by their ``id`` when present."""
    out = ""
    node = raw
    for elem in path:
        if isinstance(elem, int) and not isinstance(node, dict):
            out += f"[{elem}]"
            if isinstance(node, list) and 0 <= elem < len(node):
                node = node[elem]
                if isinstance(node, dict) and isinstance(node.get("id"), str | int):
                    out += f" ({node['id']})"
            else:
                node = None
        else:
            out += f".{elem}" if out else str(elem)
            node = node.get(elem) if isinstance(node, dict) else None
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def read_bytes(path: str | Path) -> tuple[str, bytes]:
    """Read a file, or standard input for ``-``. Returns (display name, bytes)."""
    if str(path) == "-":
        return "<stdin>", sys.stdin.buffer.read()
    p = Path(path)
    try:
        return str(path), p.read_bytes()
    except FileNotFoundError:
        raise InputError([Diagnostic(str(path), None, None, "", "no such file")]) from None
    except IsADirectoryError:
        raise InputError([Diagnostic(str(path), None, None, "", "is a directory")]) from None
    except OSError as exc:
        raise InputError(
            [Diagnostic(str(path), None, None, "", exc.strerror or str(exc))]
        ) from None


def parse(name: str, data: bytes) -> Source:
    """Parse YAML or JSON bytes. JSON is recognised by a ``.json`` name or a leading ``{``."""
    try:
        text = _strip_bom(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(
            [Diagnostic(name, None, None, "", f"not UTF-8 text ({exc.reason})")]
        ) from None
    stripped = text.lstrip()
    if name.endswith(".json") or stripped.startswith("{"):
        return _parse_json(name, data, text)
    return _parse_yaml(name, data, text)


def _parse_json(name: str, data: bytes, text: str) -> Source:
    dups: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in items:
            if k in out:
                dups.append(k)
            out[k] = v
        return out

    try:
        raw = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        msg = exc.msg
        if msg == "Expecting value" and text[: exc.pos].rstrip().endswith(","):
            msg += " (a trailing comma?)"
        raise InputError(
            [Diagnostic(name, exc.lineno, exc.colno, "", f"JSON syntax error: {msg}")]
        ) from None
    src = Source(name, data, raw, "json")
    if dups:
        _raise_duplicates(src)
    return src


def _parse_yaml(name: str, data: bytes, text: str) -> Source:
    loader = _DupKeyLoader(text)
    loader.duplicates = []
    try:
        raw = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = f"YAML syntax error: {exc.problem or exc.context}"
        if exc.problem and exc.context and exc.context_mark is not None:
            cm = exc.context_mark
            msg += f" ({exc.context} that starts at line {cm.line + 1}, "
            msg += f"column {cm.column + 1})"
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        raise InputError([Diagnostic(name, line, col, "", msg)]) from None
    except yaml.YAMLError as exc:
        raise InputError([Diagnostic(name, None, None, "", f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    src = Source(name, data, raw, "yaml")
    if loader.duplicates:
        _raise_duplicates(src)
    return src


def _raise_duplicates(src: Source) -> None:
    """Locate every duplicate mapping key by walking the composed node tree."""
    found: list[Diagnostic] = []
    root = src._node_tree()

    def walk(node: Any, path: tuple[PathElem, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for k, v in node.value:
                key = str(k.value) if isinstance(k, yaml.ScalarNode) else None
                if key is not None and key in seen:
                    m = k.start_mark
                    where = describe_path(src.raw, path)
                    found.append(
                        Diagnostic(
                            src.name, m.line + 1, m.column + 1, where, f"duplicate key '{key}'"
                        )
                    )
                if key is not None:
                    seen.add(key)
                    walk(v, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, (*path, i))

    walk(root, ())
    if not found:  # the composer could not read it: say so without a position
        found = [Diagnostic(src.name, None, None, "", "duplicate mapping keys")]
    raise InputError(found[:MAX_ERRORS], total=len(found))


def load(path: str | Path) -> Source:
    """Read and parse a problem or plan file (``-`` for standard input)."""
    name, data = read_bytes(path)
    return parse(name, data)
