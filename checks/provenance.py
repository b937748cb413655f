"""What code produced a report: the package version, a hash of its source, and the git state.

A report is cited by its version and replayed by its seed, so its provenance
must not claim more than it knows:

* :func:`source_digest` — SHA-256 of the package's own source files (every
  ``*.py`` under ``dsb_verifier.theory`` and ``dsb_verifier.checks``, by
  relative path and content). The same source gives the same digest however it
  is installed (wheel, sdist, editable); computed once per process.
* :func:`git_state` — the commit, and whether files under ``theory/`` or ``checks/``
  differ from it or are untracked and not ignored (``dirty``), **only** when the package is imported
  from a git checkout of this project: the checkout's root holds a
  ``pyproject.toml`` naming ``dsb-verifier``, the imported ``theory/`` and
  ``checks/`` folders are that root's, and their files are tracked there.
  A wheel installed in a virtual environment inside a user's own repository is
  not such a checkout and records no commit.
"""

from __future__ import annotations

import functools
import hashlib
import subprocess
import tomllib
from pathlib import Path
from typing import Any

from dsb_verifier import checks as _checks_pkg
from dsb_verifier import theory as _theory_pkg
from dsb_verifier.theory import __version__

__all__ = ["PROJECT_NAME", "git_state", "package_dirs", "package_identity", "source_digest"]

#: The distribution name a checkout's pyproject.toml must carry to count as this project.
PROJECT_NAME = "dsb-verifier"


def package_dirs() -> dict[str, Path]:
    """The folders ``dsb_verifier.theory`` and ``dsb_verifier.checks`` are imported from."""
    return {
        "theory": Path(str(_theory_pkg.__file__)).resolve().parent,
        "checks": Path(str(_checks_pkg.__file__)).resolve().parent,
    }


@functools.cache
def source_digest() -> str:
    """SHA-256 (hex) of the package's ``*.py`` source files, by relative path and bytes.

    Cached: computed once per process (a worker of an executor computes it on
    its first task).
    """
    h = hashlib.sha256()
    for name, folder in sorted(package_dirs().items()):
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).as_posix()
            if "__pycache__" in rel.split("/"):
                continue
            data = path.read_bytes()
            h.update(f"{name}/{rel}\0{len(data)}\0".encode())
            h.update(data)
    return h.hexdigest()


def package_identity() -> tuple[str, str]:
    """``(version, source digest)`` of the package imported by this process."""
    return __version__, source_digest()


def _git(cwd: Path, *args: str) -> str | None:
    """Stdout of ``git args`` in ``cwd`` (stripped), or None when git fails or is absent."""
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, check=False, timeout=10, cwd=cwd)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _is_this_project(root: Path) -> bool:
    try:
        with open(root / "pyproject.toml", "rb") as fh:
            name = tomllib.load(fh).get("project", {}).get("name")
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return name == PROJECT_NAME


def git_state(dirs: dict[str, Path] | None = None) -> dict[str, Any] | None:
    """``{"commit": sha, "dirty": bool}`` of the checkout the package is imported from, or None.

    None unless the folders ``dirs`` (default :func:`package_dirs`) are the
    ``theory/`` and ``checks/`` folders at the root of a git checkout of this
    project (its ``pyproject.toml`` names ``dsb-verifier``) whose
    ``__init__.py`` files are tracked. ``dirty`` is True when a tracked file under
    ``theory/`` or ``checks/`` differs from the commit (staged or not), or when an
    untracked file that git does not ignore lies there (it can be imported, and it
    changes ``source_sha256``).
    """
    dirs = package_dirs() if dirs is None else dirs
    top = _git(dirs["theory"], "rev-parse", "--show-toplevel")
    if not top:
        return None
    root = Path(top).resolve()
    if dirs["theory"] != root / "theory" or dirs["checks"] != root / "checks":
        return None
    if not _is_this_project(root):
        return None
    wanted = {"theory/__init__.py", "checks/__init__.py"}
    tracked = _git(root, "ls-files", "--", *sorted(wanted))
    if tracked is None or set(tracked.splitlines()) != wanted:
        return None
    commit = _git(root, "rev-parse", "--verify", "HEAD")
    if not commit or len(commit) != 40:
        return None
    status = _git(root, "status", "--porcelain", "--untracked-files=all", "--", "theory", "checks")
    return {"commit": commit, "dirty": None if status is None else bool(status)}
