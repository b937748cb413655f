"""``dsb_verifier.checks.cli.main`` and ``dsb_verifier.checks.cli.effective``: the parser, the ``run`` plumbing and ``effective`` outputs.

What this pins, beyond tests/test_cli.py, tests/test_cli_effective.py and tests/test_effective_tables.py:

* the parser: every option of ``run`` and ``effective`` converted to its type, the whole help a user
  reads (descriptions, every option with its default), and argparse's one-line refusals with the
  program name;
* ``run``: the output directory check (an existing directory is reused; ``report.json``,
  ``report.md`` or ``figures`` of the wrong kind is refused by name), the exact refusal lines of a
  bad profile or claim id, and the ``--data`` target and provenance (:func:`dsb_verifier.checks.cli.main._load_data`)
  against an independent empirical distribution, with fake claim checks so a run takes no time;
* ``effective``: ``OSError`` and multi-line ``ValueError`` mapped to one line with exit code 2,
  progress of a long checkpoint series, the one-space indented series JSON, and the
  ``--all-checkpoints`` outputs (``--figure``, npz with every checkpoint's couplings, refusals of
  the output paths).
"""

from __future__ import annotations

import argparse
import errno
import io
import json
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks import runner
from dsb_verifier.checks.cli import effective as ce
from dsb_verifier.checks.cli import effective_compute as cc
from dsb_verifier.checks.cli import effective_output as eo
from dsb_verifier.checks.cli import effective_request as cr
from dsb_verifier.checks.cli.io import InputError, RBMCheckpoints
from dsb_verifier.checks.cli.main import _load_data, build_parser
from dsb_verifier.checks.verdict import ClaimReport, ControlResult, Counterexample, Status, Verdict
from dsb_verifier.theory.rbm.io import RBMParams, rbm_from_params
from dsb_verifier.theory.tolerances import transform_atol

h5py = pytest.importorskip("h5py")


def _words(text: str) -> str:
    """``text`` with every run of whitespace made one space (argparse wraps help to the terminal)."""
    return " ".join(text.split())


def _pieces(text: str) -> list[str]:
    """``text`` cut before every usage group, option and section heading."""
    return re.split(r" (?=\[|-{1,2}[a-z]|options:|positional arguments:)", text)


# ---- parser: types, help, refusals ----------------------------------------------------------------
def test_parser_converts_every_run_option_to_its_type():
    argv = ["run", "--profile", "thorough", "--claims", "C1,C4", "--seed", "3", "--out", "o"]
    argv += ["--workers", "2", "--data", "d.npy", "--columns", "0,2", "--pseudo-count", "0.25"]
    argv += ["--json", "--quiet", "--fail-on", "not-holds"]
    args = vars(build_parser().parse_args(argv))
    assert args == {
        "command": "run",
        "profile": "thorough",
        "claims": "C1,C4",
        "seed": 3,
        "out": Path("o"),
        "workers": 2,
        "data": Path("d.npy"),
        "columns": "0,2",
        "pseudo_count": 0.25,
        "json": True,
        "quiet": True,
        "fail_on": "not-holds",
    }
    assert [type(args[k]) for k in ("seed", "workers", "pseudo_count")] == [int, int, float]


def test_parser_converts_every_effective_option_to_its_type():
    parser = build_parser()
    one = vars(
        parser.parse_args(["effective", "m.h5", "--checkpoint", "7", "--format", "csv", "--out", "t.csv"])
    )
    assert one == {
        "command": "effective",
        "model": Path("m.h5"),
        "checkpoint": 7,
        "all_checkpoints": False,
        "format": "csv",
        "out": Path("t.csv"),
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
    assert type(one["checkpoint"]) is int
    argv = ["effective", "m.h5", "--all-checkpoints", "--figure", "f.png", "--units", "spin"]
    more = ["--method", "gaussian", "--max-order", "4", "--samples", "30", "--seed", "5", "--subsets", "0,1"]
    more += ["--time", "effective_time", "--orders", "1,3"]
    many = vars(parser.parse_args([*argv, "--compare-gaussian", "--format", "npz", *more]))
    assert many == {
        "command": "effective",
        "model": Path("m.h5"),
        "checkpoint": None,
        "all_checkpoints": True,
        "format": "npz",
        "out": None,
        "figure": Path("f.png"),
        "units": "spin",
        "compare_gaussian": True,
        "method": "gaussian",
        "max_order": 4,
        "samples": 30,
        "seed": 5,
        "subsets": "0,1",
        "time": "effective_time",
        "orders": "1,3",
    }
    assert [type(many[k]) for k in ("max_order", "samples", "seed")] == [int, int, int]
    assert [parser.parse_args(["effective", "m", "--format", f]).format for f in ("json", "csv", "npz")] == [
        "json",
        "csv",
        "npz",
    ]


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--bogus"], "dsb-verify: error: unrecognized arguments: --bogus"),
        (
            ["run", "--seed", "x"],
            "dsb-verify run: error: argument --seed: expected an integer written with the digits 0-9, got 'x'",
        ),
        (["effective"], "dsb-verify effective: error: the following arguments are required: model"),
    ],
)
def test_parser_refusal_is_one_line_naming_the_program_and_command(cli_main, argv, line):
    assert cli_main(*argv) == (2, "", line + "\n")


