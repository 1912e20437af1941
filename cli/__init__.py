"""The command-line interface: ``taskalloc`` runs :func:`main` (the commands are in
:mod:`.app`)."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``taskalloc`` script and ``python -m taskalloc``.

    Signals are handled first (:func:`.running.install_signals`), before the commands and
    their libraries are imported, so that a Ctrl-C at any instant exits 130 with one line and
    no traceback; an interrupted command ends without tearing the interpreter down
    (:func:`.running.exit_interrupted`). A command that ended on its own ignores the two
    signals before the interpreter tears down (:func:`.running.settle`): one arriving then
    would otherwise meet the default dispositions Python restores as it exits, and kill the
    process with no exit code of ours.
    """
    import sys

    from .running import exit_interrupted, install_signals, settle

    install_signals()
    try:
        from .app import app
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        exit_interrupted()
    try:
        app(args=argv, prog_name="taskalloc")
    except SystemExit as exc:
        if exc.code == 130:
            exit_interrupted()
        settle()
        raise
    except KeyboardInterrupt:  # outside a command's boundary (parsing the line)
        sys.stderr.write("interrupted\n")
        exit_interrupted()
    settle()
