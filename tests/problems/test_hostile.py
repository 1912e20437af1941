"""Hostile files never crash (issue 11): nesting, sizes, aliases, numbers past what the engines
take, control characters, endless input, and the limits that bound them. Each ends in one
located line and exit 2, quickly (benchmarks/hostile.py measures them as processes)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from taskalloc.problems.compiler import build_problem, problem_from_dict
from taskalloc.problems.limits import ENV, MAX_DEPTH, NO_LIMITS, Limits, parse_limits
from taskalloc.problems.source import InputError, parse
from taskalloc.problems.wording import printable
from tests.helpers import cli, node, prob_dict, task

SMALL = (
    "taskalloc: 1\nnodes:\n  - {id: a, capacity: {cpu: 4}}\ntasks:\n  - {id: t, demand: {cpu: 1}}\n"
)


def errors(text: str | bytes, name: str = "f.yaml", limits: Limits | None = None) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    with pytest.raises(InputError) as exc:
        build_problem(parse(name, data, limits))
    return str(exc.value).splitlines()


def one_error(text: str | bytes, name: str = "f.yaml", limits: Limits | None = None) -> str:
    lines = errors(text, name, limits)
    assert len(lines) == 1, lines
    return lines[0]


# -- nesting ---------------------------------------------------------------------------------

DEEP = f"nesting deeper than {MAX_DEPTH} levels of lists and mappings"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("taskalloc: 1\nnodes: " + "[" * 25_000 + "\n", "f.yaml:2:71: "),  # was a segfault
        ("taskalloc: 1\nnodes:\n" + "- " * 25_000 + "x\n", "f.yaml:3:127: "),  # block lists
        ("a: " + "{b: " * 100 + "1" + "}" * 100 + "\n", "f.yaml:1:256: "),
    ],
)
def test_deep_yaml_stops_at_the_first_level_too_deep(text, where):
    assert one_error(text) == where + DEEP + " (a taskalloc file needs at most 7)"


@pytest.mark.parametrize("depth", [100, 1000, 100_000])
def test_deep_json_is_located(depth):
    text = '{"taskalloc": 1, "nodes": ' + "[" * depth + "]" * depth + ', "tasks": []}'
    assert one_error(text, "f.json").startswith("f.json:1:90: " + DEEP)


def test_nesting_up_to_the_limit_is_fine_in_extensions():
    deep = json.dumps({"v": 1})
    for _ in range(MAX_DEPTH - 4):
        deep = f"[{deep}]"
    text = SMALL + f"x-deep: {deep}\n"
    assert build_problem(parse("f.yaml", text.encode())).tasks[0].id == "t"


def test_a_deep_plan_is_bad_input_for_check(tmp_path):
    problem = tmp_path / "p.yaml"
    problem.write_text(SMALL)
    plan = tmp_path / "plan.yaml"
    plan.write_text("taskalloc_plan: 1\nx: " + "[" * 30_000 + "\n")
    result = cli("check", str(problem), str(plan))
    assert result.exit_code == 2
    assert result.stderr == f"{plan}:2:67: {DEEP} (a taskalloc file needs at most 7)\n"


# -- aliases ---------------------------------------------------------------------------------


def _bomb(levels: int = 9) -> str:
    lines = ["taskalloc: 1", 'x-a0: &a0 ["lol"]']
    for i in range(1, levels + 1):
        lines.append(f"x-a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines += ["nodes:", "  - {id: a, capacity: {cpu: 4}, x-bomb: *a9}", "tasks: *a9"]
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_one_line_naming_the_alias():
    line = one_error(_bomb())
    assert line.startswith("f.yaml:10:27: the alias *a7 repeats 10,163,809 values, which makes")
    assert "(an alias bomb?) (TASKALLOC_LIMITS=values=N raises the limit)" in line


def test_aliases_within_the_limit_still_work():
    text = (
        "taskalloc: 1\nx-cap: &cap {cpu: 4, gpu: 1}\nx-base: &base {demand: {cpu: 1}}\n"
        "nodes:\n  - {id: a, capacity: *cap}\n  - {id: b, capacity: *cap}\n"
        "tasks:\n  - {<<: *base, id: t}\n  - {<<: *base, id: u, demand: {cpu: 2}}\n"
    )
    p = build_problem(parse("f.yaml", text.encode()))
    assert [n.capacity["gpu"] for n in p.nodes] == [1, 1]
    assert [t.demand["cpu"] for t in p.tasks] == [1, 2]


def test_a_merge_key_merges_only_as_a_key():
    raw = parse("f.yaml", b"a: [<<, 1]\nb: <<\n<<: {c: 1}\n").raw
    assert raw == {"c": 1, "a": ["<<", 1], "b": "<<"}


def test_values_limit_counts_aliases_expanded():
    text = "taskalloc: 1\nx: &x [1, 2, 3, 4, 5, 6, 7, 8, 9]\ny: [*x, *x, *x]\n" + SMALL[13:]
    line = one_error(text, limits=Limits(values=30))
    assert line.startswith("f.yaml:3:9: the alias *x repeats 10 values")


def test_an_alias_inside_what_it_names_is_refused():
    assert one_error("x-a: &a [1, *a]\n" + SMALL) == (
        "f.yaml:1:13: the alias *a is inside the node it names (a structure that contains itself)"
    )


def test_a_structure_that_contains_itself_is_not_plain_data():
    data = prob_dict([node("a")], [task("t")])
    data["x-loop"] = data
    with pytest.raises(InputError, match="not plain data: Circular reference detected"):
        problem_from_dict(data)


# -- sizes -----------------------------------------------------------------------------------


def test_count_bomb_stops_before_expanding():
    text = "taskalloc: 1\nnodes:\n  - {id: a, count: 100000000, capacity: {cpu: 4}}\n"
    text += "tasks:\n  - {id: t, demand: {cpu: 1}}\n"
    assert one_error(text) == (
        "f.yaml:3:20: nodes[0] (a).count: 100,000,000 nodes after pools expand, more than the "
        f"limit of 1,000,000 ({ENV}=nodes=N raises it, {ENV}=off lifts every limit)"
    )


def test_replicas_devices_and_pairs_limits():
    text = "taskalloc: 1\nnodes:\n  - {id: a, count: 50, capacity: {gpu: 8}, devices: {gpu: 8}}\n"
    text += "tasks:\n  - {id: t, replicas: 40, demand: {gpu: 1}}\n  - {id: u, demand: {gpu: 1}}\n"
    assert "41 replicas in all, more than the limit of 10" in one_error(
        text, limits=Limits(replicas=10)
    )
    assert "nodes[0] (a).devices: 400 devices after pools expand, more than the limit of 100" in (
        one_error(text, limits=Limits(devices=100))
    )
    assert "tasks: 100 (task, allowed node) pairs (2 tasks), more than the limit of 99" in (
        one_error(text, limits=Limits(pairs=99))
    )
    assert build_problem(parse("f.yaml", text.encode(), Limits(pairs=100))).total_replicas == 41


def test_bytes_limit_on_a_file_and_on_stdin(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(SMALL)
    result = cli("validate", str(path), env={ENV: "bytes=64"})
    assert result.exit_code == 2
    size = len(SMALL)
    assert result.stderr == (
        f"{path}: {size:,} bytes, more than the limit of 64 bytes ({ENV}=bytes=N raises it, "
        f"{ENV}=off lifts every limit)\n"
    )
    result = cli("validate", "-", env={ENV: "bytes=64"}, input="y\n" * 1000)
    assert result.exit_code == 2
    assert result.stderr.startswith("<stdin>: more than the limit of 64 bytes")
    assert cli("validate", str(path), env={ENV: "off"}).exit_code == 0


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_dev_zero_is_refused_at_its_first_bytes():
    result = cli("validate", "/dev/zero")
    assert result.exit_code == 2
    assert result.stderr.startswith("/dev/zero: not text: a NUL byte at byte 1 (binary data")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (SMALL.encode("utf-16"), "UTF-16 text; save the file as UTF-8"),
        (SMALL.encode("utf-32"), "UTF-32 text; save the file as UTF-8"),
        (SMALL.encode("utf-16-le"), "not text: a NUL byte at byte 2"),
    ],
)
def test_utf16_and_binary_data(tmp_path, data, words):
    path = tmp_path / "p.yaml"
    path.write_bytes(data)
    result = cli("validate", str(path))
    assert result.exit_code == 2
    assert words in result.stderr


@pytest.mark.parametrize(
    ("text", "limits"),
    [
        ("", Limits()),
        ("off", NO_LIMITS),
        ("bytes=1Gi,pairs=5e9", Limits(bytes=2**30, pairs=5_000_000_000)),
        (" nodes = 2M , values=off ", Limits(nodes=2_000_000, values=None)),
        ("replicas=1_000k", Limits(replicas=1_000_000)),
    ],
)
def test_limits_from_the_environment(text, limits):
    assert Limits.from_env({ENV: text}) == limits


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "byte=1",
            "'byte=1' is not NAME=VALUE with NAME one of bytes, values, nodes, replicas, "
            "pairs, devices; did you mean 'bytes'?",
        ),
        (
            "bytes=lots",
            "bytes=lots: the value must be a number (suffixes k, M, G, Ki, Mi, Gi) or off",
        ),
    ],
)
def test_a_bad_limits_variable_is_one_line(text, message, tmp_path):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        parse_limits(text)
    path = tmp_path / "p.yaml"
    path.write_text(SMALL)
    result = cli("validate", str(path), env={ENV: text})
    assert (result.exit_code, result.stderr) == (2, f"{ENV}: {message}\n")


def test_the_limits_flag_anywhere_on_the_line(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    path = tmp_path / "p.yaml"
    path.write_text(SMALL.replace("cpu: 4}", "cpu: 4}, count: 50"))
    for args in (
        ("validate", str(path), "--limits", "nodes=10"),
        ("--limits=nodes=10", "validate", str(path)),
        ("validate", "--limits", "nodes=10,pairs=1k", str(path)),
    ):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.stderr)
        assert "50 nodes after pools expand, more than the limit of 10" in result.stderr
    assert ENV not in os.environ  # the flag holds for its command only
    assert cli("validate", str(path), "--limits", "nodes=50").exit_code == 0
    # the flag wins over the variable (it is the nearer of the two)
    assert cli("validate", str(path), "--limits", "off", env={ENV: "nodes=1"}).exit_code == 0


def test_a_bad_limits_flag_is_a_usage_error(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(SMALL)
    result = cli("validate", str(path), "--limits", "byte=1")
    assert result.exit_code == 2
    assert "Invalid value for '--limits': 'byte=1' is not NAME=VALUE" in result.stderr
    assert "did you mean 'bytes'?" in result.stderr
    result = cli("validate", str(path), "--limits")
    assert result.exit_code == 2
    assert "Option '--limits' requires an argument." in result.stderr


def test_the_limits_flag_reaches_a_batch_s_workers(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "ok.yaml").write_text(SMALL)
    (d / "pool.yaml").write_text(SMALL.replace("cpu: 4}", "cpu: 4}, count: 50"))
    result = cli(
        "-q", "solve", str(d), "-d", str(tmp_path / "out"), "-s", "greedy", "--summary", "-",
        "--limits", "nodes=10",
    )  # fmt: skip
    assert result.exit_code == 2, result.stderr
    rows = {Path(r["file"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert rows["ok.yaml"]["exit_code"] == 0
    assert "more than the limit of 10" in rows["pool.yaml"]["error"]


def test_a_batch_gives_its_workers_the_limits_it_started_with(monkeypatch):
    """A worker's own environment may be older (a forkserver started before --limits) or
    another machine's (Ray): the limits travel with each problem."""
    from taskalloc.solvers.batch import Spec, run_spec
    from taskalloc.solvers.run import Outcome, SolveOptions

    monkeypatch.delenv(ENV, raising=False)
    data = SMALL.replace("cpu: 4}", "cpu: 4}, count: 50").encode()
    opts = SolveOptions(solver="greedy")
    spec = Spec(index=0, name="p.yaml", data=data, path=None, opts=opts, limits=Limits(nodes=10))
    result = run_spec(spec)
    assert result.outcome == Outcome.BAD_INPUT
    assert "50 nodes after pools expand, more than the limit of 10" in result.message
    monkeypatch.setenv(ENV, "nodes=1")  # the worker's own: not the batch's
    spec = Spec(index=0, name="p.yaml", data=data, path=None, opts=opts, limits=Limits())
    assert run_spec(spec).outcome == Outcome.OK