def test_parser_refuses_an_unknown_format_naming_the_choices(cli_main):
    # argparse quotes the choices differently across Python versions (3.12.8 dropped the quotes).
    rc, out, err = cli_main("effective", "m.npz", "--format", "xml")
    assert (rc, out, err.count("\n")) == (2, "", 1)
    head = "dsb-verify effective: error: argument --format: invalid choice: 'xml' (choose from "
    assert err.startswith(head)
    assert re.sub("'", "", err.partition("(choose from ")[2]) == "json, csv, npz)\n"


HELP = {
    "commands": (
        ["--help"],
        "usage: dsb-verify [-h] [--version] {run,list,explain,effective} ... "
        "Verify the claims of 'Distributional simplicity bias and effective convexity in Energy Based "
        "Models' (arXiv:2605.07844) by exact enumeration for small N. "
        "positional arguments: {run,list,explain,effective} run run the claim checks and write a report "
        "list list the claims with a one-line description "
        "explain what the check of one claim tests, its decision rule, controls and tolerances "
        "effective effective couplings of every order of an RBM (.npz or rbms HDF5 checkpoints), any size "
        "options: -h, --help show this help message and exit "
        "--version show program's version number and exit "
        "'dsb-verify run' checks the claims (quick profile by default), 'dsb-verify list' names them, "
        "'dsb-verify explain C5' says how one is checked; 'dsb-verify run --help' lists the options "
        "of a command. exit codes: 0 completed (whatever the verdicts, unless --fail-on matched) "
        "1 internal error (a traceback follows: please report it) "
        "2 bad input or usage, including a bare 'dsb-verify', or output that cannot be written (one line on stderr) "
        "3 a verdict matched --fail-on (the claims are named on stderr) "
        "129 hung up (SIGHUP; cleaned up as for Ctrl-C, one line on stderr) "
        "130 interrupted (Ctrl-C; one line on stderr) "
        "143 terminated (SIGTERM; cleaned up as for Ctrl-C, one line on stderr)",
    ),
    "run": (
        ["run", "--help"],
        "usage: dsb-verify run [-h] [--profile PROFILE] [--claims CLAIMS] [--seed SEED] [--out OUT] "
        "[--workers WORKERS] [--data DATA] [--columns COLUMNS] [--pseudo-count PSEUDO_COUNT] "
        "[--json] [--quiet] [--fail-on {never,fails,not-holds}] "
        "Run the claim checks; write report.json, report.md and figures to --out; "
        "progress on stderr, the verdict table on stdout. "
        "options: -h, --help show this help message and exit "
        "--profile PROFILE quick (default, ~1 min) or thorough (~15 min) "
        "--claims CLAIMS comma-separated claim ids, e.g. C1,C4 (default: all) "
        "--seed SEED seed of every generated case (default 0) "
        "--out OUT output directory (default report/) "
        "--workers WORKERS processes for the independent flows (default 1: serial, in this process); "
        "same report "
        "--data DATA binary samples (.npy, HDF5 dataset 'samples', or whitespace-separated text; "
        "0/1 or ±1): claim checks that accept a target run on their empirical distribution "
        "--columns COLUMNS comma-separated columns of --data to keep, e.g. 0,3,5 "
        "--pseudo-count PSEUDO_COUNT pseudo-count alpha added to every state's count "
        "(default 2^-N: one virtual sample, uniform) "
        "--json print the report document (what report.json holds) to stdout, and nothing else there; "
        "the table goes to stderr "
        "--quiet no progress and no table (errors still on stderr) "
        "--fail-on {never,fails,not-holds} exit 3 when a claim's verdict is 'fails' (fails), or anything "
        "but 'holds' (not-holds), or a negative control was not caught (both); default never: exit 0 "
        "whatever the verdicts "
        "exit codes: 0 completed",
    ),
    "effective": (
        ["effective", "--help"],
        "usage: dsb-verify effective [-h] [--checkpoint N | --all-checkpoints] "
        "[--method {auto,enumerate,integral,gaussian}] [--max-order K] [--samples SAMPLES] [--seed SEED] "
        "[--subsets SPEC] [--time {update,effective_time}] [--orders ORDERS] [--format {json,csv,npz}] "
        "[--out OUT] [--figure FIGURE] [--units UNITS] [--compare-gaussian] model "
        "Effective couplings J_S of the visible marginal of an RBM and their per-order norms "
        "(the paper's Fig. 1): exact enumeration of the 2^Nv states where it fits in memory, else the "
        "exact one-dimensional integral (docs/theory.md §8). 0/1 units are converted exactly to "
        "spins s = 2x - 1. "
        "positional arguments: model .npz (weight_matrix, vbias, hbias[, units]) or HDF5 (rbms layout) "
        "options: -h, --help show this help message and exit "
        "--checkpoint N HDF5: use update_N (default: the last) "
        "--all-checkpoints HDF5: per-order norms of every checkpoint against training time, plus the "
        "Fig. 1 PNG "
        "--method {auto,enumerate,integral,gaussian} auto (default: enumeration where it fits in "
        "memory, else the integral), enumerate, integral (exact at any N), gaussian (the central-limit "
        "mapping) "
        "--max-order K orders 1..K (default: all with enumeration, min(N, 3) otherwise) "
        "--samples SAMPLES subsets sampled per order whose C(N, k) is too large to evaluate all "
        "(default 2000) "
        "--seed SEED seed of the sampled subsets (default 0) "
        '--subsets SPEC chosen couplings, variable indices: "0,1;2,5,7" (the table rows become these) '
        "--time {update,effective_time} time axis of --all-checkpoints: update index n (default) or "
        "rbms's effective_time "
        "--orders ORDERS orders drawn in the figure, e.g. 1,2,3 (default: all computed) "
        "--format {json,csv,npz} output format (default: from the --out suffix .json/.csv/.npz, else json) "
        "--out OUT output file (default: stdout; npz needs --out) "
        "--figure FIGURE PNG path with --all-checkpoints (default: --out with suffix .png, "
        "else <MODEL stem>_order_norms.png in the current directory) "
        "--units UNITS unit convention: bernoulli (0/1, default), spin (±1), or VISIBLE,HIDDEN "
        "e.g. bernoulli,spin "
        "--compare-gaussian also evaluate the Gaussian (central-limit) mapping on the same subsets, "
        "orders 1..K, and its error per order",
    ),
}


