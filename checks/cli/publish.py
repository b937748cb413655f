"""Publish a run's outputs as one unit: all the new ones or all the old ones, never a mix.

``dsb-verify run --out DIR`` and ``dsb-verify effective --out FILE [--figure PNG]``
write several files that only make sense together (``report.json`` describes the
figures beside it; a norms table belongs to its couplings table). A run can be
interrupted at any instant (Ctrl-C, ``kill -9``, a crash, a full disk), and two
runs can be pointed at the same place. This module guarantees, for every output:

* **all or nothing** — after any interruption the destination holds either the
  complete previous outputs or the complete new ones, never a mix, never a
  truncated file, and no figure of an earlier run beside a newer report;
* **no litter** — temporary files and folders are hidden siblings named
  ``.<name>.dsb-verify-<kind>-<host>-<pid>-<random>``; a run removes its own on
  any error it survives, and the next run into the same place removes (or, for a
  half-done swap, restores) those of runs whose process is dead;
* **one run at a time** — an exclusive :func:`fcntl.flock` on the sibling lock file
  ``.<name>.dsb-lock`` (holding the owner's pid, host and start time) for the whole
  run; a second run into the same place is refused at once, naming the first;
* **ordinary permissions** — files and folders are created with mode ``0o666`` /
  ``0o777`` minus the umask, as any other program's.

Design of the directory swap (:func:`publish_directory`)
--------------------------------------------------------
``--out`` stays a real directory (no symlink to a versioned folder: a symlink
changes what users, ``rsync`` and archives see, and not every filesystem has
them). The new report is written into a fresh sibling staging folder; when it is
complete and flushed (``fsync``) the swap is two renames in the same parent
directory, each atomic (POSIX ``rename``)::

    DIR          -> .DIR.dsb-verify-old-...     (only if DIR exists)
    staging      -> DIR
    then remove .DIR.dsb-verify-old-...

A crash between the two renames leaves no ``DIR`` but a complete backup: the
next run (holding the lock) renames the backup back to ``DIR`` (the previous
report, complete) before anything else. A crash after the second rename leaves
the new ``DIR`` and a backup, which the next run deletes. An error or Ctrl-C
inside the swap is undone on the spot. Because the folder is replaced as a
whole, an existing ``DIR`` must hold nothing but a dsb-verify report
(``report.json``, ``report.md``, ``figures/``); anything else is refused rather
than deleted.

Design of the file-set swap (:func:`publish_files`)
---------------------------------------------------
Files may lie in different directories (``--figure`` elsewhere), so no single
rename can publish them. Each new file is written to a hidden temporary beside
its destination and flushed. Then a *journal* (one copy beside every
destination, listing the whole set) is written; each destination that exists is
renamed to a backup, and an *absent* marker records each one that did not;
the temporaries are renamed into place; the journals are deleted (the commit
point); the backups and markers are deleted. The next run into any of these
files finds a stale journal only if the commit point was not reached and then
rolls the whole set back (restores the backups, removes files marked absent);
without a journal it only removes stale temporaries, backups and markers.

Every failure raises :class:`PublishError` (a ``ValueError``) with a one-line
message naming the path; the CLI prints it and exits with code 2.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dsb_verifier.checks.cli.interrupts import raise_if_interrupted
from dsb_verifier.checks.cli.locks import (
    OutputLock,
    PublishError,
    _fsync_dir,
    _fsync_tree,
    _remove,
    _stale_temps,
    _temp_name,
    display,
    same_file,
)

__all__ = [
    "REPORT_ENTRIES",
    "OutputLock",
    "PublishError",
    "display",
    "publish_directory",
    "publish_files",
    "same_file",
]

#: Names a figure of a report may have (a file of another kind in ``figures/`` is not ours).
_FIGURE_SUFFIXES = (".png", ".svg", ".pdf")

#: What a report folder may contain (``figures`` is a folder of figure files).
REPORT_ENTRIES = frozenset({"report.json", "report.md", "figures", ".DS_Store"})


def _oserror(what: str, path: Path, exc: OSError) -> PublishError:
    where = f" ({display(exc.filename)})" if exc.filename and str(exc.filename) != str(path) else ""
    return PublishError(f"cannot write to {what} {display(path)!r}: {exc.strerror or exc}{where}")


# ---- a directory (dsb-verify run) ---------------------------------------------
def _make_parents(parent: Path) -> list[Path]:
    """Create ``parent`` and its missing ancestors; return those created, deepest first."""
    created: list[Path] = []
    p = parent
    while not p.exists() and p.parent != p:
        created.append(p)
        p = p.parent
    parent.mkdir(parents=True, exist_ok=True)
    return created


def _remove_created(created: list[Path]) -> None:
    for d in created:  # deepest first: only what we made, only if still empty
        with contextlib.suppress(OSError):
            d.rmdir()


def _check_report_folder(out: Path, shown: str) -> None:
    """Refuse to replace anything but a dsb-verify report folder."""
    if not out.exists():
        return
    if not out.is_dir():
        raise PublishError(f"cannot write to output directory {shown!r}: it exists and is not a directory")
    for entry in sorted(os.scandir(out), key=lambda e: e.name):
        name = display(entry.name)
        if entry.name not in REPORT_ENTRIES:
            raise PublishError(
                f"cannot write to output directory {shown!r}: it holds {name!r}, which is not part of a "
                "dsb-verify report (the folder is replaced as a whole); give a new or empty directory"
            )
        is_dir = entry.is_dir(follow_symlinks=False)
        if (entry.name == "figures") != is_dir and entry.name != ".DS_Store":
            kind = "a directory" if is_dir else "a file"
            raise PublishError(f"cannot write to output directory {shown!r}: {name} exists there as {kind}")
        if entry.name == "figures":
            for f in os.scandir(entry.path):
                if not f.is_file(follow_symlinks=False) or not f.name.endswith(_FIGURE_SUFFIXES):
                    raise PublishError(
                        f"cannot write to output directory {shown!r}: figures/{display(f.name)} is not a "
                        "figure file (the folder is replaced as a whole); give a new or empty directory"
                    )


def _recover_directory(parent: Path, name: str) -> None:
    """Undo or finish what dead runs into ``parent/name`` left (called holding the lock)."""
    target = parent / name
    backups = []
    for kind, path in _stale_temps(parent, name):
        if kind == "old":
            backups.append(path)
        else:
            _remove(path)
    if backups and not os.path.lexists(target):
        # killed between "DIR -> backup" and "staging -> DIR": the backup is the complete old report
        keep = max(backups, key=lambda p: p.stat().st_mtime)
        os.rename(keep, target)
        backups.remove(keep)
        _fsync_dir(parent)
    for b in backups:
        _remove(b)


def _swap_directory(staging: Path, target: Path) -> None:
    parent = target.parent
    if not os.path.lexists(target):
        os.rename(staging, target)
        _fsync_dir(parent)
        return
    backup = parent / _temp_name(target.name, "old")
    os.rename(target, backup)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(backup, target)  # undo: the old report stays
        raise
    _fsync_dir(parent)
    _remove(backup)


@contextlib.contextmanager
def publish_directory(out: str | os.PathLike[str]) -> Iterator[Path]:
    """Lock ``out``, yield an empty staging folder, and publish it as ``out`` if the block succeeds.

    Parameters
    ----------
    out
        The output folder; created (with its parents) if missing. If it exists
        it must hold only a dsb-verify report, which is replaced as a whole.

    Yields
    ------
    Path
        A fresh empty sibling folder of ``out``; write every output there.

    Raises
    ------
    PublishError
        If ``out`` is in use by another run, is not a report folder, or cannot be
        written (including a full disk while publishing). If the block raises,
        the staging folder and any parent folder created here are removed, ``out``
        is unchanged and the exception propagates.
    """
    if not isinstance(out, str | os.PathLike) or not isinstance(os.fspath(out), str):
        raise PublishError(f"out must be a path (str or os.PathLike), got {type(out).__name__}")
    shown = display(out)
    target = Path(os.path.abspath(Path(out).expanduser().resolve()))
    if target.parent == target:
        raise PublishError(f"cannot write to output directory {shown!r}: it is a filesystem root")
    try:
        created = _make_parents(target.parent)
    except OSError as exc:
        raise PublishError(f"cannot write to output directory {shown!r}: {exc.strerror or exc}") from None
    lock = OutputLock(target, "output directory")
    staging: Path | None = None
    try:
        try:
            lock.acquire()
            _recover_directory(target.parent, target.name)
            _check_report_folder(target, shown)
            staging = target.parent / _temp_name(target.name, "staging")
            staging.mkdir()
            if target.is_dir():  # the folder keeps the permissions its owner gave it
                os.chmod(staging, stat.S_IMODE(target.stat().st_mode))
        except OSError as exc:
            raise PublishError(f"cannot write to output directory {shown!r}: {exc.strerror or exc}") from None
        yield staging
        raise_if_interrupted()  # a Ctrl-C swallowed inside the block: publish nothing
        try:
            _fsync_tree(staging)
            _swap_directory(staging, target)
        except OSError as exc:
            raise _oserror("output directory", Path(shown), exc) from None
        staging = None
    except BaseException:
        if staging is not None:
            _remove(staging)
        lock.release()
        if not target.exists():
            _remove_created(created)
        raise
    finally:
        lock.release()


# ---- a set of files (dsb-verify effective) -------------------------------------
@dataclass(frozen=True)
class _Member:
    target: Path
    tmp: Path
    backup: Path | None
    absent: Path | None


def _write_new_file(path: Path, writer: Callable[[BinaryIO], object]) -> None:
    """Create ``path`` (exclusively, mode 0o666 minus umask), fill it by ``writer`` and flush it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    with os.fdopen(fd, "wb") as fh:
        writer(fh)
        fh.flush()
        os.fsync(fh.fileno())


