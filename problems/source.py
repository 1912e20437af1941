"""Reading YAML/JSON input with exact error locations, within limits.

A file is read at most :attr:`~taskalloc.problems.limits.Limits.bytes` bytes far (a device or
an endless pipe ends there; NUL bytes at the start end it at once), then parsed in one pass:

* JSON by the standard library's C parser, then one iterative walk that checks nesting depth
  and counts values;
* YAML from libyaml's event stream (the pure-Python parser where libyaml is missing), built
  into Python objects here, iteratively: nesting deeper than
  :data:`~taskalloc.problems.limits.MAX_DEPTH` stops at the first level too deep, an alias
  that would make the file hold more values than the limit stops at that alias, duplicate keys
  are located as they are met, and no recursive structure is ever built. Scalars resolve as
  PyYAML's safe loader resolves them (YAML 1.1: ``yes`` is true, ``010`` is 8, ``1_000`` is
  1000) plus YAML 1.2's numbers (``1e3``, ``0o17``).

Line and column numbers are looked up only when a message needs one, for every message
waiting at once, by a second pass that follows only the paths asked for (libyaml events for
YAML, the C JSON scanner skipping what is not asked for in JSON). Every error is a
:class:`Diagnostic` that prints as ``file:line:column: where: message``, control characters
escaped.
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import hashlib
import itertools
import json
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from .limits import ENV, MAX_DEPTH, Limits, count_words
from .wording import printable

try:  # libyaml is ~10x faster; fall back to the pure-python parser where it is missing
    from yaml._yaml import CParser as _EventParser
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _EventParser  # type: ignore[assignment]

MAX_ERRORS = 50
MAX_WARNINGS = 50
PathElem = str | int


class Diagnostic:
    """One problem with an input file, located as precisely as the input allows.

    ``line`` and ``column`` (1-based, None when unknown) of a diagnostic made by
    :meth:`Source.diagnostic` are looked up on first use, together with those of every other
    diagnostic of the same file waiting for one (one pass over the file for all of them)."""

    __slots__ = ("_column", "_line", "_pending", "file", "message", "where")

    def __init__(
        self, file: str, line: int | None, column: int | None, where: str, message: str
    ) -> None:
        self.file = file
        self._line = line
        self._column = column
        self.where = where
        self.message = message
        self._pending: tuple[Source, tuple[PathElem, ...], bool] | None = None

    def _resolve(self) -> None:
        if self._pending is not None:
            self._pending[0].resolve_pending()

    @property
    def line(self) -> int | None:
        self._resolve()
        return self._line

    @property
    def column(self) -> int | None:
        self._resolve()
        return self._column

    def _key(self) -> tuple[Any, ...]:
        return (self.file, self.line, self.column, self.where, self.message)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Diagnostic) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return "Diagnostic({!r}, {!r}, {!r}, {!r}, {!r})".format(*self._key())

    def __reduce__(self) -> tuple[Any, ...]:  # plain values: a pickle never holds the source
        return (Diagnostic, self._key())

    def __str__(self) -> str:
        loc = self.file
        if self.line is not None:
            loc += f":{self.line}:{self.column or 1}"
        text = f"{loc}: {self.where}: {self.message}" if self.where else f"{loc}: {self.message}"
        return printable(text)


class InputError(Exception):
    """Bad input (syntax, schema or cross-reference); the CLI maps it to exit code 2."""

    def __init__(self, diagnostics: Sequence[Diagnostic], total: int | None = None) -> None:
        self.diagnostics = list(diagnostics)
        self.total = total if total is not None else len(self.diagnostics)
        super().__init__()

    def __reduce__(self) -> tuple[Any, ...]:
        return (InputError, (self.diagnostics, self.total))

    def __str__(self) -> str:
        lines = [str(d) for d in self.diagnostics]
        if self.total > len(self.diagnostics):
            lines.append(f"... and {self.total - len(self.diagnostics)} more errors")
        return "\n".join(lines)


def _error(
    file: str, message: str, line: int | None = None, column: int | None = None
) -> InputError:
    return InputError([Diagnostic(file, line, column, "", message)])


def resolve_limits(limits: Limits | None) -> Limits:
    """``limits``, or the defaults changed by ``TASKALLOC_LIMITS`` (InputError when it does not
    parse)."""
    if limits is not None:
        return limits
    try:
        return Limits.from_env()
    except ValueError as exc:
        raise _error(ENV, str(exc)) from None


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: building millions of containers otherwise sets it
    off again and again, each time walking every object made so far (loading 150,000 tasks
    took twice as long). What loading makes has no cycles; collection resumes after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


# YAML 1.2 reads 1e3, 1E-3 and 2.5e3 as numbers; PyYAML follows YAML 1.1, whose floats need a
# dot and a signed exponent (1e3 would be the string '1e3'). Users write YAML 1.2 numbers.
_FLOAT_TAG = "tag:yaml.org,2002:float"
_INT_TAG = "tag:yaml.org,2002:int"
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_VALUE_TAG = "tag:yaml.org,2002:value"


class _Resolver(yaml.resolver.Resolver):
    """PyYAML's implicit resolvers (YAML 1.1) plus YAML 1.2's exponent floats and ``0o``
    octals, for taskalloc's files only (the global loaders are untouched)."""