@pytest.mark.parametrize("name", list(HELP))
def test_help_holds_every_documented_sentence_in_order(cli_main, name):
    # Compared piece by piece rather than as one text: argparse's layout of the usage line and of
    # the option column changes between Python versions; the words of each piece do not.
    argv, text = HELP[name]
    rc, out, err = cli_main(*argv)
    assert (rc, err) == (0, "")
    words, at = _words(out), 0
    for piece in _pieces(text):
        found = words.find(piece, at)
        assert found >= 0, f"{piece!r} missing from the help (after position {at}):\n{out}"
        at = found + len(piece)


# ---- run: the output directory ------------------------------------------------------------------
# (the output folder's checks moved to tests/test_publish.py with the publishing of issue 16)


# ---- run: refusals and fake claim checks ---------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--claims", "C9"],
            "unknown claim id(s) 'C9'; expected a comma-separated subset of C1,C2,C3,C4,C5,C6",
        ),
        (["--profile", "fast"], "unknown profile 'fast'; expected one of quick, thorough, extended"),
        (["--workers", "0"], "--workers must be an integer >= 1, got 0"),
        (["--seed", "-1"], "--seed must be a non-negative integer, got -1"),
    ],
)
def test_run_refusal_is_the_exact_line(cli_main, tmp_path, args, message):
    out = tmp_path / "rep"
    assert cli_main("run", "--out", str(out), *args) == (2, "", f"dsb-verify: error: {message}\n")
    assert not out.exists()