def _recover_files(targets: Sequence[Path]) -> None:
    """Roll back half-published sets (stale journal) and remove stale temporaries (holding the locks).

    A stale journal lists the whole set of a dead run; the locks of the members
    that are not among ``targets`` are taken too (a member in use by a live run
    postpones that roll-back), and released afterwards, which also removes the
    lock files the dead run left.
    """
    ours = {Path(t) for t in targets}
    for t in targets:
        for kind, path in _stale_temps(t.parent, t.name):
            if kind != "journal" or not path.exists():
                continue
            try:
                members = json.loads(path.read_text(encoding="utf-8", errors="surrogateescape"))
            except (OSError, ValueError):
                members = []
            others = sorted({Path(m["target"]) for m in members} - ours)
            extra: list[OutputLock] = []
            try:
                for o in others:
                    lock = OutputLock(o, "output file")
                    lock.acquire()
                    extra.append(lock)
            except (PublishError, OSError):
                for lock in extra:
                    lock.release()
                continue
            try:
                for m in members:  # the commit point was not reached: restore the old set
                    tgt = Path(m["target"])
                    if m.get("backup") and os.path.lexists(m["backup"]):
                        os.replace(m["backup"], tgt)
                    elif m.get("absent") and os.path.lexists(m["absent"]):
                        with contextlib.suppress(FileNotFoundError):
                            tgt.unlink()
                for m in members:
                    for j in m.get("journals", []):
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(j)
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                for o in others:
                    for _kind, stale in _stale_temps(o.parent, o.name):
                        _remove(stale)
            finally:
                for lock in extra:
                    lock.release()
    for t in targets:
        for _kind, path in _stale_temps(t.parent, t.name):
            _remove(path)