_Resolver.add_implicit_resolver(
    _FLOAT_TAG,
    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)
_Resolver.add_implicit_resolver(_INT_TAG, re.compile(r"^0o[0-7]+$"), ["0"])

_RESOLVERS: dict[Any, list[tuple[str, re.Pattern[str]]]] = _Resolver.yaml_implicit_resolvers
_WILDCARD = _RESOLVERS.get(None, [])


class _Constructor(yaml.constructor.SafeConstructor):
    def construct_yaml_int(self, node: Any) -> int:
        value = str(node.value)
        if value.startswith("0o"):
            return int(value[2:], 8)
        return super().construct_yaml_int(node)


_Constructor.add_constructor(_INT_TAG, _Constructor.construct_yaml_int)  # type: ignore[type-var]
_SCALAR_TAGS = {
    f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "timestamp", "binary")
}
_MAP_TAGS = {None, "!", "tag:yaml.org,2002:map"}
_SEQ_TAGS = {None, "!", "tag:yaml.org,2002:seq"}
_NOKEY: Any = object()


def _short_tag(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:") :] if tag.startswith("tag:yaml.org,2002:") else tag


class _Stop(Exception):
    """A limit or rule broken while building: the message and the mark it is about."""

    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


class _Frame:
    __slots__ = (
        "anchor",
        "container",
        "is_map",
        "key",
        "key_mark",
        "key_text",
        "mark",
        "merges",
        "start",
    )

    def __init__(self, container: Any, is_map: bool, mark: Any, anchor: str | None, start: int):
        self.container = container
        self.is_map = is_map
        self.key: Any = _NOKEY
        self.key_mark: Any = None
        self.key_text = ""
        self.mark = mark
        self.anchor = anchor
        self.start = start  # values counted when it opened (to size an anchored container)
        self.merges: list[tuple[Any, Any]] | None = None


class _YamlBuilder:
    """Python objects from a YAML event stream, iteratively (module docstring)."""

    def __init__(self, limits: Limits) -> None:
        self.max_values = limits.values
        self.constructor = _Constructor()
        self.cache: dict[str, Any] = {}
        # (path of the mapping, message, mark of the key)
        self.duplicates: list[tuple[tuple[PathElem, ...], str, Any]] = []

    def scalar(self, ev: Any) -> Any:
        tag = ev.tag
        value = ev.value
        if tag is None or tag == "!":
            if not ev.implicit[0]:
                return value
            cached = self.cache.get(value, _NOKEY)
            if cached is not _NOKEY:
                return cached
            resolvers = _RESOLVERS.get(value[:1] if value else "", ())
            tag = _STR_TAG
            for t, rx in (*resolvers, *_WILDCARD):
                if rx.match(value):
                    tag = t
                    break
            if tag in (_STR_TAG, _VALUE_TAG):
                return value
            if tag == _MERGE_TAG:
                return _MERGE
            obj = self.construct(tag, ev)
            if len(self.cache) < 100_000:
                self.cache[value] = obj
            return obj
        if tag == _STR_TAG:
            return value
        if tag not in _SCALAR_TAGS:
            raise _Stop(f"the tag {_short_tag(tag)} is not allowed here", ev.start_mark)
        return self.construct(tag, ev)

    def construct(self, tag: str, ev: Any) -> Any:
        node = yaml.ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, ev.style)
        try:
            return self.constructor.yaml_constructors[tag](self.constructor, node)
        except (ValueError, OverflowError, ArithmeticError):
            if len(ev.value) > 100:
                raise _Stop(f"a number of {len(ev.value):,} characters", ev.start_mark) from None
            raise _Stop(f"cannot read {ev.value!r} as {_short_tag(tag)}", ev.start_mark) from None
        except yaml.YAMLError as exc:
            raise _Stop(str(getattr(exc, "problem", None) or exc), ev.start_mark) from None

    def build(self, parser: Any) -> Any:
        """The one document of the stream (None for an empty stream)."""
        E = yaml.events
        ScalarEv, AliasEv = E.ScalarEvent, E.AliasEvent
        MapStart, SeqStart = E.MappingStartEvent, E.SequenceStartEvent
        MapEnd, SeqEnd = E.MappingEndEvent, E.SequenceEndEvent
        DocStart, StreamEnd = E.DocumentStartEvent, E.StreamEndEvent
        get = parser.get_event
        stack: list[_Frame] = []
        frame: _Frame | None = None
        anchors: dict[str, tuple[Any, int | None, Any]] = {}  # name -> (object, size, mark)
        max_values = self.max_values if self.max_values is not None else float("inf")
        count = 0
        root: Any = None
        documents = 0
        doc_mark = None
        while True:
            ev = get()
            cls = type(ev)
            if cls is ScalarEv:
                count += 1
                value = self.scalar(ev)
                if value is _MERGE and not (frame and frame.is_map and frame.key is _NOKEY):
                    value = "<<"  # a merge key merges only as a key; elsewhere it is text
                if ev.anchor is not None:
                    self.anchor(anchors, ev, value, 1)
            elif cls is MapStart or cls is SeqStart:
                count += 1
                is_map = cls is MapStart
                tag = ev.tag
                if tag not in (_MAP_TAGS if is_map else _SEQ_TAGS):
                    raise _Stop(f"the tag {_short_tag(tag)} is not allowed here", ev.start_mark)
                value = {} if is_map else []
                if frame is not None:
                    if frame.is_map and frame.key is _NOKEY:
                        raise yaml.constructor.ConstructorError(
                            "while constructing a mapping",
                            frame.mark,
                            "found unhashable key",
                            ev.start_mark,
                        )
                    self.put(frame, value, stack)
                else:
                    root = value
                if ev.anchor is not None:
                    self.anchor(anchors, ev, value, None)
                if frame is not None:
                    stack.append(frame)
                frame = _Frame(value, is_map, ev.start_mark, ev.anchor, count)
                if len(stack) >= MAX_DEPTH:
                    raise _Stop(_too_deep_words(), ev.start_mark)
                continue
            elif cls is MapEnd or cls is SeqEnd:
                assert frame is not None
                if frame.merges is not None:
                    self.merge(frame)
                if frame.anchor is not None:
                    obj, _, mark = anchors[frame.anchor]
                    anchors[frame.anchor] = (obj, count - frame.start + 1, mark)
                frame = stack.pop() if stack else None
                continue
            elif cls is AliasEv:
                entry = anchors.get(ev.anchor)
                if entry is None:
                    raise yaml.composer.ComposerError(
                        None, None, f"found undefined alias {ev.anchor!r}", ev.start_mark
                    )
                value, size, _ = entry
                if size is None:
                    raise _Stop(
                        f"the alias *{ev.anchor} is inside the node it names (a structure that "
                        "contains itself)",
                        ev.start_mark,
                    )
                count += size
                if count > max_values:
                    raise _Stop(
                        f"the alias *{ev.anchor} repeats {count_words(size)} values, which makes "
                        f"the file hold more than {count_words(max_values)} values (an alias "
                        f"bomb?) ({ENV}=values=N raises the limit)",
                        ev.start_mark,
                    )
            elif cls is DocStart:
                documents += 1
                if documents > 1:
                    raise yaml.composer.ComposerError(
                        "expected a single document in the stream",
                        doc_mark,
                        "but found another document",
                        ev.start_mark,
                    )
                doc_mark = ev.start_mark
                continue
            elif cls is StreamEnd or ev is None:
                return root
            else:
                continue
            if count > max_values:
                raise _Stop(
                    f"more than {count_words(max_values)} values in the file ({ENV}=values=N "
                    "raises the limit)",
                    ev.start_mark,
                )
            if frame is None:
                root = value
            elif frame.is_map:
                if frame.key is _NOKEY:
                    try:
                        hash(value)
                    except TypeError:
                        raise yaml.constructor.ConstructorError(
                            "while constructing a mapping",
                            frame.mark,
                            "found unhashable key",
                            ev.start_mark,
                        ) from None
                    frame.key = value
                    frame.key_mark = ev.start_mark
                    frame.key_text = ev.value if cls is ScalarEv else f"*{ev.anchor}"
                else:
                    self.put(frame, value, stack)
            else:
                frame.container.append(value)

    def put(self, frame: _Frame, value: Any, stack: list[_Frame]) -> None:
        """``value`` into the frame's container (the value of its pending key in a mapping)."""
        if not frame.is_map:
            frame.container.append(value)
            return
        key = frame.key
        frame.key = _NOKEY
        if key is _MERGE:
            if frame.merges is None:
                frame.merges = []
            frame.merges.append((value, frame.key_mark))
            return
        d = frame.container
        if key in d:
            text = frame.key_text
            message = f"duplicate key '{text}'"
            earlier = next(k for k in d if k == key)
            shown = "true" if earlier is True else "false" if earlier is False else str(earlier)
            if text != shown and not text.startswith("*"):
                message += f" (YAML reads it as the key '{shown}' before it)"
            self.duplicates.append((_path_of(stack, frame), message, frame.key_mark))
        d[key] = value

    def merge(self, frame: _Frame) -> None:
        """``<<: *defaults`` (or a list of them): their keys first, the mapping's own win; in
        a list, the earlier mappings win (as PyYAML merges)."""
        merged: dict[Any, Any] = {}
        for value, mark in frame.merges or ():
            sources = value if isinstance(value, list) else [value]
            for src in reversed(sources):
                if not isinstance(src, dict):
                    found = "a list" if isinstance(src, list) else "a scalar"
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        frame.mark,
                        f"expected a mapping or list of mappings for merging, but found {found}",
                        mark,
                    )
                merged.update(src)
        own = dict(frame.container)
        frame.container.clear()
        frame.container.update(merged)
        frame.container.update(own)

    @staticmethod
    def anchor(anchors: dict[str, Any], ev: Any, value: Any, size: int | None) -> None:
        if ev.anchor in anchors:
            raise yaml.composer.ComposerError(
                f"found duplicate anchor {ev.anchor!r}; first occurrence",
                anchors[ev.anchor][2],
                "second occurrence",
                ev.start_mark,
            )
        anchors[ev.anchor] = (value, size, ev.start_mark)


