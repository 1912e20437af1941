"""The ``taskalloc`` command: the app, its global options, and one module per command.

Commands are thin: they parse, call the library and render. Data (plans, reports, schemas,
generated problems) goes to stdout or ``-o``; everything for people (summaries, warnings,
errors) goes to stderr (:mod:`.console`). Failures become one line each on stderr and an exit
code from :mod:`.exits` in one place (:func:`.errors.run_guarded`). Heavy modules (numpy,
pydantic, the engines) are imported inside the commands, so that ``--help`` starts fast.

Where things are: :mod:`.console` (stdout, stderr, quiet), :mod:`.errors` (the error
boundary, options as flags), :mod:`.files` (reading problems, the problem of a plan, writing
output), :mod:`.options` (shared arguments, metavars, panels), :mod:`.running` (progress lines,
Ctrl-C); the commands: :mod:`.solve` (with :mod:`.batch` and :mod:`.pareto`),
:mod:`.simulate`, :mod:`.validate`, :mod:`.check`, :mod:`.report` (with :mod:`.reporting`; the
renderers are the library's: :mod:`taskalloc.render`, :mod:`taskalloc.views`,
:mod:`taskalloc.html`), :mod:`.compare` (with :mod:`.compare_html`), :mod:`.diff`,
:mod:`.generate`, :mod:`.imports`, :mod:`.export`, :mod:`.schema`, :mod:`.replan` and
:mod:`.whatif` (replanning).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from . import (
    check,
    compare,
    diff,
    export,
    generate,
    imports,
    replan,
    report,
    schema,
    simulate,
    solve,
    validate,
    whatif,
)
from .console import Settings
from .errors import run_guarded
from .exits import EXIT_CODES_HELP

#: options that may stand anywhere on the line (they are moved before the command)
GLOBAL_FLAGS = ("-q", "--quiet", "--debug", "--no-clobber")
#: the same, with a value (``--limits SPEC`` or ``--limits=SPEC``)
GLOBAL_VALUED = ("--limits",)
GLOBAL_HELP = (
    "Global options, anywhere on the line: -q/--quiet, --debug, --limits SPEC, --no-clobber "
    "(never replace an existing file: exit 2 instead, like cp -n)."
)


def _clean(exc: Exception) -> None:
    """Usage errors without the "Value error, " of the validator typer parses values with."""
    message = getattr(exc, "message", None)
    if isinstance(message, str):
        exc.message = message.replace("Value error, ", "")  # type: ignore[attr-defined]


class Command(TyperCommand):
    """A command whose help is plain text (:mod:`.help`)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except typer.BadParameter as exc:
            _clean(exc)
            raise

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        from .help import usage

        formatter.write(usage(self, ctx) + "\n")

    def format_help(self, ctx: Any, formatter: Any) -> None:
        from .help import render

        formatter.write(render(self, ctx))


class Group(TyperGroup):
    """The root: global options anywhere on the line, plain help (:mod:`.help`), and every
    command run through :func:`~.errors.run_guarded` (also under typer's CliRunner)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        head: list[str] = []
        rest: list[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                rest.extend(args[i:])
                break
            if arg in GLOBAL_VALUED:  # with its value
                if i + 1 == len(args):
                    from typer._click.exceptions import BadOptionUsage

                    raise BadOptionUsage(arg, f"Option '{arg}' requires an argument.", ctx)
                head.extend(args[i : i + 2])
                i += 2
                continue
            global_ = arg in GLOBAL_FLAGS or arg.startswith(tuple(f"{v}=" for v in GLOBAL_VALUED))
            (head if global_ else rest).append(arg)
            i += 1
        try:
            return super().parse_args(ctx, head + rest)
        except typer.BadParameter as exc:
            _clean(exc)
            raise

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        from .help import usage

        formatter.write(usage(self, ctx) + "\n")

    def format_help(self, ctx: Any, formatter: Any) -> None:
        from .help import render

        formatter.write(render(self, ctx))

    def invoke(self, ctx: Any) -> Any:
        return run_guarded(lambda: super(Group, self).invoke(ctx))


app = typer.Typer(
    name="taskalloc",
    cls=Group,
    help=(
        "Place and schedule AI workloads on heterogeneous fleets: which task goes on which "
        "node, and when.\n\n" + EXIT_CODES_HELP
    ),
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,  # help is plain text (.help); usage errors too
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from taskalloc import __version__

        typer.echo(f"taskalloc {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of internal errors.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress, summaries or warnings on stderr.")
    ] = False,
    limits: Annotated[
        str | None,
        typer.Option(
            "--limits",
            metavar="SPEC",
            help=(
                "Size limits of input files, as TASKALLOC_LIMITS takes them: "
                "NAME=N[,NAME=N...] (bytes, values, nodes, replicas, pairs, devices; "
                "suffixes k M G Ki Mi Gi) or off. See docs/format.md, Limits and bounds."
            ),
        ),
    ] = None,
    no_clobber: Annotated[
        bool,
        typer.Option(
            "--no-clobber",
            help="Never replace an existing file (-o, --out-dir, --summary, --html, ...): "
            "refuse with exit 2 instead, like cp -n; checked before a run starts.",
        ),
    ] = False,
) -> None:
    Settings.debug = debug
    Settings.quiet = quiet
    Settings.no_clobber = no_clobber
    if limits is not None:
        _set_limits(ctx, limits)


def _set_limits(ctx: typer.Context, spec: str) -> None:
    """``--limits SPEC``: checked now (a usage error, exit 2), then given to every load of this
    command, and to the batch's worker processes, as ``TASKALLOC_LIMITS`` (restored after)."""
    import os

    from taskalloc.problems.limits import ENV, parse_limits

    try:
        parse_limits(spec)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--limits'") from None
    before = os.environ.get(ENV)

    def restore() -> None:
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before

    os.environ[ENV] = spec
    ctx.call_on_close(restore)


def _command(function: Any, name: str | None = None) -> None:
    app.command(name, cls=Command, epilog=GLOBAL_HELP)(function)


_command(solve.solve)
_command(simulate.simulate)
_command(validate.validate)
_command(check.check)
_command(report.report)
_command(replan.replan)
_command(whatif.whatif)
_command(compare.compare)
_command(diff.diff)
_command(generate.generate)
_command(imports.import_, "import")
_command(export.export)
_command(schema.schema)


def main(argv: list[str] | None = None) -> None:
    """The ``taskalloc`` command (the script's entry point is :func:`taskalloc.cli.main`,
    which handles signals before importing this module)."""
    from . import main as run

    run(argv)


if __name__ == "__main__":
    main()
