"""Honest provenance: the commit only from a checkout of this project, one code version per report.

* git_state records a commit (and ``dirty``) only when theory/ and checks/ are the
  tracked folders at the root of a git checkout whose pyproject names dsb-verifier;
  never the user's repository around an installed copy.
* An executor's tasks report their worker's version and source digest; other code is
  refused (WorkerMismatchError, a ValueError; one line from the CLI). The pre-flight
  turns a worker that cannot import the package, or never answers, into a bounded error.
* A local pool is capped at the number of tasks and of cores, and the CLI says so once.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from dsb_verifier.checks import executors, runner
from dsb_verifier.checks.executors import (
    ExecutorPreflightError,
    IdentityCheckedExecutor,
    WorkerMismatchError,
    _identified_call,
    capped_workers,
    preflight,
)
from dsb_verifier.checks.profiles import get_profile
from dsb_verifier.checks.provenance import git_state, package_dirs, package_identity, source_digest
from dsb_verifier.theory import __version__

GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")


def _git(cwd: Path, *args: str) -> str:
    env_args = ["-c", "user.email=t@example.org", "-c", "user.name=t", "-c", "commit.gpgsign=false"]
    out = subprocess.run(["git", *env_args, *args], cwd=cwd, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _repo(root: Path, name: str, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    _git(root, "init", "-q")
    (root / "pyproject.toml").write_text(f'[project]\nname = "{name}"\nversion = "1"\n')
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "init")
    return root


def _dirs(base: Path) -> dict[str, Path]:
    return {"theory": (base / "theory").resolve(), "checks": (base / "checks").resolve()}


PKG = {"theory/__init__.py": "x = 1\n", "checks/__init__.py": "y = 2\n"}


# ---- git state ------------------------------------------------------------------------------------
@needs_git
def test_a_checkout_of_this_project_records_its_commit_and_dirty_flag(tmp_path):
    root = _repo(tmp_path / "dsb", "dsb-verifier", PKG)
    head = _git(root, "rev-parse", "HEAD")
    assert git_state(_dirs(root)) == {"commit": head, "dirty": False}
    (root / "notes.txt").write_text("untracked, outside the package")
    assert git_state(_dirs(root)) == {"commit": head, "dirty": False}  # outside theory/, checks/
    (root / ".gitignore").write_text("__pycache__/\n")
    (root / "theory" / "__pycache__").mkdir()
    (root / "theory" / "__pycache__" / "x.pyc").write_bytes(b"ignored")
    assert git_state(_dirs(root)) == {"commit": head, "dirty": False}  # ignored files do not count
    (root / "theory" / "new.py").write_text("untracked\n")
    assert git_state(_dirs(root)) == {"commit": head, "dirty": True}  # importable, so part of the source
    (root / "theory" / "new.py").unlink()
    (root / "theory" / "__init__.py").write_text("x = 2\n")
    assert git_state(_dirs(root)) == {"commit": head, "dirty": True}
    _git(root, "add", "theory/__init__.py")  # staged counts too
    assert git_state(_dirs(root)) == {"commit": head, "dirty": True}


@needs_git
def test_an_installed_copy_inside_the_users_repository_records_no_commit(tmp_path):
    """A wheel in a venv inside the user's repo (even one tracked there) is not a checkout of this project."""
    site = ".venv/lib/python3.11/site-packages/dsb_verifier"
    user = _repo(tmp_path / "user", "my-analysis", {f"{site}/{k}": v for k, v in PKG.items()})
    assert git_state(_dirs(user / site)) is None
    fork = _repo(tmp_path / "fork", "dsb-verifier", {**PKG, **{f"{site}/{k}": v for k, v in PKG.items()}})
    assert git_state(_dirs(fork / site)) is None  # right project, but not imported from its theory/


@needs_git
def test_other_layouts_record_no_commit(tmp_path):
    other = _repo(tmp_path / "other", "not-dsb", PKG)  # same layout, another project
    assert git_state(_dirs(other)) is None
    untracked = _repo(tmp_path / "untracked", "dsb-verifier", {})
    for rel, text in PKG.items():
        (untracked / rel).parent.mkdir(parents=True, exist_ok=True)
        (untracked / rel).write_text(text)
    assert git_state(_dirs(untracked)) is None  # the package files are not tracked there
    plain = tmp_path / "plain"
    for rel, text in PKG.items():
        (plain / rel).parent.mkdir(parents=True, exist_ok=True)
        (plain / rel).write_text(text)
    assert git_state(_dirs(plain)) is None  # no git at all