def test_a_spec_carries_the_limits_of_the_process_that_made_it(monkeypatch):
    """compare and whatif make their own specs: the limits travel with those too (a forkserver
    started under another command's --limits kept that command's environment)."""
    from taskalloc.solvers.batch import Spec, run_spec
    from taskalloc.solvers.run import Outcome, SolveOptions

    data = SMALL.replace("cpu: 4}", "cpu: 4}, count: 50").encode()
    opts = SolveOptions(solver="greedy")
    monkeypatch.setenv(ENV, "nodes=10")
    spec = Spec(index=0, name="p.yaml", data=data, path=None, opts=opts)
    monkeypatch.delenv(ENV)
    result = run_spec(spec)
    assert result.outcome == Outcome.BAD_INPUT
    assert "more than the limit of 10" in result.message
    spec = Spec(index=0, name="p.yaml", data=data, path=None, opts=opts)
    monkeypatch.setenv(ENV, "nodes=1")  # the worker's own: not the maker's
    assert run_spec(spec).outcome == Outcome.OK
    monkeypatch.setenv(ENV, "nodes=x")  # does not parse: the worker's run says so
    assert Spec(index=0, name="p.yaml", data=data, path=None, opts=opts).limits is None


# -- numbers ---------------------------------------------------------------------------------