def _verdict(claim: str, status: Status) -> Verdict:
    ce_ = (Counterexample("x", {}, 1.0),) if status is Status.FAILS else ()
    return Verdict(claim, "statement", status, {"N": 3}, {"headline": f"{claim} ok"}, {}, counterexamples=ce_)


def _report(claim: str) -> ClaimReport:
    return ClaimReport(
        _verdict(claim, Status.HOLDS), (ControlResult(claim, "c", "d", _verdict(claim, Status.FAILS)),)
    )


@pytest.fixture
def fake_claims(monkeypatch):
    """C1 and C3 accept a ``target`` keyword (recorded in ``seen``), C2 does not."""
    seen: dict[str, object] = {}
    for claim, takes_target in (("C1", True), ("C2", False), ("C3", True)):
        mod = types.ModuleType(f"fake_{claim}")
        if takes_target:

            def run(profile, seed, target=None, _claim=claim):
                seen[_claim] = target
                return _report(_claim)
        else:

            def run(profile, seed, _claim=claim):
                return _report(_claim)

        mod.run = run
        monkeypatch.setitem(sys.modules, mod.__name__, mod)
        monkeypatch.setitem(runner.CLAIM_MODULES, claim, mod.__name__)
    return seen


@pytest.fixture
def data_file(tmp_path) -> Path:
    path = tmp_path / "d.npy"
    np.save(path, np.array([[0, 1, 1], [1, 1, 0], [0, 0, 1], [1, 1, 1], [0, 1, 0]], dtype=np.int8))
    return path


def test_run_passes_the_data_target_to_every_claim_that_accepts_one_and_says_so(
    cli_main, tmp_path, fake_claims, data_file
):
    out = tmp_path / "rep"
    rc, stdout, stderr = cli_main("run", "--claims", "C1,C2,C3", "--data", str(data_file), "--out", str(out))
    assert rc == 0, stderr
    x = np.load(data_file)
    q = T.empirical(x, pseudo_count=2.0**-3, values="bit")
    assert sorted(fake_claims) == ["C1", "C3"]
    for claim in ("C1", "C3"):
        np.testing.assert_allclose(fake_claims[claim], q, rtol=1e-14)
    assert f"\nuser data {data_file}: used by C1, C3; generated targets only: C2\n" in stdout
    assert re.search(
        rf"\nwrote {re.escape(str(out / 'report.json'))} and {re.escape(str(out / 'report.md'))} "
        r"\(\d+\.\d s\)\n$",
        stdout,
    )
    assert [line.split()[:2] for line in stdout.splitlines()[2:5]] == [
        ["C1", "holds"],
        ["C2", "holds"],
        ["C3", "holds"],
    ]
    user = json.loads((out / "report.json").read_text())["provenance"]["user_target"]
    assert user["used_by"] == ["C1", "C3"] and user["generated_only"] == ["C2"]


def test_run_without_data_passes_no_target_and_prints_no_data_line(cli_main, tmp_path, fake_claims):
    out = tmp_path / "rep"
    rc, stdout, stderr = cli_main("run", "--claims", "C1", "--out", str(out))
    assert rc == 0, stderr
    assert fake_claims == {"C1": None}
    assert "user data" not in stdout
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "report.md"]
    assert json.loads((out / "report.json").read_text())["provenance"]["claims"] == ["C1"]


def _ns(data=None, columns=None, pseudo_count=None) -> argparse.Namespace:
    return argparse.Namespace(data=data, columns=columns, pseudo_count=pseudo_count)


def test_load_data_without_data_is_no_target_and_data_options_alone_are_refused():
    assert _load_data(_ns()) == (None, None)
    for ns in (_ns(columns="0,1"), _ns(pseudo_count=0.5), _ns(columns="0", pseudo_count=0.0)):
        with pytest.raises(ValueError, match=r"^--columns and --pseudo-count need --data FILE$"):
            _load_data(ns)


