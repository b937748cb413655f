"""Outputs are published as one unit (dsb_verifier.checks.cli.publish, issue 16).

The invariant: after any interruption (SIGINT, SIGKILL, a crash, a full disk) the
output holds either the complete previous outputs or the complete new ones, never a
mix, and no temporary file survives the next run. A second run into the same output
is refused while the first holds the lock.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from dsb_verifier.checks.cli import locks, publish
from dsb_verifier.checks.cli.publish import (
    OutputLock,
    PublishError,
    publish_directory,
    publish_files,
)

REPO = Path(__file__).resolve().parents[1]


def _report(out: Path, seed: int, figures: tuple[str, ...] = ("c1_a.png",)) -> None:
    """A fake report folder: report.json naming its seed and figures, the figures, report.md."""
    (out / "figures").mkdir(parents=True, exist_ok=True)
    for f in figures:
        (out / "figures" / f).write_bytes(f"{seed}".encode())
    doc = {"provenance": {"seed": seed}, "claims": [{"figures": [f"figures/{f}" for f in figures]}]}
    (out / "report.json").write_text(json.dumps(doc))
    (out / "report.md").write_text(f"seed {seed}\n")


def _temps(parent: Path) -> list[str]:
    return sorted(
        p.name for p in parent.iterdir() if ".dsb-verify-" in p.name or p.name.endswith(".dsb-lock")
    )


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _assert_complete(out: Path) -> int:
    """``out`` is one complete report (every listed figure present, no other); return its seed."""
    doc = json.loads((out / "report.json").read_text())
    seed = doc["provenance"]["seed"]
    listed = {f for c in doc["claims"] for f in c["figures"]}
    present = (
        {f"figures/{p.name}" for p in (out / "figures").iterdir()} if (out / "figures").is_dir() else set()
    )
    assert listed == present, (listed, present)
    for f in listed:
        assert (out / f).stat().st_size > 0, f
    assert f"seed {seed}" in (out / "report.md").read_text()
    return int(seed)


# ---- publish_directory -------------------------------------------------------------------------
def test_a_new_folder_appears_complete_with_ordinary_permissions(tmp_path):
    out = tmp_path / "a" / "b" / "rep"
    old = os.umask(0o022)
    try:
        with publish_directory(out) as staging:
            assert not out.exists() and staging.parent == out.parent
            _report(staging, 1)
    finally:
        os.umask(old)
    assert _assert_complete(out) == 1
    assert _temps(out.parent) == []
    assert (out / "report.json").stat().st_mode & 0o777 == 0o644
    assert out.stat().st_mode & 0o777 == 0o755


def test_figures_of_an_earlier_run_do_not_survive(tmp_path):
    out = tmp_path / "rep"
    with publish_directory(out) as staging:
        _report(staging, 0, ("c1_a.png", "c1_b.png"))
    with publish_directory(out) as staging:
        _report(staging, 1, ("c2_c.png",))
    assert _assert_complete(out) == 1
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["c2_c.png"]


def test_an_error_inside_the_block_leaves_the_old_report_and_no_trace(tmp_path):
    out = tmp_path / "rep"
    with publish_directory(out) as staging:
        _report(staging, 0)
    for exc in (RuntimeError("crash"), KeyboardInterrupt()):
        with pytest.raises(type(exc)), publish_directory(out) as staging:
            _report(staging, 1)
            raise exc
        assert _assert_complete(out) == 0
        assert _temps(tmp_path) == []


def test_a_failed_first_run_removes_the_folders_it_created(tmp_path):
    out = tmp_path / "x" / "y" / "rep"
    with pytest.raises(RuntimeError), publish_directory(out) as staging:
        _report(staging, 1)
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("entry", ["notes.txt", "data", ".hidden"])
def test_a_folder_that_is_not_a_report_is_refused_not_replaced(tmp_path, entry):
    out = tmp_path / "rep"
    out.mkdir()
    (out / entry).write_text("mine")
    with pytest.raises(PublishError, match=rf"it holds '{entry}', which is not part of a dsb-verify report"):
        with publish_directory(out):
            raise AssertionError("not reached")
    assert (out / entry).read_text() == "mine"
    assert _temps(tmp_path) == []


def test_a_non_figure_file_in_figures_is_refused_not_deleted(tmp_path):
    out = tmp_path / "rep"
    _report(out, 0)
    (out / "figures" / "my-data.npy").write_bytes(b"precious")
    with pytest.raises(PublishError, match=r"figures/my-data\.npy is not a figure file"):
        with publish_directory(out):
            raise AssertionError("not reached")
    assert (out / "figures" / "my-data.npy").read_bytes() == b"precious"


def test_the_folder_keeps_the_permissions_its_owner_gave_it(tmp_path):
    out = tmp_path / "rep"
    _report(out, 0)
    out.chmod(0o2770)
    with publish_directory(out) as staging:
        _report(staging, 1)
    assert out.stat().st_mode & 0o7777 == 0o2770


def test_the_command_refuses_data_inside_the_output_folder(tmp_path, cli_main):
    out = tmp_path / "rep"
    _report(out, 0)
    data = out / "figures" / "d.png"
    with data.open("wb") as fh:
        np.save(fh, np.array([[0, 1], [1, 0]], dtype=np.int8))
    rc, stdout, err = cli_main("run", "--claims", "C1", "--data", str(data), "--out", str(out))
    assert (rc, stdout) == (2, "")
    assert err == (
        f"dsb-verify: error: --data {data} lies inside --out {out}, which is replaced as a whole; "
        "move the data or choose another output directory\n"
    )
    assert data.exists() and _assert_complete_but(out, "d.png") == 0


def _assert_complete_but(out: Path, extra: str) -> int:
    (out / "figures" / extra).rename(out.parent / extra)
    try:
        return _assert_complete(out)
    finally:
        (out.parent / extra).rename(out / "figures" / extra)


@pytest.mark.parametrize(
    ("name", "make", "kind"),
    [
        ("report.json", Path.mkdir, "a directory"),
        ("report.md", Path.mkdir, "a directory"),
        ("figures", Path.touch, "a file"),
    ],
)
def test_a_report_entry_of_the_wrong_kind_is_refused_by_name(tmp_path, name, make, kind):
    out = tmp_path / "rep"
    out.mkdir()
    make(out / name)
    with pytest.raises(PublishError) as info, publish_directory(out):
        raise AssertionError("not reached")
    assert str(info.value) == f"cannot write to output directory {str(out)!r}: {name} exists there as {kind}"
    assert [p.name for p in out.iterdir()] == [name]


def test_an_output_below_a_file_names_the_os_error_and_creates_nothing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PublishError) as info, publish_directory(blocker / "sub" / "rep"):
        raise AssertionError("not reached")
    assert (
        str(info.value)
        == f"cannot write to output directory {str(blocker / 'sub' / 'rep')!r}: Not a directory"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_a_second_run_into_a_locked_folder_is_refused_naming_the_first(tmp_path):
    out = tmp_path / "rep"
    with publish_directory(out) as staging:
        _report(staging, 0)
        with pytest.raises(PublishError) as info, publish_directory(out):
            raise AssertionError("not reached")
        _report(staging, 1)
    msg = str(info.value)
    assert msg.startswith(
        f"output directory {str(out)!r} is in use by another dsb-verify run (pid {os.getpid()} on "
    )
    assert msg.endswith("wait for it to finish or choose another output") and "started 20" in msg
    assert _assert_complete(out) == 1
    assert _temps(tmp_path) == []


def test_a_lock_file_left_by_a_killed_run_is_taken_over(tmp_path):
    (tmp_path / ".rep.dsb-lock").write_text("pid 1 on elsewhere, started long ago\n")
    with publish_directory(tmp_path / "rep") as staging:
        _report(staging, 2)
    assert _assert_complete(tmp_path / "rep") == 2
    assert _temps(tmp_path) == []


def test_the_next_run_restores_a_report_whose_swap_was_killed_halfway(tmp_path):
    """Killed between "DIR -> backup" and "staging -> DIR": the backup is restored, staging removed."""
    host, pid = locks._host(), _dead_pid()
    backup = tmp_path / f".rep.dsb-verify-old-{host}-{pid}-00aa"
    _report(backup, 7)
    _report(tmp_path / f".rep.dsb-verify-staging-{host}-{pid}-00bb", 8)
    with pytest.raises(RuntimeError), publish_directory(tmp_path / "rep"):
        raise RuntimeError  # this run fails too: the restored old report must remain
    assert _assert_complete(tmp_path / "rep") == 7
    assert _temps(tmp_path) == []


def test_the_next_run_removes_the_backup_of_a_swap_killed_after_publishing(tmp_path):
    host, pid = locks._host(), _dead_pid()
    _report(tmp_path / "rep", 8)
    _report(tmp_path / f".rep.dsb-verify-old-{host}-{pid}-00aa", 7)
    with publish_directory(tmp_path / "rep") as staging:
        _report(staging, 9)
    assert _assert_complete(tmp_path / "rep") == 9
    assert _temps(tmp_path) == []


def test_temporaries_of_a_live_process_are_left_alone(tmp_path):
    live = tmp_path / f".rep.dsb-verify-staging-{locks._host()}-{os.getppid()}-00cc"
    live.mkdir()
    with publish_directory(tmp_path / "rep") as staging:
        _report(staging, 1)
    assert live.is_dir()


@pytest.mark.parametrize("where", ["write", "fsync", "rename"])
def test_a_full_disk_leaves_the_old_report_intact(tmp_path, monkeypatch, where):
    out = tmp_path / "rep"
    with publish_directory(out) as staging:
        _report(staging, 0)
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if where == "fsync":
        monkeypatch.setattr(publish.os, "fsync", _raiser(full))
    if where == "rename":
        real = os.rename
        calls = []

        def rename(a, b):  # the second rename of the swap (staging -> DIR) fails
            calls.append(b)
            if len(calls) == 2:
                raise full
            real(a, b)

        monkeypatch.setattr(publish.os, "rename", rename)
    with pytest.raises((PublishError, OSError)) as info, publish_directory(out) as staging:
        _report(staging, 1)
        if where == "write":
            raise full
    assert "No space left on device" in str(info.value)
    monkeypatch.undo()
    assert _assert_complete(out) == 0
    assert _temps(tmp_path) == []


def _raiser(exc):
    def f(*args, **kwargs):
        raise exc

    return f


# ---- the command: full disk, lock, interruptions ---------------------------------------------------
def _fake_run_checks(fail: OSError | None):
    """A run_checks that writes one figure into out_dir (then fails with ``fail`` if given)."""
    from dsb_verifier.checks import runner

    real = runner.run_checks

    def fake(profile, seed, claims, *, out_dir=None, **kwargs):
        (out_dir / "figures").mkdir()
        (out_dir / "figures" / "c1_new.png").write_bytes(b"png")
        if fail is not None:
            raise fail
        return real(profile, seed, ("C1",), **kwargs)

    return fake


def test_the_command_reports_a_full_disk_in_one_line_and_keeps_the_old_report(
    tmp_path, monkeypatch, cli_main
):
    from dsb_verifier.checks import runner

    out = tmp_path / "rep"
    _report(out, 0)
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out / "figures" / "x.png"))
    monkeypatch.setattr(runner, "run_checks_into", _fake_run_checks(full))
    rc, stdout, err = cli_main("run", "--claims", "C1", "--out", str(out))
    assert (rc, stdout) == (2, "")
    assert (
        err
        == f"dsb-verify: error: cannot write the report to {str(out)!r}: No space left on device; {str(out)!r} is unchanged\n"
    )
    assert _assert_complete(out) == 0 and _temps(tmp_path) == []


def test_the_command_reports_a_full_disk_while_writing_report_md(tmp_path, monkeypatch, cli_main):
    from dsb_verifier.checks.cli import report

    out = tmp_path / "rep"
    _report(out, 0)
    real = report._atomic_write

    def atomic_write(path, text):
        if path.name == "report.md":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, text)

    monkeypatch.setattr(report, "_atomic_write", atomic_write)
    rc, stdout, err = cli_main("run", "--claims", "C1", "--out", str(out))
    assert (rc, stdout) == (2, "")
    assert err.splitlines()[-1] == (
        f"dsb-verify: error: cannot write the report to {str(out)!r}: No space left on device; {str(out)!r} is unchanged"
    )
    assert "Traceback" not in err and err.count("error:") == 1
    assert _assert_complete(out) == 0 and _temps(tmp_path) == []


def test_a_tiny_filesystem_fills_up_cleanly(tmp_path):
    """A real full disk: a 64 KiB tmpfs (needs permission to mount; skipped otherwise)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        r = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True, check=False
        )
    except OSError:
        pytest.skip("no mount command")
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        out = mnt / "rep"
        with publish_directory(out) as staging:
            _report(staging, 0)
        with pytest.raises(OSError, match="No space left on device"), publish_directory(out) as staging:
            _report(staging, 1)
            (staging / "figures" / "c1_big.png").write_bytes(b"\0" * 200_000)
        assert _assert_complete(out) == 0
        assert _temps(mnt) == []
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def _cli(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, "-m", "dsb_verifier.checks.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _run_args(out: Path, seed: int) -> tuple[str, ...]:
    return ("run", "--profile", "quick", "--claims", "C1,C2,C4", "--seed", str(seed), "--out", str(out))


def _fingerprint(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "figures").glob("*"))} | {
        "report.json": (out / "report.json").read_bytes(),
        "report.md": (out / "report.md").read_bytes(),
    }


