"""``dsb-verify effective``'s pieces called directly: streamed enumeration, sampling, tables, figure.

``tests/test_cli_effective.py`` runs the command end to end and ``tests/test_cli_effective_real.py``
on the real ``rbms`` files; these tests pin each piece where it is made.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import tracemalloc
from math import comb

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks.cli import effective as ce
from dsb_verifier.checks.cli import effective_compute as cc
from dsb_verifier.checks.cli import effective_enumerate as en
from dsb_verifier.checks.cli import effective_output as eo
from dsb_verifier.checks.cli import effective_request as cr
from dsb_verifier.checks.cli import fig1
from dsb_verifier.checks.cli.io import InputError, RBMCheckpoints
from dsb_verifier.theory.rbm.io import RBMParams, rbm_from_params
from dsb_verifier.theory.tolerances import EPS, transform_atol


def _params(Nv: int, Nh: int, seed: int, visible: str = "bernoulli", hidden: str = "bernoulli") -> RBMParams:
    rng = np.random.default_rng(seed)
    return RBMParams(
        0.5 * rng.standard_normal((Nv, Nh)),
        0.3 * rng.standard_normal(Nv),
        0.3 * rng.standard_normal(Nh),
        visible=visible,
        hidden=hidden,
    )


def _single(Nv: int = 5, Nh: int = 3, seed: int = 0, **units: str) -> RBMCheckpoints:
    return RBMCheckpoints("m.npz", "npz", (None,), (_params(Nv, Nh, seed, **units),), "default")


def _series(Nv: int = 4, Nh: int = 2, checkpoints: tuple[int, ...] = (0, 10, 100)) -> RBMCheckpoints:
    params = tuple(_params(Nv, Nh, seed) for seed in range(len(checkpoints)))
    times = tuple(0.05 * n for n in checkpoints)
    return RBMCheckpoints("ck.h5", "hdf5", checkpoints, params, "file", times)


def _J(p: RBMParams) -> np.ndarray:
    model, theta = rbm_from_params(p)
    return model.couplings(theta)


# ---- streamed enumeration ----------------------------------------------------------------
@pytest.mark.parametrize(
    "N, M, visible, hidden",
    [
        (1, 1, "spin", "spin"),
        (5, 3, "bernoulli", "bernoulli"),
        (9, 4, "spin", "bernoulli"),
        (11, 300, "bernoulli", "spin"),
    ],
)
def test_streamed_enumeration_equals_the_models_couplings(N, M, visible, hidden):
    # N = 11, M = 300: blocks of 2^11 states (one block); N = 9, M = 4: the low/high split is exercised
    p = _params(N, M, N + M, visible, hidden)
    J_model, J = _J(p), en.enumerate_couplings(p)
    scale = float(np.abs(J_model).max())
    np.testing.assert_allclose(J, J_model, rtol=0, atol=transform_atol(N, scale))
    np.testing.assert_allclose(
        en.order_norms_streamed(J), T.order_norms(J_model), rtol=0, atol=transform_atol(N, scale)
    )


def test_streamed_enumeration_splits_states_into_blocks(monkeypatch):
    monkeypatch.setattr(en, "BLOCK_ENTRIES", 8)  # 2 hidden units: blocks of 4 states
    p = _params(7, 2, 3)
    np.testing.assert_allclose(en.enumerate_couplings(p), _J(p), rtol=0, atol=transform_atol(7, 10.0))


def test_enumeration_memory_estimate_bounds_the_measured_peak():
    N, M = 18, 40
    p = _params(N, M, 1)
    tracemalloc.start()
    try:
        J = en.enumerate_couplings(p)
        en.order_norms_streamed(J)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    variable = en.enumeration_bytes(N, M) - en._FIXED_BYTES
    assert 8 * 2**N * 2 <= peak <= variable  # at least u and J; at most the estimate without its fixed slack


# ---- subsets, sampling, estimates ------------------------------------------------------
def test_parse_subsets_sorts_each_subset_and_keeps_their_order():
    assert cr.parse_subsets("3,1; 0 ,2,5", 6) == ((1, 3), (0, 2, 5))


@pytest.mark.parametrize(
    "spec, message",
    [
        ("0,6", "--subsets: index 6 is outside [0, 6) in subset '0,6'"),
        ("1,1", "--subsets: index 1 is repeated in subset '1,1'"),
        ("0;", "--subsets: empty subset in '0;'; write subsets as 0,1;2,5,7"),
        ("0,1,2,3,4,5,0", "--subsets: subset '0,1,2,3,4,5,0' has order 7, above N = 6"),
        ("0,x", "--subsets: '0,x' is not a comma-separated list of integers"),
    ],
)
def test_parse_subsets_refusals_name_the_option(spec, message):
    with pytest.raises(InputError) as exc:
        cr.parse_subsets(spec, 6)
    assert str(exc.value) == message


def test_sampled_subsets_are_uniform_distinct_sorted_and_reproducible():
    N, k, n = 10, 3, 20000
    idx = cc._sampled_subsets(N, k, n, seed=4)
    assert idx.shape == (n, k) and np.all(np.diff(idx, axis=1) > 0) and idx.min() >= 0 and idx.max() < N
    np.testing.assert_array_equal(idx, cc._sampled_subsets(N, k, n, seed=4))
    assert not np.array_equal(idx, cc._sampled_subsets(N, k, n, seed=5))
    counts = np.bincount(cc._bitmasks(idx), minlength=2**N)[T.orders(N) == k]
    expected = n / comb(N, k)
    # chi-square of the 120 subset counts against uniform: 119 degrees of freedom, 5-sigma bound
    chi2 = float(np.sum((counts - expected) ** 2 / expected))
    assert chi2 < 119 + 5 * np.sqrt(2 * 119)


def test_estimate_exhaustive_is_the_norm_and_sampled_is_the_scaled_mean_with_its_error():
    v = np.array([3.0, -4.0])
    assert cc._estimate(v, 2, True) == (5.0, 0.0)
    norm, se = cc._estimate(np.array([1.0, 1.0, 3.0]), 30, False)
    sq = np.array([1.0, 1.0, 9.0])
    assert norm == pytest.approx(np.sqrt(30 * sq.mean()))
    assert se == pytest.approx(30 * sq.std(ddof=1) / np.sqrt(3) / (2 * norm))
    assert cc._estimate(np.zeros(4), 10, False) == (0.0, 0.0)


def test_sampled_norm_interval_covers_the_true_norm_at_about_the_normal_rate():
    # a population of normally distributed couplings with a known norm; the +-2 s.e. interval
    # of the estimate from n = 200 draws covers it in about 95 % of 400 seeds (binomial
    # 3-sigma: >= 91 %). Heavy-tailed populations undercover (docs/notes/effective-cli.md).
    rng = np.random.default_rng(0)
    pop = rng.standard_normal(5000)
    true = float(np.linalg.norm(pop))
    hits = 0
    for seed in range(400):
        draw = pop[np.random.default_rng(seed).integers(0, pop.size, 200)]
        norm, se = cc._estimate(draw, pop.size, False)
        hits += abs(norm - true) <= 2 * se
    assert hits / 400 >= 0.91


def test_resolve_method_auto_and_the_refusal_of_enumeration_beyond_memory():
    assert cr.resolve_method("auto", 12, 5) == "enumerate"
    assert cr.resolve_method("auto", 45, 5) == "integral"
    assert cr.resolve_method("gaussian", 8, 5) == "gaussian"
    with pytest.raises(InputError, match=r"--method enumerate: N = 45 visible units needs .* of memory"):
        cr.resolve_method("enumerate", 45, 5)
    with pytest.raises(InputError, match=r"needs more than 2\^70 x 8 bytes"):
        cr.resolve_method("enumerate", 70, 5)


def test_keeping_the_pairwise_couplings_of_a_series_is_refused_beyond_available_memory(monkeypatch):
    monkeypatch.setattr(cr, "_available_bytes", lambda: 600.0)
    src = _series(Nv=4, checkpoints=(0, 1))
    assert cr.kept_bytes(src, "integral", True) == 8.0 * (16 + 4) * 2 * 2
    with pytest.raises(
        InputError, match=r"keeping the couplings of orders 1, 2, 3 of 2 checkpoint\(s\) at N = 4 needs"
    ):
        cr.resolve(src, cr.Request(method="integral", compare_gaussian=True, keep=True))
    assert cr.resolve(src, cr.Request(method="integral", keep=False)) == ("integral", 3)


def test_request_refusals():
    with pytest.raises(InputError, match="--method must be one of"):
        cr.Request(method="mc")
    with pytest.raises(InputError, match="--samples must be an integer >= 2"):
        cr.Request(samples=1)
    with pytest.raises(InputError, match="--seed must be a non-negative integer"):
        cr.Request(seed=-1)


# ---- compute (enumeration) -------------------------------------------------------------
def test_compute_enumeration_gives_exact_norms_and_keeps_the_couplings():
    src = _series()
    res = cc.compute(src, cr.Request())
    assert res.method == "enumerate" and res.orders == (1, 2, 3, 4) and res.exhaustive.all()
    for t, p in enumerate(src.params):
        J = _J(p)
        np.testing.assert_allclose(res.norms[t], T.order_norms(J)[1:], rtol=0, atol=transform_atol(4, 10.0))
        np.testing.assert_allclose(res.kept[t].J, J, rtol=0, atol=transform_atol(4, 10.0))
        assert res.J_empty is not None and res.J_empty[t] == pytest.approx(J[0])
    assert np.all(res.stderr == 0) and res.gaussian_norms is None
    assert res.n_subsets == (4, 6, 4, 1) == res.n_evaluated


def test_compute_keeps_nothing_for_a_norms_only_series_and_reports_progress():
    msgs: list[str] = []
    res = cc.compute(
        _series(checkpoints=tuple(range(20))), cr.Request(keep=False, max_order=2), progress=msgs.append
    )
    assert res.kept == () and res.norms.shape == (20, 2)
    assert msgs[-1] == "checkpoint 19 (20/20)" and len(msgs) == 10


def test_compute_chosen_subsets_by_enumeration():
    src = _single(6, 3)
    res = cc.compute(src, cr.Request(subsets=((0, 2), (1, 3, 5))))
    J = _J(src.params[0])
    assert res.kept[0].chosen is not None
    np.testing.assert_allclose(
        res.kept[0].chosen, [J[0b101], J[0b101010]], rtol=0, atol=transform_atol(6, 10.0)
    )


def test_compute_names_the_file_and_checkpoint_when_the_theory_refuses(monkeypatch):
    def boom(params):
        raise ValueError("the transform of f overflows float64")

    monkeypatch.setattr(cc, "enumerate_couplings", boom)
    with pytest.raises(InputError, match=r"^ck.h5 \[update_0\]: the transform of f overflows float64$"):
        cc.compute(_series(), cr.Request())


@pytest.mark.parametrize(
    "change, message",
    [
        ({"norms": np.zeros((2, 4))}, "EffectiveResult.norms must have shape (T, K) = (3, 4), got (2, 4)"),
        ({"exhaustive": np.ones(3, dtype=bool)}, "exhaustive and n_evaluated need one entry per order"),
        ({"stderr": np.ones((3, 4))}, "an exhaustive order has a non-zero standard error"),
        ({"kept": (cc.Kept(),)}, "kept couplings need one entry per checkpoint"),
    ],
)
def test_effective_result_refuses_inconsistent_fields(change, message):
    res = cc.compute(_series(), cr.Request())
    with pytest.raises(ValueError) as exc:
        dataclasses.replace(res, **change)
    assert message in str(exc.value)


# ---- tables -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def single():
    return cc.compute(_single(), cr.Request(max_order=3))


@pytest.fixture(scope="module")
def series():
    return cc.compute(_series(), cr.Request(keep=False))


def test_coupling_rows_by_enumeration_are_every_subset_up_to_K_by_order_then_mask(single):
    rows = list(eo.coupling_rows(single))
    J = _J(single.source.params[0])
    assert len(rows) == 5 + 10 + 10
    assert [(r[1], r[0]) for r in rows] == sorted((r[1], r[0]) for r in rows)
    for S, k, name, v, g in rows:
        assert T.subset_indices(S, 5) == tuple(int(i) for i in name.split(",")) and k == len(name.split(","))
        assert v == pytest.approx(J[S], abs=transform_atol(5, 10.0)) and g is None


def test_coupling_rows_of_the_integral_layout_are_fields_then_pairs_by_mask(single):
    f, P = np.arange(4.0), np.arange(16.0).reshape(4, 4)
    P = P + P.T
    src = RBMCheckpoints("m.npz", "npz", (None,), (_params(4, 2, 0),), "default")
    res = dataclasses.replace(
        single,
        source=src,
        method="integral",
        norms=np.zeros((1, 2)),
        stderr=np.zeros((1, 2)),
        exhaustive=np.ones(2, dtype=bool),
        n_subsets=(4, 6),
        n_evaluated=(4, 6),
        J_empty=None,
        kept=(cc.Kept(fields=f, pairwise=P, gaussian_fields=-f, gaussian_pairwise=-P),),
    )
    rows = list(eo.coupling_rows(res))
    assert [r[0] for r in rows] == [1, 2, 4, 8, 3, 5, 6, 9, 10, 12]
    assert rows[5] == (5, 2, "0,2", P[0, 2], -P[0, 2]) and rows[2] == (4, 1, "2", 2.0, -2.0)


def test_single_json_meta_norms_and_rows(single):
    buf = io.StringIO()
    eo.single_json(single, buf)
    doc = json.loads(buf.getvalue())
    assert doc["method"] == "enumerate" and doc["law"] == "exact" and doc["max_order"] == 3
    assert [r["order"] for r in doc["order_norms"]] == [1, 2, 3]
    assert doc["order_norms"][2] == {
        "order": 3,
        "norm": float(single.norms[0, 2]),
        "stderr": 0.0,
        "floor": float(single.floors[0, 2]),
        "floor_source": "fallback",
        "exhaustive": True,
        "n_subsets": 10,
        "n_evaluated": 10,
        "in_table": True,
    }
    assert doc["floor_source"] == "fallback" and "enumeration has no per-order" in doc["floor_meaning"]
    assert doc["table_orders"] == [1, 2, 3] and doc["sampled_orders"] == []
    assert len(doc["couplings"]) == 25 and "J_gaussian" not in doc["couplings"][0]
    assert doc["J_empty"] == pytest.approx(_J(single.source.params[0])[0])


def test_single_csv_and_norms_csv(single):
    buf = io.StringIO()
    eo.single_csv(single, buf)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert list(rows[0]) == ["subset", "order", "indices", "J"] and len(rows) == 25
    assert buf.getvalue().splitlines()[1].startswith('1,1,"0",')
    buf = io.StringIO()
    eo.norms_csv(single, buf)
    norms = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert [r["order"] for r in norms] == ["1", "2", "3"] and norms[0]["exhaustive"] == "true"
    assert float(norms[1]["norm"]) == single.norms[0, 1]


def test_series_json_and_csv_on_both_time_axes(series):
    buf = io.StringIO()
    eo.series_json(series, "effective_time", "f.png", buf)
    doc = json.loads(buf.getvalue())
    assert doc["time_axis"] == "effective_time" and doc["time"] == [0.0, 0.5, 5.0]
    assert doc["checkpoints"] == [0, 10, 100] and doc["figure"] == "f.png"
    np.testing.assert_array_equal(doc["order_norms"], series.norms)
    assert "gaussian" not in doc
    buf = io.StringIO()
    eo.series_csv(series, "update", buf)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert len(rows) == 3 * 4 and rows[4]["checkpoint"] == "10" and rows[4]["time"] == "10.0"
    assert rows[5]["order"] == "2" and float(rows[5]["norm"]) == series.norms[1, 1]


def test_npz_arrays_single_and_series(single, series):
    a = eo.npz_arrays(single, "update")
    assert a["order_norms"].shape == (3,) and a["J"].shape == (32,) and "checkpoints" not in a
    b = eo.npz_arrays(series, "effective_time")
    assert b["order_norms"].shape == (3, 4) and "J" not in b
    np.testing.assert_array_equal(b["time"], [0.0, 0.5, 5.0])
    assert str(b["time_axis"]) == "effective_time"


# ---- output format and plan ---------------------------------------------------------
@pytest.mark.parametrize(
    "out, given, expected",
    [
        ("a.csv", None, "csv"),
        ("a.NPZ", None, "npz"),
        ("a.json", "json", "json"),
        ("a.dat", "csv", "csv"),
        (None, None, "json"),
    ],
)
def test_format_from_the_suffix(out, given, expected):
    from pathlib import Path

    assert ce._format(None if out is None else Path(out), given) == expected


def test_write_all_writes_text_and_binary_then_renames(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.bin"
    ce._write_all([(a, lambda fh: fh.write("x\r\ny"), False), (b, lambda fh: fh.write(b"\x00\x01"), True)])
    assert a.read_bytes() == b"x\r\ny"  # newline="": text is written as given
    assert b.read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


def test_write_all_leaves_nothing_behind_when_a_writer_fails(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("old")

    def boom(fh):
        fh.write("partial")
        raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError, match="writer failed"):
        ce._write_all([(a, lambda fh: fh.write("new"), False), (b, boom, False)])
    assert a.read_text() == "old" and not b.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


# ---- figure ---------------------------------------------------------------------------
def test_accuracy_floor_is_100_eps_of_the_largest_block_including_J0(series):
    top = np.maximum(series.norms.max(axis=1), np.abs(series.J_empty))
    np.testing.assert_allclose(fig1.accuracy_floor(series), 100 * EPS * top)
    np.testing.assert_allclose(fig1.accuracy_floor(series, 1e-9), 1e-9 * top)


def test_figure_hides_values_below_the_floor_and_names_orders(series):
    from matplotlib.figure import Figure

    res = dataclasses.replace(series, norms=series.norms.copy())
    res.norms[1, 3] = 1e-30  # rounding noise: must not be drawn
    fig = Figure()
    ax = fig.add_subplot()
    fig1.draw_fig1(res, ax, orders=(2, 4), axis="update")
    solid = [ln for ln in ax.get_lines() if ln.get_linestyle() == "-"]
    assert len(solid) == 2
    y4 = solid[1].get_ydata()
    x4 = solid[1].get_xdata()
    assert np.isnan(y4[list(x4).index(10.0)])  # checkpoint 10's order-4 value is below the floor
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["k = 2", "k = 4"]
    assert ax.get_yscale() == "log" and ax.get_xscale() == "linear"  # times 0..100: positive span < 2 decades


def test_figure_uses_a_colour_bar_for_many_orders_and_a_log_time_axis():
    from matplotlib.figure import Figure

    src = _series(Nv=10, Nh=2, checkpoints=(1, 10, 100, 1000))
    res = cc.compute(src, cr.Request(keep=False))
    fig = Figure()
    ax = fig.add_subplot()
    fig1.draw_fig1(res, ax)
    assert len(ax.texts) == 0 and len(fig.axes) == 2  # the colour bar's axes
    assert ax.get_xscale() == "log"


def test_gaussian_error_panel_hides_rounding_level_ratios_and_noise_blocks():
    from matplotlib.figure import Figure

    res = cc.compute(_series(), cr.Request(keep=False, compare_gaussian=True, max_order=2))
    assert res.gaussian_rel_error is not None
    err = res.gaussian_rel_error.copy()
    err[0, 0] = 1e-16  # the laws agree to rounding: not drawn
    norms = res.norms.copy()
    norms[2, 1] = 1e-30  # the exact block is noise: its ratio is not drawn
    res = dataclasses.replace(res, gaussian_rel_error=err, norms=norms)
    fig = Figure()
    ax = fig.add_subplot()
    fig1.draw_gaussian_error(res, ax)
    y1, y2 = (ln.get_ydata() for ln in ax.get_lines()[:2])
    assert np.isnan(y1[0]) and np.isnan(y2[2]) and y1[1] == err[1, 0] and y2[0] == err[0, 1]
    assert ax.get_lines()[2].get_ydata()[0] == 100 * EPS  # the rounding level, drawn dotted


def test_write_figure_writes_a_png(series):
    buf = io.BytesIO()
    fig1.write_figure(series, buf, axis="effective_time")
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
