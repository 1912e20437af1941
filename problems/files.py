"""Writing output files: one function, used by every command, by batches and by the Python API.

:func:`write_atomic` never destroys what it must not:

- an input: an output that is the same file as one of ``inputs`` (the problem, the plan, a
  hint, compared by device and inode, so another name, a symlink or a hard link is caught too)
  is refused with :class:`OutputError`, before anything is written;
- an existing file, with ``no_clobber`` (``--no-clobber``, like ``cp -n``): refused with
  :class:`OutputError`; the check and the write are one atomic step (a hard link that fails
  when the name exists), so a file that appears meanwhile is not replaced either;
- a device or a pipe (``-o /dev/stdout``, a FIFO): written into, never renamed over;
- a symlink: the file it points to is replaced, and the link stays a link;
- a directory: refused.

Anything else (a new file, a regular file) is replaced atomically: the data goes to a temporary
file in the same directory, flushed to the disk, then renamed over the old one, so that a reader
(or a run interrupted at any instant) sees the old file or the whole new one, never a part. A
full disk, a read-only directory or any other failure of the system (:class:`WriteError`)
leaves the old file as it was and no temporary file behind. A replaced file keeps its
permission bits. Missing parent directories are created; :func:`write_atomic` returns them, so
that a command can say so.

:func:`remove_temporaries` deletes the temporary files of writes still under way: what a
process that must exit at once (a second Ctrl-C) calls before ``os._exit``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import threading
from collections.abc import Iterable
from pathlib import Path


class OutputError(Exception):
    """An output refused: it would destroy an input, it exists (``no_clobber``), or it is a
    directory. Nothing was written (the CLI's exit code 2)."""


class WriteError(Exception):
    """The system could not write an output: a full disk, a read-only file system, no
    permission, a closed or full standard output. The old file, if any, is kept (the CLI's exit
    code 74, EX_IOERR). ``reason`` is the system's message (``No space left on device``)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot write {path}: {reason}")


def reason(exc: OSError) -> str:
    """The system's words for an OSError, without the file name it may repeat."""
    if exc.errno is not None:
        return os.strerror(exc.errno)
    return str(exc)


#: temporary files being written now (removed by :func:`remove_temporaries` on a hard exit)
_PENDING: set[str] = set()
_LOCK = threading.Lock()


def remove_temporaries() -> None:
    """Delete the temporary files of writes still under way (their targets are untouched)."""
    with _LOCK:
        pending = list(_PENDING)
    for name in pending:
        with contextlib.suppress(OSError):
            os.unlink(name)


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str] | None) -> bool:
    """True when ``a`` and ``b`` name one existing file (``-`` and None name none)."""
    if b is None or os.fspath(b) == "-" or os.fspath(a) == "-":
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:  # either is missing or unreadable
        return False


def clobbers(path: str | os.PathLike[str]) -> bool:
    """True when writing ``path`` would replace a file (a regular file, or the one a symlink
    points to); writing into a device or a pipe replaces nothing."""
    try:
        mode = os.stat(path).st_mode  # follows a symlink; a dangling one: nothing to replace
    except OSError:
        return False
    return stat.S_ISREG(mode)


def refuse_inputs(
    path: str | os.PathLike[str],
    inputs: Iterable[str | os.PathLike[str] | None],
    *,
    no_clobber: bool = False,
) -> None:
    """Raise :class:`OutputError` when ``path`` is the same file as one of ``inputs``, a
    directory, or, with ``no_clobber``, an existing file (a command that solves calls this
    before it starts, so that no run is lost at the end)."""
    if os.path.isdir(path):  # follows a symlink, as the write would
        raise OutputError(f"{os.fspath(path)}: is a directory")
    for given in inputs:
        if same_file(path, given):
            raise OutputError(f"{os.fspath(path)}: is an input of this command; not overwriting it")
    if no_clobber and clobbers(path):
        raise OutputError(f"{os.fspath(path)}: exists; not overwriting it (--no-clobber)")


def _make_parents(directory: Path) -> list[Path]:
    """Create ``directory`` and its missing parents; return those created, outermost first."""
    missing: list[Path] = []
    d = directory
    while not d.exists():
        missing.append(d)
        if d.parent == d:
            break
        d = d.parent
    directory.mkdir(parents=True, exist_ok=True)
    return list(reversed(missing))


def _write_all(fd: int, raw: bytes) -> None:
    view = memoryview(raw)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def write_atomic(
    path: str | os.PathLike[str],
    data: str | bytes,
    *,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
    no_clobber: bool = False,
) -> list[Path]:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` as the module docstring says.

    Returns the parent directories it had to create (outermost first; usually none). Raises
    :class:`OutputError` when ``path`` is one of ``inputs``, a directory, or (``no_clobber``)
    an existing file; :class:`WriteError` when the system cannot write it (the old file kept).
    """
    path = Path(path)
    refuse_inputs(path, inputs, no_clobber=no_clobber)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        mode: int | None = path.stat().st_mode  # follows a symlink
    except OSError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputError(f"{path}: is a directory")
    if mode is not None and not stat.S_ISREG(mode):
        # a device or a pipe: write into it (renaming over it would replace the device)
        try:
            with open(path, "wb") as fh:
                fh.write(raw)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise
            raise WriteError(str(path), reason(exc)) from None
        return []
    target = path.resolve() if path.is_symlink() else path  # keep the link, replace its file
    try:
        created = _make_parents(target.parent)
    except OSError as exc:
        raise WriteError(str(path), reason(exc)) from None
    tmp = str(target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp"))
    try:
        with _LOCK:
            _PENDING.add(tmp)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
        try:
            _write_all(fd, raw)
            if mode is not None:
                with contextlib.suppress(OSError):
                    os.fchmod(fd, stat.S_IMODE(mode))
            os.fsync(fd)  # the data on the disk before the name points at it
        finally:
            os.close(fd)
        if no_clobber:
            _link(tmp, target, path)
        else:
            os.replace(tmp, target)
        _sync_directory(target.parent)
    except OSError as exc:
        raise WriteError(str(path), reason(exc)) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # after a replace it is gone already; after a link, the extra name
        with _LOCK:
            _PENDING.discard(tmp)
    return created


def _link(tmp: str, target: Path, path: Path) -> None:
    """Give the written file its name unless the name exists (``no_clobber``)."""
    try:
        os.link(tmp, target)  # fails if the name exists, even if it appeared just now
    except FileExistsError:
        raise OutputError(f"{path}: exists; not overwriting it (--no-clobber)") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        # a file system without hard links: check, then rename (not atomic, but careful)
        if os.path.lexists(target):
            raise OutputError(f"{path}: exists; not overwriting it (--no-clobber)") from None
        os.replace(tmp, target)


def _sync_directory(directory: Path) -> None:
    """Flush a directory's entries (the rename) to the disk, where the system allows it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