def _with(task_fields: str = "", node_fields: str = "", top: str = "") -> str:
    return (
        f"taskalloc: 1\n{top}nodes:\n  - {{id: a, capacity: {{cpu: 4}}{node_fields}}}\n"
        f"tasks:\n  - {{id: t, demand: {{cpu: 1}}{task_fields}}}\n"
    )


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            _with(", duration: 9223372036854775807"),
            "f.yaml:5:41: tasks[0] (t).duration: must be <= 2147483647, got 9223372036854775807 "
            "(2^31 - 1: larger times and counts overflow the engines' 64-bit arithmetic)",
        ),
        (
            _with(", duration: 5", top="horizon: " + "9" * 30 + "\n"),
            "f.yaml:2:10: horizon: must be <= 2147483647, got 999999999999... (30 digits) (2^31 - "
            "1: larger times and counts overflow the engines' 64-bit arithmetic)",
        ),
        (
            _with(", replicas: 3000000000"),
            "f.yaml:5:41: tasks[0] (t).replicas: must be <= 2147483647, got 3000000000 (2^31 - 1: "
            "larger times and counts overflow the engines' 64-bit arithmetic)",
        ),
        (
            _with(node_fields=", cost: 1e308"),
            "f.yaml:3:39: nodes[0] (a).cost: must be <= 1e+18, got 1e+308 (10^18: larger amounts "
            "make sums over the replicas inexact or infinite)",
        ),
        (
            _with(node_fields=", devices: {cpu: 5000}"),
            "f.yaml:3:48: nodes[0] (a).devices.cpu: must be <= 4096, got 5000 (at most 4096 "
            "devices per node and resource)",
        ),
        (
            _with(", duration: 1000", node_fields=", speed: 1e-12"),
            "f.yaml:5:41: tasks[0] (t).duration: takes 1e+15 time units on node a (duration 1000 "
            "/ speed 1e-12), more than 2147483647 (2^31 - 1: larger times overflow the engines' "
            "64-bit arithmetic)",
        ),
        (_with(node_fields=", count: " + "1" * 5000), "f.yaml:3:40: a number of 5,000 characters"),
    ],
)
def test_numbers_are_bounded_to_what_the_engines_take(text, line):
    assert one_error(text) == line