def test_load_data_default_pseudo_count_all_columns(data_file):
    q, info = _load_data(_ns(data_file))
    np.testing.assert_allclose(
        q, T.empirical(np.load(data_file), pseudo_count=2.0**-3, values="bit"), rtol=1e-14
    )
    assert info == {
        "path": str(data_file),
        "columns": [0, 1, 2],
        "n_samples": 5,
        "n_variables": 3,
        "values": "bit",
        "pseudo_count": 0.125,
        "pseudo_count_rule": "default 2^-N (one virtual sample)",
        "replay_args": f"--data {data_file}",
    }


def test_load_data_columns_and_explicit_pseudo_count(data_file):
    q, info = _load_data(_ns(data_file, columns="2,0", pseudo_count=0.5))
    x = np.load(data_file)[:, [2, 0]]
    np.testing.assert_allclose(q, T.empirical(x, pseudo_count=0.5, values="bit"), rtol=1e-14)
    assert info == {
        "path": str(data_file),
        "columns": [2, 0],
        "n_samples": 5,
        "n_variables": 2,
        "values": "bit",
        "pseudo_count": 0.5,
        "pseudo_count_rule": "explicit",
        "replay_args": f"--data {data_file} --columns 2,0 --pseudo-count 0.5",
    }
    _, info = _load_data(_ns(data_file, columns="1"))
    assert info["replay_args"] == f"--data {data_file} --columns 1" and info["pseudo_count"] == 0.5
    assert info["pseudo_count_rule"] == "default 2^-N (one virtual sample)"


# ---- effective: error mapping -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (
            OSError(errno.EACCES, "Permission denied", "/x/out.json"),
            "cannot write output: Permission denied (/x/out.json)",
        ),
        (InputError("m.npz: first line\n   second   line"), "m.npz: first line second line"),
        (ValueError("  spaced\tout  "), "spaced out"),
    ],
)
def test_effective_maps_a_failure_to_one_line_with_exit_code_2(cli_main, monkeypatch, exc, line):
    seen = []

    def boom(args, err):
        seen.append((args.model, args.format))
        raise exc

    monkeypatch.setattr(ce, "run_effective", boom)
    assert cli_main("effective", "m.npz", "--format", "csv") == (2, "", f"dsb-verify: error: {line}\n")
    assert seen == [(Path("m.npz"), "csv")]


def test_effective_messages_go_to_stderr_one_per_line(cli_main, monkeypatch):
    def talk(args, err):
        err("first")
        err("second")

    monkeypatch.setattr(ce, "run_effective", talk)
    assert cli_main("effective", "m.npz") == (0, "", "first\nsecond\n")


# ---- effective: computation and outputs ---------------------------------------------------------
def _params(Nv: int, Nh: int, seed: int) -> RBMParams:
    rng = np.random.default_rng(seed)
    return RBMParams(
        0.5 * rng.standard_normal((Nv, Nh)), 0.3 * rng.standard_normal(Nv), 0.3 * rng.standard_normal(Nh)
    )


@pytest.mark.parametrize(("T_", "every"), [(35, 3), (9, 1), (40, 4)])
def test_compute_reports_progress_every_tenth_of_the_series_and_at_the_end(T_, every):
    checkpoints = tuple(range(100, 100 + T_))
    src = RBMCheckpoints("ck.h5", "hdf5", checkpoints, tuple(_params(2, 1, s) for s in range(T_)), "file")
    seen: list[str] = []
    cc.compute(src, cr.Request(keep=False), progress=seen.append)
    done = sorted({*range(every, T_ + 1, every), T_})
    assert seen == [f"checkpoint {99 + t} ({t}/{T_})" for t in done]


def _series(checkpoints=(0, 10, 100), Nv=3, Nh=2) -> RBMCheckpoints:
    return RBMCheckpoints(
        "ck.h5", "hdf5", checkpoints, tuple(_params(Nv, Nh, s) for s in range(len(checkpoints))), "file"
    )


def test_series_json_is_one_space_indented_like_the_report(tmp_path):
    res = cc.compute(_series(), cr.Request(keep=False, compare_gaussian=True))
    buf = io.StringIO()
    eo.series_json(res, "update", str(tmp_path / "f.png"), buf)
    text = buf.getvalue()
    assert text == json.dumps(json.loads(text), indent=1) + "\n"
    assert text.startswith('{\n "model": "ck.h5",\n')


