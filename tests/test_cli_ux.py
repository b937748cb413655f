"""dsb-verify as users of research tools expect it: --json, --quiet, --fail-on and the exit codes,
list / explain, a bare command, Ctrl-C, streams that cannot encode the table, progress within claims."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import types
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import pytest
from dsb_verifier.checks import runner
from dsb_verifier.checks.claims.progress import Tally
from dsb_verifier.checks.cli import main as cli
from dsb_verifier.checks.cli.claims_info import claim_list, claim_title, explain, plain
from dsb_verifier.checks.cli.console import printable
from dsb_verifier.checks.verdict import (
    CLAIM_IDS,
    ClaimReport,
    ControlResult,
    Counterexample,
    Status,
    Verdict,
)


# ---- a claim module under the test's control ----------------------------------------------------
def _verdict(status: Status) -> Verdict:
    ce = () if status in (Status.HOLDS, Status.INCONCLUSIVE) else (Counterexample("made up", {"i": 0}, 1.0),)
    return Verdict("C1", "a statement", status, {}, {"headline": "made up ≤ 1"}, {"tol": 1.0}, ce)


def _fake_claim(monkeypatch, status: Status, *, control: Status = Status.FAILS, calls=None):
    """C1 replaced by a module whose run reports ``status`` (progress over 3 cases, or a hook)."""
    mod = types.ModuleType("dsbv_test_fake_c1")

    def run(profile, seed, *, progress=None):
        for i in range(3):
            if progress is not None:
                progress(i + 1, 3)
        if calls is not None:
            calls.append(progress)
        ctl = ControlResult("C1", "made-up-control", "a control", _verdict(control))
        return ClaimReport(_verdict(status), (ctl,), 0.0)

    mod.run = run
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    monkeypatch.setitem(runner.CLAIM_MODULES, "C1", mod.__name__)


# ---- a bare command, help and exit codes --------------------------------------------------------
def test_bare_command_prints_help_on_stderr_and_exits_2(cli_main):
    rc, out, err = cli_main()
    assert (rc, out) == (2, "")
    assert err.startswith("usage: dsb-verify")
    assert "run the claim checks and write a report" in err


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"]])
def test_help_documents_every_exit_code(cli_main, argv):
    rc, out, err = cli_main(*argv)
    assert (rc, err) == (0, "")
    for code, text in cli.EXIT_CODES.items():
        assert f"  {code:<3}  {text}" in out
    assert set(cli.EXIT_CODES) == {0, 1, 2, 3, 129, 130, 143}


# ---- list and explain ---------------------------------------------------------------------------
def test_list_names_every_claim_by_its_module_title(cli_main):
    rc, out, err = cli_main("list")
    assert (rc, err) == (0, "")
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == list(CLAIM_IDS)
    for cid, line in zip(CLAIM_IDS, lines, strict=True):
        title = claim_title(cid)
        assert line == f"{cid}  {title}" and title and not title.startswith("Claim")
    assert out == claim_list() + "\n"


@pytest.mark.parametrize("cid", CLAIM_IDS)
def test_explain_prints_the_modules_own_statement_rule_and_tolerances(cli_main, cid):
    import importlib

    mod = importlib.import_module(runner.CLAIM_MODULES[cid])
    rc, out, err = cli_main("explain", cid.lower())
    assert (rc, err) == (0, "")
    assert out.startswith(f"{cid}: {claim_title(cid)}\n(module {mod.__name__})\n")
    assert plain(mod.STATEMENT) in out
    for key in mod.TOLERANCES:
        assert f"  {key} " in out
    body = plain(mod.__doc__.strip().split("\n", 1)[1].strip())
    assert body.splitlines()[0] in out  # the docstring is the text, not a copy of it
    assert ":func:`" not in out and "``" not in out and "\\top" not in out


def test_explain_refuses_an_unknown_claim_in_one_line(cli_main):
    rc, out, err = cli_main("explain", "C9")
    assert (rc, out) == (2, "")
    assert err == "dsb-verify: error: unknown claim 'C9'; expected one of C1, C2, C3, C4, C5, C6\n"


def test_explain_shows_exported_constants_and_plain_maths():
    text = explain("C4")
    assert "  FIT_POINTS = 5\n" in text and "EPS_GRID = [1e-08," in text
    assert plain(r"``x`` :func:`~a.b` :math:`A^\top r \le \varepsilon`") == "x a.b A^T r <= eps"
    assert plain(r"\left \leq \lefty") == r"\left <= \lefty"  # whole macro names only


# ---- --json, --quiet ----------------------------------------------------------------------------
def test_json_puts_the_report_document_alone_on_stdout(cli_main, tmp_path):
    rc, out, err = cli_main("run", "--claims", "C1", "--out", str(tmp_path / "r"), "--json")
    assert rc == 0, err
    assert json.loads(out) == json.loads((tmp_path / "r" / "report.json").read_text())
    assert out == (tmp_path / "r" / "report.json").read_text()
    assert "[1/1] C1: running" in err and "C1     holds" in err and "wrote " in err  # table on stderr
    assert "C1: 59/59 cases in " in err  # progress within the claim, its last line


def test_quiet_writes_nothing_to_the_terminal(cli_main, tmp_path):
    rc, out, err = cli_main("run", "--claims", "C1", "--out", str(tmp_path / "r"), "--quiet")
    assert (rc, out, err) == (0, "", "")
    assert (tmp_path / "r" / "report.json").is_file()


def test_json_and_quiet_give_the_document_and_nothing_else(cli_main, tmp_path):
    rc, out, err = cli_main("run", "--claims", "C1", "--out", str(tmp_path / "r"), "--json", "--quiet")
    assert (rc, err) == (0, "")
    assert json.loads(out)["claims"][0]["id"] == "C1"


# ---- --fail-on ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "control", "fail_on", "rc"),
    [
        (Status.HOLDS, Status.FAILS, "never", 0),
        (Status.HOLDS, Status.FAILS, "fails", 0),
        (Status.HOLDS, Status.FAILS, "not-holds", 0),
        (Status.FAILS, Status.FAILS, "never", 0),
        (Status.FAILS, Status.FAILS, "fails", 3),
        (Status.FAILS, Status.FAILS, "not-holds", 3),
        (Status.HOLDS_UNDER_CONDITIONS, Status.FAILS, "fails", 0),
        (Status.HOLDS_UNDER_CONDITIONS, Status.FAILS, "not-holds", 3),
        (Status.INCONCLUSIVE, Status.FAILS, "fails", 0),
        (Status.INCONCLUSIVE, Status.FAILS, "not-holds", 3),
        (Status.HOLDS, Status.HOLDS, "never", 0),  # a control not caught: a defective check
        (Status.HOLDS, Status.HOLDS, "fails", 3),
        (Status.HOLDS, Status.HOLDS, "not-holds", 3),
    ],
)
def test_fail_on_sets_exit_3_exactly_for_the_chosen_verdicts(
    cli_main, monkeypatch, tmp_path, status, control, fail_on, rc
):
    _fake_claim(monkeypatch, status, control=control)
    got, out, err = cli_main("run", "--claims", "C1", "--out", str(tmp_path), "--fail-on", fail_on, "--quiet")
    assert (got, out) == (rc, "")
    if rc == 3:
        hits = cli.fail_on_matches(json.loads((tmp_path / "report.json").read_text()), fail_on)
        assert hits and err == f"dsb-verify: --fail-on {fail_on}: {'; '.join(hits)} (exit 3)\n"
    else:
        assert err == ""


def test_fail_on_matches_names_claims_and_uncaught_controls():
    doc = {
        "claims": [{"id": "C1", "status": "holds"}, {"id": "C5", "status": "holds-under-conditions"}],
        "controls": [
            {"claim": "C2", "name": "x", "caught": False},
            {"claim": "C1", "name": "y", "caught": True},
        ],
    }
    assert cli.fail_on_matches(doc, "never") == []
    assert cli.fail_on_matches(doc, "fails") == ["C2 control x not caught"]
    assert cli.fail_on_matches(doc, "not-holds") == ["C5 holds-under-conditions", "C2 control x not caught"]
    with pytest.raises(ValueError, match="fail_on must be one of never, fails, not-holds, got 'some'"):
        cli.fail_on_matches(doc, "some")


def test_fail_on_refuses_other_values(cli_main):
    rc, out, err = cli_main("run", "--fail-on", "holds")
    assert (rc, out) == (2, "")
    assert "argument --fail-on: invalid choice: 'holds'" in err and err.count("\n") == 1


# ---- Ctrl-C -------------------------------------------------------------------------------------
def test_interrupt_is_one_line_and_exit_130(cli_main, monkeypatch, tmp_path):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_checks_into", interrupted)
    rc, out, err = cli_main("run", "--claims", "C1", "--out", str(tmp_path / "r"))
    assert (rc, out, err) == (130, "", "dsb-verify: interrupted\n")


@pytest.mark.subprocess
def test_sigint_during_a_real_run_exits_130_with_one_line(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dsb_verifier.checks.cli",
            "run",
            "--profile",
            "quick",
            "--out",
            str(tmp_path / "r"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    first = proc.stderr.readline()  # the run has started (imports done): "[1/6] C1: running ..."
    assert first.startswith("[1/6] C1: running"), first
    time.sleep(2.0)
    proc.send_signal(signal.SIGINT)
    out, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, rest
    lines = rest.splitlines()
    assert "Traceback" not in rest
    assert lines[-1] == "dsb-verify: interrupted"
    assert all(line.startswith(("[", "C")) for line in lines[:-1])  # only progress before it
    assert out == ""


@pytest.mark.subprocess
@pytest.mark.skipif(
    shutil.which("pgrep") is None or not os.path.isdir("/proc"), reason="needs pgrep and /proc"
)
def test_ctrl_c_at_a_terminal_stops_the_worker_pool_too(tmp_path):
    # A terminal sends SIGINT to the whole process group: parent and --workers processes.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dsb_verifier.checks.cli",
            "run",
            "--workers",
            "2",
            "--out",
            str(tmp_path / "r"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    first = proc.stderr.readline()
    assert first.startswith("[1/6] C1: submitted whole to the executor"), first
    time.sleep(2.0)
    workers = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    os.killpg(proc.pid, signal.SIGINT)
    _, rest = proc.communicate(timeout=120)  # a guard against a hang, not a timing
    assert proc.returncode == 130, rest
    assert "Traceback" not in rest and rest.splitlines()[-1] == "dsb-verify: interrupted"
    time.sleep(1.0)
    assert not [w for w in workers if os.path.exists(f"/proc/{w}")]


def test_pool_workers_leave_ctrl_c_to_the_parent():
    with ProcessPoolExecutor(1, initializer=runner._init_worker) as pool:
        assert pool.submit(signal.getsignal, signal.SIGINT).result(timeout=60) == signal.SIG_IGN


# ---- streams that cannot encode the table -------------------------------------------------------
@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_table_and_progress_survive_a_narrow_stream(monkeypatch, tmp_path, encoding):
    out_buf, err_buf = io.BytesIO(), io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(out_buf, encoding=encoding, errors="strict"))
    monkeypatch.setattr(sys, "stderr", io.TextIOWrapper(err_buf, encoding=encoding, errors="strict"))
    rc = cli.main(["run", "--claims", "C4", "--out", str(tmp_path / "r")])
    sys.stdout.flush()
    sys.stderr.flush()
    out = out_buf.getvalue().decode(encoding)
    assert rc == 0
    assert "|H+A^TFA|/|H| <= " in out and "C4     holds" in out
    assert "[1/1] C4: holds" in err_buf.getvalue().decode(encoding)


@pytest.mark.parametrize(
    ("encoding", "text", "shown"),
    [
        ("utf-8", "≤ ᵀ σ ±", "≤ ᵀ σ ±"),
        ("ascii", "|H+AᵀFA| ≤ 3e-16, σ ± ε", "|H+A^TFA| <= 3e-16, sigma +/- eps"),
        ("latin-1", "± é ≤ 漢", "± é <= \\u6f22"),  # latin-1 keeps what it has
        ("ascii", "file \udcff.npy", "file \\udcff.npy"),  # a non-UTF-8 file name
        ("utf-8", "file \udcff.npy", "file \\udcff.npy"),
    ],
)
def test_printable_keeps_what_a_stream_can_encode(encoding, text, shown):
    stream = io.TextIOWrapper(io.BytesIO(), encoding=encoding)
    assert printable(text, stream) == shown
    stream.write(shown)  # and the stream accepts it


@pytest.mark.subprocess
def test_explain_under_an_ascii_locale():
    proc = subprocess.run(
        [sys.executable, "-m", "dsb_verifier.checks.cli", "explain", "C4"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        "Traceback" not in proc.stderr
        and "* teacher-student: a random teacher of each family is its own data-consistent point --"
        in proc.stdout
    )


# ---- progress within a claim --------------------------------------------------------------------
class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_case_progress_throttles_and_estimates():
    lines: list[str] = []
    clock = _Clock()
    p = runner.CaseProgress("C5", lines.append, "flows", interval=2.0, clock=clock)
    clock.t = 101.0
    p(1, 48)  # too soon after the start
    clock.t = 103.0
    p(12, 48)  # 3 s for 12 flows: 9 s for the 36 left
    clock.t = 104.0
    p(13, 48)  # too soon after the last line
    clock.t = 105.0
    p(20, 48)
    clock.t = 105.5
    p(48, 48)
    p(48, 48)  # the end is said once
    assert lines == ["C5: 12/48 flows, ETA 9 s", "C5: 20/48 flows, ETA 7 s", "C5: 48/48 flows in 5.5 s"]


def test_case_progress_with_nothing_done_has_no_eta():
    lines: list[str] = []
    clock = _Clock()
    p = runner.CaseProgress("C3", lines.append, clock=clock)
    clock.t = 102.0
    p(0, 5)
    assert lines == ["C3: 0/5 cases, ETA unknown"]


@pytest.mark.parametrize(
    ("done", "total", "message"),
    [
        (1, 0, "progress total must be an integer >= 1, got 0"),
        (1, True, "progress total must be an integer >= 1, got True"),
        (-1, 3, r"progress done must be an integer in \[0, 3\], got -1"),
        (4, 3, r"progress done must be an integer in \[0, 3\], got 4"),
        (1.0, 3, r"progress done must be an integer in \[0, 3\], got 1.0"),
    ],
)
def test_case_progress_refuses_impossible_counts(done, total, message):
    with pytest.raises(ValueError, match=message):
        runner.CaseProgress("C1", print)(done, total)


def test_case_progress_refuses_a_negative_interval():
    with pytest.raises(ValueError, match="interval must be a non-negative number of seconds, got -1"):
        runner.CaseProgress("C1", print, interval=-1)


def test_tally_counts_to_its_total_and_no_further():
    seen: list[tuple[int, int]] = []
    t = Tally(3, lambda d, n: seen.append((d, n)))
    t.step()
    t.finish()
    t.finish()
    assert seen == [(1, 3), (3, 3)]
    with pytest.raises(ValueError, match=r"step of 1 passes the total: 3 \+ 1 > 3"):
        t.step()
    with pytest.raises(ValueError, match="total must be an integer >= 1, got 0"):
        Tally(0, None)
    Tally(2, None).step(2)  # without a callback: counts only


def test_runner_passes_progress_only_when_asked_for_lines(monkeypatch):
    from dsb_verifier.checks.profiles import get_profile

    calls: list = []
    _fake_claim(monkeypatch, Status.HOLDS, calls=calls)
    lines: list[str] = []
    runner.run_checks(get_profile("quick"), 0, ["C1"], progress=lines.append)
    runner.run_checks(get_profile("quick"), 0, ["C1"])
    assert isinstance(calls[0], runner.CaseProgress) and calls[1] is None
    assert "C1: 3/3 cases in " in lines[1]


@pytest.mark.parametrize("claim", ["C1", "C2", "C3"])
def test_claims_report_every_case_up_to_their_total(monkeypatch, claim):
    """C1-C3 call progress(done, total) with done rising by one to total, total fixed."""
    import importlib

    from dsb_verifier.checks.profiles import get_profile

    seen: list[tuple[int, int]] = []
    importlib.import_module(runner.CLAIM_MODULES[claim]).run(
        get_profile("quick"), 0, progress=lambda d, n: seen.append((d, n))
    )
    total = seen[0][1]
    assert seen == [(d, total) for d in range(1, total + 1)]


# ---- a reader that leaves early (``| head``) ----------------------------------------------------
class _ClosedPipe(io.StringIO):
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_stdout_keeps_the_exit_status_and_prints_no_traceback(monkeypatch, tmp_path, capsys):
    _fake_claim(monkeypatch, Status.FAILS)
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    rc = cli.main(["run", "--claims", "C1", "--out", str(tmp_path), "--json", "--fail-on", "fails"])
    assert rc == 3  # --fail-on still decides
    assert (tmp_path / "report.json").is_file()
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert cli.main(["list"]) == 0


@pytest.mark.subprocess
def test_an_internal_error_exits_1_with_its_traceback(tmp_path):
    # A bug must not pass for a verdict or a bad input: Python's own exit status 1 and the traceback.
    code = (
        "import sys\n"
        "from dsb_verifier.checks import runner\n"
        "def broken(*a, **k):\n"
        "    raise RuntimeError('a bug in a check')\n"
        "runner.run_checks_into = broken\n"
        "from dsb_verifier.checks.cli.main import main\n"
        f"sys.exit(main(['run', '--claims', 'C1', '--out', {str(tmp_path / 'r')!r}]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and proc.stderr.rstrip().endswith("RuntimeError: a bug in a check")


# ---- a Ctrl-C whose KeyboardInterrupt is swallowed (it lands in a finaliser) ----------------------
class _SwallowedCtrlC:
    """Deleting it sends SIGINT from inside ``__del__``, where Python prints and drops the exception."""

    def __del__(self):
        signal.raise_signal(signal.SIGINT)


def _swallow_a_ctrl_c():
    _SwallowedCtrlC()  # dropped at once: the KeyboardInterrupt is raised in __del__ and ignored


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_swallowed_ctrl_c_still_stops_the_run_and_publishes_nothing(cli_main, monkeypatch, tmp_path):
    real = runner.run_checks_into

    def swallowing(*args, **kwargs):
        _swallow_a_ctrl_c()
        return real(*args, **kwargs)  # goes on as if nothing happened

    monkeypatch.setattr(runner, "run_checks_into", swallowing)
    rc, out, err = cli_main("run", "--claims", "C1", "--out", str(tmp_path / "r"))
    assert (rc, out) == (130, "")
    assert err.splitlines()[-1] == "dsb-verify: interrupted"
    assert not (tmp_path / "r").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no staging folder or lock left behind


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_swallowed_after_the_last_progress_line_publishes_nothing(cli_main, monkeypatch, tmp_path):
    from dsb_verifier.checks.cli import report as report_module

    real = report_module.write_report

    def swallowing(*args, **kwargs):
        real(*args, **kwargs)
        _swallow_a_ctrl_c()  # the report is written into the staging folder, not yet published

    old = tmp_path / "r"
    assert cli_main("run", "--claims", "C1", "--out", str(old))[0] == 0
    before = (old / "report.json").read_bytes()
    monkeypatch.setattr(report_module, "write_report", swallowing)
    rc, out, err = cli_main("run", "--claims", "C1", "--seed", "1", "--out", str(old))
    assert (rc, out) == (130, "")
    assert err.splitlines()[-1] == "dsb-verify: interrupted"
    assert (old / "report.json").read_bytes() == before  # the previous report, untouched


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_swallowed_ctrl_c_in_effective_writes_no_output(cli_main, monkeypatch, tmp_path):
    from dsb_verifier.checks.cli import publish

    real = publish._write_new_file

    def swallowing(path, writer):
        real(path, writer)
        _swallow_a_ctrl_c()

    monkeypatch.setattr(publish, "_write_new_file", swallowing)
    import numpy as np

    rng = np.random.default_rng(0)
    model = tmp_path / "m.npz"
    np.savez(model, weight_matrix=rng.normal(size=(4, 2)), vbias=np.zeros(4), hbias=np.zeros(2))
    rc, _out, err = cli_main("effective", str(model), "--out", str(tmp_path / "J.json"))
    assert rc == 130 and err.splitlines()[-1] == "dsb-verify: interrupted", err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_recorded_by_a_command_does_not_stop_a_later_library_call(cli_main, monkeypatch, tmp_path):
    from dsb_verifier.checks.cli import interrupts, publish

    real = runner.run_checks_into

    def swallowing(*args, **kwargs):
        _swallow_a_ctrl_c()
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "run_checks_into", swallowing)
    assert cli_main("run", "--claims", "C1", "--out", str(tmp_path / "r"))[0] == 130
    assert not interrupts.interrupted()  # cleared when the command ended
    publish.publish_files([(tmp_path / "x.txt", lambda fh: fh.write(b"x"))])
    assert (tmp_path / "x.txt").read_bytes() == b"x"


def test_interrupt_state_is_reset_by_each_command(cli_main, tmp_path):
    from dsb_verifier.checks.cli import interrupts

    interrupts._State.received = True  # left over from an earlier command in this process
    rc, out, _ = cli_main("list")
    assert rc == 0 and "C5" in out
    assert not interrupts.interrupted()


@pytest.mark.subprocess
def test_the_console_script_exits_130_without_finalising_after_a_swallowed_ctrl_c(tmp_path):
    code = (
        "import atexit, signal, sys\n"
        "from dsb_verifier.checks import runner\n"
        "class Swallow:\n"
        "    def __del__(self):\n"
        "        signal.raise_signal(signal.SIGINT)\n"
        "real = runner.run_checks_into\n"
        "def swallowing(*a, **k):\n"
        "    Swallow()\n"
        "    return real(*a, **k)\n"
        "runner.run_checks_into = swallowing\n"
        "atexit.register(lambda: print('finalised', file=sys.stderr))\n"
        "from dsb_verifier.checks.cli.main import console_main\n"
        f"sys.argv = ['dsb-verify', 'run', '--claims', 'C1', '--out', {str(tmp_path / 'r')!r}]\n"
        "console_main()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.splitlines()[-1] == "dsb-verify: interrupted"
    assert "finalised" not in proc.stderr  # os._exit: no interpreter finalisation after an interrupt
    assert proc.stdout == "" and not (tmp_path / "r").exists()


def test_stopping_the_pool_terminates_busy_workers_and_reaps_them():
    pool = ProcessPoolExecutor(2, initializer=runner._init_worker)
    futures = [pool.submit(time.sleep, 600) for _ in range(3)]  # two busy, one queued
    workers = list(pool._processes.values())
    while not all(w.is_alive() for w in workers):
        time.sleep(0.05)
    cli._stop_pool(pool)
    # the pool's manager thread may be reaping the same processes: poll until the exit codes are in
    deadline = time.monotonic() + 60  # a guard against a hang, not a timing
    while time.monotonic() < deadline and not (
        all(f.done() for f in futures) and all(w.exitcode is not None for w in workers)
    ):
        time.sleep(0.05)
    assert [w.exitcode for w in workers] == [-signal.SIGTERM] * 2  # terminated, not left to finish
    assert all(f.cancelled() or isinstance(f.exception(), BrokenProcessPool) for f in futures)


def test_explain_points_to_the_installed_theory_document():
    from dsb_verifier.checks.cli.claims_info import explain, theory_doc

    path = theory_doc()
    assert path is not None and path.endswith("theory.md")
    with open(path, encoding="utf-8") as fh:
        assert "## 7. How C5 and C6 are decided" in fh.read()
    assert f"(installed with the package: {path})" in explain("C5")


class _FullStream(io.TextIOBase):
    """A standard output on a full disk (``> /dev/full``)."""

    encoding = "utf-8"

    def write(self, s):
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self):
        raise OSError(errno.ENOSPC, "No space left on device")

    def fileno(self):
        raise io.UnsupportedOperation("no file descriptor")


@pytest.mark.parametrize("argv", [["list"], ["explain", "C5"], ["run", "--claims", "C1", "--json"]])
def test_an_unwritable_stdout_is_one_line_and_exit_2(argv, tmp_path, monkeypatch, capsys):
    from dsb_verifier.checks.cli.main import main

    if argv[0] == "run":
        argv = [*argv, "--out", str(tmp_path / "rep")]
    monkeypatch.setattr(sys, "stdout", _FullStream())
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "dsb-verify: cannot write to standard output: No space left on device"
    assert not any("Traceback" in line for line in err)
    if argv[0] == "run":  # the report itself was written before stdout failed
        assert (tmp_path / "rep" / "report.json").is_file()


def test_the_console_script_handles_ctrl_c_before_its_heavy_imports(monkeypatch, capsys):
    """Ctrl-C while numpy and the theory load (the first second of a run): one line, exit 130.

    The console script's module imports nothing heavy; the first heavy import happens in
    ``build_parser``, inside ``main``'s interrupt handling.
    """
    code = (
        "import sys, dsb_verifier.checks.cli.main\n"
        "print('numpy' in sys.modules, 'dsb_verifier.theory' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    from dsb_verifier.checks.cli import main as cli

    def slow_imports():
        raise KeyboardInterrupt  # as if Ctrl-C landed while dsb_verifier.theory was importing

    monkeypatch.setattr(cli, "build_parser", slow_imports)
    assert cli.main(["run"]) == 130
    assert capsys.readouterr().err.strip().splitlines() == ["dsb-verify: interrupted"]


def test_a_recorded_interrupt_swallowed_by_a_finaliser_is_not_printed(monkeypatch):
    """Inside a command, "Exception ignored ... KeyboardInterrupt" is not printed; other errors are."""
    from dsb_verifier.checks.cli import interrupts

    seen: list[type] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda args: seen.append(type(args.exc_value)))

    class Raising:
        def __init__(self, exc: BaseException) -> None:
            self.exc = exc

        def __del__(self) -> None:
            raise self.exc

    with interrupts.handling_interrupts():
        Raising(KeyboardInterrupt())  # not recorded (no signal arrived): passed on
        interrupts._State.received = True  # as the handler records it before raising
        Raising(KeyboardInterrupt())
        Raising(RuntimeError("a real finaliser error"))
    assert seen == [KeyboardInterrupt, RuntimeError]
    Raising(KeyboardInterrupt())  # outside a command: the previous hook again
    assert seen == [KeyboardInterrupt, RuntimeError, KeyboardInterrupt]
