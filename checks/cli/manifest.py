"""What an earlier ``dsb-verify effective`` published into the same place, to remove what it no longer writes.

Beside every file of a published set (:class:`dsb_verifier.checks.cli.publish.FileSet`)
a small hidden manifest ``.<name>.dsb-set`` lists the whole set, each file with
its identity (device, inode, size, modification time) right after publishing. The next
set that includes any of these files reads the manifests and removes, together with
publishing its own files, those of the earlier set that it does not write — but only
the ones still identical to what was published (a file changed, replaced or moved by
the user since is left alone): ``effective m.h5 --out s.csv`` then
``effective m.h5 --all-checkpoints --out s.csv`` no longer leaves the first run's
``s_norms.csv`` beside the new ``s.csv`` and ``s.png``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from dsb_verifier.checks.cli.locks import _temp_name, same_file

__all__ = ["earlier_outputs", "forget", "manifest_path", "record"]


def manifest_path(target: Path) -> Path:
    """The manifest beside ``target``."""
    return target.parent / f".{target.name}.dsb-set"


def _identity(path: Path) -> list[int] | None:
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]


def earlier_outputs(targets: Sequence[Path], inputs: Iterable[Path] = ()) -> list[Path]:
    """Files an earlier set that shared a member with ``targets`` published, not among ``targets``.

    Only files still identical to what was published are returned (never an input,
    never a file the user changed since); unreadable manifests are ignored.
    """
    ours = set(targets)
    found: dict[Path, list[int]] = {}
    for t in targets:
        try:
            doc = json.loads(manifest_path(t).read_text(encoding="utf-8", errors="surrogateescape"))
            entries = [(Path(e["path"]), list(e["id"])) for e in doc["files"]]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        for path, ident in entries:
            if path not in ours and path.is_absolute():
                found.setdefault(path, ident)
    inputs = list(inputs)
    return sorted(
        p for p, ident in found.items() if _identity(p) == ident and not any(same_file(p, i) for i in inputs)
    )


def record(targets: Sequence[Path]) -> None:
    """Write the manifest of the set ``targets`` beside each of them (each one replaced atomically)."""
    doc = {"files": [{"path": os.fsdecode(t), "id": _identity(t)} for t in targets]}
    text = json.dumps(doc).encode("utf-8", "surrogateescape")
    for t in targets:
        tmp = t.parent / _temp_name(t.name, "tmp")  # removed by the next run into t if left
        try:
            with open(tmp, "xb") as fh:
                fh.write(text)
            os.replace(tmp, manifest_path(t))
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()


def forget(paths: Iterable[Path]) -> None:
    """Remove the manifests of ``paths`` (files removed from their set)."""
    for p in paths:
        with contextlib.suppress(OSError):
            manifest_path(p).unlink()
