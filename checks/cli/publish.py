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
(``report.json``, ``report.md``, ``figures/`` holding only files named like its
figures, ``c4_hessian_spectra.png``); anything else (``my_plot.pdf`` in
``figures/`` too) is refused rather than deleted. A mount point (a Docker volume, say) cannot be renamed, so it is
refused as ``DIR`` before anything runs, with a suggestion of a folder inside
it (swapping its contents one entry at a time would lose the all-or-nothing
guarantee).

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
A set opened with ``replace_earlier`` (``dsb-verify effective``) also removes, as
members of the same journalled swap, the files an earlier set published beside
its own and that it no longer writes, if they are unchanged since
(:mod:`dsb_verifier.checks.cli.manifest`); a file it did not write is never removed.

Every failure raises :class:`PublishError` (a ``ValueError``) with a one-line
message naming the path; the CLI prints it and exits with code 2.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dsb_verifier.checks.cli import manifest
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
    "FileSet",
    "display",
    "file_destination",
    "publish_directory",
    "publish_files",
    "same_file",
]

#: Names a figure of a report has (``c4_hessian_spectra.png``): a claim id, ``_``, a name, a
#: figure suffix. Any other file in ``figures/`` (``my_plot.pdf``) is the user's, not ours.
_FIGURE_NAME = re.compile(r"^c[0-9]+_[A-Za-z0-9_-]+\.(?:png|svg|pdf)$")

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
                if not f.is_file(follow_symlinks=False) or not _FIGURE_NAME.match(f.name):
                    raise PublishError(
                        f"cannot write to output directory {shown!r}: figures/{display(f.name)} is not a "
                        "figure file of a dsb-verify report (the folder is replaced as a whole); move it or "
                        "give a new or empty directory"
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
        it must hold only a dsb-verify report, which is replaced as a whole; a
        mount point (which no rename can replace) is refused.

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
    if os.path.ismount(target):  # e.g. a Docker volume: renaming it fails ("Device or resource busy")
        raise PublishError(
            f"cannot write to output directory {shown!r}: it is a mount point, which cannot be replaced "
            f"as a whole; give a folder inside it, e.g. {display(Path(out) / 'report')!r}"
        )
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
    tmp: Path | None  # None: an earlier output to remove (renamed to its backup at the commit)
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


_KINDS_OF_FILE = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_destination(path: str | os.PathLike[str]) -> Path:
    """The file an output ``path`` will replace: a symbolic link is followed to its target.

    ``dsb-verify run --out`` follows symbolic links too. Checked before anything is
    computed; nothing is created here.

    Parameters
    ----------
    path
        The output path as given.

    Returns
    -------
    Path
        The absolute path, symbolic links resolved, of the regular file to write.

    Raises
    ------
    PublishError
        If ``path`` exists and is not a regular file (a directory, a FIFO, a device,
        a socket) nor a symbolic link to one, or is a symbolic link to nothing.
    """
    shown = display(path)
    if os.path.lexists(path):
        try:
            st = os.stat(path)
        except OSError as exc:
            raise PublishError(
                f"cannot write to output file {shown!r}: it is a symbolic link to nothing usable "
                f"({exc.strerror or exc}); expected a regular file or a new path"
            ) from None
        if not stat.S_ISREG(st.st_mode):
            kind = next((k for test, k in _KINDS_OF_FILE if test(st.st_mode)), "not a regular file")
            raise PublishError(
                f"cannot write to output file {shown!r}: it exists and is {kind}, expected a regular "
                "file or a new path"
            )
    return Path(os.path.realpath(path))


class FileSet:
    """Output files locked for a whole command and published together at its end.

    ``with FileSet(paths, inputs=...) as files:`` checks every destination
    (:func:`file_destination`, outputs that are inputs or each other) and takes
    every lock when the block starts, so that a second run into any of these files
    is refused at once, before either computes; :meth:`publish` writes and
    publishes the set (see the module docstring); the locks are released when the
    block ends, whatever happens. With ``replace_earlier``, files an earlier such
    set published beside these (:mod:`dsb_verifier.checks.cli.manifest`) and that
    this set does not write are removed with the publication, if unchanged since.

    Parameters
    ----------
    paths
        The output paths, as given (shown in messages).
    inputs
        Files the run reads; an output that is one of them (same file, through
        symbolic or hard links too) is refused.
    replace_earlier
        Keep a manifest of the set beside its files, and remove the files of an
        earlier set (recorded so) that this one does not write.

    Raises
    ------
    PublishError
        An output that is an input, two outputs that are the same file, a
        destination that is not a regular file, or one in use by another run.
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        inputs: Sequence[Path] = (),
        replace_earlier: bool = False,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        for p in self.paths:
            for i in inputs:
                if same_file(p, i) or Path(os.path.realpath(p)) == Path(os.path.realpath(i)):
                    raise PublishError(
                        f"{display(p)}: is the input file {display(i)}; choose another output path"
                    )
        self.targets = [file_destination(p) for p in self.paths]
        self.inputs = list(inputs)
        self.replace_earlier = replace_earlier
        self._earlier: list[Path] = []
        self._entered = False
        seen: dict[Path, Path] = {}
        for p, t in zip(self.paths, self.targets, strict=True):
            for q, u in seen.items():
                if t == u or same_file(t, u):
                    raise PublishError(f"{display(p)}: is the same file as the output {display(q)}")
            seen[p] = t
        self._taken: list[OutputLock] = []

    def __enter__(self) -> FileSet:
        try:
            for t in sorted(set(self.targets)):
                lock = OutputLock(t, "output file")
                lock.acquire()
                self._taken.append(lock)
            _recover_files(self.targets)
            earlier = manifest.earlier_outputs(self.targets, self.inputs) if self.replace_earlier else []
            for p in earlier:
                lock = OutputLock(p, "output file")
                try:
                    lock.acquire()
                except PublishError:  # in use by another run: not ours to remove now
                    continue
                self._taken.append(lock)
                self._earlier.append(p)
            self._entered = True
        except BaseException as exc:
            self.release()
            if isinstance(exc, OSError):
                raise _oserror("output file", Path(exc.filename or self.targets[0]), exc) from None
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        """Drop every lock taken (also called when the block ends)."""
        for lock in reversed(self._taken):
            lock.release()
        self._taken = []
        self._entered = False

    def publish(self, outputs: Sequence[tuple[str | os.PathLike[str], Callable[[BinaryIO], object]]]) -> None:
        """Write every ``(path, writer)`` and publish them together; the paths are those of the set.

        Raises
        ------
        PublishError
            An output that cannot be written (the earlier files are then unchanged
            and nothing new is left behind).
        ValueError
            If the paths are not exactly those the set was opened with.
        """
        index = {p: t for p, t in zip(self.paths, self.targets, strict=True)}
        if sorted(map(str, (Path(p) for p, _ in outputs))) != sorted(map(str, self.paths)):
            raise ValueError(f"publish: outputs {[str(p) for p, _ in outputs]} are not the set {self.paths}")
        if not self._entered:
            raise ValueError("publish: the file set is not locked (use it as a context manager)")
        if not self.replace_earlier:
            _publish_locked([(index[Path(p)], w) for p, w in outputs])
            return
        still = set(manifest.earlier_outputs(self.targets, self.inputs))
        remove = [p for p in self._earlier if p in still]
        _publish_locked([(index[Path(p)], w) for p, w in outputs], remove=remove)
        manifest.record(self.targets)
        manifest.forget(remove)


def publish_files(
    outputs: Sequence[tuple[Path, Callable[[BinaryIO], object]]],
    *,
    inputs: Sequence[Path] = (),
) -> None:
    """Write every ``(path, writer)`` and publish them together (see the module docstring).

    One call of :class:`FileSet`: the locks are taken here, for the writing only; a
    command that computes first should open a :class:`FileSet` before computing.

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
        that exists and is not a regular file (nor a symbolic link to one), an output
        in use by another run, or an output that cannot be written (the earlier
        files are then unchanged and nothing new is left behind).
    """
    with FileSet([p for p, _ in outputs], inputs=inputs) as files:
        files.publish(outputs)


def _publish_locked(
    outputs: Sequence[tuple[Path, Callable[[BinaryIO], object]]], remove: Sequence[Path] = ()
) -> None:
    """Write and publish resolved ``outputs``, removing ``remove``, all locked by this process."""
    targets = [t for t, _ in outputs] + list(remove)
    members: list[_Member] = []
    journals: list[Path] = []
    try:
        try:
            for t, writer in outputs:
                tmp = t.parent / _temp_name(t.name, "tmp")
                members.append(_Member(t, tmp, None, None))
                _write_new_file(tmp, writer)
            members += [_Member(r, None, None, None) for r in remove]
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
                    if m.tmp is not None:
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
            if m.tmp is not None:
                _remove(m.tmp)
            if m.absent is not None:
                _remove(m.absent)
        for j in journals:
            _remove(j)
        raise


def _rollback(members: list[_Member]) -> None:
    """Undo the renames of an interrupted commit (this process is alive: no journal needed)."""
    for m in members:
        if m.backup is not None and os.path.lexists(m.backup):
            os.replace(m.backup, m.target)
        elif m.absent is not None and m.tmp is not None and not os.path.lexists(m.tmp):
            with contextlib.suppress(FileNotFoundError):
                m.target.unlink()
