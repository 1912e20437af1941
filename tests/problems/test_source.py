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