def test_git_state_without_git(monkeypatch, tmp_path):
    def fails(*args, **kwargs):
        raise OSError("no git")

    monkeypatch.setattr("dsb_verifier.checks.provenance.subprocess.run", fails)
    assert git_state(_dirs(tmp_path)) is None


@needs_git
def test_this_import_reports_this_checkout_honestly():
    state = git_state()
    root = package_dirs()["theory"].parent
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=root, capture_output=True, text=True)
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != root:
        assert state is None
        return
    assert state is not None and state["commit"] == _git(root, "rev-parse", "HEAD")
    changed = _git(root, "status", "--porcelain", "--untracked-files=no", "--", "theory", "checks")
    assert state["dirty"] is bool(changed)


@pytest.mark.subprocess
@needs_git
def test_a_copy_imported_from_inside_another_repository(tmp_path):
    """The real import path: a copy of the package on PYTHONPATH inside the user's own git repo."""
    site = tmp_path / "user" / "venv" / "site-packages"
    for name, folder in package_dirs().items():
        shutil.copytree(folder, site / "dsb_verifier" / name, ignore=shutil.ignore_patterns("__pycache__"))
    _repo(tmp_path / "user", "my-analysis", {"analysis.py": "print('mine')\n"})
    code = (
        "import json; from dsb_verifier.checks import runner, provenance as p; "
        "from dsb_verifier.checks.profiles import get_profile; "
        "prov = runner.provenance(get_profile('quick'), 1, ['C1']); "
        "print(json.dumps([str(p.package_dirs()['theory']), prov['git_commit'], prov['git_dirty'], "
        "prov['source_sha256']]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path / "user",
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    where, commit, dirty, digest = json.loads(proc.stdout)
    assert Path(where) == (site / "dsb_verifier" / "theory").resolve()
    assert commit is None and dirty is None
    assert digest == source_digest()  # the same source, however installed


# ---- source digest -----------------------------------------------------------------------------
def test_source_digest_is_cached_and_covers_the_source():
    assert source_digest() is source_digest()
    assert len(source_digest()) == 64 and int(source_digest(), 16) >= 0
    assert package_identity() == (__version__, source_digest())


# ---- executors: one code version per report -------------------------------------------------------
OTHER = ("0.0.0-other", "f" * 64)


class _LyingPool(ThreadPoolExecutor):
    """A pool whose workers run 'other code': they report another identity (pre-flight too if asked)."""

    def __init__(self, lie_in_preflight: bool) -> None:
        super().__init__(1)
        self.lie_in_preflight = lie_in_preflight

    def submit(self, fn, /, *args, **kwargs):
        if fn is _identified_call:
            task, targs, tkwargs = args
            return super().submit(lambda: (OTHER, task(*targs, **tkwargs)))
        if fn is eval and self.lie_in_preflight:
            return super().submit(lambda: OTHER)
        return super().submit(fn, *args, **kwargs)


def test_checked_executor_passes_results_of_the_same_code():
    with ThreadPoolExecutor(2) as pool:
        ex = IdentityCheckedExecutor(pool)
        assert list(ex.map(abs, [-1, 2, -3])) == [1, 2, 3]
        assert preflight(ex) == 1
        with pytest.raises(ZeroDivisionError):
            ex.submit(lambda: 1 / 0).result()  # a task's own error passes unchanged


def test_results_from_other_code_are_refused():
    with _LyingPool(lie_in_preflight=False) as pool:
        ex = IdentityCheckedExecutor(pool)
        with pytest.raises(
            WorkerMismatchError, match=r"^a worker of the executor runs dsb-verifier 0\.0\.0-other"
        ):
            list(ex.map(abs, [1, 2]))
        tiny = get_profile("quick")
        with pytest.raises(ValueError, match=r"refusing to mix their results in one report"):
            runner.run_checks(tiny, 0, ("C1",), executor=pool)


def test_preflight_refuses_other_code_before_any_case_runs():
    with _LyingPool(lie_in_preflight=True) as pool:
        with pytest.raises(WorkerMismatchError) as info:
            preflight(pool)
    msg = str(info.value)
    assert "\n" not in msg
    assert f"but this process runs dsb-verifier {__version__} (source sha256 {source_digest()[:12]})" in msg


class _BrokenWorkers(ThreadPoolExecutor):
    """Workers that cannot import the package: every task fails as unpickling it would."""

    def submit(self, fn, /, *args, **kwargs):
        def fail():
            raise ModuleNotFoundError("No module named 'dsb_verifier'")

        return super().submit(fail)


class _SilentWorkers(Executor):
    """Workers that never answer (a dead or wedged cluster)."""

    def submit(self, fn, /, *args, **kwargs):
        return Future()


def test_preflight_turns_an_import_failure_into_one_line():
    with _BrokenWorkers(1) as pool, pytest.raises(ExecutorPreflightError) as info:
        preflight(pool)
    assert str(info.value) == (
        "an executor worker cannot run dsb-verifier (ModuleNotFoundError: No module named 'dsb_verifier'); "
        f"install dsb-verifier {__version__} on every worker"
    )


def test_preflight_is_bounded_in_time():
    t0 = time.perf_counter()
    with pytest.raises(
        ExecutorPreflightError, match=r"^1 executor worker\(s\) did not import dsb-verifier within 0.3 s"
    ):
        preflight(_SilentWorkers(), timeout=0.3)
    assert time.perf_counter() - t0 < 5
    for bad in (0, -1, True, "5"):
        with pytest.raises(ValueError, match=r"^timeout must be a positive number of seconds, got "):
            preflight(_SilentWorkers(), timeout=bad)


def test_checked_executor_refuses_a_non_executor():
    with pytest.raises(ValueError, match=r"^executor must be a concurrent.futures.Executor, got int"):
        IdentityCheckedExecutor(3)  # type: ignore[arg-type]


def test_cli_refuses_a_mixed_report_in_one_line(cli_main, monkeypatch, tmp_path):
    monkeypatch.setattr(runner, "process_executor", lambda n, n_tasks=None: _LyingPool(False))
    monkeypatch.setattr(executors, "available_cores", lambda: 4)
    rc, out, err = cli_main("run", "--claims", "C1,C2", "--workers", "2", "--out", str(tmp_path / "r"))
    assert rc == 2 and out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith("dsb-verify: error: a worker of the executor runs dsb-verifier 0.0.0-other")
    assert not (tmp_path / "r" / "report.json").exists()


# ---- the pool is capped -------------------------------------------------------------------------
def test_capped_workers(monkeypatch):
    monkeypatch.setattr(executors, "available_cores", lambda: 2)
    assert capped_workers(1000) == 2
    assert capped_workers(1000, 1) == 1
    assert capped_workers(1, 5) == 1
    monkeypatch.setattr(executors, "available_cores", lambda: 64)
    assert capped_workers(8, 3) == 3 and capped_workers(8) == 8
    for bad in (0, True, 2.0):
        with pytest.raises(ValueError, match=r"^workers must be an integer >= 1, got "):
            capped_workers(bad)
    with pytest.raises(ValueError, match=r"^n_tasks must be None or an integer >= 1, got 0"):
        capped_workers(2, 0)


def test_task_bound_counts_whole_claims_only():
    assert runner.task_bound(("C1",)) == 1
    assert runner.task_bound(("C1", "C4")) is None  # C4 spreads its cases
    assert runner.task_bound(("C1", "C2")) is None  # C2 spreads its cases


def test_cli_caps_a_thousand_workers_and_says_so_once(cli_main, monkeypatch, tmp_path):
    made = []
    real = runner.process_executor
    monkeypatch.setattr(
        runner, "process_executor", lambda n, n_tasks=None: made.append(n) or real(n, n_tasks)
    )
    rc, _, err = cli_main("run", "--claims", "C1", "--workers", "1000", "--out", str(tmp_path / "r"))
    assert rc == 0
    assert err.count("capped") == 1
    assert "--workers 1000 capped at 1 (1 task(s), " in err
    assert made == []  # one task: no pool at all, run serially
    assert json.loads((tmp_path / "r" / "report.json").read_text())["claims"][0]["id"] == "C1"


def test_citation_and_readme_name_the_current_version():
    """What a citation or an install line names is the version the package reports."""
    from dsb_verifier.theory import __version__

    root = Path(__file__).resolve().parents[1]
    citation = (root / "CITATION.cff").read_text(encoding="utf-8")
    assert f"\nversion: {__version__}\n" in citation
    readme = (root / "README.md").read_text(encoding="utf-8")
    wheels = set(re.findall(r"dsb_verifier-([0-9][^-\s]*)-py3-none-any\.whl", readme))
    assert wheels <= {__version__}
