"""The dsb-verify command: version, run, report files, one-line refusals with exit code 2."""

import json
import subprocess
import sys

import pytest
from dsb_verifier.checks.cli.main import main
from dsb_verifier.theory import __version__


def _cli(*args, cwd=None):
    """The command as a separate Python process (exit code, one-line stderr, no traceback)."""
    return subprocess.run(
        [sys.executable, "-m", "dsb_verifier.checks.cli.main", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
    )


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"dsb-verify {__version__}"


def test_help_without_arguments(capsys):
    assert main([]) == 2  # a bare command is a usage error: the help goes to stderr
    captured = capsys.readouterr()
    assert captured.out == "" and "run" in captured.err


def test_run_writes_report(cli_main, tmp_path):
    out = tmp_path / "rep"
    rc, stdout, stderr = cli_main("run", "--claims", "C1", "--seed", "3", "--out", str(out))
    assert rc == 0, stderr
    assert "C1" in stdout and "holds" in stdout
    assert "[1/1] C1" in stderr  # progress
    doc = json.loads((out / "report.json").read_text())
    assert doc["schema_version"]
    assert [c["id"] for c in doc["claims"]] == ["C1"]
    claim = doc["claims"][0]
    for key in ("id", "status", "statement", "conditions", "evidence"):
        assert key in claim
    assert doc["controls"] and all(c["caught"] for c in doc["controls"])
    prov = doc["provenance"]
    assert prov["seed"] == 3 and prov["profile"]["name"] == "quick"
    assert prov["dsb_verifier_version"] == __version__
    assert "wall_seconds" in prov
    assert (out / "report.md").read_text().startswith("# dsb-verifier report")


@pytest.mark.subprocess
def test_same_seed_same_report_apart_from_timings(tmp_path):
    docs = []
    for name in ("a", "b"):
        proc = _cli("run", "--claims", "C1", "--seed", "7", "--out", str(tmp_path / name))
        assert proc.returncode == 0, proc.stderr
        doc = json.loads((tmp_path / name / "report.json").read_text())
        doc["provenance"].pop("wall_seconds")
        for c in doc["claims"]:
            c.pop("seconds")
        docs.append(doc)
    assert docs[0] == docs[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--claims", "C9"], "unknown claim id(s) 'C9'"),
        (["run", "--claims", ""], "unknown claim id"),
        (["run", "--profile", "fast"], "unknown profile 'fast'"),
        (["run", "--seed", "-1"], "--seed must be a non-negative integer"),
        (["run", "--seed", "x"], "--seed: expected an integer written with the digits 0-9, got 'x'"),
        (["run", "--seed", "\u0661"], "--seed: expected an integer written with the digits 0-9"),
        (["run", "--seed", "\u00b2"], "--seed: expected an integer written with the digits 0-9"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["run", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
@pytest.mark.subprocess
def test_bad_input_is_one_line_exit_2(args, message):
    proc = _cli(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_unwritable_output_leaves_nothing(cli_main, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    rc, _, stderr = cli_main("run", "--claims", "C1", "--out", str(blocker / "sub" / "deeper"))
    assert rc == 2
    assert "cannot write to output directory" in stderr
    assert "Traceback" not in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_markdown_table_escapes_pipes_in_headlines(cli_main, tmp_path):
    out = tmp_path / "rep"
    rc, _, stderr = cli_main("run", "--claims", "C4", "--out", str(out))
    assert rc == 0, stderr
    row = next(line for line in (out / "report.md").read_text().splitlines() if line.startswith("| C4"))
    cells = [c for c in row.replace("\\|", "").split("|")]
    assert len(cells) == 6  # 4 cells between the outer pipes: claim, status, controls, evidence
