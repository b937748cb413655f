"""``dsb-verify effective`` and ``dsb-verify run --data``: outputs, and one-line refusals of bad input."""

import csv
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks import runner
from dsb_verifier.checks.cli.main import main
from dsb_verifier.checks.profiles import get_profile
from dsb_verifier.checks.verdict import ClaimReport, ControlResult, Counterexample, Status, Verdict
from dsb_verifier.theory.rbm.io import RBMParams, rbm_from_params

h5py = pytest.importorskip("h5py")

REPO = Path(__file__).resolve().parents[1]


def _npz(path, Nv=4, Nh=3, seed=0, **extra):
    rng = np.random.default_rng(seed)
    arrays = {
        "weight_matrix": rng.standard_normal((Nv, Nh)),
        "vbias": rng.standard_normal(Nv),
        "hbias": rng.standard_normal(Nh),
    }
    arrays.update(extra)
    np.savez(path, **arrays)
    return arrays


def _h5(path, updates=(0, 1, 3, 10, 30, 100, 300), Nv=5, Nh=3, drop=None, model_type=b"BBRBM"):
    rng = np.random.default_rng(1)
    with h5py.File(path, "w") as f:
        if model_type is not None:
            f["model_type"] = model_type
        for n in updates:
            p = f.create_group(f"update_{n}").create_group("params")
            scale = 0.1 * (1 + np.log1p(n))
            for key, shape in (("weight_matrix", (Nv, Nh)), ("vbias", (Nv,)), ("hbias", (Nh,))):
                if key != drop:
                    p[key] = scale * rng.standard_normal(shape)


def _exact(arrays, units="bernoulli"):
    vis, hid = (units, units)
    model, theta = rbm_from_params(
        RBMParams(arrays["weight_matrix"], arrays["vbias"], arrays["hbias"], visible=vis, hidden=hid)
    )
    return model.couplings(theta)


