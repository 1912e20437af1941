"""The bounded fuzzer (issue 11): mutated problem and plan files never crash `validate`,
`check`, `solve -s greedy`, `report` or `diff`: exit code in {0, 1, 2, 3, 4}, no traceback, each
case under 10 s (the hypothesis deadline), memory bounded. The mutations are in
tests/fuzzing.py; a longer run is benchmarks/fuzz.py, and what it found is pinned in
test_fuzz_regressions below."""

from __future__ import annotations

import gzip
import random
import resource
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzzing import Case, Seed, crashed, make_case, seeds, write_case
from tests.helpers import DATA, cli

MEMORY_GROWTH_MB = 1500  # the whole run may not grow the process's peak by more


@pytest.fixture(scope="module")
def seed_list() -> list[Seed]:
    return seeds()


@pytest.fixture(scope="module")
def baseline_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run(paths: dict[str, str], command: list[str]) -> tuple[int, str]:
    result = cli(*(a.format(**paths) for a in command))
    output = result.stdout + result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += f"\nTraceback: {result.exception!r}"
    return result.exit_code, output


@settings(
    max_examples=50,  # 300 runs of 6 commands
    deadline=10_000,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rng=st.randoms(use_true_random=False))
def test_mutated_files_never_crash(seed_list, baseline_mb, tmp_path_factory, rng: random.Random):
    case = make_case(rng, seed_list)
    paths = write_case(case, tmp_path_factory.mktemp("fuzz"))
    for command in case.commands():
        code, output = _run(paths, command)
        why = crashed(code, output)
        assert why is None, f"{case.what}: taskalloc {' '.join(command)}: {why}\n{output[-2000:]}"
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - baseline_mb
    assert grown < MEMORY_GROWTH_MB, f"{case.what}: peak memory grew by {grown:.0f} MB"


REGRESSIONS = sorted({p.name.split(".")[0] for p in (DATA / "fuzz").glob("*.gz")})


@pytest.mark.parametrize("name", REGRESSIONS)
def test_fuzz_regressions(name: str, tmp_path: Path):
    """Cases the long fuzz run (benchmarks/fuzz.py) once crashed on (tests/data/fuzz): each
    command ends in a clean exit code."""
    paths = {"out": str(tmp_path / "out.yaml")}
    for packed in sorted((DATA / "fuzz").glob(f"{name}.*.gz")):
        kind, suffix = packed.name.split(".")[1:3]
        path = tmp_path / f"{kind}.{suffix}"
        path.write_bytes(gzip.decompress(packed.read_bytes()))
        paths[kind] = str(path)
    paths.setdefault("seedplan", paths["plan"])  # diff compares with the seed's plan, if kept
    for command in Case("", b"", b"", "", "").commands():
        code, output = _run(paths, command)
        assert crashed(code, output) is None, f"{command[0]}: {output[-2000:]}"
