"""Check what the wheel and the sdist carry: usage ``python .ci/check_dist.py WHEEL SDIST``.

* The wheel: every module of ``theory/`` and ``checks/`` under ``dsb_verifier/``, the cited
  documents ``docs/theory.md`` and ``docs/api.md`` under ``dsb_verifier/docs/``, nothing
  at the top level but ``dsb_verifier/`` and its dist-info, the LICENSE, the
  ``dsb-verify`` entry point, and no ``hypothesis`` among the runtime requirements.
* The sdist: every tracked file of ``theory/``, ``checks/``, ``tests/`` (with
  ``conftest.py`` and ``bad_inputs/``), ``docs/``, ``notebooks/`` and ``benchmarks/``,
  and the LICENSE, README, pyproject.toml.

Prints one line per problem and exits 1 if there is any, else prints a summary and exits 0.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SDIST_TREES = ("theory", "checks", "tests", "docs", "notebooks", "benchmarks")
SDIST_FILES = (
    "LICENSE",
    "README.md",
    "pyproject.toml",
    "tests/conftest.py",
    "tests/bad_inputs/__init__.py",
    ".ci/check_dist.py",
)
SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints", ".hypothesis", ".pytest_cache"}


def tracked(tree: str) -> list[str]:
    """Files of ``tree`` (relative to the repository root): git's list when git knows it, else on disk."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--", tree], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        out = []
    if not out:
        out = [
            p.relative_to(ROOT).as_posix()
            for p in (ROOT / tree).rglob("*")
            if p.is_file() and not SKIP_PARTS & set(p.parts) and p.suffix not in {".pyc", ".pyo"}
        ]
    return sorted(out)


def wheel_problems(wheel: Path) -> list[str]:
    names = set(zipfile.ZipFile(wheel).namelist())
    problems = []
    for tree in ("theory", "checks"):
        for rel in tracked(tree):
            if rel.endswith(".py") and f"dsb_verifier/{rel}" not in names:
                problems.append(f"wheel lacks dsb_verifier/{rel}")
    tops = {n.split("/")[0] for n in names}
    extra = sorted(t for t in tops if t != "dsb_verifier" and not t.endswith(".dist-info"))
    if extra:
        problems.append(f"wheel has other top-level names: {', '.join(extra)}")
    for doc in ("theory.md", "api.md"):  # cited by docstrings and `dsb-verify explain`
        if f"dsb_verifier/docs/{doc}" not in names:
            problems.append(f"wheel lacks dsb_verifier/docs/{doc}")
    info = next((t for t in tops if t.endswith(".dist-info")), None)
    if info is None:
        return [*problems, "wheel has no .dist-info"]
    if f"{info}/licenses/LICENSE" not in names:
        problems.append("wheel lacks its LICENSE")
    zf = zipfile.ZipFile(wheel)
    if (
        "dsb-verify = dsb_verifier.checks.cli.main:console_main"
        not in zf.read(f"{info}/entry_points.txt").decode()
    ):
        problems.append("wheel lacks the dsb-verify entry point")
    meta = zf.read(f"{info}/METADATA").decode()
    runtime = [
        line for line in meta.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]
    if any("hypothesis" in line for line in runtime):
        problems.append("hypothesis is a runtime requirement of the wheel")
    if not any(line.startswith("Requires-Dist: mpmath") for line in runtime):
        problems.append("mpmath is not a runtime requirement of the wheel")
    return problems


def sdist_problems(sdist: Path) -> list[str]:
    with tarfile.open(sdist) as tar:
        members = {"/".join(m.name.split("/")[1:]) for m in tar.getmembers() if m.isfile()}
    wanted = set(SDIST_FILES)
    for tree in SDIST_TREES:
        wanted.update(tracked(tree))
    return [f"sdist lacks {rel}" for rel in sorted(wanted - members)]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python .ci/check_dist.py WHEEL SDIST", file=sys.stderr)
        return 2
    wheel, sdist = map(Path, argv)
    problems = wheel_problems(wheel) + sdist_problems(sdist)
    for p in problems:
        print(f"check_dist: {p}", file=sys.stderr)
    if not problems:
        print(f"check_dist: {wheel.name} and {sdist.name} carry what they should")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
