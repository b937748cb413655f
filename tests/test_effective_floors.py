"""``dsb-verify effective``: per-order floors (figure and outputs), the coupling table of every
exhaustive order with the integral, readable subset bitmasks at large ``N``.

Audit findings: the figure shaded standard-error bands below the floor and used one floor of
``100 eps x`` the largest block instead of the library's per-order floors, which no output
carried; the integral's table stopped at order 2 although orders ``3..K`` were computed in full;
at ``N > 53`` the ``subset`` bitmask was an integer that JSON/CSV readers round.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from itertools import combinations
from math import comb

import numpy as np
import pytest
from dsb_verifier.checks.cli import effective_compute as cc
from dsb_verifier.checks.cli import effective_output as eo
from dsb_verifier.checks.cli import effective_request as cr
from dsb_verifier.checks.cli import fig1
from dsb_verifier.checks.cli.io import RBMCheckpoints
from dsb_verifier.checks.cli.main import main
from dsb_verifier.theory import rbm as trbm
from dsb_verifier.theory.rbm.io import RBMParams


def _params(Nv: int, Nh: int, seed: int) -> RBMParams:
    rng = np.random.default_rng(seed)
    return RBMParams(
        0.5 * rng.standard_normal((Nv, Nh)), 0.3 * rng.standard_normal(Nv), 0.3 * rng.standard_normal(Nh)
    )


def _series(Nv: int = 6, Nh: int = 2, checkpoints: tuple[int, ...] = (1, 10, 100, 1000)) -> RBMCheckpoints:
    params = tuple(_params(Nv, Nh, seed) for seed in range(len(checkpoints)))
    return RBMCheckpoints("ck.h5", "hdf5", checkpoints, params, "file", tuple(0.05 * n for n in checkpoints))


def _single(Nv: int = 6, Nh: int = 2) -> RBMCheckpoints:
    return RBMCheckpoints("m.npz", "npz", (None,), (_params(Nv, Nh, 0),), "default")


@pytest.fixture(scope="module")
def sampled():
    """Integral series with order 3 sampled (exhaustive_limit 0) and compared with the Gaussian mapping."""
    req = cr.Request(
        method="integral", max_order=3, samples=50, keep=False, exhaustive_limit=0, compare_gaussian=True
    )
    return cc.compute(_series(), req)


# ---- library -------------------------------------------------------------------------------
def test_rbm_order_couplings_gives_the_couplings_and_the_floors_of_rbm_order_norms():
    p = _params(8, 3, 1)
    S3 = np.array(list(combinations(range(8), 3)))
    S4 = trbm.sample_subsets(8, 4, 20, np.random.default_rng(4))
    oc = trbm.rbm_order_couplings(p, [None, None, S3, S4], [True, True, True, False])
    ref = trbm.rbm_order_norms(p, 4, samples=20, exhaustive_limit=comb(8, 3))  # C(8, 4) = 70 sampled
    np.testing.assert_array_equal(oc.floor, ref.floor)
    np.testing.assert_allclose(oc.values[0], trbm.rbm_fields(p), rtol=0, atol=1e-15)
    np.testing.assert_allclose(oc.pairwise, trbm.rbm_pairwise(p), rtol=0, atol=1e-15)
    np.testing.assert_allclose(oc.values[2], trbm.rbm_couplings(p, S3), rtol=0, atol=1e-15)
    assert oc.values[1].shape == (28,) and oc.values[3].shape == (20,)


@pytest.mark.parametrize(
    "subsets, exhaustive, message",
    [
        ([None, np.zeros((1, 2), int)], [True, True], r"subsets\[1\] must be None"),
        (
            [None, None, np.zeros((2, 2), int)],
            [True, True, True],
            r"subsets\[2\] must be an \(n, 3\) integer",
        ),
        ([None, None], [True, False], "exhaustive must be 2 flags, True for orders 1 and 2"),
        ([None] * 8, [True] * 8, "1 <= K <= N = 7, got 8 entries"),
    ],
)
def test_rbm_order_couplings_refusals_name_the_argument(subsets, exhaustive, message):
    with pytest.raises(ValueError, match=message):
        trbm.rbm_order_couplings(_params(7, 3, 1), subsets, exhaustive)


# ---- figure ------------------------------------------------------------------------------
def _bands(ax) -> list[np.ndarray]:
    from matplotlib.collections import PolyCollection

    return [p.vertices for c in ax.collections if isinstance(c, PolyCollection) for p in c.get_paths()]


def test_figure_shades_no_band_where_the_value_is_below_its_floor(sampled):
    from matplotlib.figure import Figure

    norms, stderr = sampled.norms.copy(), sampled.stderr.copy()
    norms[:2, 2], stderr[:2, 2] = 1e-40, 5e-41  # below any floor at checkpoints 1 and 10, norm + se too
    res = dataclasses.replace(
        sampled,
        norms=norms,
        stderr=stderr,
        gaussian_norms=None,
        gaussian_stderr=None,
        gaussian_rel_error=None,
        gaussian_max_abs_error=None,
    )
    ax = Figure().add_subplot()
    fig1.draw_fig1(res, ax, orders=(3,))
    xs = np.concatenate([v[:, 0] for v in _bands(ax)])
    assert xs.size and set(np.round(xs)) <= {100.0, 1000.0}  # only where the curve is drawn


def test_figure_draws_a_value_above_its_own_order_floor_and_shows_each_floor(sampled):
    from matplotlib.figure import Figure

    norms = sampled.norms.copy()
    fl = sampled.floors
    big = fig1.accuracy_floor(sampled)  # the old single floor: 100 eps x the largest block
    assert np.all(fl[:, 2] < 0.1 * big)
    norms[1, 2] = 10 * fl[1, 2]  # resolved by its own floor, below the old one
    res = dataclasses.replace(sampled, norms=norms, stderr=np.zeros_like(norms), exhaustive=np.ones(3, bool))
    ax = Figure().add_subplot()
    fig1.draw_fig1(res, ax, orders=(3,))
    solid = next(ln for ln in ax.get_lines() if ln.get_linestyle() == "-")
    assert solid.get_ydata()[1] == norms[1, 2]
    dotted = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert len(dotted) == 1 and np.allclose(dotted[0].get_ydata(), fl[:, 2])  # the order's floor
    labels = [t.get_text() for t in ax.figure.legends[0].get_texts()]
    assert any("rounding floor of each order" in t for t in labels)


def test_enumeration_uses_the_stated_fallback_floor():
    res = cc.compute(_series(Nv=4), cr.Request(keep=False))
    assert res.method == "enumerate" and res.floor is None and res.floor_source == "fallback"
    np.testing.assert_array_equal(res.floors, np.repeat(fig1.accuracy_floor(res)[:, None], 4, axis=1))
    doc = json.loads(_text(eo.series_json, res, "update", None))
    assert (
        doc["floor_source"] == "fallback" and "enumeration has no per-order rounding" in doc["floor_meaning"]
    )


# ---- outputs -----------------------------------------------------------------------------
def _text(writer, res, *args) -> str:
    buf = io.StringIO()
    writer(res, *args, buf)
    return buf.getvalue()


def test_series_outputs_carry_the_per_order_floors(sampled):
    doc = json.loads(_text(eo.series_json, sampled, "update", None))
    np.testing.assert_array_equal(doc["order_norms_floor"], sampled.floors)
    np.testing.assert_array_equal(doc["gaussian"]["order_norms_floor"], sampled.gaussian_floor)
    assert doc["floor_source"] == "integral" and "OrderNorms.floor" in doc["floor_meaning"]
    rows = list(csv.DictReader(io.StringIO(_text(eo.series_csv, sampled, "update"))))
    assert float(rows[5]["floor"]) == sampled.floors[1, 2] and rows[5]["floor_source"] == "integral"
    assert float(rows[5]["gaussian_floor"]) == sampled.gaussian_floor[1, 2]
    a = eo.npz_arrays(sampled, "update")
    np.testing.assert_array_equal(a["order_norms_floor"], sampled.floors)
    np.testing.assert_array_equal(a["gaussian_order_norms_floor"], sampled.gaussian_floor)
    assert str(a["floor_source"]) == "integral"


def test_integral_table_has_every_exhaustive_order_and_says_which_are_sampled():
    src = _single()
    ex = cc.compute(src, cr.Request(method="enumerate", max_order=3))
    it = cc.compute(src, cr.Request(method="integral", max_order=3))
    rows_e, rows_i = list(eo.coupling_rows(ex)), list(eo.coupling_rows(it))
    assert len(rows_i) == 6 + 15 + 20 and [r[:3] for r in rows_i] == [r[:3] for r in rows_e]
    np.testing.assert_allclose([r[3] for r in rows_i], [r[3] for r in rows_e], rtol=0, atol=1e-13)
    doc = json.loads(_text(eo.single_json, it))
    assert doc["table_orders"] == [1, 2, 3] and doc["sampled_orders"] == []
    assert [r["in_table"] for r in doc["order_norms"]] == [True, True, True]
    a = eo.npz_arrays(it, "update")
    assert a["subsets_order3"].shape == (20, 3) and a["couplings_order3"].shape == (20,)
    # order 3 sampled: its rows are not written, and the outputs say so
    smp = cc.compute(
        src, cr.Request(method="integral", max_order=3, exhaustive_limit=10, compare_gaussian=True)
    )
    rows = list(eo.coupling_rows(smp))
    assert len(rows) == 6 + 15 and {r[1] for r in rows} == {1, 2}
    doc = json.loads(_text(eo.single_json, smp))
    assert doc["table_orders"] == [1, 2] and doc["sampled_orders"] == [3]
    assert [r["in_table"] for r in doc["order_norms"]] == [True, True, False]
    norms = list(csv.DictReader(io.StringIO(_text(eo.norms_csv, smp))))
    assert [r["in_table"] for r in norms] == ["true", "true", "false"]


def test_integral_table_gaussian_rows_of_order_3():
    it = cc.compute(_single(), cr.Request(method="integral", max_order=3, compare_gaussian=True))
    rows = [r for r in eo.coupling_rows(it) if r[1] == 3]
    assert len(rows) == 20
    S = np.array([[int(i) for i in r[2].split(",")] for r in rows])
    np.testing.assert_allclose(
        [r[4] for r in rows], trbm.rbm_couplings(it.source.params[0], S, law="gaussian"), rtol=0, atol=1e-14
    )
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)  # bitmask order


def test_cli_integral_table_and_summary(tmp_path, capsys):
    np.savez(tmp_path / "m.npz", weight_matrix=0.3 * np.ones((12, 2)), vbias=np.zeros(12), hbias=np.zeros(2))
    out = tmp_path / "e.json"
    assert (
        main(
            [
                "effective",
                str(tmp_path / "m.npz"),
                "--method",
                "integral",
                "--max-order",
                "4",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    doc = json.loads(out.read_text())
    assert len(doc["couplings"]) == 12 + 66 + 220 + 495 and doc["table_orders"] == [1, 2, 3, 4]
    assert doc["order_norms"][3]["floor"] > 0 and doc["floor_source"] == "integral"
    capsys.readouterr()


# ---- subset bitmasks beyond float precision ----------------------------------------------
@pytest.mark.parametrize("N, as_text", [(53, False), (54, True)])
def test_subset_bitmask_is_text_beyond_53_variables(tmp_path, capsys, N, as_text):
    src = tmp_path / "m.npz"
    np.savez(src, weight_matrix=0.1 * np.ones((N, 1)), vbias=np.zeros(N), hbias=np.zeros(1))
    args = [
        "effective",
        str(src),
        "--method",
        "integral",
        "--max-order",
        "1",
        "--subsets",
        f"{N - 1};0,{N - 1}",
    ]
    assert main([*args, "--out", str(tmp_path / "e.json")]) == 0
    rows = json.loads((tmp_path / "e.json").read_text())["couplings"]
    masks = [1 << (N - 1), 1 + (1 << (N - 1))]
    assert [r["subset"] for r in rows] == ([str(m) for m in masks] if as_text else masks)
    assert [r["indices"] for r in rows] == [[N - 1], [0, N - 1]]
    assert main([*args, "--out", str(tmp_path / "e.csv")]) == 0
    lines = (tmp_path / "e.csv").read_text().splitlines()
    first = f'"{masks[0]}"' if as_text else str(masks[0])
    assert lines[1].startswith(f'{first},1,"{N - 1}",')
    assert [r["subset"] for r in csv.DictReader(lines)] == [str(m) for m in masks]
    capsys.readouterr()
