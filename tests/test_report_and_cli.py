"""``dsb-verify`` in this process: option defaults and help, refusals, ``--data`` provenance, and the report.

The CLI runs fake claim checks (C1 takes a user target, C2 does not) so that what the command prints and
writes can be compared exactly with what the checks returned; the report functions
(:func:`dsb_verifier.checks.cli.report.verdict_table`, :func:`dsb_verifier.checks.cli.report.markdown`, :func:`dsb_verifier.checks.cli.report.write_report`)
are tested on a hand-built :class:`dsb_verifier.checks.runner.Report`.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from dsb_verifier.checks import runner
from dsb_verifier.checks.cli.main import build_parser
from dsb_verifier.checks.cli.report import markdown, verdict_table, write_report
from dsb_verifier.checks.verdict import ClaimReport, ControlResult, Counterexample, Status, Verdict
from dsb_verifier.theory import __version__


def _words(text: str) -> str:
    """``text`` with every run of whitespace made one space (argparse wraps help to the terminal)."""
    return " ".join(text.split())


# ---- fake claim checks and a report built from them ---------------------------------------------
def _verdict(claim: str, status: Status, evidence: dict, counterexamples=()) -> Verdict:
    return Verdict(
        claim,
        f"statement of {claim}",
        status,
        {"N": 3, "family": "rbm"},
        evidence,
        {"atol": 1e-10},
        counterexamples=counterexamples,
    )


CE = Counterexample("grad not zero", {"N": 3, "family": "rbm", "index": 2}, 0.5, seed=5)


def _claim_c1(seed: int = 5) -> ClaimReport:
    """Holds, evidence with a headline; its control is caught."""
    ctl = ControlResult("C1", "wrong-sign", "flipped sign", _verdict("C1", Status.FAILS, {}, (CE,)))
    return ClaimReport(_verdict("C1", Status.HOLDS, {"headline": "max error 1e-15", "cases": 4}), (ctl,), 2.0)


def _claim_c2(seed: int = 5) -> ClaimReport:
    """Fails with one counterexample; its control is NOT caught (it holds where it must fail)."""
    ctl = ControlResult("C2", "no-op", "does nothing", _verdict("C2", Status.HOLDS, {}))
    return ClaimReport(_verdict("C2", Status.FAILS, {"cases": 2}, (CE,)), (ctl,), 12.25)


@pytest.fixture
def fake_claims(monkeypatch):
    """C1 accepts a ``target`` keyword (user data), C2 does not; both return the reports above."""
    with_target = types.ModuleType("fake_c1_with_target")
    without = types.ModuleType("fake_c2_without_target")
    with_target.run = lambda profile, seed, target=None: _claim_c1(seed)
    without.run = lambda profile, seed: _claim_c2(seed)
    monkeypatch.setitem(sys.modules, with_target.__name__, with_target)
    monkeypatch.setitem(sys.modules, without.__name__, without)
    monkeypatch.setitem(runner.CLAIM_MODULES, "C1", with_target.__name__)
    monkeypatch.setitem(runner.CLAIM_MODULES, "C2", without.__name__)


PROVENANCE = {
    "dsb_verifier_version": __version__,
    "git_commit": None,
    "seed": 5,
    "profile": {"name": "quick"},
    "claims": ["C1", "C2"],
    "replay": "dsb-verify run --profile quick --seed 5 --claims C1,C2",
}


@pytest.fixture(scope="module")
def report() -> runner.Report:
    return runner.Report(claims=(_claim_c1(), _claim_c2()), provenance=dict(PROVENANCE), wall_seconds=1.25)


# ---- parser: defaults and the help a user reads them from ----------------------------------------
def test_run_and_effective_option_defaults():
    parser = build_parser()
    run = vars(parser.parse_args(["run"]))
    assert run == {
        "command": "run",
        "profile": "quick",
        "claims": None,
        "seed": 0,
        "out": Path("report"),
        "workers": 1,
        "data": None,
        "columns": None,
        "pseudo_count": None,
        "json": False,
        "quiet": False,
        "fail_on": "never",
    }
    eff = vars(parser.parse_args(["effective", "m.npz"]))
    assert eff == {
        "command": "effective",
        "model": Path("m.npz"),
        "checkpoint": None,
        "all_checkpoints": False,
        "format": None,
        "out": None,
        "figure": None,
        "units": None,
        "compare_gaussian": False,
        "method": "auto",
        "max_order": None,
        "samples": 2000,
        "seed": 0,
        "subsets": None,
        "time": "update",
        "orders": None,
    }


@pytest.mark.parametrize(
    ("argv", "entries"),
    [
        (
            ["--help"],
            [
                "{run,list,explain,effective} run run the claim checks and write a report",
                "effective effective couplings of every order of an RBM (.npz or rbms HDF5 checkpoints), any size",
            ],
        ),
        (
            ["run", "--help"],
            [
                "--profile PROFILE quick (default, ~1 min) or thorough (~15 min)",
                "--claims CLAIMS comma-separated claim ids, e.g. C1,C4 (default: all)",
                "--seed SEED seed of every generated case (default 0)",
                "--out OUT output directory (default report/)",
                "--workers WORKERS processes for the independent flows (default 1: serial, in this process)",
                "--pseudo-count PSEUDO_COUNT pseudo-count alpha added to every state's count "
                "(default 2^-N: one virtual sample, uniform)",
            ],
        ),
        (
            ["effective", "--help"],
            [
                "--checkpoint N HDF5: use update_N (default: the last)",
                "--method {auto,enumerate,integral,gaussian} auto (default: enumeration where it fits in "
                "memory, else the integral)",
                "--max-order K orders 1..K (default: all with enumeration, min(N, 3) otherwise)",
                "--samples SAMPLES subsets sampled per order whose C(N, k) is too large to evaluate all "
                "(default 2000)",
                "--seed SEED seed of the sampled subsets (default 0)",
                "--time {update,effective_time} time axis of --all-checkpoints: update index n (default)",
                "--format {json,csv,npz} output format (default: from the --out suffix .json/.csv/.npz, else json)",
                "--out OUT output file (default: stdout; npz needs --out)",
                "--units UNITS unit convention: bernoulli (0/1, default), spin (±1), "
                "or VISIBLE,HIDDEN e.g. bernoulli,spin",
            ],
        ),
    ],
    ids=["commands", "run", "effective"],
)
def test_help_lists_the_commands_and_each_option_with_its_default_or_choices(cli_main, argv, entries):
    rc, out, err = cli_main(*argv)
    assert (rc, err) == (0, "")
    text = _words(out)
    for entry in entries:
        assert entry in text


# ---- run: one-line refusals before anything is written ------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed", "-1"], "--seed must be a non-negative integer, got -1"),
        (["--workers", "0"], "--workers must be an integer >= 1, got 0"),
        (["--columns", "0,1"], "--columns and --pseudo-count need --data FILE"),
        (["--pseudo-count", "0.5"], "--columns and --pseudo-count need --data FILE"),
    ],
)
def test_run_refusal_is_one_exact_line_and_writes_nothing(cli_main, tmp_path, args, message):
    out = tmp_path / "rep"
    rc, stdout, stderr = cli_main("run", "--claims", "C1", "--out", str(out), *args)
    assert (rc, stdout) == (2, "")
    assert stderr == f"dsb-verify: error: {message}\n"
    assert not out.exists()


# ---- run --data: what the terminal and report.json say about the user target --------------------
@pytest.fixture
def data_file(tmp_path) -> Path:
    path = tmp_path / "d.npy"
    np.save(path, (np.random.default_rng(0).random((6, 3)) < 0.5).astype(np.int8))
    return path


@pytest.mark.parametrize(
    ("claims", "used_by", "line"),
    [
        ("C1,C2", ["C1"], "used by C1; generated targets only: C2"),
        ("C2", [], "used by no claim; generated targets only: C2"),
        ("C1", ["C1"], "used by C1; generated targets only: none"),
    ],
)
def test_run_with_data_says_which_claims_used_it(
    cli_main, tmp_path, fake_claims, data_file, claims, used_by, line
):
    out = tmp_path / "rep"
    rc, stdout, stderr = cli_main("run", "--claims", claims, "--data", str(data_file), "--out", str(out))
    assert rc == 0, stderr
    assert f"\nuser data {data_file}: {line}\n" in stdout
    user = json.loads((out / "report.json").read_text())["provenance"]["user_target"]
    assert user["used_by"] == used_by


@pytest.mark.parametrize(
    ("extra", "alpha", "rule", "replay_tail"),
    [
        ([], 2.0**-2, "default 2^-N (one virtual sample)", ""),
        (["--pseudo-count", "0.5"], 0.5, "explicit", " --pseudo-count 0.5"),
    ],
    ids=["default", "explicit"],
)
def test_run_with_data_records_pseudo_count_and_replay(
    cli_main, tmp_path, fake_claims, data_file, extra, alpha, rule, replay_tail
):
    out = tmp_path / "rep"
    argv = ["run", "--claims", "C1", "--seed", "5", "--data", str(data_file), "--columns", "0,2"]
    rc, _, stderr = cli_main(*argv, *extra, "--out", str(out))
    assert rc == 0, stderr
    prov = json.loads((out / "report.json").read_text())["provenance"]
    # the replay command reproduces the run, data options included
    assert prov["replay"] == (
        f"dsb-verify run --profile quick --seed 5 --claims C1 --data {data_file} --columns 0,2{replay_tail}"
    )
    user = prov["user_target"]
    assert user["pseudo_count"] == alpha and user["pseudo_count_rule"] == rule
    assert user["columns"] == [0, 2] and user["n_variables"] == 2 and user["n_samples"] == 6
    assert user["n_states"] == 4 and user["path"] == str(data_file) and "replay_args" not in user


# ---- the report ---------------------------------------------------------------------------------
def test_verdict_table_header_rule_and_one_aligned_row_per_claim(report):
    lines = verdict_table(report).splitlines()
    assert lines[0].split() == ["claim", "status", "controls", "time", "evidence"]
    assert set(lines[1]) == {"-"} and len(lines[1]) == max(len(x) for x in lines)
    assert [line.split()[:5] for line in lines[2:]] == [
        ["C1", "holds", "1/1", "caught", "2.0s"],
        ["C2", "fails", "0/1", "caught", "12.2s"],  # 12.25 rounds half to even
    ]
    # the evidence column starts where its header does; C2 has no headline: its counterexample count
    col = lines[0].index("evidence")
    assert [line[col:] for line in lines[2:]] == ["max error 1e-15", "1 counterexample(s)"]


def test_markdown_has_summary_table_one_section_per_claim_and_provenance(report):
    md = markdown(report)
    lines = md.splitlines()
    assert lines[:9] == [
        "# dsb-verifier report",
        "",
        f"dsb-verifier {__version__} · profile `quick` · seed 5 · commit `unknown` · 1.2 s",
        "",
        "Replay: `dsb-verify run --profile quick --seed 5 --claims C1,C2`",
        "",
        "| claim | status | controls caught | evidence |",
        "|---|---|---|---|",
        "| C1 | **holds** | 1/1 | max error 1e-15 |",
    ]
    assert lines[9] == "| C2 | **fails** | 0/1 | 1 counterexample(s) |"
    headings = [line for line in lines if line.startswith("## ")]
    assert headings == ["## C1 — holds", "## C2 — fails", "## Provenance"]
    assert "> statement of C2" in lines
    assert "**Conditions.** N: `3`, family: `rbm`" in lines
    assert "**Tolerances.** atol = 1e-10" in lines
    # the counterexample can be replayed: its case is printed as JSON, with its seed
    assert '- grad not zero — case `{"N": 3, "family": "rbm", "index": 2}` (seed 5)' in lines
    assert "- `wrong-sign`: flipped sign → reported `fails` (caught)" in lines
    assert "- `no-op`: does nothing → reported `holds` (NOT CAUGHT — the check is defective)" in lines
    # every ```json block parses: the evidence of each claim, in order, then the provenance
    blocks, i = [], 0
    while "```json" in lines[i:]:
        start = lines.index("```json", i) + 1
        i = lines.index("```", start)
        blocks.append(json.loads("\n".join(lines[start:i])))
    doc = report.to_json()
    assert blocks == [c["evidence"] for c in doc["claims"]] + [doc["provenance"]]
    assert md.count("<details><summary>Evidence (JSON)</summary>") == 2


def test_write_report_writes_both_files_creating_the_directory(tmp_path, report):
    out = tmp_path / "new" / "dir"
    j, m = write_report(report, out)
    assert (j, m) == (out / "report.json", out / "report.md")
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "report.md"]  # no temporary left
    text = j.read_text(encoding="utf-8")
    assert json.loads(text) == report.to_json()
    # line-oriented, one-space indented JSON (diffable between runs), ending in a newline
    assert text == json.dumps(report.to_json(), indent=1) + "\n"
    assert m.read_text(encoding="utf-8") == markdown(report)
