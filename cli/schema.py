"""``taskalloc schema``: the JSON Schema of the problem format."""

from __future__ import annotations

from .files import write


def schema() -> None:
    """Print the JSON Schema of the problem format (for editors' YAML plug-ins)."""
    import json

    from taskalloc.problems.spec import json_schema

    write(json.dumps(json_schema(), indent=2) + "\n", None)
