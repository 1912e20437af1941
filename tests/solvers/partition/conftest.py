"""Fixtures shared by the partition tests."""

from __future__ import annotations

import importlib

import pytest

route = importlib.import_module("taskalloc.solvers.cpsat.lns.route")


@pytest.fixture
def scale_at_small_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    """cpsat's LNS at scale from a few thousand (task, node) pairs (in this process: the
    parts get ``lns="scale"`` from the driver)."""
    monkeypatch.setattr(route, "SCALE_PAIRS", 1_000)
