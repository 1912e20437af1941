from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

# `tests` has no __init__.py: make `from tests.helpers import ...` work however pytest is run.
if str(Path(__file__).resolve().parent.parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import DATA, EXAMPLES, ROOT


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture(scope="session")
def data_dir():
    return DATA


@pytest.fixture(scope="session")
def examples_dir():
    return EXAMPLES


@pytest.fixture
def needs_greedy():
    """Skip until the greedy solver (written concurrently) exists."""
    if not _has("taskalloc.solvers.greedy"):
        pytest.skip("taskalloc.solvers.greedy is not there yet")


@pytest.fixture
def needs_generate():
    if not _has("taskalloc.problems.generate"):
        pytest.skip("taskalloc.problems.generate is not there yet")
