"""cli/console.py: lines told from a thread that must not wait."""

from __future__ import annotations

import threading
from typing import Any

from taskalloc.cli import console


def test_a_told_line_is_under_way_before_flush_told_can_see_it(monkeypatch: Any) -> None:
    """``tell`` starts its printing thread before it lists it: ``flush_told`` from another
    thread may run at any moment, and joining a thread that was never started raises (the
    exit 70 a GA Ctrl-C test met under load)."""
    seen: list[bool] = []

    class Watched(list):  # type: ignore[type-arg]
        def append(self, thread: threading.Thread) -> None:
            seen.append(thread.ident is not None)  # started?
            super().append(thread)

    monkeypatch.setattr(console, "_TOLD", Watched())
    monkeypatch.setattr(console, "_print_told", lambda message: None)
    monkeypatch.setattr(console.Settings, "quiet", False)
    console.tell("interrupted: writing the best plan so far")
    console.flush_told()
    assert seen == [True]
