"""`taskalloc generate`: what it makes for the flags and seeds it had before revision 2 stays
byte-identical (benchmarks and users' scripts regenerate their instances from a seed)."""

from __future__ import annotations

import hashlib

import pytest

from tests.helpers import cli

# sha256 of `taskalloc generate ARGS` stdout, recorded before the revision-2 flags were added
PINNED = [
    ([], "abd0a7fdf1a81374bace8f2f7de98733c2c586c1cbbaea382eb714a6192be63f"),
    (["--seed", "1"], "d49c9ea7a6dd46f8709a2923d0a7bd457eaa6742b69594d3335c5f40207de911"),
    (
        ["--tasks", "200", "--nodes", "40", "--seed", "7"],
        "880181fb5c15b0cc6304010b7bdb1042928197d0cdab77f43331b268f3d7dc40",
    ),
    (
        ["--scheduling", "--tasks", "60", "--nodes", "12", "--seed", "3"],
        "5d24cc2d6e8ebe6c122a91279818b086c8ca1081059c51d5a4ec498f53b299a6",
    ),
    (
        ["--scheduling", "--tasks", "300", "--nodes", "60", "--seed", "5", "--resources", "6"],
        "fa60d178d35ea590f90d69666d175f8f57ccbf402903d70f9ae8db8fea8ed248",
    ),
    (
        ["--tasks", "500", "--nodes", "100", "--seed", "11", "--resources", "8", "-f", "json"],
        "63a7ae123775547c0fd23894e8b8ba783b966f7ca8f8cfdc78d3d5a2c536c568",
    ),
    (
        ["--tasks", "2000", "--nodes", "200", "--seed", "2"],
        "eaf4eb9b6809f7b1210b8708dc7ddbdf1a4166e0a8ea1e73a2e38f54fa1e5743",
    ),
]


@pytest.mark.parametrize(("args", "digest"), PINNED, ids=[" ".join(a) or "-" for a, _ in PINNED])
def test_existing_flags_and_seeds_are_byte_identical(args: list[str], digest: str) -> None:
    result = cli("generate", *args)
    assert result.exit_code == 0, result.stderr
    assert hashlib.sha256(result.stdout.encode()).hexdigest() == digest
