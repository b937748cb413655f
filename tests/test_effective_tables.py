"""``dsb_verifier.checks.cli.effective``: the computation and every table writer, called directly.

``tests/test_cli_effective.py`` runs the command end to end; these tests pin the content of
each output format against the exact couplings, so a wrong row, column or field is caught
where it is made (each writer is also reached here within a few calls, which the mutation
runs need; see docs/development.md).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks.cli import effective as ce
from dsb_verifier.checks.cli.io import InputError, RBMCheckpoints
from dsb_verifier.theory.rbm.io import RBMParams, rbm_from_params


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
    return RBMCheckpoints("ck.h5", "hdf5", checkpoints, params, "file")


def _J(p: RBMParams) -> np.ndarray:
    model, theta = rbm_from_params(p)
    return model.couplings(theta)


# ---- indices and row order -------------------------------------------------------------
def test_index_strings_and_row_order_for_three_variables():
    assert ce._index_strings(3) == ["", "0", "1", "0,1", "2", "0,2", "1,2", "0,1,2"]
    assert ce._row_order(3).tolist() == [1, 2, 4, 3, 5, 6, 7]


@pytest.mark.parametrize("N", [1, 2, 6])
def test_index_strings_name_every_subset_and_rows_sort_by_order_then_mask(N):
    names = ce._index_strings(N)
    assert len(names) == 2**N
    for S, name in enumerate(names):
        assert tuple(int(i) for i in name.split(",") if i) == T.subset_indices(S, N)
    rows = ce._row_order(N).tolist()
    k = T.orders(N)
    assert sorted(rows) == list(range(1, 2**N))
    assert rows == sorted(rows, key=lambda S: (k[S], S))


# ---- compute ---------------------------------------------------------------------------
def test_compute_gives_the_exact_couplings_and_norms_of_every_checkpoint():
    src = _series()
    res = ce.compute(src, keep_couplings=True, gaussian=False)
    assert res.J is not None and res.J.shape == (3, 16) and res.gaussian is None
    for t, p in enumerate(src.params):
        J = _J(p)
        np.testing.assert_array_equal(res.J[t], J)
        np.testing.assert_array_equal(res.norms[t], T.order_norms(J))
        assert res.J_empty[t] == J[0]
    slim = ce.compute(src, keep_couplings=False, gaussian=True)
    assert slim.J is None and slim.gaussian is not None and len(slim.gaussian) == 3
    np.testing.assert_array_equal(slim.norms, res.norms)
    for t, g in enumerate(slim.gaussian):
        assert g.orders == (1, 2, 3)
        np.testing.assert_array_equal(g.J_exact, res.J[t])


def test_compute_reports_progress_about_ten_times_and_at_the_end():
    Nv = 2
    many = tuple(range(25))
    src = RBMCheckpoints("ck.h5", "hdf5", many, tuple(_params(Nv, 1, s) for s in many), "file")
    seen: list[str] = []
    ce.compute(src, keep_couplings=False, gaussian=False, progress=seen.append)
    assert seen == [f"checkpoint {t - 1} ({t}/25)" for t in [*range(2, 25, 2), 25]]
    one: list[str] = []
    ce.compute(_single(3, 2), keep_couplings=True, gaussian=False, progress=one.append)
    assert one == []  # a single model has nothing to report


def test_compute_refuses_more_visible_units_than_enumeration_allows_naming_the_memory():
    Nv = ce.MAX_NV + 1
    src = RBMCheckpoints("big.npz", "npz", (None,), (_params(Nv, 2, 0),), "default")
    with pytest.raises(InputError) as info:
        ce.compute(src, keep_couplings=True, gaussian=False)
    msg = str(info.value)
    assert msg.startswith("big.npz: Nv = 25 visible units")
    assert f"(estimated {T._validation._fmt_bytes(8.0 * 2.0**Nv * (2 * 2 + Nv + 8))} of memory)" in msg
    assert "Nv <= 24" in msg


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"norms": np.zeros((1, 5))}, "norms must be"),
        ({"J_empty": np.zeros(2)}, "norms must be"),
        ({"J": np.zeros((1, 16))}, "J must be"),
        ({"gaussian": ()}, "one Gaussian comparison per checkpoint"),
    ],
)
def test_effective_result_refuses_inconsistent_shapes(change, message):
    good = ce.compute(_single(), keep_couplings=True, gaussian=True)
    fields = {f: getattr(good, f) for f in ("source", "norms", "J_empty", "J", "gaussian")}
    ce.EffectiveResult(**fields)  # the unchanged fields are accepted
    with pytest.raises(ValueError, match=message):
        ce.EffectiveResult(**{**fields, **change})


# ---- single-model tables ---------------------------------------------------------------
@pytest.fixture(scope="module")
def single():
    return ce.compute(_single(visible="spin"), keep_couplings=True, gaussian=True)


@pytest.fixture(scope="module")
def single_plain():
    return ce.compute(_single(seed=3), keep_couplings=True, gaussian=False)


def _text(writer, *args) -> str:
    buf = io.StringIO()
    writer(*args, buf)
    return buf.getvalue()


def test_single_json_rows_meta_and_gaussian_columns(single):
    doc = json.loads(_text(ce._single_json, single))
    J, g = single.J[0], single.gaussian[0]
    assert {k: doc[k] for k in ("model", "file_format", "n_visible", "n_hidden", "checkpoint")} == {
        "model": "m.npz",
        "file_format": "npz",
        "n_visible": 5,
        "n_hidden": 3,
        "checkpoint": None,
    }
    assert doc["units"] == {"visible": "spin", "hidden": "bernoulli", "source": "default"}
    assert doc["conventions"] == ce._CONVENTION
    assert doc["J_empty"] == J[0] and doc["J_empty_meaning"].startswith("J_0 = mean over states")
    assert doc["order_norms"] == [{"order": k, "norm": single.norms[0, k]} for k in range(1, 6)]
    assert doc["gaussian"] == json.loads(json.dumps(g.to_json()))
    rows = doc["couplings"]
    assert [r["subset"] for r in rows] == ce._row_order(5).tolist()
    for r in rows:
        S = r["subset"]
        assert r["order"] == len(r["indices"]) and tuple(r["indices"]) == T.subset_indices(S, 5)
        assert r["J"] == J[S]  # repr round-trips a float exactly
        if r["order"] <= ce.GAUSSIAN_MAX_ORDER:
            assert r["J_gaussian"] == g.J_gaussian[S]
        else:
            assert "J_gaussian" not in r


def test_single_json_without_gaussian_has_no_gaussian_fields(single_plain):
    doc = json.loads(_text(ce._single_json, single_plain))
    assert "gaussian" not in doc and all("J_gaussian" not in r for r in doc["couplings"])
    assert [r["J"] for r in doc["couplings"]] == single_plain.J[0][ce._row_order(5)].tolist()


def test_single_csv_matches_the_couplings_with_and_without_gaussian(single, single_plain):
    rows = list(csv.DictReader(io.StringIO(_text(ce._single_csv, single))))
    assert list(rows[0]) == ["subset", "order", "indices", "J", "J_gaussian"]
    assert [int(r["subset"]) for r in rows] == ce._row_order(5).tolist()
    for r in rows:
        S = int(r["subset"])
        assert r["indices"] == ce._index_strings(5)[S] and int(r["order"]) == T.orders(5)[S]
        assert float(r["J"]) == single.J[0][S]
        if int(r["order"]) <= ce.GAUSSIAN_MAX_ORDER:
            assert float(r["J_gaussian"]) == single.gaussian[0].J_gaussian[S]
        else:
            assert r["J_gaussian"] == ""
    plain = _text(ce._single_csv, single_plain)
    assert plain.splitlines()[0] == "subset,order,indices,J"
    assert plain.splitlines()[1] == f'1,1,"0",{float(single_plain.J[0][1])!r}'
    assert len(plain.splitlines()) == 32


def test_norms_csv_with_and_without_gaussian(single, single_plain):
    rows = list(csv.DictReader(io.StringIO(_text(ce._norms_csv, single))))
    g = single.gaussian[0]
    assert list(rows[0]) == ["order", "norm", "gaussian_max_abs_error", "gaussian_rel_frobenius_error"]
    assert [int(r["order"]) for r in rows] == [1, 2, 3, 4, 5]
    for k, r in enumerate(rows, start=1):
        assert float(r["norm"]) == single.norms[0, k]
        if k <= 3:
            assert float(r["gaussian_max_abs_error"]) == g.max_abs_error[k - 1]
            assert float(r["gaussian_rel_frobenius_error"]) == g.rel_frobenius_error[k - 1]
        else:
            assert r["gaussian_max_abs_error"] == r["gaussian_rel_frobenius_error"] == ""
    plain = _text(ce._norms_csv, single_plain).splitlines()
    assert plain[0] == "order,norm" and plain[1:] == [
        f"{k},{float(single_plain.norms[0, k])!r}" for k in range(1, 6)
    ]


def test_norms_and_series_csv_write_inf_for_an_order_whose_exact_block_is_zero(single):
    g = single.gaussian[0]
    g0 = dataclasses.replace(
        g, exact_norm=np.array([0.0, *g.exact_norm[1:]]), frobenius_error=g.frobenius_error + 0.1
    )
    assert g0.rel_frobenius_error[0] == np.inf
    res = dataclasses.replace(single, gaussian=(g0,))
    rows = list(csv.DictReader(io.StringIO(_text(ce._norms_csv, res))))
    assert rows[0]["gaussian_rel_frobenius_error"] == "inf"
    assert rows[1]["gaussian_rel_frobenius_error"] == repr(float(g0.rel_frobenius_error[1]))
    series_rows = list(csv.reader(io.StringIO(_text(ce._series_csv, res))))
    assert series_rows[1][-3:] == ["inf", *(repr(float(x)) for x in g0.rel_frobenius_error[1:])]
    doc = json.loads(_text(ce._series_json, res, None))
    assert doc["gaussian"]["rel_frobenius_error"] == [[None, *g0.rel_frobenius_error[1:].tolist()]]


# ---- checkpoint series -----------------------------------------------------------------
@pytest.fixture(scope="module")
def series():
    return ce.compute(_series(), keep_couplings=True, gaussian=True)


def test_series_json_has_every_checkpoint_norm_and_gaussian_error(series, tmp_path):
    doc = json.loads(_text(ce._series_json, series, tmp_path / "f.png"))
    assert doc["checkpoints"] == [0, 10, 100] and doc["orders"] == [1, 2, 3, 4]
    assert doc["model"] == "ck.h5" and doc["units"]["source"] == "file"
    assert doc["time_axis"].startswith("update index n")
    assert doc["order_norms"] == series.norms[:, 1:].tolist()
    assert doc["J_empty"] == series.J_empty.tolist()
    assert doc["figure"] == str(tmp_path / "f.png")
    gs = doc["gaussian"]
    assert gs["orders"] == [1, 2, 3]
    assert gs["max_abs_error"] == [g.max_abs_error.tolist() for g in series.gaussian]
    assert gs["rel_frobenius_error"] == [g.rel_frobenius_error.tolist() for g in series.gaussian]
    assert gs["quadrature_spacing"] == series.gaussian[0].spacing
    plain = ce.compute(_series(), keep_couplings=False, gaussian=False)
    doc = json.loads(_text(ce._series_json, plain, None))
    assert doc["figure"] is None and "gaussian" not in doc


def test_series_csv_rows_are_checkpoints_and_columns_orders_then_errors(series):
    rows = list(csv.reader(io.StringIO(_text(ce._series_csv, series))))
    K = 3
    assert rows[0] == [
        "checkpoint",
        *(f"order_{k}" for k in range(1, 5)),
        *(f"gaussian_max_abs_error_{k}" for k in range(1, K + 1)),
        *(f"gaussian_rel_frobenius_error_{k}" for k in range(1, K + 1)),
    ]
    for t, row in enumerate(rows[1:]):
        g = series.gaussian[t]
        assert int(row[0]) == series.source.checkpoints[t]
        assert [float(x) for x in row[1:5]] == series.norms[t, 1:].tolist()
        assert [float(x) for x in row[5:8]] == g.max_abs_error.tolist()
        assert [float(x) for x in row[8:11]] == g.rel_frobenius_error.tolist()
    assert len(rows) == 4
    plain = ce.compute(_series(), keep_couplings=False, gaussian=False)
    lines = _text(ce._series_csv, plain).splitlines()
    assert lines[0] == "checkpoint,order_1,order_2,order_3,order_4"
    assert lines[1] == "0," + ",".join(repr(float(x)) for x in plain.norms[0, 1:])


def test_npz_arrays_single_and_series(single, series, single_plain):
    one = ce._npz_arrays(single)
    assert "checkpoints" not in one and str(one["units"]) == "spin,bernoulli"
    assert int(one["n_visible"]) == 5 and int(one["n_hidden"]) == 3
    np.testing.assert_array_equal(one["orders"], T.orders(5))
    np.testing.assert_array_equal(one["J"], single.J[0])
    np.testing.assert_array_equal(one["order_norms"], single.norms[0])
    np.testing.assert_array_equal(one["J_gaussian"], single.gaussian[0].J_gaussian)
    np.testing.assert_array_equal(one["gaussian_max_abs_error"], single.gaussian[0].max_abs_error)
    np.testing.assert_array_equal(one["gaussian_rel_frobenius_error"], single.gaussian[0].rel_frobenius_error)
    assert str(one["conventions"]) == ce._CONVENTION
    many = ce._npz_arrays(series)
    np.testing.assert_array_equal(many["checkpoints"], [0, 10, 100])
    assert many["checkpoints"].dtype == np.int64
    np.testing.assert_array_equal(many["J"], series.J)
    np.testing.assert_array_equal(many["order_norms"], series.norms)
    np.testing.assert_array_equal(many["J_gaussian"], [g.J_gaussian for g in series.gaussian])
    assert many["gaussian_max_abs_error"].shape == many["gaussian_rel_frobenius_error"].shape == (3, 3)
    plain = ce._npz_arrays(single_plain)
    assert not {"J_gaussian", "gaussian_max_abs_error", "gaussian_rel_frobenius_error"} & set(plain)
    slim = ce._npz_arrays(ce.compute(_series(), keep_couplings=False, gaussian=False))
    assert "J" not in slim and slim["order_norms"].shape == (3, 5)


def test_one_checkpoint_of_a_series_is_stored_like_a_single_model_but_keeps_its_index():
    src = _series(checkpoints=(7,))
    arrays = ce._npz_arrays(ce.compute(src, keep_couplings=True, gaussian=True))
    assert arrays["J"].shape == (16,) and arrays["order_norms"].shape == (5,)
    assert arrays["J_gaussian"].shape == (16,) and arrays["gaussian_max_abs_error"].shape == (3,)
    assert arrays["checkpoints"].tolist() == [7]


def test_summary_lines(single, series):
    lines = list(ce._summary(single))
    assert lines[0] == "m.npz: Nv=5, Nh=3, units visible=spin hidden=bernoulli (default), 1 checkpoint(s)"
    assert lines[1] == "|J_k|: " + ", ".join(f"{k}: {single.norms[0, k]:.4g}" for k in range(1, 6))
    g = single.gaussian[0]
    assert lines[2].startswith(
        "Gaussian approximation error: "
        f"order 1: max abs {g.max_abs_error[0]:.3g}, rel {g.rel_frobenius_error[0]:.3g}; "
    )
    assert len(lines) == 3
    last = list(ce._summary(series))
    assert last[0].endswith("3 checkpoint(s)") and last[1].startswith("|J_k| at checkpoint 100: ")
    assert last[1].endswith(f"4: {series.norms[-1, 4]:.4g}")
    assert last[2].startswith("Gaussian approximation error at checkpoint 100: ")


# ---- writing all outputs at once ---------------------------------------------------------
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


def test_effective_result_refusal_of_a_gaussian_count_mismatch_is_the_exact_sentence():
    good = ce.compute(_single(Nv=3, Nh=2), keep_couplings=False, gaussian=True)
    fields = {f: getattr(good, f) for f in ("source", "norms", "J_empty", "J", "gaussian")}
    with pytest.raises(ValueError, match=r"^one Gaussian comparison per checkpoint$"):
        ce.EffectiveResult(**{**fields, "gaussian": good.gaussian * 2})


# ---- dsb_verifier.checks.cli.io.load_rbm: refusals of a model file name the problem and the fix --------------------
def _model_npz(path, W, **extra):
    Nv, Nh = W.shape[:2]
    np.savez(path, weight_matrix=W, vbias=np.zeros(Nv), hbias=np.zeros(Nh), **extra)
    return path


def test_load_rbm_names_a_3d_weight_matrix_a_potts_rbm_and_only_that(tmp_path):
    from dsb_verifier.checks.cli.io import load_rbm

    potts = _model_npz(tmp_path / "potts.npz", np.zeros((3, 2, 4)))
    with pytest.raises(InputError) as info:
        load_rbm(potts)
    assert str(info.value) == (
        f"{potts}: weight_matrix must have shape (Nv, Nh) with Nv, Nh >= 1, got shape (3, 2, 4) "
        "(a 3-D weight_matrix is a Potts RBM, which is not supported)"
    )
    # any other weight_matrix problem of a 2-D matrix gets no Potts hint
    nan = _model_npz(tmp_path / "nan.npz", np.full((3, 2), np.nan))
    with pytest.raises(InputError) as info:
        load_rbm(nan)
    assert str(info.value) == f"{nan}: weight_matrix must be finite; it contains NaN or inf"


@pytest.mark.parametrize(
    ("requested", "listed"), [("bernoulli", "bernoulli,bernoulli"), ("bernoulli,spin", "bernoulli,spin")]
)
def test_load_rbm_units_conflict_says_both_conventions_and_what_to_do(tmp_path, requested, listed):
    from dsb_verifier.checks.cli.io import load_rbm

    path = _model_npz(tmp_path / "spin.npz", np.zeros((3, 2)), units="spin")
    with pytest.raises(InputError) as info:
        load_rbm(path, units=requested)
    assert str(info.value) == (
        f"{path}: key 'units' says units spin,spin but units {listed} were requested; "
        "drop the request or fix the file"
    )
    assert load_rbm(path, units="spin").units_source == "file"  # the same request as the file is fine
