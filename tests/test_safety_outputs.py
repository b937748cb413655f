"""Output destinations of ``dsb-verify effective`` and ``run`` (audit of issue 16, branch fix16).

Every refusal here happens before anything is computed (the computation is replaced by
a function that fails the test if it is reached).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from dsb_verifier.checks.cli import effective, publish
from dsb_verifier.checks.cli.publish import OutputLock, PublishError


def _npz(path: Path, Nv: int = 4, Nh: int = 3) -> Path:
    rng = np.random.default_rng(0)
    np.savez(
        path,
        weight_matrix=rng.standard_normal((Nv, Nh)),
        vbias=rng.standard_normal(Nv),
        hbias=rng.standard_normal(Nh),
    )
    return path


@pytest.fixture
def no_compute(monkeypatch):
    """Make reaching the computation of ``effective`` fail the test."""

    def compute(*args, **kwargs):
        raise AssertionError("computed before refusing the output")

    monkeypatch.setattr(effective, "compute", compute)


@pytest.mark.parametrize("option", ["--out", "--figure"])
def test_effective_refuses_a_fifo_destination_before_computing(tmp_path, cli_main, no_compute, option):
    model = _npz(tmp_path / "m.npz")
    fifo = tmp_path / ("pipe.csv" if option == "--out" else "pipe.png")
    os.mkfifo(fifo)
    # --all-checkpoints needs an HDF5 file; the refusal of the figure comes first anyway
    extra = ["--all-checkpoints"] if option == "--figure" else []
    rc, _out, err = cli_main("effective", str(model), *extra, option, str(fifo))
    assert rc == 2, err
    assert err == (
        f"dsb-verify: error: cannot write to output file {str(fifo)!r}: it exists and is a named pipe "
        "(FIFO), expected a regular file or a new path\n"
    )
    assert fifo.is_fifo() and sorted(os.listdir(tmp_path)) == sorted(["m.npz", fifo.name])


def test_effective_writes_through_a_symlink_to_a_regular_file(tmp_path, cli_main):
    model = _npz(tmp_path / "m.npz")
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    rc, _out, err = cli_main("effective", str(model), "--out", str(link))
    assert rc == 0, err
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text().startswith("{")


def test_file_destination_refuses_non_regular_files_and_follows_symlinks(tmp_path):
    (tmp_path / "d").mkdir()
    os.mkfifo(tmp_path / "p")
    (tmp_path / "f").write_text("x")
    (tmp_path / "l").symlink_to(tmp_path / "f")
    (tmp_path / "ld").symlink_to(tmp_path / "d")
    (tmp_path / "dangling").symlink_to(tmp_path / "nothing")
    assert publish.file_destination(tmp_path / "l") == Path(os.path.realpath(tmp_path / "f"))
    assert publish.file_destination(tmp_path / "new") == Path(os.path.realpath(tmp_path)) / "new"
    for name, kind in (("d", "a directory"), ("p", r"a named pipe \(FIFO\)"), ("ld", "a directory")):
        with pytest.raises(
            PublishError, match=f"'.*{name}': it exists and is {kind}, expected a regular file"
        ):
            publish.file_destination(tmp_path / name)
    with pytest.raises(PublishError, match=r"'.*dangling': it is a symbolic link to nothing usable"):
        publish.file_destination(tmp_path / "dangling")


def test_a_second_effective_into_the_same_out_is_refused_at_start(tmp_path, cli_main, monkeypatch):
    """While the first run computes, a second into the same --out stops at once, naming the first."""
    model = _npz(tmp_path / "m.npz")
    out = tmp_path / "j.json"
    real_compute = effective.compute
    seen: list[tuple[object, str]] = []

    def compute(*args, **kwargs):
        def refuse(*a, **k):
            raise AssertionError("the second run computed")

        monkeypatch.setattr(effective, "compute", refuse)
        rc, _o, err = cli_main("effective", str(model), "--out", str(out))
        seen.append((rc, err))
        monkeypatch.setattr(effective, "compute", real_compute)
        return real_compute(*args, **kwargs)

    monkeypatch.setattr(effective, "compute", compute)
    rc, _o, err = cli_main("effective", str(model), "--out", str(out))
    assert rc == 0, err
    ((rc2, err2),) = seen
    assert rc2 == 2
    assert err2.startswith(
        f"dsb-verify: error: output file {str(out)!r} is in use by another dsb-verify run (pid {os.getpid()} on "
    ), err2
    assert err2.count("\n") == 1
    assert out.read_text().startswith("{")


def test_a_locked_figure_refuses_effective_before_computing(tmp_path, cli_main, no_compute):
    model = _npz(tmp_path / "m.npz")
    fig = tmp_path / "f.png"
    with OutputLock(fig, "output file"):
        rc, _o, err = cli_main("effective", str(model), "--all-checkpoints", "--figure", str(fig))
    assert rc == 2 and "is in use by another dsb-verify run" in err, err


def test_run_refuses_a_mount_point_before_computing(tmp_path, cli_main, monkeypatch):
    """A mount point cannot be renamed (EBUSY): refused at start, suggesting a folder inside it."""
    from dsb_verifier.checks import runner

    vol = tmp_path / "vol"
    vol.mkdir()
    real = os.path.ismount
    monkeypatch.setattr(publish.os.path, "ismount", lambda p: os.fspath(p) == str(vol.resolve()) or real(p))

    def run_checks(*args, **kwargs):
        raise AssertionError("computed before refusing the output")

    monkeypatch.setattr(runner, "run_checks_into", run_checks)
    rc, out, err = cli_main("run", "--claims", "C1", "--out", str(vol))
    assert (rc, out) == (2, ""), err
    assert err == (
        f"dsb-verify: error: cannot write to output directory {str(vol)!r}: it is a mount point, which "
        f"cannot be replaced as a whole; give a folder inside it, e.g. {str(vol / 'report')!r}\n"
    )
    assert os.listdir(tmp_path) == ["vol"] and os.listdir(vol) == []


def test_a_users_figure_in_figures_is_refused_before_computing_not_deleted(tmp_path, cli_main, monkeypatch):
    """figures/my_plot.pdf is not named like a figure of ours: refused as foreign, like --out's own files."""
    from dsb_verifier.checks import runner

    out = tmp_path / "rep"
    (out / "figures").mkdir(parents=True)
    (out / "report.json").write_text("{}")
    (out / "figures" / "c4_hessian_spectra.png").write_bytes(b"ours")
    (out / "figures" / "my_plot.pdf").write_bytes(b"precious")

    def run_checks(*args, **kwargs):
        raise AssertionError("computed before refusing the output")

    monkeypatch.setattr(runner, "run_checks_into", run_checks)
    rc, _out, err = cli_main("run", "--claims", "C1", "--out", str(out))
    assert rc == 2
    assert err == (
        f"dsb-verify: error: cannot write to output directory {str(out)!r}: figures/my_plot.pdf is not a "
        "figure file of a dsb-verify report (the folder is replaced as a whole); move it or give a new or "
        "empty directory\n"
    )
    assert (out / "figures" / "my_plot.pdf").read_bytes() == b"precious"
    (out / "figures" / "my_plot.pdf").unlink()
    with publish.publish_directory(out) as staging:  # only figures named like ours: replaced
        (staging / "report.json").write_text("{}")
    assert sorted(os.listdir(out)) == ["report.json"]


