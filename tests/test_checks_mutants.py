"""Claims C1 and C2, user files, the report and the runner: exact contracts the other tests leave open.

* C1 ``run``: the complete conditions, the evidence entries, the headline and the two negative controls
  (names, descriptions, what each one trips); C1 ``evaluate``: the finite-difference route of the
  Jacobian check catches a Jacobian that is consistent with a wrong ``du/dtheta`` (the dense route cannot);
* C2 ``evaluate``: flows stopped at ``t_max`` while still improving make the verdict inconclusive;
  C2 ``run``: conditions and the two negative controls;
* :mod:`dsb_verifier.checks.cli.io`: whole one-line refusal messages (file, key, expected shape) and the accepted layouts;
* :mod:`dsb_verifier.checks.cli.report`: the complete ``report.md`` and verdict table of a hand-built report, and an
  interrupted write that leaves nothing behind;
* :mod:`dsb_verifier.checks.runner`: provenance fields, rounding of the timing fields, the commit, progress messages,
  figures and the executor path.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import sys
import types
from concurrent.futures import Executor, Future

import mpmath
import numpy as np
import pytest
import scipy
import sympy
from dsb_verifier import theory as T
from dsb_verifier.checks import runner
from dsb_verifier.checks.claims import c1_bijection as c1
from dsb_verifier.checks.claims import c2_convexity as c2
from dsb_verifier.checks.claims.controls import _Delegate
from dsb_verifier.checks.cli import io
from dsb_verifier.checks.cli.io import InputError, load_rbm, load_samples
from dsb_verifier.checks.cli.report import _atomic_write, markdown, verdict_table
from dsb_verifier.checks.executors import _identified_call
from dsb_verifier.checks.profiles import get_profile
from dsb_verifier.checks.provenance import git_state, source_digest
from dsb_verifier.checks.verdict import ClaimReport, ControlResult, Counterexample, Status, Verdict
from dsb_verifier.theory import __version__
from dsb_verifier.theory.models import RBM, DirectModel
from dsb_verifier.theory.tolerances import FD_RTOL

QUICK = get_profile("quick")


def _h5py():
    """h5py (a test extra), or skip only the HDF5 test that needs it."""
    return pytest.importorskip("h5py")


# ---- C1 -----------------------------------------------------------------------------------------------
SMALL_C1 = dataclasses.replace(QUICK, n_cases=1, max_n_generic=2, max_n_rbm=2, max_n_symbolic=1)


@pytest.fixture(scope="module")
def c1_small():
    return c1.run(SMALL_C1, 3)


def test_c1_run_conditions_are_complete(c1_small):
    assert c1_small.verdict.conditions == {
        "families": ["direct", "truncated-2", "rbm-spin", "rbm-bit", "tanh-1", "tanh-2"],
        "N_targets": "1..2",
        "N_models": "2..2",
        "N_symbolic": "1..1",
        "n_targets": 3,  # one drawn target and the two named cases
        "n_models": 12,  # six families at N = 2, two parameter draws each
        "n_symbolic_cases": 2,  # max(2, n_cases // 4) coupling vectors at N = 1
        "init_scale": 0.5,
        "seed": 3,
        "target_strategy": "dsb_verifier.checks.claims.cases.distribution(min_log10=-12) + named cases",
    }


def test_c1_run_evidence_entries_and_headline(c1_small):
    v = c1_small.verdict
    assert v.status is Status.HOLDS and v.claim == "C1"
    ev = v.evidence
    parts = ("roundtrip", "couplings_transform", "jacobian_dense", "jacobian_fd", "symbolic_parity")
    assert set(ev) == {*parts, "headline"}
    assert [ev[k]["n_cases"] for k in parts] == [3, 12, 12, 12, 2]
    assert all(ev[k]["n_failed"] == 0 for k in parts)
    # finite differences are never exact, but well within their tolerance
    assert 0.0 < ev["jacobian_fd"]["worst"] < FD_RTOL
    assert ev["headline"] == (
        f"round trip ≤ {ev['roundtrip']['worst']:.0e} on 3 targets; J and A of 12 models ≤ "
        f"{max(ev['couplings_transform']['worst'], ev['jacobian_dense']['worst']):.0e} "
        f"(FD {ev['jacobian_fd']['worst']:.0e}); sympy parity ≤ {ev['symbolic_parity']['worst']:.0e}"
    )
    assert v.tolerances == c1.TOLERANCES
    # every worst case names the coordinates that replay it
    model_case = {"family", "N", "P", "index"}
    assert set(ev["roundtrip"]["worst_case"]) == {"kind", "index", "N", "min_p"}
    assert ev["roundtrip"]["worst_case"]["kind"] == "target"
    assert set(ev["couplings_transform"]["worst_case"]) == set(ev["jacobian_fd"]["worst_case"]) == model_case
    sym_case = ev["symbolic_parity"]["worst_case"]
    assert set(sym_case) == {"kind", "N", "index"} and (sym_case["kind"], sym_case["N"]) == ("symbolic", 1)


def test_c1_run_negative_controls_are_named_described_and_caught(c1_small):
    ctl = {c.name: c for c in c1_small.controls}
    assert [c.name for c in c1_small.controls] == ["wrong-jacobian", "wrong-spin-sign"]
    assert (
        ctl["wrong-jacobian"].description == "Jacobian transformed with the variables in reversed bit order"
    )
    assert ctl["wrong-spin-sign"].description == "couplings computed with bit 1 read as spin +1"
    for c in c1_small.controls:
        assert c.claim == "C1" and c.caught and c.verdict.status is Status.FAILS
        ev = c.verdict.evidence
        # the controls run on the first two targets and no symbolic case, models up to N = 3
        assert (ev["roundtrip"]["n_cases"], ev["symbolic_parity"]["n_cases"]) == (2, 0)
        assert ev["couplings_transform"]["n_cases"] == 12
    # a reversed-bit Jacobian is wrong by both routes, the couplings stay right
    wj = ctl["wrong-jacobian"].verdict.evidence
    assert wj["jacobian_dense"]["n_failed"] == wj["jacobian_fd"]["n_failed"] == 12
    assert wj["couplings_transform"]["n_failed"] == 0
    # a flipped spin sign changes the couplings (and their derivatives), not the Jacobian's own route
    ws = ctl["wrong-spin-sign"].verdict.evidence
    assert ws["couplings_transform"]["n_failed"] == ws["jacobian_fd"]["n_failed"] == 12
    assert ws["jacobian_dense"]["n_failed"] == 0


class _DoubledGradient(_Delegate):
    """``du/dtheta`` twice too large: the Jacobian built from it agrees with the dense route."""

    def _grad_neg_energy(self, theta):
        return 2.0 * self.inner._grad_neg_energy(theta)


def test_c1_finite_differences_catch_a_jacobian_consistent_with_a_wrong_gradient():
    model = _DoubledGradient(RBM(2, 1))
    models = [(model, model.init(np.random.default_rng(k), 0.8)) for k in range(2)]
    v = c1.evaluate([], models, [], seed=7, conditions={})
    ev = v.evidence
    assert v.status is Status.FAILS
    assert (ev["jacobian_dense"]["n_failed"], ev["couplings_transform"]["n_failed"]) == (0, 0)
    assert (ev["jacobian_fd"]["n_cases"], ev["jacobian_fd"]["n_failed"]) == (2, 2)
    # |2A - A| / max(1, |2A|) = 1/2 on the column where |2A| >= 1
    assert ev["jacobian_fd"]["worst"] == pytest.approx(0.5, abs=1e-6)
    assert [c.case for c in v.counterexamples] == sorted(
        ({"family": "rbm-spin [_DoubledGradient]", "N": 2, "P": 5, "index": k} for k in (0, 1)),
        key=lambda case: -next(c.value for c in v.counterexamples if c.case == case),
    )
    assert all(c.seed == 7 for c in v.counterexamples)
    assert all(
        c.description.startswith("|A - finite differences of J| (relative) = ") for c in v.counterexamples
    )


# ---- C2 -----------------------------------------------------------------------------------------------
def test_c2_flows_unfinished_at_t_max_make_the_verdict_inconclusive():
    q = T.dirichlet_target(2, np.random.default_rng(0))
    v = c2.evaluate(
        DirectModel(2), [], [q, q], seed=1, conditions={}, point_scales=(), flow_scales=(3.0,), t_max=2e-3
    )
    assert v.status is Status.INCONCLUSIVE
    assert v.counterexamples == ()
    assert v.evidence["flows_unfinished_at_t_max"] == 2
    assert v.evidence["flow_to_J_q"]["n_cases"] == 0
    assert v.evidence["smallest_eigenvalue_of_minus_hessian"] is None
    # no flow at all is not "inconclusive": nothing was asked of the flows
    none = c2.evaluate(
        DirectModel(2), [], [], seed=1, conditions={}, point_scales=(), flow_scales=(3.0,), t_max=2e-3
    )
    assert none.status is Status.HOLDS


def test_c2_evidence_of_a_holding_direct_model_is_complete():
    q = T.dirichlet_target(2, np.random.default_rng(3))
    v = c2.evaluate(
        DirectModel(2),
        [q],
        [q],
        seed=2,
        conditions={"x": 1},
        point_scales=(0.1, 1.0),
        flow_scales=(1.0,),
        t_max=1e4,
    )
    assert (v.status, v.claim, v.conditions, v.counterexamples) == (Status.HOLDS, "C2", {"x": 1}, ())
    ev = v.evidence
    assert set(ev) == {
        "hessian_pd",
        "midpoint_concavity",
        "flow_to_J_q",
        "fisher_two_routes",
        "smallest_eigenvalue_of_minus_hessian",
        "smallest_relative_eigenvalue",
        "flows_unfinished_at_t_max",
        "points_with_unresolved_smallest_eigenvalue",
    }
    # two points per scale, one midpoint per pair, one flow per flow scale
    assert ev["hessian_pd"]["n_cases"] + ev["points_with_unresolved_smallest_eigenvalue"] == 4
    assert ev["fisher_two_routes"]["n_cases"] == 4 and ev["midpoint_concavity"]["n_cases"] == 2
    assert (ev["flow_to_J_q"]["n_cases"], ev["flows_unfinished_at_t_max"]) == (1, 0)
    assert set(ev["fisher_two_routes"]["worst_case"]) == {"point", "family", "N", "target"}
    assert ev["flow_to_J_q"]["worst_case"] == {
        "family": "direct",
        "N": 2,
        "flow_target": 0,
        "init_scale": 1.0,
        "status": ev["flow_to_J_q"]["worst_case"]["status"],
    }
    assert ev["flow_to_J_q"]["worst_case"]["status"] != "failed"
    # -Hess L(J) is the Fisher matrix of p(J): its eigenvalues are those of theory.fisher
    assert ev["smallest_eigenvalue_of_minus_hessian"] > 0
    assert 0 < ev["smallest_relative_eigenvalue"] <= 1
    assert ev["flow_to_J_q"]["worst"] <= c2.TOLERANCES["flow_endpoint_abs"]
    merged = c2._merge([v, v], {"x": 1})
    assert merged.status is Status.HOLDS and merged.conditions == {"x": 1}
    assert merged.evidence["headline"] == (
        f"-Hess L positive definite at {2 * ev['hessian_pd']['n_cases']} points "
        f"({2 * ev['points_with_unresolved_smallest_eigenvalue']} more unresolved in float64); "
        f"2 flows end at J(q) within {ev['flow_to_J_q']['worst']:.0e}; 0 unfinished"
    )
    assert merged.evidence["smallest_relative_eigenvalue"] == ev["smallest_relative_eigenvalue"]
    assert merged.tolerances == c2.TOLERANCES and merged.claim == "C2"


def test_c2_fisher_or_control_uses_s_or_t():
    p = T.dirichlet_target(2, np.random.default_rng(5))
    m = T.moments(p)  # m[S] = <chi_S>, S a bit mask over the two variables
    expected = np.array([[m[s | t] - m[s] * m[t] for t in (1, 2, 3)] for s in (1, 2, 3)])
    np.testing.assert_allclose(c2.fisher_or(p), expected, rtol=0, atol=1e-15)
    right = np.array([[m[s ^ t] - m[s] * m[t] for t in (1, 2, 3)] for s in (1, 2, 3)])
    np.testing.assert_allclose(T.fisher(p), right, rtol=0, atol=1e-15)
    assert not np.allclose(c2.fisher_or(p), right)


def test_c2_run_conditions_and_negative_controls(monkeypatch):
    calls = []
    real = c2.evaluate

    def record(model, targets, flow_targets, **kwargs):
        calls.append((model, kwargs))
        return real(model, targets[:1], [], **{**kwargs, "flow_scales": ()})

    monkeypatch.setattr(c2, "evaluate", record)
    profile = dataclasses.replace(QUICK, n_cases=4, max_n_generic=2)
    report = c2.run(profile, 2)
    cond = report.verdict.conditions
    assert cond == {
        "coordinates": "direct (theta = J)",
        "N": cond["N"],
        "n_targets_concavity": 4,
        "n_targets_flow": 3,
        "point_scales": [0.1, 1.0],
        "flow_init_scales": [0.1, 1.0, 3.0],
        "t_max": profile.t_max,
        "seed": 2,
        "target_strategy": "dsb_verifier.checks.claims.cases.distribution (min_log10=-12 concavity, -3 flows)",
    }
    assert set(cond["N"]) <= {1, 2} and cond["N"] == sorted(cond["N"])
    assert [c.name for c in report.controls] == ["rbm-coordinates", "fisher-or-not-xor"]
    assert [c.description for c in report.controls] == [
        "the same concavity test in RBM coordinates (N=3, M=2), where L is not concave",
        "Fisher matrix built with S | T instead of S ^ T",
    ]
    for c in report.controls:
        assert c.verdict.conditions == {**cond, "control": c.name}
        assert c.caught
    rbm_kwargs, or_kwargs = calls[-2][1], calls[-1][1]
    assert (calls[-2][0].n_visible, calls[-2][0].n_hidden) == (3, 2)
    assert rbm_kwargs["point_scales"] == (1.0, 2.0) and or_kwargs["point_scales"] == (0.5,)
    assert rbm_kwargs["seed"] == or_kwargs["seed"] == 2


# ---- io -----------------------------------------------------------------------------------------------
def _write_h5(path, updates, *, Nv=2, Nh=1, model_type=b"BBRBM", layout="params"):
    rng = np.random.default_rng(0)
    with _h5py().File(path, "w") as f:
        if model_type is not None:
            f["model_type"] = model_type
        for n in updates:
            g = f.create_group(f"update_{n}")
            dst = g.create_group("params") if layout == "params" else g
            dst["weight_matrix"] = rng.standard_normal((Nv, Nh))
            dst["vbias"], dst["hbias"] = rng.standard_normal(Nv), rng.standard_normal(Nh)


def _refusal(call, *args, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        call(*args, **kwargs)
    return str(info.value)


def test_io_hdf5_checkpoint_listing_is_shortened_after_eight(tmp_path):
    path = tmp_path / "many.h5"
    _write_h5(path, range(10))
    assert _refusal(load_rbm, path, checkpoint=42) == (
        f"{path}: no checkpoint update_42; the file has 10 checkpoint(s): 0, 1, 2, 3, 4, 5, 6, 7, ..."
    )
    eight = tmp_path / "eight.h5"
    _write_h5(eight, range(8))
    assert _refusal(load_rbm, eight, checkpoint=42) == (
        f"{eight}: no checkpoint update_42; the file has 8 checkpoint(s): 0, 1, 2, 3, 4, 5, 6, 7"
    )


def test_io_hdf5_refusals_are_whole_messages(tmp_path):
    empty = tmp_path / "empty.h5"
    with _h5py().File(empty, "w") as f:
        f["something"] = np.zeros(2)
    assert _refusal(load_rbm, empty) == (
        f"{empty}: no checkpoint groups 'update_<n>' (expected the rbms layout "
        "update_<n>/params/weight_matrix (Nv, Nh), vbias (Nv,), hbias (Nh,))"
    )
    no_hbias = tmp_path / "no-hbias.h5"
    with _h5py().File(no_hbias, "w") as f:
        g = f.create_group("update_3").create_group("params")
        g["weight_matrix"], g["vbias"] = np.zeros((2, 1)), np.zeros(2)
    assert _refusal(load_rbm, no_hbias) == (
        f"{no_hbias}: checkpoint update_3 has no dataset 'hbias' in '/update_3/params' (expected shape (Nh,))"
    )
    bad = tmp_path / "bad-shape.h5"
    with _h5py().File(bad, "w") as f:
        g = f.create_group("update_1").create_group("params")
        g["weight_matrix"], g["vbias"], g["hbias"] = np.zeros((2, 1)), np.zeros(3), np.zeros(1)
    msg = _refusal(load_rbm, bad)
    assert msg.startswith(f"{bad} [update_1/params]: ") and "vbias" in msg and "\n" not in msg


def test_io_hdf5_layouts_and_model_types(tmp_path):
    old = tmp_path / "old.h5"
    _write_h5(old, [2, 5], layout="flat")
    got = load_rbm(old, all_checkpoints=True)
    assert (got.format, got.checkpoints, got.units_source) == ("hdf5", (2, 5), "file")
    assert (got.n_visible, got.n_hidden) == (2, 1)
    ii = tmp_path / "ii.h5"
    _write_h5(ii, [1], model_type=b"IIRBM")
    p = load_rbm(ii, units="spin").params[0]
    assert (p.visible, p.hidden) == ("spin", "spin")
    assert load_rbm(ii).units_source == "file"


def test_io_npz_units_key_refusals_and_accepted_bytes(tmp_path):
    W, b, d = np.ones((2, 3)), np.zeros(2), np.zeros(3)
    path = tmp_path / "n.npz"
    np.savez(path, weight_matrix=W, vbias=b, hbias=d, units=np.array([1, 2]))
    assert _refusal(load_rbm, path) == f"{path}: key 'units' must be a string such as 'bernoulli' or 'spin'"
    np.savez(path, weight_matrix=W, vbias=b, hbias=d, units=np.bytes_(b"spin"))
    got = load_rbm(path)
    assert (got.format, got.checkpoints, got.units_source) == ("npz", (None,), "file")
    assert (got.params[0].visible, got.params[0].hidden) == ("spin", "spin")
    np.savez(path, weight_matrix=W, vbias=b, hbias=d, units="spin")
    assert _refusal(load_rbm, path, units="bernoulli") == (
        f"{path}: key 'units' says units spin,spin but units bernoulli,bernoulli were requested; "
        "drop the request or fix the file"
    )
    np.savez(path, weight_matrix=W, vbias=b, hbias=d)
    assert load_rbm(path, units="spin").units_source == "requested"
    assert load_rbm(path).units_source == "default"


def test_io_npz_missing_key_lists_the_keys_found_or_none(tmp_path):
    path = tmp_path / "n.npz"
    np.savez(path, weight_matrix=np.ones((2, 3)), hbias=np.zeros(3))
    assert _refusal(load_rbm, path) == (
        f"{path}: missing key 'vbias' (expected an array of shape (Nv,)); found keys: weight_matrix, hbias"
    )
    np.savez(path)
    assert _refusal(load_rbm, path).endswith("; found keys: none")


def test_io_potts_weight_matrix_is_named(tmp_path):
    path = tmp_path / "potts.npz"
    np.savez(path, weight_matrix=np.zeros((2, 3, 4)), vbias=np.zeros((2, 4)), hbias=np.zeros(3))
    msg = _refusal(load_rbm, path)
    assert msg.startswith(f"{path}: ") and "weight_matrix" in msg
    assert msg.endswith(" (a 3-D weight_matrix is a Potts RBM, which is not supported)")


def test_io_samples_refusals_are_whole_messages(tmp_path):
    mixed = tmp_path / "mixed.txt"
    mixed.write_text("0 1\n-1 1\n")
    assert _refusal(load_samples, mixed) == (
        f"{mixed}: samples mix 0/1 and ±1 values (found both 0 and -1); use one convention"
    )
    h5 = tmp_path / "s.h5"
    with _h5py().File(h5, "w") as f:
        f["data"] = np.zeros((2, 2))
    assert _refusal(load_samples, h5) == f"{h5}: no dataset 'samples' (expected shape (M, N)); found: data"
    for shape in ((0, 3), (3, 0), (0, 0)):
        path = tmp_path / f"s{shape[0]}{shape[1]}.npy"
        np.save(path, np.zeros(shape, dtype=np.int8))
        assert _refusal(load_samples, path) == (
            f"{path}: samples must be a 2-D array (M samples, N variables) with M, N >= 1, got shape {shape}"
        )


def test_io_samples_selected_columns_are_int8_in_file_values(tmp_path):
    path = tmp_path / "s.npy"
    np.save(path, np.array([[1, -1, -1], [-1, -1, 1]], dtype=np.float64))
    s = load_samples(path, columns=(2, 0))
    assert s.values == "spin" and s.columns == (2, 0) and s.path == str(path)
    assert s.x.dtype == np.int8 and s.x.flags.c_contiguous
    np.testing.assert_array_equal(s.x, [[-1, 1], [1, -1]])


def test_io_column_selection_refusals(tmp_path):
    path = tmp_path / "s.npy"
    np.save(path, np.zeros((2, 3), dtype=np.int8))
    assert _refusal(load_samples, path, columns=()) == (
        f"{path}: no columns selected; give at least one of the 3 column indices"
    )
    assert _refusal(load_samples, path, columns=(1, 0, 1)) == (
        f"{path}: columns must be distinct; 1 is selected more than once"
    )
    assert _refusal(load_samples, path, columns=(0, 3)) == (
        f"{path}: column 3 does not exist; the samples have 3 columns (0..2)"
    )
    wide = tmp_path / "wide.npy"
    np.save(wide, np.zeros((1, io.MAX_N_DATA + 1), dtype=np.int8))
    assert _refusal(load_samples, wide) == (
        f"{wide}: 21 variables is too many for exact enumeration (at most 20); "
        "select columns, e.g. --columns 0,1,2"
    )
    assert load_samples(wide, columns=tuple(range(20))).n_variables == 20
    assert io.parse_columns(" 4, 0 ") == (4, 0)
    assert (
        _refusal(io.parse_columns, "2,1,2") == "columns must be distinct; 2 appears more than once in '2,1,2'"
    )
    assert _refusal(io.parse_columns, "1,,2") == (
        "columns must be comma-separated non-negative integers such as 0,3,5; got '1,,2'"
    )


def test_io_target_from_samples_mixes_in_one_uniform_virtual_sample(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("# x\n1\n1\n0\n")
    up = int(np.argmax(T.prob(np.array([0.0, 1.0]))))  # state index of spin up (x = 1)
    expected = np.empty(2)
    expected[up], expected[1 - up] = (2 + 0.5) / (3 + 1), (1 + 0.5) / (3 + 1)  # alpha = 2^-1
    np.testing.assert_allclose(io.load_target(path), expected, rtol=1e-14)
    np.testing.assert_allclose(
        io.load_target(path, pseudo_count=1.0),
        [(2 + 1) / 5 if k == up else 2 / 5 for k in range(2)],
        rtol=1e-14,
    )
    assert io.default_pseudo_count(3) == 0.125
    msg = _refusal(io.load_target, path, pseudo_count=-1.0)
    assert msg.startswith(f"{path}: pseudo_count must be a positive finite number") and "\n" not in msg


def test_io_sniff_format_reads_the_magic_bytes(tmp_path):
    cases = {
        "a": (b"\x89HDF\r\n\x1a\n" + b"\0" * 8, "hdf5"),
        "b": (b"PK\x03\x04rest", "npz"),
        "c": (b"\x93NUMPY\x01\x00", "npy"),
        "d": (b"0 1\n1 0\n", "text"),
    }
    for name, (head, fmt) in cases.items():
        (tmp_path / name).write_bytes(head)
        assert io.sniff_format(tmp_path / name) == fmt
    (tmp_path / "e").write_bytes(b"")
    assert _refusal(io.sniff_format, tmp_path / "e") == f"{tmp_path / 'e'}: empty file"
    assert _refusal(io.sniff_format, tmp_path) == f"{tmp_path}: not a regular file"
    assert _refusal(io.sniff_format, tmp_path / "x") == f"{tmp_path / 'x'}: no such file"


# ---- report -------------------------------------------------------------------------------------------
def _v(claim, status, evidence, counterexamples=(), figures=()):
    return Verdict(
        claim,
        f"statement of {claim}",
        status,
        {"N": 3},
        evidence,
        {"atol": 1e-10, "rtol": 0.5},
        counterexamples=counterexamples,
        figures=figures,
    )


CES = tuple(Counterexample(f"err {k}", {"index": k}, 1.0 / (k + 1), seed=4) for k in range(6))


@pytest.fixture(scope="module")
def small_report() -> runner.Report:
    c3 = ClaimReport(
        _v("C3", Status.FAILS, {"headline": "a | b", "n": 1}, CES, figures=("figures/c3.png",)),
        (ControlResult("C3", "broken", "a broken model", _v("C3", Status.FAILS, {}, CES[:1])),),
        3.14159,
    )
    prov = {
        "dsb_verifier_version": "9.9",
        "git_commit": "abc",
        "seed": 4,
        "profile": {"name": "quick"},
        "replay": "dsb-verify run --seed 4",
    }
    return runner.Report(claims=(c3,), provenance=prov, wall_seconds=5.55555)


def test_markdown_is_the_whole_document(small_report):
    evidence = json.dumps({"headline": "a | b", "n": 1}, indent=1)
    prov = json.dumps(
        {
            "dsb_verifier_version": "9.9",
            "git_commit": "abc",
            "seed": 4,
            "profile": {"name": "quick"},
            "replay": "dsb-verify run --seed 4",
            "wall_seconds": 5.556,
        },
        indent=1,
    )
    expected = [
        "# dsb-verifier report",
        "",
        "dsb-verifier 9.9 · profile `quick` · seed 4 · commit `abc` · 5.6 s",
        "",
        "Replay: `dsb-verify run --seed 4`",
        "",
        "| claim | status | controls caught | evidence |",
        "|---|---|---|---|",
        "| C3 | **fails** | 1/1 | a \\| b |",
        "",
        "## C3 — fails",
        "",
        "> statement of C3",
        "",
        "**Conditions.** N: `3`",
        "",
        "**Tolerances.** atol = 1e-10, rtol = 0.5",
        "",
        "**Counterexamples** (worst first):",
        "",
        *[f'- err {k} — case `{{"index": {k}}}` (seed 4)' for k in range(5)],  # at most five
        "",
        "**Negative controls.**",
        "",
        "- `broken`: a broken model → reported `fails` (caught)",
        "",
        "![C3](figures/c3.png)",
        "",
        "<details><summary>Evidence (JSON)</summary>",
        "",
        "```json",
        evidence,
        "```",
        "",
        "</details>",
        "",
        "## Provenance",
        "",
        "```json",
        prov,
        "```",
        "",
    ]
    assert markdown(small_report) == "\n".join(expected)


def test_verdict_table_is_the_whole_table(small_report):
    header = "claim  status  controls    time  evidence"
    row = "C3     fails   1/1 caught  3.1s  a | b"
    assert verdict_table(small_report) == "\n".join([header, "-" * len(header), row])
    # the rule under the header spans the longest line, at most 100 characters
    (claim,) = small_report.claims
    long = dataclasses.replace(claim.verdict, evidence={"headline": "x" * 150})
    lines = verdict_table(
        dataclasses.replace(small_report, claims=(dataclasses.replace(claim, verdict=long),))
    ).splitlines()
    assert lines[1] == "-" * 100 and lines[2].endswith("  " + "x" * 150)
    no_headline = dataclasses.replace(claim.verdict, evidence={"n": 1})
    lines = verdict_table(
        dataclasses.replace(small_report, claims=(dataclasses.replace(claim, verdict=no_headline),))
    ).splitlines()
    assert lines[2] == "C3     fails   1/1 caught  3.1s  6 counterexample(s)"
    quiet = dataclasses.replace(claim.verdict, status=Status.HOLDS, evidence={}, counterexamples=())
    lines = verdict_table(
        dataclasses.replace(small_report, claims=(dataclasses.replace(claim, verdict=quiet),))
    ).splitlines()
    assert lines[2] == "C3     holds   1/1 caught  3.1s  no counterexample"


def test_atomic_write_failure_propagates_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "inside").write_text("x")  # a non-empty directory cannot be replaced by a file
    with pytest.raises(OSError):
        _atomic_write(target, "text")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert (target / "inside").read_text() == "x"
    _atomic_write(tmp_path / "ok.txt", "é\n")
    assert (tmp_path / "ok.txt").read_text(encoding="utf-8") == "é\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.txt", "taken"]


# ---- runner -------------------------------------------------------------------------------------------
def test_provenance_fields():
    prov = runner.provenance(QUICK, 12, ["C1", "C4"])
    assert prov == {
        "dsb_verifier_version": __version__,
        "source_sha256": source_digest(),
        "git_commit": prov["git_commit"],
        "git_dirty": prov["git_dirty"],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "sympy": sympy.__version__,
            "mpmath": mpmath.__version__,
        },
        "seed": 12,
        "profile": dataclasses.asdict(QUICK),
        "claims": ["C1", "C4"],
        "replay": "dsb-verify run --profile quick --seed 12 --claims C1,C4",
    }
    assert len(prov["source_sha256"]) == 64
    state = git_state()
    assert (prov["git_commit"], prov["git_dirty"]) == (
        (None, None) if state is None else tuple(state.values())
    )


def test_report_json_rounds_timing_to_milliseconds(small_report):
    doc = small_report.to_json()
    assert list(doc) == ["schema_version", "claims", "controls", "provenance"]
    assert doc["schema_version"] == "1.0"
    assert doc["claims"][0]["seconds"] == 3.142
    assert doc["provenance"]["wall_seconds"] == 5.556
    assert [c["name"] for c in doc["controls"]] == ["broken"]


def _fake(claim: str) -> ClaimReport:
    v = Verdict(claim, "fake", Status.HOLDS, {}, {"headline": "ok"}, {})
    ctl = ControlResult(
        claim, "fake", "fake", dataclasses.replace(v, status=Status.FAILS, counterexamples=CES)
    )
    return ClaimReport(verdict=v, controls=(ctl,), seconds=0.5)


class _InlineExecutor(Executor):
    """Runs each submitted task at once and records its arguments."""

    def __init__(self):
        self.submitted = []

    def submit(self, fn, /, *args, **kwargs):
        # run_checks wraps every task as _identified_call(task, args, kwargs) and sends a pre-flight
        if fn is _identified_call and args[0] is runner._run_claim:
            self.submitted.append(args[1][0])
        fut: Future = Future()
        fut.set_result(fn(*args, **kwargs))
        return fut


@pytest.fixture
def fake_modules(monkeypatch):
    """C1 draws a figure and takes no executor; C2 takes an executor; both record their seed."""
    seen = []

    def run_c1(profile, seed):
        seen.append(("C1", seed))
        return _fake("C1")

    def figures(rep, out_dir):
        path = out_dir / "c1.png"
        path.write_text(rep.verdict.claim)
        return [path]

    def run_c2(profile, seed, *, executor=None):
        seen.append(("C2", seed))
        return _fake("C2")

    for claim, attrs in (("C1", {"run": run_c1, "figures": figures}), ("C2", {"run": run_c2})):
        mod = types.ModuleType(f"fake_mutants_{claim}")
        for k, f in attrs.items():
            setattr(mod, k, f)
        monkeypatch.setitem(sys.modules, mod.__name__, mod)
        monkeypatch.setitem(runner.CLAIM_MODULES, claim, mod.__name__)
    return seen


def test_run_checks_figures_progress_and_seed(tmp_path, fake_modules):
    said = []
    report = runner.run_checks(QUICK, 6, ["C2", "C1"], out_dir=tmp_path, progress=said.append)
    assert fake_modules == [("C1", 6), ("C2", 6)]
    assert [c.verdict.claim for c in report.claims] == ["C1", "C2"]
    assert report.claims[0].verdict.figures == ("figures/c1.png",)
    assert (tmp_path / "figures" / "c1.png").read_text() == "C1"
    assert report.claims[1].verdict.figures == ()
    assert said == [
        "[1/2] C1: running (quick profile) ...",
        "[1/2] C1: holds (controls caught 1/1, 0.5 s)",
        "[2/2] C2: running (quick profile) ...",
        "[2/2] C2: holds (controls caught 1/1, 0.5 s)",
    ]
    assert report.provenance["claims"] == ["C1", "C2"]
    assert report.provenance["seed"] == 6
    assert "user_target" not in report.provenance


def test_run_checks_submits_claims_without_executor_support_whole(fake_modules):
    ex = _InlineExecutor()
    said = []
    report = runner.run_checks(QUICK, 2, ["C1", "C2"], progress=said.append, executor=ex)
    assert ex.submitted == ["C1"]  # C2 spreads its own cases over the executor
    assert fake_modules == [("C1", 2), ("C2", 2)]
    assert said == [
        "[1/2] C1: submitted whole to the executor (quick profile)",
        "[1/2] C1: holds (controls caught 1/1, 0.5 s)",
        "[2/2] C2: running (quick profile) ...",
        "[2/2] C2: holds (controls caught 1/1, 0.5 s)",
    ]
    assert [c.verdict.figures for c in report.claims] == [(), ()]


def test_parse_claims_and_process_executor_refusals():
    assert runner.parse_claims(" c4 ,C1") == ("C1", "C4")
    assert runner.parse_claims(None) == ("C1", "C2", "C3", "C4", "C5", "C6")
    with pytest.raises(ValueError) as info:
        runner.parse_claims("C1,C9,x")
    assert (
        str(info.value)
        == "unknown claim id(s) 'C9', 'X'; expected a comma-separated subset of C1,C2,C3,C4,C5,C6"
    )
    for bad in (0, True, 1.0):
        with pytest.raises(ValueError) as info:
            runner.process_executor(bad)
        assert str(info.value) == f"workers must be an integer >= 1, got {bad!r}"


def test_c1_model_cases_are_two_distinct_seeded_draws_per_family_and_size():
    from dsb_verifier.checks.claims.c1_bijection import FAMILIES, _model_cases

    profile = get_profile("quick")
    cases = _model_cases(profile, 5)
    assert len(cases) == 2 * len(FAMILIES) * (profile.max_n_rbm - 1)
    for (m0, t0), (m1, t1) in zip(cases[::2], cases[1::2], strict=True):
        assert m0 is m1 and t0.shape == t1.shape == (m0.n_params,)
        assert not np.array_equal(t0, t1)  # the two draws of a (family, N) differ
    again = _model_cases(profile, 5)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(cases, again, strict=True))
