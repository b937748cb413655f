"""Exclusive locks and temporary names for :mod:`dsb_verifier.checks.cli.publish`.

Temporaries are hidden siblings of their destination named
``.<name>.dsb-verify-<kind>-<host>-<pid>-<random>``; :func:`stale_temps` finds those
whose owner process is dead (or on another host: they are only looked at while
holding the destination's lock, which no live run can hold then). The lock is an
exclusive :func:`fcntl.flock` on ``.<name>.dsb-lock`` (:class:`OutputLock`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import shutil
import socket
import time
from pathlib import Path

__all__ = ["OutputLock", "PublishError", "display", "same_file"]

_KINDS = ("staging", "old", "tmp", "absent", "journal")


class PublishError(ValueError):
    """An output that cannot be written (busy, not a report folder, unwritable, disk full); one line."""


def display(path: str | os.PathLike[str]) -> str:
    r"""``path`` as printable text: undecodable bytes of a file name shown as ``\xNN``."""
    s = os.fspath(path)
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname() or "host")


def _tag() -> str:
    return f"{_host()}-{os.getpid()}-{secrets.token_hex(4)}"


def _temp_name(name: str, kind: str) -> str:
    return f".{name}.dsb-verify-{kind}-{_tag()}"


def _temp_pattern(name: str) -> re.Pattern[str]:
    kinds = "|".join(_KINDS)
    return re.compile(
        rf"^\.{re.escape(name)}\.dsb-verify-(?P<kind>{kinds})-(?P<host>[A-Za-z0-9_.]+)-(?P<pid>\d+)-[0-9a-f]+$"
    )


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (a zombie counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


def _stale_temps(parent: Path, name: str) -> list[tuple[str, Path]]:
    """``(kind, path)`` of the temporaries of ``name`` in ``parent`` whose owner process is dead.

    Temporaries of another host are taken as stale too: they are only looked at
    while holding the lock, which no live run into the same output can hold.
    """
    pat = _temp_pattern(name)
    out = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return []
    for entry in entries:
        m = pat.match(entry.name)
        if m is None:
            continue
        if m["host"] == _host() and _alive(int(m["pid"])):
            continue
        out.append((m["kind"], Path(entry.path)))
    return out


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_tree(root: Path) -> None:
    """Flush every file and folder under ``root`` to disk (the contents precede the rename)."""
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            fd = os.open(os.path.join(dirpath, f), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether ``a`` and ``b`` are the same existing file (same device and inode: links included)."""
    try:
        sa, sb = os.stat(a), os.stat(b)
    except (OSError, ValueError):
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


# ---- lock -------------------------------------------------------------------
class OutputLock:
    """Exclusive lock on an output path: ``flock`` on the sibling file ``.<name>.dsb-lock``.

    The lock file holds the owner's pid, host and start time; a second
    :meth:`acquire` (another process) raises :class:`PublishError` naming the
    owner. :meth:`release` removes the file; a lock file left by a killed run
    is simply taken over (the kernel drops a dead process's ``flock``).
    """

    def __init__(self, target: Path, what: str) -> None:
        self.target = target
        self.what = what
        self.path = target.parent / f".{target.name}.dsb-lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`PublishError` at once (never waits)."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    os.close(fd)
                    raise
                owner = os.read(fd, 1000).decode("utf-8", "replace").strip() or "unknown owner"
                os.close(fd)
                raise PublishError(
                    f"{self.what} {display(self.target)!r} is in use by another dsb-verify run "
                    f"({' '.join(owner.split())}); wait for it to finish or choose another output"
                ) from None
            # the file may have been removed (and recreated) by its previous owner's release
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        info = f"pid {os.getpid()} on {socket.gethostname()}, started {started}\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Remove the lock file and drop the lock."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)  # closing drops the flock
        self._fd = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