def _h5(path: Path, Nv: int = 4, Nh: int = 2) -> Path:
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(1)
    with h5py.File(path, "w") as f:
        f["model_type"] = b"BBRBM"
        for n in (0, 1, 3):
            p = f.create_group(f"update_{n}").create_group("params")
            for key, shape in (("weight_matrix", (Nv, Nh)), ("vbias", (Nv,)), ("hbias", (Nh,))):
                p[key] = 0.1 * rng.standard_normal(shape)
    return path


def _visible(d: Path) -> list[str]:
    return sorted(n for n in os.listdir(d) if not n.startswith("."))


def test_effective_removes_its_earlier_outputs_it_no_longer_writes(tmp_path, cli_main):
    """--out s.csv then --all-checkpoints --out s.csv: the first run's s_norms.csv goes."""
    d = tmp_path / "o"
    d.mkdir()
    model = _h5(tmp_path / "m.h5")
    (d / "mine.csv").write_text("user")
    assert cli_main("effective", str(model), "--out", str(d / "s.csv"))[0] == 0
    assert _visible(d) == ["mine.csv", "s.csv", "s_norms.csv"]
    assert cli_main("effective", str(model), "--all-checkpoints", "--out", str(d / "s.csv"))[0] == 0
    assert _visible(d) == ["mine.csv", "s.csv", "s.png"]
    assert (d / "mine.csv").read_text() == "user"
    assert not [n for n in os.listdir(d) if "dsb-lock" in n or "dsb-verify-" in n]
    # a file the user changed since it was published is theirs: kept
    with (d / "s.png").open("ab") as fh:
        fh.write(b"annotated")
    assert cli_main("effective", str(model), "--out", str(d / "s.csv"))[0] == 0
    assert _visible(d) == ["mine.csv", "s.csv", "s.png", "s_norms.csv"]
    assert cli_main("effective", str(model), "--all-checkpoints", "--out", str(d / "s.csv"))[0] == 0
    assert _visible(d) == ["mine.csv", "s.csv", "s.png"]