def _first_new_figure(root: Path, since: float, p: subprocess.Popen[str], timeout: float = 120) -> bool:
    """Wait until a figure written after ``since`` appears anywhere under ``root`` (or ``p`` ends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and p.poll() is None:
        for f in root.glob("**/figures/*.png"):
            with contextlib.suppress(OSError):
                if f.stat().st_mtime >= since:
                    return True
        time.sleep(0.005)
    return False


@pytest.mark.subprocess
def test_killing_real_runs_at_random_instants_never_mixes_two_reports(tmp_path):
    """SIGINT and SIGKILL at seeded random instants into a folder holding a good report.

    After each kill the folder is exactly one complete report: either byte for byte
    the previous one (figures included), or the new one if the run had finished.
    The instants are drawn where the outputs are written: a random delay (up to the
    rest of a run's measured duration) after the first new figure file appears,
    wherever it is written. After the next complete run no temporary file is left.
    (Writing straight into ``--out``, as before issue 16, fails this test.)
    """
    out = tmp_path / "rep"
    p = _cli(*_run_args(out, 0))
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    current, files = _assert_complete(out), _fingerprint(out)
    rest = (
        1.0
        + max(p.stat().st_mtime for p in out.rglob("*"))
        - min(p.stat().st_mtime for p in (out / "figures").iterdir())
    )
    rng = np.random.default_rng(16)
    outcomes = []
    for trial, sig in enumerate([signal.SIGKILL, signal.SIGINT] * 3, 1):
        since = time.time() - 0.01
        p = _cli(*_run_args(out, trial))
        if _first_new_figure(tmp_path, since, p):
            time.sleep(float(rng.uniform(0.0, rest)))
        p.send_signal(sig)
        _, err = p.communicate(timeout=120)
        seed = _assert_complete(out)
        assert seed in (current, trial), (seed, current, trial)
        if seed == current:
            assert _fingerprint(out) == files, f"the earlier report was modified (trial {trial}, {sig.name})"
        assert "Traceback" not in err or (sig == signal.SIGINT and p.returncode != 130), err
        if sig == signal.SIGINT and p.returncode == 130:
            assert err.endswith("dsb-verify: interrupted\n")
            assert _temps(tmp_path) == []  # an interrupted run cleans up after itself
        outcomes.append((sig.name, p.returncode, seed == trial))
        current, files = seed, _fingerprint(out)
    p = _cli(*_run_args(out, 99))
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert _assert_complete(out) == 99
    assert _temps(tmp_path) == [], outcomes


@pytest.mark.subprocess
def test_a_killed_run_into_a_fresh_folder_leaves_no_visible_output(tmp_path):
    out = tmp_path / "new" / "rep"
    p = _cli(*_run_args(out, 0))
    deadline = time.monotonic() + 60
    while not (tmp_path / "new" / ".rep.dsb-lock").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    p.kill()
    p.communicate(timeout=60)
    assert not out.exists()
    assert [q.name for q in (tmp_path / "new").iterdir() if not q.name.startswith(".")] == []


@pytest.mark.subprocess
def test_two_concurrent_runs_into_one_folder_the_second_is_refused(tmp_path):
    out = tmp_path / "rep"
    first = _cli(*_run_args(out, 0))
    lock = tmp_path / ".rep.dsb-lock"
    deadline = time.monotonic() + 60
    while not (lock.exists() and lock.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    second = _cli(*_run_args(out, 1))
    out2, err2 = second.communicate(timeout=120)
    _, err1 = first.communicate(timeout=300)
    assert first.returncode == 0, err1
    assert (second.returncode, out2) == (2, "")
    assert err2.startswith(
        f"dsb-verify: error: output directory {str(out)!r} is in use by another dsb-verify run (pid {first.pid} on "
    ), err2
    assert err2.count("\n") == 1
    assert _assert_complete(out) == 0
    assert _temps(tmp_path) == []


# ---- publish_files (dsb-verify effective) -------------------------------------------------------------
def _writer(data: bytes):
    return lambda fh: fh.write(data)


def test_a_set_of_files_is_published_with_ordinary_permissions(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "sub" / "b.png"
    b.parent.mkdir()
    old = os.umask(0o027)
    try:
        publish_files([(a, _writer(b"A1")), (b, _writer(b"B1"))])
    finally:
        os.umask(old)
    assert (a.read_bytes(), b.read_bytes()) == (b"A1", b"B1")
    assert a.stat().st_mode & 0o777 == 0o640
    assert _temps(tmp_path) == [] and _temps(b.parent) == []


def test_a_failing_writer_leaves_every_old_file_and_no_temporary(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.png"
    publish_files([(a, _writer(b"A0")), (b, _writer(b"B0"))])

    def boom(fh):
        fh.write(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(PublishError, match="No space left on device"):
        publish_files([(a, _writer(b"A1")), (b, boom)])
    assert (a.read_bytes(), b.read_bytes()) == (b"A0", b"B0")
    assert _temps(tmp_path) == []


def test_an_interrupted_commit_is_rolled_back_in_process(tmp_path, monkeypatch):
    a, b, c = tmp_path / "a.json", tmp_path / "b.png", tmp_path / "c.csv"
    publish_files([(a, _writer(b"A0")), (b, _writer(b"B0"))])
    real, calls = os.rename, []

    def rename(x, y):
        calls.append(y)
        if len(calls) == 4:  # a's swap done, b renamed to its backup
            raise KeyboardInterrupt
        real(x, y)

    monkeypatch.setattr(publish.os, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        publish_files([(a, _writer(b"A1")), (b, _writer(b"B1")), (c, _writer(b"C1"))])
    monkeypatch.undo()
    assert (a.read_bytes(), b.read_bytes(), c.exists()) == (b"A0", b"B0", False)
    assert _temps(tmp_path) == []


_KILLED_COMMIT = """
import os, sys
from pathlib import Path
from dsb_verifier.checks.cli import locks, publish
real, calls = os.rename, []
def rename(x, y):
    calls.append(y)
    if len(calls) == int(sys.argv[2]):
        os._exit(9)
    real(x, y)
publish.os.rename = rename
d = Path(sys.argv[1])
publish.publish_files([(d / n, lambda fh, n=n: fh.write(n.encode() + b"1")) for n in ("a.json", "b.png", "c.csv")])
"""


@pytest.mark.subprocess
@pytest.mark.parametrize("killed_at", [1, 2, 3, 4, 5])
def test_a_commit_killed_at_any_rename_is_rolled_back_by_the_next_run(tmp_path, killed_at):
    a, b, c = tmp_path / "a.json", tmp_path / "b.png", tmp_path / "c.csv"
    publish_files([(a, _writer(b"A0")), (b, _writer(b"B0"))])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run(
        [sys.executable, "-c", _KILLED_COMMIT, str(tmp_path), str(killed_at)], env=env, check=False
    )
    assert r.returncode == 9
    publish_files([(a, _writer(b"A2"))])  # the next run into any member recovers the whole set first
    assert (a.read_bytes(), b.read_bytes(), c.exists()) == (b"A2", b"B0", False)
    assert _temps(tmp_path) == []


def test_an_output_that_is_an_input_is_refused_through_links(tmp_path):
    model = tmp_path / "model.npz"
    model.write_bytes(b"precious")
    (tmp_path / "sym.npz").symlink_to(model)
    os.link(model, tmp_path / "hard.npz")
    for out in (model, tmp_path / "sym.npz", tmp_path / "hard.npz"):
        with pytest.raises(PublishError, match=r"is the input file .*model\.npz; choose another output path"):
            publish_files([(out, _writer(b"J"))], inputs=[model])
    assert model.read_bytes() == b"precious"
    with pytest.raises(PublishError, match="is the same file as the output"):
        publish_files([(tmp_path / "x.csv", _writer(b"1")), (tmp_path / "x.csv", _writer(b"2"))])


def test_a_file_output_in_use_is_refused(tmp_path):
    a = tmp_path / "a.json"
    with (
        OutputLock(a, "output file"),
        pytest.raises(PublishError, match=r"output file '.*a\.json' is in use by"),
    ):
        publish_files([(a, _writer(b"A"))])
    assert not a.exists() and _temps(tmp_path) == []
