"""Reading input files: YAML 1.2 numbers, and the wording of schema errors."""

from __future__ import annotations

import pytest

from taskalloc.problems.source import parse
from taskalloc.problems.wording import num, pydantic_message


@pytest.mark.parametrize(
    ("text", "value"),
    [("1e3", 1000.0), ("1E-3", 0.001), ("2.5e3", 2500.0), ("-1e-2", -0.01), (".5e1", 5.0)],
)
def test_exponent_numbers_read_as_yaml_1_2_numbers(text, value):
    assert parse("f.yaml", f"a: {text}\n".encode()).raw == {"a": value}


@pytest.mark.parametrize("text", ["e3", "1e", "1e3x", "v1e3", "1.2.3"])
def test_other_words_stay_strings(text):
    assert parse("f.yaml", f"a: {text}\n".encode()).raw == {"a": text}


def test_the_global_yaml_loader_is_untouched():
    import yaml

    assert yaml.safe_load("a: 1e3") == {"a": "1e3"}


def test_pydantic_prefixes_are_dropped():
    assert pydantic_message(
        {"type": "value_error", "msg": "Value error, Bad thing", "ctx": {}}
    ) == ("bad thing")
    error = {"type": "value_error", "msg": "x", "ctx": {"error": ValueError("Too big")}}
    assert pydantic_message(error) == "too big"
    assert pydantic_message({"type": "assertion_error", "msg": "Assertion failed, No"}) == "no"


def test_numbers_print_without_a_needless_decimal_point():
    assert (num(4.0), num(0.25), num(1e-7)) == ("4", "0.25", "1e-07")


def _paths(obj, path=()):
    yield path
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*path, i))


@pytest.mark.parametrize("indent", [None, 1, "\t"])
def test_json_positions_agree_with_the_yaml_reading_of_the_same_text(indent):
    """JSON text is YAML: the C JSON scanner walk and the libyaml event walk must find the same
    line and column for every value and key (and the deepest existing node for paths that do
    not exist)."""
    import json

    from taskalloc.problems.source import _find_json, _find_yaml
    from tests.helpers import EXAMPLES

    for example in ("gpu-cluster.yaml", "training-pipeline.yaml"):
        raw = parse(example, (EXAMPLES / example).read_bytes()).raw
        text = json.dumps(raw, indent=indent)
        paths = {tuple(str(e) for e in p) for p in _paths(raw)}
        paths |= {(*p, "missing") for p in list(paths)[:50]}
        assert _find_json(text, paths) == _find_yaml(text, paths)


def test_every_waiting_message_is_located_in_one_pass(monkeypatch):
    from taskalloc.problems import source

    src = parse("f.yaml", b"a:\n  - {x: 1}\n  - {x: 2}\nb: 3\n")
    calls = []
    real = source._find_yaml
    monkeypatch.setattr(source, "_find_yaml", lambda t, p: calls.append(p) or real(t, p))
    diags = [src.diagnostic(("a", i, "x"), "m") for i in range(2)] + [src.diagnostic(("b",), "m")]
    assert [(d.line, d.column) for d in diags] == [(2, 9), (3, 9), (4, 4)]
    assert len(calls) == 1
    assert src.diagnostic(("b",), "again").line == 4 and len(calls) == 1  # cached