def test_two_demands_of_1e308_are_bad_input_not_an_overflow(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "taskalloc: 1\nnodes: [{id: a, capacity: {cpu: 1e308}}]\n"
        "tasks: [{id: t1, demand: {cpu: 1e308}}, {id: t2, demand: {cpu: 1e308}}]\n"
    )
    result = cli("solve", str(path), "-s", "greedy")
    assert result.exit_code == 2
    assert "RuntimeWarning" not in result.stderr
    assert len(result.stderr.splitlines()) == 3


def test_a_json_integer_of_5000_digits_is_located():
    text = '{"taskalloc": 1,\n "horizon": ' + "7" * 5000 + "}"
    assert one_error(text, "f.json") == "f.json:2:13: a number of 5,000 digits"


def test_times_up_to_the_bound_are_accepted():
    p = build_problem(parse("f.yaml", _with(", duration: 2147483647, due: 2147483647").encode()))
    assert p.tasks[0].duration == 2**31 - 1


@pytest.mark.parametrize(
    ("value", "shown"),
    [("true", "true"), ('"1"', "'1'"), ("1.0", "1.0"), ("2", "2"), ("yes", "true")],
)
def test_the_version_is_the_integer_1(value, shown):
    text = _with().replace("taskalloc: 1", f"taskalloc: {value}")
    assert one_error(text) == f"f.yaml:1:12: taskalloc: must be 1, got {shown}"