_MERGE: Any = type("_MergeKey", (), {"__repr__": lambda self: "<<"})()


def _path_of(stack: list[_Frame], frame: _Frame) -> tuple[PathElem, ...]:
    """The path of ``frame``'s container: where each open container sits in its parent (the
    last item of a list, the last key of a mapping, as they are being built)."""
    frames = [*stack, frame]
    path: list[PathElem] = []
    for parent, child in itertools.pairwise(frames):
        c = parent.container
        if parent.is_map:
            key = next((k for k, v in reversed(c.items()) if v is child.container), None)
            path.append(key if isinstance(key, str | int) else str(key))
        else:
            path.append(len(c) - 1)
    return tuple(path)


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
    limits: Limits = field(default_factory=Limits)
    #: task entry (index in ``tasks``) -> where the user wrote it: the file and the entry's
    #: path there. A problem made from others (replan) names the user's lines, not its own
    #: text's, which the user does not have
    origins: dict[int, tuple[Source, tuple[PathElem, ...]]] | None = field(default=None, repr=False)
    _positions: dict[tuple[tuple[str, ...], bool], tuple[int, int] | None] = field(
        default_factory=dict, repr=False
    )
    _waiting: list[Diagnostic] = field(default_factory=list, repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    # -- positions -------------------------------------------------------------------------
    def position(self, path: Sequence[PathElem], *, key: bool = False) -> tuple[int, int] | None:
        """1-based (line, column) of the value at ``path`` (of its key when ``key``).

        When the path does not exist in full, the deepest existing node is returned."""
        if not self.locate:
            return None
        request = _request(path, key)
        if request not in self._positions:
            self._find([request])
        return self._positions[request]

    def diagnostic(
        self, path: Sequence[PathElem], message: str, *, key: bool = False
    ) -> Diagnostic:
        """A diagnostic about ``path``; its line and column are looked up when first asked
        for, with those of every diagnostic waiting then (one pass for all). A task entry
        with an origin (:attr:`origins`) is located where the user wrote it."""
        if self.origins and len(path) >= 2 and path[0] == "tasks":
            at = self.origins.get(path[1])  # type: ignore[arg-type]
            if at is not None:
                return at[0].diagnostic((*at[1], *path[2:]), message, key=key)
        d = Diagnostic(self.name, None, None, describe_path(self.raw, path), message)
        if self.locate:
            request = _request(path, key)
            found = self._positions.get(request, _NOKEY)
            if found is _NOKEY:
                d._pending = (self, tuple(path), key)
                self._waiting.append(d)
            elif found is not None:
                d._line, d._column = found
        return d

    def resolve_pending(self) -> None:
        """Look up the positions of every diagnostic waiting for one, in one pass."""
        waiting, self._waiting = self._waiting, []
        todo = [_request(d._pending[1], d._pending[2]) for d in waiting if d._pending]
        self._find([r for r in dict.fromkeys(todo) if r not in self._positions])
        for d, request in zip(waiting, todo, strict=True):
            found = self._positions.get(request)
            if found is not None:
                d._line, d._column = found
            d._pending = None

    def _find(self, requests: list[tuple[tuple[str, ...], bool]]) -> None:
        if not requests:
            return
        try:
            text = _strip_bom(self.data.decode("utf-8"))
            finder = _find_json if self.kind == "json" else _find_yaml
            marks = finder(text, {p for p, _ in requests})
        except Exception:  # positions are a nicety; never fail on them
            marks = {}
        for path, key in requests:
            found = marks.get((path, True)) if key else None
            for k in range(len(path), -1, -1):
                if found is not None:
                    break
                found = marks.get((path[:k], False))
            self._positions[(path, key)] = found


def _prefixes(paths: set[tuple[str, ...]]) -> tuple[set[tuple[str, ...]], set[tuple[str, ...]]]:
    """(every prefix of the paths, the prefixes that have a longer path below them)."""
    every: set[tuple[str, ...]] = set()
    inner: set[tuple[str, ...]] = set()
    for p in paths:
        for k in range(len(p) + 1):
            every.add(p[:k])
            if k < len(p):
                inner.add(p[:k])
    return every, inner


Marks = dict[tuple[tuple[str, ...], bool], tuple[int, int]]


def _request(path: Sequence[PathElem], key: bool) -> tuple[tuple[str, ...], bool]:
    return tuple(str(e) for e in path), key


def _find_yaml(text: str, paths: set[tuple[str, ...]]) -> Marks:
    """Positions of the values (and keys) along ``paths``, from one walk over the events that
    enters only the nodes on the way."""
    every, inner = _prefixes(paths)
    out: Marks = {}
    E = yaml.events
    starts = (E.MappingStartEvent, E.SequenceStartEvent)
    ends = (E.MappingEndEvent, E.SequenceEndEvent)
    parser = _EventParser(text)
    # frames: [path, is_map, next index or pending key (None: expecting a key)]
    stack: list[list[Any]] = []
    skip = 0
    depth_change = {starts[0]: 1, starts[1]: 1, ends[0]: -1, ends[1]: -1}
    get = parser.get_event
    try:
        while True:
            ev = get()
            if skip:  # inside a node off every path: only its end matters
                skip += depth_change.get(type(ev), 0)
                if ev is None:
                    break
                continue
            if ev is None or isinstance(ev, E.StreamEndEvent):
                break
            if isinstance(ev, ends):
                stack.pop()
                continue
            if not isinstance(ev, (E.ScalarEvent, E.AliasEvent, *starts)):
                continue
            mark: Any = ev.start_mark
            if not stack:
                path: tuple[str, ...] | None = ()
            else:
                top = stack[-1]
                if top[1]:  # a mapping
                    if top[2] is None:  # this is a key
                        if isinstance(ev, E.ScalarEvent):
                            key_path = (*top[0], ev.value)
                            top[2] = key_path
                            if key_path in every:
                                out[(key_path, True)] = (mark.line + 1, mark.column + 1)
                        else:
                            top[2] = False  # a complex key: its value is never on a path
                            if isinstance(ev, starts):
                                skip = 1
                        continue
                    path = top[2] or None
                    top[2] = None
                else:
                    path = (*top[0], str(top[2]))
                    top[2] += 1
            if path is not None and path in every:
                out[(path, False)] = (mark.line + 1, mark.column + 1)
            if isinstance(ev, starts):
                if path is not None and path in inner:
                    is_map = isinstance(ev, E.MappingStartEvent)
                    stack.append([path, is_map, None if is_map else 0])
                else:
                    skip = 1
    finally:
        with contextlib.suppress(Exception):
            parser.dispose()
    return out


_JSON_WS = re.compile(r"[ \t\n\r]*")
_make_scanner: Any = json.scanner.make_scanner  # type: ignore[attr-defined]
_scanstring: Any = json.decoder.scanstring  # type: ignore[attr-defined]


def _ws(text: str, i: int) -> int:
    """The index after the JSON whitespace at ``i``."""
    m = _JSON_WS.match(text, i)
    return m.end() if m else i


def _find_json(text: str, paths: set[tuple[str, ...]]) -> Marks:
    """Positions along ``paths`` in JSON text (:func:`_json_offsets`)."""
    offsets = _json_offsets(text, paths)
    return dict(zip(offsets, _line_cols(text, list(offsets.values())), strict=True))


def _json_offsets(
    text: str, paths: set[tuple[str, ...]]
) -> dict[tuple[tuple[str, ...], bool], int]:
    """Offsets of the values (and keys) along ``paths`` in JSON text: the values off the paths
    are skipped by the C scanner, never walked in Python."""
    every, inner = _prefixes(paths)
    scan = _make_scanner(json.JSONDecoder())
    scanstring = _scanstring
    ws = _ws
    offsets: dict[tuple[tuple[str, ...], bool], int] = {}

    def walk(i: int, path: tuple[str, ...]) -> int:
        """Walk the value at ``i`` (no leading space); return the index after it."""
        if path in every:
            offsets[(path, False)] = i
        if path not in inner or text[i] not in "[{":
            return int(scan(text, i)[1])
        if text[i] == "[":
            i = ws(text, i + 1)
            k = 0
            while text[i] != "]":
                i = ws(text, walk(i, (*path, str(k))))
                k += 1
                if text[i] == ",":
                    i = ws(text, i + 1)
            return i + 1
        i = ws(text, i + 1)
        while text[i] != "}":
            key, end = scanstring(text, i + 1)
            child = (*path, key)
            if child in every:
                offsets[(child, True)] = i
            i = ws(text, end) + 1  # the colon
            i = ws(text, walk(ws(text, i), child))
            if text[i] == ",":
                i = ws(text, i + 1)
        return i + 1

    walk(ws(text, 0), ())
    return offsets


def _line_col(text: str, i: int) -> tuple[int, int]:
    return _line_cols(text, [i])[0]


def _line_cols(text: str, offsets: list[int]) -> list[tuple[int, int]]:
    """1-based (line, column) of each offset, counting the lines once for all of them."""
    out: dict[int, tuple[int, int]] = {}
    line, at = 1, 0
    for i in sorted(set(offsets)):
        line += text.count("\n", at, i)
        at = i
        out[i] = (line, i - (text.rfind("\n", 0, i) + 1) + 1)
    return [out[i] for i in offsets]


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
                    ident = str(node["id"])
                    out += f" ({ident if len(ident) <= 80 else ident[:77] + '...'})"
            else:
                node = None
        else:
            out += f".{elem}" if out else str(elem)
            node = node.get(elem) if isinstance(node, dict) else None
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


# -- reading ----------------------------------------------------------------------------------

_CHUNK = 1 << 20


def read_bytes(path: str | Path, limits: Limits | None = None) -> tuple[str, bytes]:
    """Read a file, or standard input for ``-``, at most the ``bytes`` limit far. Returns
    (display name, bytes); InputError with the reason otherwise."""
    max_bytes = resolve_limits(limits).bytes
    if str(path) == "-":
        return "<stdin>", _read_bounded(sys.stdin.buffer, "<stdin>", max_bytes)
    name = str(path)
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise _error(name, "is a directory")
            if stat.S_ISREG(st.st_mode) and max_bytes is not None and st.st_size > max_bytes:
                raise _too_big(name, st.st_size, max_bytes)
            return name, _read_bounded(f, name, max_bytes)
    except FileNotFoundError:
        if os.path.islink(path):
            raise _error(name, "is a symbolic link to nothing (no such file)") from None
        raise _error(name, "no such file") from None
    except IsADirectoryError:
        raise _error(name, "is a directory") from None
    except OSError as exc:
        raise _error(name, (exc.strerror or str(exc)).lower()) from None


def _too_big(name: str, size: int, max_bytes: int) -> InputError:
    what = f"{size:,} bytes, more than" if size >= 0 else "more than"
    return _error(
        name,
        f"{what} the limit of {max_bytes:,} bytes ({ENV}=bytes=N raises it, {ENV}=off lifts "
        "every limit)",
    )


def _read_bounded(stream: BinaryIO, name: str, max_bytes: int | None) -> bytes:
    """Read to the end, or fail past ``max_bytes`` (or at once on binary data)."""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        if not chunks:
            _check_text(name, chunk)
        chunks.append(chunk)
        total += len(chunk)
        if max_bytes is not None and total > max_bytes:
            raise _too_big(name, -1, max_bytes)
    return b"".join(chunks)


_UTF16_32 = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}


