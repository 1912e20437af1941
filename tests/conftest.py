from __future__ import annotations

import sys
from pathlib import Path

import pytest

# `tests` has no __init__.py: make `from tests.helpers import ...` work however pytest is run.
if str(Path(__file__).resolve().parent.parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import DATA, EXAMPLES, ROOT


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture(scope="session")
def data_dir():
    return DATA


@pytest.fixture(scope="session")
def examples_dir():
    return EXAMPLES