# -- YAML 1.2 numbers, YAML 1.1 words ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1e3", 1000.0),
        ("1E+3", 1000.0),
        ("-.5e-3", -0.0005),
        ("0o17", 15),  # YAML 1.2 octal
        ("0x10", 16),
        ("1_000", 1000),  # YAML 1.1, as in v1
        ("010", 8),  # YAML 1.1 octal, as in v1
        ("1.", 1.0),
        ("yes", True),  # YAML 1.1 boolean, as in v1: labels compare it as 'true'
        ("on", True),
        ("'yes'", "yes"),
        ("1e", "1e"),
        ("0o8", "0o8"),
        ("08", "08"),
        ("1_0e1", "1_0e1"),
    ],
)
def test_yaml_numbers(text, value):
    raw = parse("f.yaml", f"a: {text}\n".encode()).raw
    assert raw == {"a": value} and type(raw["a"]) is type(value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (".inf", "must be a finite number, got inf"),
        ("-.inf", "must be a finite number, got -inf"),
        (".nan", "must be a finite number, got nan"),
    ],
)
def test_infinities_are_refused(text, message):
    assert one_error(_with().replace("cpu: 4", f"cpu: {text}")).endswith(message)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1e400", "must be a finite number, got inf"),
        ("NaN", "must be a finite number, got nan"),
        ("-Infinity", "must be a finite number, got -inf"),
    ],
)
def test_json_non_finite_numbers_are_refused(text, message):
    data = {"taskalloc": 1, "nodes": [{"id": "a", "capacity": {"cpu": 1}}], "tasks": []}
    text = json.dumps(data).replace('"cpu": 1', f'"cpu": {text}')
    assert message in errors(text, "f.json")[0]