def _h5(path, updates=(0, 3, 30), Nv=3, Nh=2):
    with h5py.File(path, "w") as f:
        f["model_type"] = b"BBRBM"
        for n in updates:
            p = f.create_group(f"update_{n}").create_group("params")
            rng = np.random.default_rng(n)
            p["weight_matrix"] = 0.5 * rng.standard_normal((Nv, Nh))
            p["vbias"] = 0.3 * rng.standard_normal(Nv)
            p["hbias"] = 0.3 * rng.standard_normal(Nh)
    return path


def _J_h5(path, n):
    with h5py.File(path, "r") as f:
        p = f[f"update_{n}/params"]
        model, theta = rbm_from_params(RBMParams(p["weight_matrix"][()], p["vbias"][()], p["hbias"][()]))
    return model.couplings(theta)


def test_all_checkpoints_json_with_figure_option(cli_main, tmp_path):
    ck = _h5(tmp_path / "ck.h5")
    out, fig = tmp_path / "s.json", tmp_path / "pics" / "norms.png"
    fig.parent.mkdir()
    rc, stdout, err = cli_main(
        "effective", str(ck), "--all-checkpoints", "--out", str(out), "--figure", str(fig)
    )
    assert (rc, stdout) == (0, ""), err
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads(out.read_text())
    assert doc["figure"] == str(fig) and doc["checkpoints"] == [0, 3, 30]
    # two enumerations (the command's streamed one and theory.RBM's): equal to rounding
    np.testing.assert_allclose(
        doc["order_norms"],
        [T.order_norms(_J_h5(ck, n))[1:] for n in (0, 3, 30)],
        rtol=0,
        atol=transform_atol(3, 10.0),
    )
    assert err.endswith(f"wrote {out}\nwrote {fig}\n")
    assert "checkpoint 30 (3/3)" in err.splitlines()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".dsb-set")) == [
        "ck.h5",
        "pics",
        "s.json",
    ]


def test_all_checkpoints_npz_keeps_every_checkpoints_couplings_and_a_figure_beside_it(cli_main, tmp_path):
    ck = _h5(tmp_path / "ck.h5")
    out = tmp_path / "s.npz"
    rc, stdout, err = cli_main(
        "effective", str(ck), "--all-checkpoints", "--format", "npz", "--out", str(out)
    )
    assert (rc, stdout) == (0, ""), err
    with np.load(out) as z:
        assert z["checkpoints"].tolist() == [0, 3, 30]
        np.testing.assert_allclose(
            z["J"], [_J_h5(ck, n) for n in (0, 3, 30)], rtol=0, atol=transform_atol(3, 10.0)
        )
        assert z["order_norms"].shape == (3, 3)
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    assert err.endswith(f"wrote {out}\nwrote {tmp_path / 's.png'}\n")


def test_single_csv_to_stdout_writes_no_norms_file(cli_main, tmp_path, monkeypatch):
    ck = _h5(tmp_path / "ck.h5")
    monkeypatch.chdir(tmp_path)
    rc, stdout, err = cli_main("effective", "ck.h5", "--format", "csv", "--checkpoint", "3")
    assert rc == 0, err
    J = _J_h5(ck, 3)
    lines = stdout.splitlines()
    assert lines[0] == "subset,order,indices,J" and len(lines) == 8
    assert lines[1].startswith('1,1,"0",') and float(lines[1].split(",")[3]) == pytest.approx(
        float(J[1]), rel=0, abs=transform_atol(3, 10.0)
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.h5"]
    assert "wrote" not in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--out", "s.png"], "the figure would overwrite --out s.png; give --figure PNG"),
        (
            ["--out", "s.json", "--figure", "s.json"],
            "the figure would overwrite --out s.json; give --figure PNG",
        ),
        (["--out", "adir"], "adir: is a directory, expected a file path"),
        (["--figure", "adir"], "adir: is a directory, expected a file path"),
        (["--figure", "nodir/f.png"], "nodir/f.png: directory nodir does not exist"),
    ],
)
def test_all_checkpoints_output_paths_are_refused_before_anything_is_written(
    cli_main, tmp_path, monkeypatch, extra, message
):
    _h5(tmp_path / "ck.h5")
    (tmp_path / "adir").mkdir()
    monkeypatch.chdir(tmp_path)
    assert cli_main("effective", "ck.h5", "--all-checkpoints", *extra) == (
        2,
        "",
        f"dsb-verify: error: {message}\n",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "ck.h5"]
