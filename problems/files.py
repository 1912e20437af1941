"""Writing output files: one function, used by every command, by batches and by the Python API.

:func:`write_atomic` never destroys what it must not:

- an input: an output that is the same file as one of ``inputs`` (the problem, the plan, a
  hint, compared by device and inode, so another name or a hard link is caught too) is refused
  with :class:`OutputError`, before anything is written;
- a device or a pipe (``-o /dev/stdout``, a FIFO): written into, never renamed over;
- a symlink: the file it points to is replaced, and the link stays a link;
- a directory: refused.

Anything else (a new file, a regular file) is replaced atomically: the data goes to a temporary
file in the same directory, then a rename, so that a reader (or an interrupted run) never sees a
partial file. A replaced file keeps its permission bits.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Iterable
from pathlib import Path


class OutputError(Exception):
    """An output that would destroy an input, or that cannot be written where it was asked."""


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str] | None) -> bool:
    """True when ``a`` and ``b`` name one existing file (``-`` and None name none)."""
    if b is None or os.fspath(b) == "-" or os.fspath(a) == "-":
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:  # either is missing or unreadable
        return False


def refuse_inputs(
    path: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str] | None]
) -> None:
    """Raise :class:`OutputError` when ``path`` is the same file as one of ``inputs`` (a
    command that solves calls this before it starts, so that no run is lost at the end)."""
    for given in inputs:
        if same_file(path, given):
            raise OutputError(f"{os.fspath(path)}: is an input of this command; not overwriting it")


def write_atomic(
    path: str | os.PathLike[str],
    data: str | bytes,
    *,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
) -> None:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` as the module docstring says;
    creates the missing parent directories. Raises :class:`OutputError` when ``path`` is one
    of ``inputs`` or a directory."""
    path = Path(path)
    refuse_inputs(path, inputs)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        mode = path.stat().st_mode  # follows a symlink
    except OSError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputError(f"{path}: is a directory")
    if mode is not None and not stat.S_ISREG(mode):
        # a device or a pipe: write into it (renaming over it would replace the device)
        with open(path, "wb") as fh:
            fh.write(raw)
        return
    target = path.resolve() if path.is_symlink() else path  # keep the link, replace its file
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_bytes(raw)
        if mode is not None:
            with contextlib.suppress(OSError):
                os.chmod(tmp, stat.S_IMODE(mode))
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