def test_yes_in_a_label_keeps_its_v1_meaning():
    text = _with(", match: {spot: true}", ", labels: {spot: yes}")
    assert build_problem(parse("f.yaml", text.encode())).tasks[0].allowed == (0,)


def test_keys_that_read_the_same_are_duplicates():
    assert errors("taskalloc: 1\nx-m: {1: a, true: b, yes: c, on: d}\n") == [
        "f.yaml:2:13: x-m: duplicate key 'true' (YAML reads it as the key '1' before it)",
        "f.yaml:2:22: x-m: duplicate key 'yes' (YAML reads it as the key '1' before it)",
        "f.yaml:2:30: x-m: duplicate key 'on' (YAML reads it as the key '1' before it)",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "a: !!python/object:os.system {}\n",
            "f.yaml:1:4: the tag !!python/object:os.system is not allowed here",
        ),
        ("a: !!set {x}\n", "f.yaml:1:4: the tag !!set is not allowed here"),
        ("a: *nothing\n", "f.yaml:1:4: YAML syntax error: found undefined alias 'nothing'"),
        (
            "a: 1\n---\nb: 2\n",
            "f.yaml:2:1: YAML syntax error: but found another document (expected a single "
            "document in the stream that starts at line 1, column 1)",
        ),
    ],
)
def test_yaml_that_is_not_plain_data(text, message):
    assert one_error(text) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (  # the '[' never closed: the parser notices two lines later, the error is at the '['
            "taskalloc: 1\nnodes: [{id: a, capacity: {cpu: 4}},\n  {id: b}\ntasks: []\n",
            "f.yaml:2:8: YAML syntax error: the flow sequence that starts here ('[') is not "
            "closed, or lacks a ',': did not find expected ',' or ']' at line 4, column 1",
        ),
        (  # closed, but a ',' missing: the message names both the opener and the place
            "x: [a, {b: 1} c]\n",
            "f.yaml:1:4: YAML syntax error: the flow sequence that starts here ('[') is not "
            "closed, or lacks a ',': did not find expected ',' or ']' at line 1, column 15",
        ),
        (  # at the end of the file it can only be unclosed
            "a: 1\nb: {c: 2\n",
            "f.yaml:2:4: YAML syntax error: the flow mapping that starts here ('{') is not "
            "closed: did not find expected ',' or '}' at line 3, column 1",
        ),
        (
            "a: 1\nb: 'text\n\n",
            'f.yaml:2:4: YAML syntax error: the quoted string that starts here ("\'") is not '
            "closed: found unexpected end of stream at line 4, column 1",
        ),
        (  # an error inside a string stays where it is
            'a: "x\\qy"\n',
            "f.yaml:1:6: YAML syntax error: found unknown escape character (while parsing a "
            "quoted scalar that starts at line 1, column 4)",
        ),
    ],
)
def test_an_unclosed_flow_or_string_is_located_where_it_opens(text, message):
    assert one_error(text) == message


# -- control characters ---------------------------------------------------------------------


def test_printable_escapes_what_acts_on_a_terminal():
    assert printable("plain id-1") == "plain id-1"
    assert printable("a\x1b[31mb\nc\rd\te\x07\x9b\u202ef\u2028") == (
        "a\\x1b[31mb\\nc\\rd\\te\\x07\\x9b\\u202ef\\u2028"
    )


def test_control_characters_in_ids_are_escaped_in_every_message(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "taskalloc: 1\nnodes: [{id: a, capacity: {cpu: 4}}]\ntasks:\n"
        '  - {id: "t\\e[31mRED", demand: {cpu: 1}}\n'
        '  - {id: "u\\nf.yaml:1:1: forged", demand: {cpu: 1}}\n'
        '  - {id: v, demand: {cpu: 1}, "x\\e]0;title\\a": 1}\n'
    )
    result = cli("validate", str(path))
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert result.stderr.splitlines() == [
        f"{path}:4:10: tasks[0] (t\\x1b[31mRED).id: must match [A-Za-z0-9_.:/-]+, got "
        "'t\\x1b[31mRED'",
        f"{path}:5:10: tasks[1] (u\\nf.yaml:1:1: forged).id: must match [A-Za-z0-9_.:/-]+, got "
        "'u\\nf.yaml:1:1: forged'",
        f"{path}:6:31: tasks[2] (v).x\\x1b]0;title\\x07: unknown key 'x\\x1b]0;title\\x07'",
    ]


