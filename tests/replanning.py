"""The 3-node fleet that the replanning tests share (tests/problems/test_replan.py for the
library, tests/cli/test_replan_command.py for the commands): one definition."""

from __future__ import annotations

from typing import Any

#: where each task runs today
TODAY = {"a": "n1", "b": "n1", "c": "n2", "d": "n3"}


def fleet(**extra: Any) -> dict[str, Any]:
    """n1, n2 (4 cpu each) and n3 (8 cpu); a, b on n1, c on n2, d on n3 today (TODAY).
    ``extra``: top-level keys to add or replace."""
    data: dict[str, Any] = {
        "taskalloc": 1,
        "name": "fleet",
        "nodes": [
            {"id": "n1", "capacity": {"cpu": 4}},
            {"id": "n2", "capacity": {"cpu": 4}},
            {"id": "n3", "capacity": {"cpu": 8}},
        ],
        "tasks": [
            {"id": "a", "demand": {"cpu": 2}},
            {"id": "b", "demand": {"cpu": 2}},
            {"id": "c", "demand": {"cpu": 3}},
            {"id": "d", "demand": {"cpu": 1}},
        ],
    }
    data.update(extra)
    return data