def _check_text(name: str, head: bytes) -> None:
    """Refuse what cannot be YAML or JSON text from its first bytes: UTF-16/32, NUL bytes."""
    for bom, enc in _UTF16_32.items():
        if head.startswith(bom):
            raise _error(name, f"{enc} text; save the file as UTF-8")
    nul = head.find(b"\0")
    if nul >= 0:
        raise _error(
            name,
            f"not text: a NUL byte at byte {nul + 1:,} (binary data, or UTF-16/32 text "
            "without a byte-order mark; save it as UTF-8)",
        )


def parse(name: str, data: bytes, limits: Limits | None = None) -> Source:
    """Parse YAML or JSON bytes. JSON is recognised by a ``.json`` name or a leading ``{``."""
    lim = resolve_limits(limits)
    if lim.bytes is not None and len(data) > lim.bytes:
        raise _too_big(name, len(data), lim.bytes)
    _check_text(name, data[:_CHUNK])
    try:
        text = _strip_bom(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        start = data.rfind(b"\n", 0, exc.start) + 1
        column = len(data[start : exc.start].decode("utf-8", "replace")) + 1
        where = f"{exc.reason} at byte {exc.start + 1:,}"
        raise _error(name, f"not UTF-8 text ({where})", line, column) from None
    stripped = text.lstrip()
    with gc_paused():
        if name.endswith(".json") or stripped.startswith("{"):
            return _parse_json(name, data, text, lim)
        return _parse_yaml(name, data, text, lim)


def _parse_json(name: str, data: bytes, text: str, limits: Limits) -> Source:
    dups: list[tuple[dict[str, Any], str]] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(items)
        if len(out) != len(items):
            seen: set[str] = set()
            for k, _ in items:
                if k in seen:
                    dups.append((out, k))
                seen.add(k)
        return out

    try:
        raw = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        msg = exc.msg
        if msg == "Expecting value" and text[: exc.pos].rstrip().endswith(","):
            msg += " (a trailing comma?)"
        raise _error(name, f"JSON syntax error: {msg}", exc.lineno, exc.colno) from None
    except RecursionError:
        raise _json_too_deep(name, text) from None
    except ValueError as exc:  # an integer of more digits than Python converts
        m = re.search(r"[0-9]{1000,}", text)
        pos = _line_col(text, m.start()) if m else (None, None)
        digits = f"{len(m.group()):,} digits" if m else str(exc)
        raise _error(name, f"a number of {digits}", *pos) from None
    src = Source(name, data, raw, "json", limits=limits)
    _check_tree(src)
    if dups:
        _raise_json_duplicates(src, dups)
    return src


def _json_too_deep(name: str, text: str) -> InputError:
    """Where JSON nests deeper than MAX_DEPTH (only called when it does)."""
    depth = 0
    for m in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', text):
        tok = m.group()
        if tok in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return _error(name, _too_deep_words(), *_line_col(text, m.start()))
        elif tok in "]}":
            depth -= 1
    return _error(name, _too_deep_words())


def _too_deep_words() -> str:
    return (
        f"nesting deeper than {MAX_DEPTH} levels of lists and mappings (a taskalloc file needs "
        "at most 7)"
    )


def _check_tree(src: Source) -> None:
    """Depth and number of values of parsed JSON, iteratively (the first too deep located)."""
    limit = src.limits.values
    stack: list[tuple[Any, int, Any]] = [(src.raw, 1, None)]
    count = 0
    while stack:
        obj, depth, parent = stack.pop()
        count += 1
        if depth > MAX_DEPTH:
            path: list[PathElem] = []
            entry = (obj, depth, parent)
            while entry[2] is not None:
                entry, elem = entry[2]
                path.append(elem)
            d = src.diagnostic(path[::-1], _too_deep_words())
            d.where = ""  # the position says where; the path would be 64 levels long
            raise InputError([d])
        here = (obj, depth, parent)
        if type(obj) is dict:
            count += len(obj)
            for k, v in obj.items():
                if type(v) is dict or type(v) is list:
                    stack.append((v, depth + 1, (here, k)))
                else:
                    count += 1
        elif type(obj) is list:
            for i, v in enumerate(obj):
                if type(v) is dict or type(v) is list:
                    stack.append((v, depth + 1, (here, i)))
                else:
                    count += 1
        if limit is not None and count > limit:
            raise _error(
                src.name,
                f"more than {count_words(limit)} values in the file ({ENV}=values=N raises the "
                "limit)",
            )


#: the contexts of a YAML error whose start is where the user must look: a flow collection or a
#: quoted string that was opened there and not closed (the parser only notices where the next
#: thing does not fit, or at the end of the file)
_OPENED = {
    "while parsing a flow sequence": ("the flow sequence", "]"),
    "while parsing a flow mapping": ("the flow mapping", "}"),
    "while scanning a quoted scalar": ("the quoted string", ""),
}


def _unclosed(text: str, exc: yaml.MarkedYAMLError) -> tuple[str, Any] | None:
    """For an error inside a flow collection (or a quoted string that runs to the end of the
    file): the message, naming the opening character and where the parser gave up, and the
    opener's mark, at which the error is then located; else None."""
    found = _OPENED.get(exc.context or "")
    start, end = exc.context_mark, exc.problem_mark
    if found is None or start is None or end is None or not exc.problem:
        return None
    what, closer = found
    at_end = "end of stream" in exc.problem or end.index >= len(text.rstrip())
    if not closer and not at_end:  # a bad escape in a string: its own place says more
        return None
    lines = text.splitlines()
    line = lines[start.line] if start.line < len(lines) else ""
    opener = line[start.column] if start.column < len(line) else ""
    here = f"{what} that starts here ({opener!r})" if opener else f"{what} that starts here"
    # a flow closed later but missing a ',' looks the same to the parser: say both
    state = "is not closed" if at_end or not closer else "is not closed, or lacks a ','"
    where = f"at line {end.line + 1}, column {end.column + 1}"
    return f"YAML syntax error: {here} {state}: {exc.problem} {where}", start


def _parse_yaml(name: str, data: bytes, text: str, limits: Limits) -> Source:
    builder = _YamlBuilder(limits)
    parser = _EventParser(text)
    try:
        raw = builder.build(parser)
    except _Stop as exc:
        mark = exc.mark
        raise _error(name, exc.message, mark.line + 1, mark.column + 1) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = f"YAML syntax error: {exc.problem or exc.context}"
        unclosed = _unclosed(text, exc)
        if unclosed is not None:  # located at the '[', '{' or quote that is not closed
            msg, mark = unclosed
        elif exc.problem and exc.context and exc.context_mark is not None:
            cm = exc.context_mark
            msg += f" ({exc.context} that starts at line {cm.line + 1}, "
            msg += f"column {cm.column + 1})"
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        raise _error(name, msg, line, col) from None
    except yaml.YAMLError as exc:
        raise _error(name, f"YAML error: {exc}") from None
    finally:
        with contextlib.suppress(Exception):
            parser.dispose()
    src = Source(name, data, raw, "yaml", limits=limits)
    if builder.duplicates:
        found = [
            Diagnostic(
                name,
                mark.line + 1,
                mark.column + 1,
                describe_path(raw, path),
                message,
            )
            for path, message, mark in builder.duplicates
        ]
        raise InputError(found[:MAX_ERRORS], total=len(found))
    return src


def _raise_json_duplicates(src: Source, dups: list[tuple[dict[str, Any], str]]) -> None:
    """Locate every duplicate key of a JSON file: the path of each mapping that has one (by
    identity, in one walk), then the position of the key's second occurrence."""
    wanted = {id(d) for d, _ in dups}
    paths: dict[int, tuple[PathElem, ...]] = {}
    stack: list[tuple[Any, tuple[PathElem, ...]]] = [(src.raw, ())]
    while stack and len(paths) < len(wanted):
        obj, path = stack.pop()
        if type(obj) is dict:
            if id(obj) in wanted:
                paths[id(obj)] = path
            stack.extend((v, (*path, k)) for k, v in obj.items() if type(v) in (dict, list))
        elif type(obj) is list:
            stack.extend((v, (*path, i)) for i, v in enumerate(obj) if type(v) in (dict, list))
    text = _strip_bom(src.data.decode("utf-8"))
    found = []
    for d, key in dups:
        path = paths.get(id(d), ())
        pos = _second_key(text, tuple(str(e) for e in path), key)
        found.append(
            Diagnostic(
                src.name,
                pos[0] if pos else None,
                pos[1] if pos else None,
                describe_path(src.raw, path),
                f"duplicate key '{key}'",
            )
        )
    found.sort(key=lambda d: (d.line or 0, d.column or 0))
    raise InputError(found[:MAX_ERRORS], total=len(found))


def _second_key(text: str, path: tuple[str, ...], key: str) -> tuple[int, int] | None:
    """Where ``key`` occurs the second time in the JSON object at ``path``."""
    try:
        start = _json_offsets(text, {path})[(path, False)]
    except Exception:
        return None
    scanstring = _scanstring
    scan = _make_scanner(json.JSONDecoder())
    ws = _ws
    i = ws(text, start + 1)
    seen = 0
    while i < len(text) and text[i] != "}":
        k, end = scanstring(text, i + 1)
        if k == key:
            seen += 1
            if seen == 2:
                return _line_col(text, i)
        i = ws(text, end) + 1
        i = ws(text, int(scan(text, ws(text, i))[1]))
        if i < len(text) and text[i] == ",":
            i = ws(text, i + 1)
    return None


def load(path: str | Path, limits: Limits | None = None) -> Source:
    """Read and parse a problem or plan file (``-`` for standard input)."""
    lim = resolve_limits(limits)
    name, data = read_bytes(path, lim)
    return parse(name, data, lim)