def test_control_characters_in_a_plan_are_escaped_in_check(tmp_path):
    from tests.problems.test_check_claims import placement_plan

    problem_path, data = placement_plan(tmp_path)
    data["assignments"].append({"task": "\x1b[2J", "replica": 0, "node": "a\nforged"})
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(data))
    result = cli("check", str(problem_path), str(plan_path))
    assert result.exit_code == 1
    assert "\x1b" not in result.stderr
    assert "  plan: assignment names unknown task '\\x1b[2J'" in result.stderr.splitlines()


@pytest.mark.parametrize("with_problem", [False, True])
def test_control_characters_in_a_plan_are_escaped_in_diff(tmp_path, with_problem):
    from tests.problems.test_check_claims import placement_plan

    problem_path, data = placement_plan(tmp_path)
    a = tmp_path / "a.json"
    a.write_text(json.dumps(data))
    data["assignments"].append({"task": "t\x1b[32mX", "replica": 0, "node": "b\nforged"})
    b = tmp_path / "b.json"
    b.write_text(json.dumps(data))
    extra = ["--problem", str(problem_path)] if with_problem else []
    result = cli("diff", str(a), str(b), *extra)
    assert result.exit_code == 1, result.stderr
    out = result.stdout + result.stderr
    assert "\x1b" not in out and "b\nforged" not in out
    assert "  t\\x1b[32mX  b\\nforged" in result.stdout.splitlines()


def test_control_characters_of_a_problem_are_escaped_in_every_report(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        'taskalloc: 1\nname: "n\\e[31mX\\nforged"\nnodes:\n'
        '  - {id: a, capacity: {cpu: 4}, labels: {z: "v\\e[2Jw"}}\n'
        "tasks:\n  - {id: t, demand: {cpu: 1}, spread: {key: z}}\n"
    )
    plan = tmp_path / "plan.yaml"
    assert cli("-q", "solve", str(path), "-s", "greedy", "-o", str(plan)).exit_code == 0
    for args in ([], ["--view", "summary,nodes,tasks"], ["-f", "markdown"], ["-f", "csv"]):
        result = cli("report", str(path), str(plan), *args)
        assert result.exit_code == 0, result.stderr
        assert "\x1b" not in result.stdout + result.stderr, args
    pytest.importorskip("matplotlib")
    html = tmp_path / "r.html"
    assert cli("-q", "report", str(path), str(plan), "--html", str(html)).exit_code == 0
    text = html.read_text()
    assert "\x1b" not in text
    assert "<h1>Plan report: n\\x1b[31mX" in text


def test_a_batch_table_escapes_file_names(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "ok\x1b[31m.yaml").write_text(SMALL)
    result = cli("solve", str(d), "-d", str(tmp_path / "out"), "-s", "greedy")
    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stderr
    assert "ok\\x1b[31m.yaml" in result.stderr


def test_a_file_name_with_a_newline(tmp_path):
    path = tmp_path / "a\nb.yaml"
    path.write_text("taskalloc: 2\n")
    result = cli("validate", str(path))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 3  # no nodes, no tasks, version 2: each one line
    assert all(line.startswith(f"{tmp_path}/a\\nb.yaml:1:") for line in lines)


# -- many messages ------------------------------------------------------------------------------