def publish_files(
    outputs: Sequence[tuple[Path, Callable[[BinaryIO], object]]],
    *,
    inputs: Sequence[Path] = (),
) -> None:
    """Write every ``(path, writer)`` and publish them together (see the module docstring).

    Parameters
    ----------
    outputs
        Destination paths and the functions that write their bytes to a binary file.
    inputs
        Files the run reads; an output that is one of them (same file, through
        symbolic or hard links too) is refused before anything is written.

    Raises
    ------
    PublishError
        An output that is an input, two outputs that are the same file, an output
        in use by another run, or an output that cannot be written (the earlier
        files are then unchanged and nothing new is left behind).
    """
    targets = [Path(os.path.abspath(p)) for p, _ in outputs]
    for p, t in zip((p for p, _ in outputs), targets, strict=True):
        for i in inputs:
            if same_file(t, i) or t == Path(os.path.abspath(i)):
                raise PublishError(
                    f"{display(p)}: is the input file {display(i)}; choose another output path"
                )
    seen: dict[Path, Path] = {}
    for p, t in zip((p for p, _ in outputs), targets, strict=True):
        for q, u in seen.items():
            if t == u or same_file(t, u):
                raise PublishError(f"{display(p)}: is the same file as the output {display(q)}")
        seen[p] = t
    locks = [OutputLock(t, "output file") for t in sorted(set(targets))]
    members: list[_Member] = []
    journals: list[Path] = []
    taken: list[OutputLock] = []
    try:
        try:
            for lock in locks:
                lock.acquire()
                taken.append(lock)
            _recover_files(targets)
            for (_, writer), t in zip(outputs, targets, strict=True):
                tmp = t.parent / _temp_name(t.name, "tmp")
                members.append(_Member(t, tmp, None, None))
                _write_new_file(tmp, writer)
            # journal: the whole set, beside every destination, before the first rename
            members = [
                _Member(
                    m.target,
                    m.tmp,
                    m.target.parent / _temp_name(m.target.name, "old") if os.path.lexists(m.target) else None,
                    None
                    if os.path.lexists(m.target)
                    else m.target.parent / _temp_name(m.target.name, "absent"),
                )
                for m in members
            ]
            journals = [m.target.parent / _temp_name(m.target.name, "journal") for m in members]
            doc = [
                {
                    "target": os.fsdecode(m.target),
                    "backup": m.backup and os.fsdecode(m.backup),
                    "absent": m.absent and os.fsdecode(m.absent),
                    "journals": [os.fsdecode(j) for j in journals],
                }
                for m in members
            ]
            text = json.dumps(doc).encode("utf-8", "surrogateescape")
            for m in members:
                if m.absent is not None:
                    _write_new_file(m.absent, lambda fh: None)
            for j in journals:
                _write_new_file(j, lambda fh: fh.write(text))
            for d in {t.parent for t in targets}:
                _fsync_dir(d)
            raise_if_interrupted()  # a Ctrl-C swallowed while writing: publish nothing
            try:
                for m in members:
                    if m.backup is not None:
                        os.rename(m.target, m.backup)
                    os.rename(m.tmp, m.target)
            except BaseException:
                _rollback(members)
                raise
            for d in {t.parent for t in targets}:
                _fsync_dir(d)
            for j in journals:  # the commit point
                j.unlink()
            journals = []
            for m in members:
                for extra in (m.backup, m.absent):
                    if extra is not None:
                        _remove(extra)
        except OSError as exc:
            raise _oserror("output file", Path(exc.filename or targets[0]), exc) from None
    except BaseException:
        for m in members:
            _remove(m.tmp)
            if m.absent is not None:
                _remove(m.absent)
        for j in journals:
            _remove(j)
        raise
    finally:
        for lock in reversed(taken):
            lock.release()


def _rollback(members: list[_Member]) -> None:
    """Undo the renames of an interrupted commit (this process is alive: no journal needed)."""
    for m in members:
        if m.backup is not None and os.path.lexists(m.backup):
            os.replace(m.backup, m.target)
        elif m.absent is not None and not os.path.lexists(m.tmp):
            with contextlib.suppress(FileNotFoundError):
                m.target.unlink()
