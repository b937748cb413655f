"""``dsb-verify effective`` on real files written by ``rbms`` 0.6.0 (tests/data/rbms/README.md).

``rbm16.h5``: N = 16, M = 12; ``rbm64.h5``: N = 64, M = 16; both 20 checkpoints of a training on
the scikit-learn digits. At N = 16 enumeration and the integral route are two independent
computations of the same couplings; at N = 64 only the integral route exists.
"""

from __future__ import annotations

import csv
import json
from math import comb, sqrt
from pathlib import Path

import numpy as np
import pytest
from dsb_verifier.checks.cli.effective_compute import compute
from dsb_verifier.checks.cli.effective_request import Request
from dsb_verifier.checks.cli.io import load_rbm
from dsb_verifier.checks.cli.main import main
from dsb_verifier.theory.rbm import rbm_order_norms

h5py = pytest.importorskip("h5py")

DATA = Path(__file__).resolve().parent / "data" / "rbms"
RBM16, RBM64 = DATA / "rbm16.h5", DATA / "rbm64.h5"

#: Accuracy asked of the integral route against enumeration (issue 17): every coupling within
#: 1e-10 x max|J| absolute, so an order-k norm within sqrt(C(N, k)) times that.
INTEGRAL_VS_ENUMERATION = 1e-10

CHECKPOINTS = (1, 2, 3, 4, 7, 11, 16, 24, 36, 54, 81, 121, 182, 271, 405, 604, 902, 1347, 2010, 3000)


def _file_effective_times(path: Path) -> list[float]:
    with h5py.File(path, "r") as f:
        return [float(np.asarray(f[f"update_{n}/effective_time"][()]).reshape(())) for n in CHECKPOINTS]


def _norm_tolerance(N: int, k: int, max_abs_J: float) -> float:
    return sqrt(comb(N, k)) * INTEGRAL_VS_ENUMERATION * max_abs_J


def test_the_real_files_are_the_documented_trainings():
    for path, N, M in ((RBM16, 16, 12), (RBM64, 64, 16)):
        src = load_rbm(path, all_checkpoints=True)
        assert src.checkpoints == CHECKPOINTS and (src.n_visible, src.n_hidden) == (N, M)
        assert src.effective_times == tuple(_file_effective_times(path))
        assert src.units_source == "file" and src.params[0].visible == "bernoulli"


def test_n16_enumeration_and_integral_agree_at_every_order(tmp_path):
    # the last checkpoint (largest weights) through the command, all 16 orders, both routes
    out_e, out_i = tmp_path / "e.npz", tmp_path / "i.npz"
    assert main(["effective", str(RBM16), "--method", "enumerate", "--out", str(out_e)]) == 0
    assert (
        main(["effective", str(RBM16), "--method", "integral", "--max-order", "16", "--out", str(out_i)]) == 0
    )
    with np.load(out_e) as e, np.load(out_i) as i:
        assert str(e["method"]) == "enumerate" and str(i["method"]) == "integral"
        assert i["exhaustive"].all()  # C(16, k) <= 12870: every order summed in full
        J = e["J"]
        top = float(np.abs(J[1:]).max())
        for k in range(1, 17):
            assert abs(e["order_norms"][k - 1] - i["order_norms"][k - 1]) <= _norm_tolerance(16, k, top), k
        np.testing.assert_allclose(
            i["fields"], J[1 << np.arange(16)], rtol=0, atol=INTEGRAL_VS_ENUMERATION * top
        )
        b = 1 << np.arange(16)
        P = J[b[:, None] | b[None, :]]
        np.fill_diagonal(P, 0.0)
        np.testing.assert_allclose(i["pairwise"], P, rtol=0, atol=INTEGRAL_VS_ENUMERATION * top)


def test_n16_series_enumeration_and_integral_agree_over_training():
    src = load_rbm(RBM16, all_checkpoints=True)
    e = compute(src, Request(method="enumerate", max_order=3))
    i = compute(src, Request(method="integral", max_order=3))
    assert e.method == "enumerate" and i.method == "integral"
    for t in range(len(CHECKPOINTS)):
        top = float(np.abs(e.kept[t].J[1:]).max())
        for k in (1, 2, 3):
            assert abs(e.norms[t, k - 1] - i.norms[t, k - 1]) <= _norm_tolerance(16, k, top), (t, k)


def test_n64_runs_with_the_integral_on_the_effective_time_axis(tmp_path, capsys):
    out = tmp_path / "norms.csv"
    args = ["effective", str(RBM64), "--all-checkpoints", "--max-order", "2", "--time", "effective_time"]
    assert main([*args, "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "method integral" in err  # auto: 2^64 states do not fit
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["checkpoint"]) for r in rows[::2]] == list(CHECKPOINTS)
    assert [float(r["time"]) for r in rows[::2]] == _file_effective_times(RBM64)
    assert {r["exhaustive"] for r in rows} == {"true"} and {r["n_subsets"] for r in rows[1::2]} == {"2016"}
    png = out.with_suffix(".png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_n64_chosen_couplings_match_the_pairwise_matrix(capsys):
    assert main(["effective", str(RBM64), "--max-order", "2", "--subsets", "3,40;0,63;5"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = doc["couplings"]
    assert [r["indices"] for r in rows] == [[3, 40], [0, 63], [5]]
    # N = 64 > 53: bitmasks can exceed 2^53 (inexact as floats), so every one is a decimal string
    assert rows[0]["subset"] == str((1 << 3) | (1 << 40)) and rows[1]["subset"] == str(1 + (1 << 63))
    src = load_rbm(RBM64)
    res = compute(src, Request(method="integral", max_order=2))
    P, f = res.kept[0].pairwise, res.kept[0].fields
    # the subset route (rbm_couplings) and the matrix route (rbm_pairwise) of the same integral
    np.testing.assert_allclose([r["J"] for r in rows], [P[3, 40], P[0, 63], f[5]], rtol=1e-12, atol=0)


@pytest.mark.slow
def test_n64_sampled_order_is_rbm_order_norms_at_the_same_seed_and_gaussian_error_is_reported():
    src = load_rbm(RBM64)
    res = compute(src, Request(method="integral", max_order=4, samples=300, seed=7, compare_gaussian=True))
    ref = rbm_order_norms(src.params[0], 4, samples=300, seed=7)
    assert list(res.exhaustive) == [True, True, True, False] and res.n_evaluated[3] == 300
    np.testing.assert_allclose(res.norms[0], ref.norm, rtol=1e-12)
    np.testing.assert_allclose(res.stderr[0], ref.stderr, rtol=1e-12)
    gref = rbm_order_norms(src.params[0], 4, samples=300, seed=7, law="gaussian")
    assert res.gaussian_norms is not None and res.gaussian_rel_error is not None
    np.testing.assert_allclose(res.gaussian_norms[0], gref.norm, rtol=1e-12)
    assert np.all(res.gaussian_rel_error[0] > 0) and np.all(np.isfinite(res.gaussian_rel_error[0]))