def test_many_warnings_are_summarised(tmp_path):
    tasks = "".join(f"  - {{id: t{i}, demand: {{cpu: 0}}, release: 1}}\n" for i in range(300))
    path = tmp_path / "p.yaml"
    path.write_text("taskalloc: 1\nnodes: [{id: a, capacity: {cpu: 4}}]\ntasks:\n" + tasks)
    result = cli("validate", str(path), env={"COLUMNS": "1000"})  # a line each
    assert result.exit_code == 0
    lines = result.stderr.splitlines()
    assert len(lines) == 52  # 50 warnings, the summary, the verdict
    assert lines[50] == (
        f"{path}: warning: ... and 250 more warnings: 250 x ignored: 'release' is a scheduling "
        "field and no task has a duration"
    )


def test_a_long_dependency_cycle_is_named_by_its_ends():
    n = 2000
    tasks = [task(f"t{i:04d}", duration=1, after=[f"t{(i + 1) % n:04d}"]) for i in range(n)]
    with pytest.raises(InputError) as exc:
        problem_from_dict(prob_dict([node("a")], tasks))
    line = str(exc.value)
    assert line.endswith(
        "dependency cycle: t0000 -> t0001 -> t0002 -> t0003 -> t0004 -> t0005 -> ... (1,993 "
        "more) -> t1999 -> t0000 (each waits for the next)"
    )


# -- batches -----------------------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_one_bad_entry_never_stops_a_batch(tmp_path: Path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "ok.yaml").write_text(SMALL)
    (d / "loop.yaml").symlink_to("loop.yaml")
    (d / "dangling.yaml").symlink_to("nothing.yaml")
    (d / "dir.yaml").mkdir()
    result = cli(
        "-q", "solve", str(d), "-d", str(tmp_path / "out"), "-s", "greedy", "--summary", "-"
    )
    assert result.exit_code == 2, result.stderr
    rows = {Path(r["file"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert set(rows) == {"ok.yaml", "loop.yaml", "dangling.yaml"}
    assert rows["ok.yaml"]["exit_code"] == 0
    assert rows["loop.yaml"]["error"] == f"{d / 'loop.yaml'}: too many levels of symbolic links"
    assert rows["dangling.yaml"]["error"] == (
        f"{d / 'dangling.yaml'}: is a symbolic link to nothing (no such file)"
    )


def test_an_unreadable_file_in_a_batch_says_why(tmp_path, monkeypatch):
    from taskalloc.problems import source

    d = tmp_path / "in"
    d.mkdir()
    (d / "ok.yaml").write_text(SMALL)
    (d / "secret.yaml").write_text(SMALL)
    real = source.read_bytes

    def read_bytes(path, limits=None):
        if str(path).endswith("secret.yaml"):
            raise source.InputError(
                [source.Diagnostic(str(path), None, None, "", "permission denied")]
            )
        return real(path, limits)

    monkeypatch.setattr(source, "read_bytes", read_bytes)
    result = cli(
        "-q", "solve", str(d), "-d", str(tmp_path / "out"), "-s", "greedy", "--summary", "-"
    )
    assert result.exit_code == 2
    rows = {Path(r["file"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert rows["secret.yaml"]["error"] == f"{d / 'secret.yaml'}: permission denied"
    assert rows["ok.yaml"]["exit_code"] == 0


def test_many_proofs_are_capped(tmp_path):
    tasks = "".join(f"  - {{id: t{i}, demand: {{cpu: 2}}}}\n" for i in range(120))
    path = tmp_path / "p.yaml"
    path.write_text("taskalloc: 1\nnodes: [{id: a, capacity: {cpu: 1}}]\ntasks:\n" + tasks)
    result = cli("validate", str(path), env={"COLUMNS": "1000"})  # a line each
    assert result.exit_code == 3
    lines = result.stderr.splitlines()
    assert len(lines) == 53  # the verdict, the headline, 50 proofs, the count of the rest
    assert lines[-1] == "  ... and 70 more proofs"