def test_earlier_outputs_are_removed_only_with_a_successful_publication(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "a_norms.csv"
    with publish.FileSet([a, b], replace_earlier=True) as files:
        files.publish([(a, lambda fh: fh.write(b"A0")), (b, lambda fh: fh.write(b"B0"))])

    def boom(fh):
        raise OSError(28, "No space left on device")

    with publish.FileSet([a], replace_earlier=True) as files, pytest.raises(PublishError, match="No space"):
        files.publish([(a, boom)])
    assert (a.read_bytes(), b.read_bytes()) == (b"A0", b"B0")
    with publish.FileSet([a], replace_earlier=True) as files:
        files.publish([(a, lambda fh: fh.write(b"A1"))])
    assert sorted(os.listdir(tmp_path)) == [".a.csv.dsb-set", "a.csv"] and a.read_bytes() == b"A1"


_SLOW = """
import sys, time
from pathlib import Path
from dsb_verifier.checks import runner
from dsb_verifier.checks.cli import effective

def slow_run(profile, seed, claims, *, out_dir=None, **kwargs):
    (Path(out_dir) / "figures").mkdir()
    (Path(out_dir) / "figures" / "c1_new.png").write_bytes(b"new")
    print("ready", file=sys.stderr, flush=True)
    time.sleep(60)

def slow_compute(*a, **k):
    print("ready", file=sys.stderr, flush=True)
    time.sleep(60)

runner.run_checks_into = slow_run
effective.compute = slow_compute
from dsb_verifier.checks.cli.main import console_main
sys.argv = ["dsb-verify", *sys.argv[1:]]
console_main()
"""


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("command", "sig", "code", "line"),
    [
        ("run", "SIGTERM", 143, "dsb-verify: terminated (SIGTERM)"),
        ("run", "SIGHUP", 129, "dsb-verify: hung up (SIGHUP)"),
        ("effective", "SIGTERM", 143, "dsb-verify: terminated (SIGTERM)"),
    ],
)
def test_sigterm_and_sighup_clean_up_like_ctrl_c(tmp_path, command, sig, code, line):
    import signal
    import subprocess
    import sys

    work = tmp_path / "w"
    work.mkdir()
    if command == "run":
        out = work / "rep"
        (out / "figures").mkdir(parents=True)
        (out / "report.json").write_text("{}")
        (out / "figures" / "c1_old.png").write_bytes(b"old")
        argv = ["run", "--claims", "C1", "--out", str(out)]
    else:
        model = _npz(tmp_path / "m.npz")
        (work / "j.json").write_text("old")
        argv = ["effective", str(model), "--out", str(work / "j.json")]
    before = sorted(str(p.relative_to(work)) for p in work.rglob("*"))
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW, *argv], stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert proc.stderr is not None
        assert proc.stderr.readline() == "ready\n"
        proc.send_signal(getattr(signal, sig))
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert (proc.returncode, err) == (code, line + "\n")
    assert sorted(str(p.relative_to(work)) for p in work.rglob("*")) == before  # no staging, no lock
