"""``taskalloc import openb NODES.csv PODS.csv``: the Alibaba GPU trace as a problem file."""

from __future__ import annotations

from pathlib import Path

from .exits import ExitCode


def import_openb(
    nodes: str,
    pods: str | None,
    output: Path | None,
    fmt: str,
    order: str,
    seed: int | None,
    arrive: float | None,
) -> None:
    from taskalloc.problems.openb import import_openb as read
    from taskalloc.problems.plan import dumps

    from .app import _write, fail, say, warn

    if pods is None:
        fail(ExitCode.BAD_INPUT, "import openb needs two files: NODES.csv PODS.csv")
    if seed is not None and order != "shuffle":
        fail(ExitCode.BAD_INPUT, "--seed applies to --order shuffle only")
    if arrive is not None and arrive < 0:
        fail(ExitCode.BAD_INPUT, f"--arrive must be a percentage >= 0, got {arrive:g}")
    if output is not None and str(output) != "-":
        for src in (nodes, pods):
            if src != "-" and Path(src).exists() and output.exists() and output.samefile(src):
                fail(ExitCode.BAD_INPUT, f"-o {output} is an input file; refusing to overwrite it")
    from taskalloc.problems.problem import problem_from_dict

    result = read(nodes, pods, order=order, seed=seed or 0, arrive=arrive)
    data = result.problem
    problem_from_dict(data, str(data["name"]))  # the format's own validation, as for any import
    for w in result.warnings:
        warn(w)
    _write(dumps(data, fmt), output)
    src = data["x-source"]
    n_nodes = sum(int(n.get("count", 1)) for n in data["nodes"])
    extra = []
    if src.get("copies"):
        extra.append(f"{src['copies']:,} copies")
    if src.get("trimmed"):
        extra.append(f"{src['trimmed']:,} trimmed")
    more = f" ({', '.join(extra)})" if extra else ""
    say(
        f"openb: {n_nodes:,} nodes in {len(data['nodes'])} pools, {src['gpus']:,} GPUs; "
        f"{len(data['tasks']):,} tasks{more} in {order} order, GPU demand "
        f"{src['arrived_gpu_percent']:g} % of the GPUs"
    )
    if output is not None and str(output) != "-":
        say(f"problem written to {output}")