def test_json_single_model(tmp_path, capsys):
    arrays = _npz(tmp_path / "m.npz")
    assert main(["effective", str(tmp_path / "m.npz")]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    J = _exact(arrays)
    assert doc["n_visible"] == 4 and doc["n_hidden"] == 3 and doc["checkpoint"] is None
    assert doc["units"] == {"visible": "bernoulli", "hidden": "bernoulli", "source": "default"}
    rows = doc["couplings"]
    assert len(rows) == 2**4 - 1
    assert [r["order"] for r in rows] == sorted(r["order"] for r in rows)
    for r in rows:
        assert r["subset"] == T.subset_mask(r["indices"], 4) and r["order"] == len(r["indices"])
        assert r["J"] == pytest.approx(J[r["subset"]], rel=1e-12, abs=1e-15)
    norms = [x["norm"] for x in doc["order_norms"]]
    np.testing.assert_allclose(norms, T.order_norms(J)[1:], rtol=1e-12)
    assert doc["J_empty"] == pytest.approx(J[0])
    assert "|J_k|" in err


def test_csv_with_gaussian_and_norms_file(tmp_path, capsys):
    arrays = _npz(tmp_path / "m.npz", Nv=5, units="spin")
    out = tmp_path / "J.csv"
    assert main(["effective", str(tmp_path / "m.npz"), "--out", str(out), "--compare-gaussian"]) == 0
    _, err = capsys.readouterr()
    assert "Gaussian mapping error" in err and f"wrote {out}" in err
    assert err.endswith(f"wrote {out}\nwrote {tmp_path / 'J_norms.csv'}\n")  # one message per line
    assert all(line.startswith(("|J_k|", "Gaussian", "wrote", str(tmp_path))) for line in err.splitlines())
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 31 and rows[0].keys() == {"subset", "order", "indices", "J", "J_gaussian"}
    J = _exact(arrays, "spin")
    for r in rows:
        S = int(r["subset"])
        assert T.subset_indices(S, 5) == tuple(int(i) for i in r["indices"].split(","))
        assert float(r["J"]) == pytest.approx(J[S], rel=1e-12, abs=1e-15)
        assert r["J_gaussian"] != ""  # every order of N = 5 is evaluated exhaustively
    with (tmp_path / "J_norms.csv").open() as fh:
        norms = list(csv.DictReader(fh))
    assert [int(r["order"]) for r in norms] == [1, 2, 3, 4, 5]
    assert {r["exhaustive"] for r in norms} == {"true"} and {r["stderr"] for r in norms} == {"0.0"}
    assert float(norms[1]["gaussian_rel_error"]) >= 0 and float(norms[1]["gaussian_norm"]) > 0


def test_npz_output(tmp_path):
    arrays = _npz(tmp_path / "m.npz")
    assert main(["effective", str(tmp_path / "m.npz"), "--out", str(tmp_path / "o.npz")]) == 0
    with np.load(tmp_path / "o.npz") as z:
        np.testing.assert_allclose(z["J"], _exact(arrays), rtol=1e-12, atol=1e-15)
        assert z["order_norms"].shape == (4,) and str(z["units"]) == "bernoulli,bernoulli"
        assert str(z["method"]) == "enumerate" and z["exhaustive"].all()


def test_checkpoint_selection(tmp_path, capsys):
    _h5(tmp_path / "ck.h5")
    assert main(["effective", str(tmp_path / "ck.h5"), "--checkpoint", "3"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["checkpoint"] == 3 and doc["units"]["source"] == "file"
    assert main(["effective", str(tmp_path / "ck.h5")]) == 0
    assert json.loads(capsys.readouterr().out)["checkpoint"] == 300


def test_all_checkpoints_table_and_figure(tmp_path, capsys, monkeypatch):
    _h5(tmp_path / "ck.h5")
    out = tmp_path / "norms.csv"
    # the README's example: the format comes from the suffix (it used to write JSON into norms.csv)
    assert main(["effective", str(tmp_path / "ck.h5"), "--all-checkpoints", "--out", str(out)]) == 0
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["checkpoint"]) for r in rows] == [n for n in (0, 1, 3, 10, 30, 100, 300) for _ in range(5)]
    assert [int(r["order"]) for r in rows[:5]] == [1, 2, 3, 4, 5]
    assert list(rows[0])[:4] == ["checkpoint", "time", "order", "norm"]
    assert (tmp_path / "norms.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
    # JSON to stdout: the PNG goes to the current directory under a documented name
    monkeypatch.chdir(tmp_path)
    assert main(["effective", "ck.h5", "--all-checkpoints", "--compare-gaussian", "--max-order", "3"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["figure"] == "ck_order_norms.png" and (tmp_path / "ck_order_norms.png").is_file()
    assert np.array(doc["order_norms"]).shape == (7, 3)
    assert np.array(doc["gaussian"]["order_norms"]).shape == (7, 3)
    assert np.array(doc["gaussian"]["rel_error"]).shape == (7, 3)
    assert doc["time_axis"] == "update" and doc["time"] == [0.0, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0]
    assert not list(tmp_path.glob(".*.tmp"))


def test_units_option_and_mixed_units(tmp_path, capsys):
    arrays = _npz(tmp_path / "m.npz")
    assert main(["effective", str(tmp_path / "m.npz"), "--units", "bernoulli,spin"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["units"]["hidden"] == "spin"
    model, theta = rbm_from_params(
        RBMParams(arrays["weight_matrix"], arrays["vbias"], arrays["hbias"], hidden="spin")
    )
    assert doc["couplings"][0]["J"] == pytest.approx(model.couplings(theta)[1])


# ---- run --data ---------------------------------------------------------------
def _fake_report(claim: str) -> ClaimReport:
    def verdict(status):
        ce = (Counterexample("x", {}, 1.0),) if status is Status.FAILS else ()
        return Verdict(claim, "statement", status, {"N": 3}, {}, {}, counterexamples=ce)

    return ClaimReport(verdict(Status.HOLDS), (ControlResult(claim, "ctl", "d", verdict(Status.FAILS)),))


def test_run_checks_passes_target_where_accepted(monkeypatch):
    seen = {}
    with_target = types.ModuleType("fake_with_target")
    without = types.ModuleType("fake_without")

    def run_with(profile, seed, target=None):
        seen["target"] = target
        return _fake_report("C1")

    with_target.run = run_with
    without.run = lambda profile, seed: _fake_report("C2")
    monkeypatch.setitem(sys.modules, "fake_with_target", with_target)
    monkeypatch.setitem(sys.modules, "fake_without", without)
    monkeypatch.setitem(runner.CLAIM_MODULES, "C1", "fake_with_target")
    monkeypatch.setitem(runner.CLAIM_MODULES, "C2", "fake_without")
    q = np.full(8, 1 / 8)
    rep = runner.run_checks(
        get_profile("quick"),
        0,
        ("C1", "C2"),
        target=q,
        target_info={"path": "d.npy", "replay_args": "--data d.npy"},
    )
    assert seen["target"] is q
    user = rep.provenance["user_target"]
    assert user["used_by"] == ["C1"] and user["generated_only"] == ["C2"] and user["path"] == "d.npy"
    assert rep.provenance["replay"].endswith("--data d.npy")
    assert rep.claims[0].verdict.conditions["target"] == "user data"
    assert rep.claims[1].verdict.conditions["target"].startswith("generated targets only")
    # without a target nothing changes
    plain = runner.run_checks(get_profile("quick"), 0, ("C2",))
    assert "user_target" not in plain.provenance and "target" not in plain.claims[0].verdict.conditions


@pytest.mark.subprocess
def test_run_with_data_end_to_end(tmp_path):
    rng = np.random.default_rng(0)
    np.savetxt(tmp_path / "d.txt", 2 * (rng.random((40, 6)) < 0.4) - 1, fmt="%d")
    out = tmp_path / "rep"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dsb_verifier.checks.cli.main",
            "run",
            "--claims",
            "C1",
            "--data",
            str(tmp_path / "d.txt"),
        ]
        + ["--columns", "0,2,4", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    assert "used by C1" in proc.stdout
    doc = json.loads((out / "report.json").read_text())
    user = doc["provenance"]["user_target"]
    assert user["columns"] == [0, 2, 4] and user["n_samples"] == 40 and user["values"] == "spin"
    assert user["pseudo_count"] == 2.0**-3
    assert user["used_by"] == ["C1"]
    assert "target: `user data`" in (out / "report.md").read_text()


# ---- bad input: one line on stderr, exit code 2, no traceback, no output left ---
def _bad_files(d: Path) -> None:
    np.savez(d / "misnamed.npz", W=np.zeros((4, 3)), vbias=np.zeros(4), hbias=np.zeros(3))
    np.savez(d / "shape.npz", weight_matrix=np.zeros((4, 3)), vbias=np.zeros(5), hbias=np.zeros(3))
    np.savez(d / "nan.npz", weight_matrix=np.full((4, 3), np.nan), vbias=np.zeros(4), hbias=np.zeros(3))
    np.savez(d / "big.npz", weight_matrix=np.zeros((40, 2)), vbias=np.zeros(40), hbias=np.zeros(2))
    np.savez(d / "wide.npz", weight_matrix=np.zeros((10_000, 1)), vbias=np.zeros(10_000), hbias=np.zeros(1))
    W = np.zeros((6, 2))
    W[4, 1] = -3e7
    np.savez(d / "huge.npz", weight_matrix=W, vbias=np.zeros(6), hbias=np.zeros(2))
    np.savez(
        d / "spin.npz", weight_matrix=np.zeros((3, 2)), vbias=np.zeros(3), hbias=np.zeros(2), units="spin"
    )
    _npz(d / "good.npz")
    (d / "corrupt.npz").write_bytes((d / "good.npz").read_bytes()[:60])
    (d / "corrupt.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    (d / "text.txt").write_text("0 1\n1 0\n")
    _h5(d / "ck.h5", updates=(0, 5))
    _h5(d / "nohbias.h5", updates=(1,), drop="hbias")
    _h5(d / "potts.h5", updates=(1,), model_type=b"PBRBM")
    with h5py.File(d / "empty.h5", "w") as f:
        f["something"] = np.zeros(2)
    (d / "nonbinary.txt").write_text("0 1 1\n1 2 0\n")
    np.save(d / "wide.npy", np.zeros((5, 21), dtype=np.int8))
    np.save(d / "samples.npy", np.zeros((5, 3), dtype=np.int8))


#: name -> (arguments, expected message, run as a real subprocess?). The brief's list of bad
#: inputs (keys, shapes, non-binary values, N too large, missing checkpoint, corrupted files)
#: runs as ``python -m dsb_verifier.checks.cli.main`` subprocesses, in parallel; the other refusals run in-process
#: through ``main`` (an uncaught exception would fail the test just as a traceback would).
BAD = {
    "misnamed key": (
        ["effective", "misnamed.npz"],
        "misnamed.npz: missing key 'weight_matrix' (expected an array of shape (Nv, Nh))",
        True,
    ),
    "missing dataset": (["effective", "nohbias.h5"], "has no dataset 'hbias' in '/update_1/params'", True),
    "shape mismatch": (["effective", "shape.npz"], "shape.npz: vbias must have shape (Nv,) = (4,)", True),
    "non-binary data": (["run", "--data", "nonbinary.txt"], "found 2.0 at row 1, column 1", True),
    "Nv too large to enumerate": (
        ["effective", "big.npz", "--method", "enumerate"],
        "--method enumerate: N = 40 visible units needs",
        True,
    ),
    "too many columns": (["run", "--data", "wide.npy"], "21 variables is too many", True),
    "no checkpoint": (["effective", "ck.h5", "--checkpoint", "7"], "no checkpoint update_7", True),
    "corrupt npz": (["effective", "corrupt.npz"], "corrupt.npz: not a readable .npz archive", True),
    "corrupt hdf5": (["effective", "corrupt.h5"], "corrupt.h5: not a readable HDF5 file", True),
    "non-finite": (["effective", "nan.npz"], "weight_matrix must be finite", False),
    "units conflict": (["effective", "spin.npz", "--units", "bernoulli"], "says units spin,spin", False),
    "bad units": (["effective", "good.npz", "--units", "ising"], "units must be 'bernoulli'", False),
    "not a model": (["effective", "text.txt"], "not an .npz archive or an HDF5 file", False),
    "missing file": (["effective", "nope.npz"], "nope.npz: no such file", False),
    "potts": (["effective", "potts.h5"], "model_type 'PBRBM' is not supported", False),
    "no updates": (["effective", "empty.h5"], "no checkpoint groups 'update_<n>'", False),
    "npz checkpoint": (["effective", "good.npz", "--checkpoint", "1"], "has no checkpoints to select", False),
    "npz to stdout": (
        ["effective", "good.npz", "--format", "npz"],
        "--format npz writes a binary file",
        False,
    ),
    "both selections": (
        ["effective", "ck.h5", "--checkpoint", "0", "--all-checkpoints"],
        "not allowed with",
        False,
    ),
    "figure without series": (
        ["effective", "good.npz", "--figure", "f.png"],
        "--figure is only used with",
        False,
    ),
    "missing out dir": (
        ["effective", "good.npz", "--out", "nodir/x.json"],
        "directory nodir does not exist",
        False,
    ),
    "huge weight": (
        ["effective", "huge.npz"],
        "huge.npz: weight_matrix[4, 1] = -3e+07, beyond the |entry| <= 1e+06 of a trainable RBM",
        False,
    ),
    "N = 10000 table": (
        ["effective", "wide.npz"],
        "N = 10000: the table would hold 50,005,000 coupling rows of orders 1..2",
        False,
    ),
    "format contradicts suffix": (
        ["effective", "good.npz", "--format", "json", "--out", "out-x.csv"],
        "--format json contradicts --out out-x.csv (suffix .csv means csv)",
        False,
    ),
    "unknown suffix": (
        ["effective", "good.npz", "--out", "out-x.txt"],
        "--out out-x.txt: cannot infer the format from the suffix .txt",
        False,
    ),
    "max order above N": (
        ["effective", "good.npz", "--max-order", "5"],
        "--max-order must be between 1 and N = 4, got 5",
        False,
    ),
    "max order zero": (
        ["effective", "good.npz", "--max-order", "0"],
        "--max-order must be between 1 and N = 4, got 0",
        False,
    ),
    "subset index outside": (
        ["effective", "good.npz", "--subsets", "0,1;2,4"],
        "--subsets: index 4 is outside [0, 4)",
        False,
    ),
    "subset negative index": (
        ["effective", "good.npz", "--subsets=-1,2"],
        "--subsets: index -1 is outside [0, 4)",
        False,
    ),
    "subset repeated index": (
        ["effective", "good.npz", "--subsets", "1,2,1"],
        "--subsets: index 1 is repeated",
        False,
    ),
    "subset empty": (["effective", "good.npz", "--subsets", "0,1;;2"], "--subsets: empty subset", False),
    "subset order above N": (
        ["effective", "good.npz", "--subsets", "0,1,2,3,0"],
        "has order 5, above N = 4",
        False,
    ),
    "subset not integers": (["effective", "good.npz", "--subsets", "0,a"], "--subsets: '0,a' is not", False),
    "subset in other digits": (
        ["effective", "good.npz", "--subsets", "0,\u0661"],
        "--subsets: '0,\u0661' is not",
        False,
    ),
    "order in other digits": (
        ["effective", "ck.h5", "--all-checkpoints", "--orders", "\u00b2"],
        "--orders must be comma-separated orders such as 1,2,3",
        False,
    ),
    "no effective_time": (
        ["effective", "ck.h5", "--all-checkpoints", "--time", "effective_time"],
        "--time effective_time needs 'effective_time' in every checkpoint",
        False,
    ),
    "orders without series": (
        ["effective", "good.npz", "--orders", "1,2"],
        "--orders selects the curves",
        False,
    ),
    "time without series": (
        ["effective", "ck.h5", "--time", "effective_time"],
        "--time effective_time chooses the time axis of the series: it is only used with --all-checkpoints",
        False,
    ),
    "gaussian method compared with itself": (
        ["effective", "good.npz", "--method", "gaussian", "--compare-gaussian"],
        "--compare-gaussian compares the Gaussian mapping with the exact couplings, but --method gaussian",
        False,
    ),
    "orders not computed": (
        ["effective", "ck.h5", "--all-checkpoints", "--max-order", "2", "--orders", "1,3"],
        "--orders: order 3 is not computed; orders 1..2 are",
        False,
    ),
    "too few samples": (
        ["effective", "good.npz", "--samples", "1"],
        "--samples must be an integer >= 2",
        False,
    ),
    "negative seed": (
        ["effective", "good.npz", "--seed", "-3"],
        "--seed must be a non-negative integer",
        False,
    ),
    "bad column": (["run", "--data", "samples.npy", "--columns", "0,9"], "column 9 does not exist", False),
    "bad pseudo-count": (
        ["run", "--data", "samples.npy", "--pseudo-count", "-1"],
        "pseudo_count must be",
        False,
    ),
    "columns without data": (["run", "--columns", "0,1"], "--columns and --pseudo-count need --data", False),
}


def _out_args(i: int, name: str, args: list[str]) -> list[str]:
    if name == "npz to stdout" or "--out" in args or "--figure" in args:
        return []
    return ["--out", f"out-{i}" + (".json" if args[0] == "effective" else "")]


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    _bad_files(d)
    return d


@pytest.fixture(scope="module")
def bad_runs(bad_dir):
    """Launch the subprocess cases at once (in parallel), then collect them."""
    procs = {}
    for i, (name, (args, _, sub)) in enumerate(BAD.items()):
        if sub:
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "dsb_verifier.checks.cli.main", *args, *_out_args(i, name, args)],
                cwd=bad_dir,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )
    results = {}
    for name, p in procs.items():
        out, err = p.communicate()
        results[name] = (p.returncode, out, err)
    return results


def _assert_refused(d: Path, name: str, rc: int, out: str, err: str) -> None:
    assert rc == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert BAD[name][1] in lines[0]
    assert out == ""
    assert [p.name for p in d.iterdir() if p.name.startswith(("out-", ".out-", "f.png"))] == []


@pytest.mark.subprocess
@pytest.mark.parametrize("name", [n for n, v in BAD.items() if v[2]])
def test_bad_input_subprocess(bad_dir, bad_runs, name):
    _assert_refused(bad_dir, name, *bad_runs[name])


@pytest.mark.parametrize("name", [n for n, v in BAD.items() if not v[2]])
def test_bad_input_in_process(bad_dir, monkeypatch, cli_main, name):
    monkeypatch.chdir(bad_dir)
    args = BAD[name][0]
    i = list(BAD).index(name)
    rc, out, err = cli_main(*args, *_out_args(i, name, args))
    _assert_refused(bad_dir, name, rc, out, err)


# ---- progress within one long checkpoint ------------------------------------------------------
def test_pass_progress_lines_are_throttled_and_name_the_checkpoint():
    from dsb_verifier.checks.cli import effective_compute as ec

    now = [0.0]
    lines: list[str] = []
    prog = ec._PassProgress("m.npz", lines.append, lambda: now[0])
    for done, t in [(1, 4.0), (2, 12.0), (3, 15.0), (4, 40.0)]:
        now[0] = t
        prog(done, 4)
    # 4 s: too early; 12 s: a line; 15 s: within 10 s of the last line; the last chunk: the pass is done
    assert lines == ["m.npz: couplings, quadrature pass 50 % (12 s, about 12 s left in this pass)"]


def test_a_long_checkpoint_reports_progress_on_stderr(tmp_path, cli_main, monkeypatch):
    from dsb_verifier.checks.cli import effective_compute as ec
    from dsb_verifier.theory.rbm import accumulators

    monkeypatch.setattr(accumulators, "_CHUNK_ENTRIES", 64)  # several chunks on a small model
    monkeypatch.setattr(ec, "PROGRESS_EVERY", 0.0)  # every chunk would be "long"
    _npz(tmp_path / "m.npz", Nv=8, Nh=6)
    rc, _, err = cli_main(
        "effective", str(tmp_path / "m.npz"), "--method", "integral", "--out", str(tmp_path / "J.csv")
    )
    assert rc == 0, err
    assert "m.npz: couplings, quadrature pass" in err and "left in this pass" in err
    monkeypatch.setattr(ec, "PROGRESS_EVERY", 10.0)  # the default: a quick checkpoint prints nothing
    rc, _, err = cli_main(
        "effective", str(tmp_path / "m.npz"), "--method", "integral", "--out", str(tmp_path / "K.csv")
    )
    assert rc == 0 and "quadrature pass" not in err
