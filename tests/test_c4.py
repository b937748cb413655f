"""Claim C4: verdict on a tiny profile, evidence rows, negative controls caught, determinism."""

import dataclasses
import json

import numpy as np
import pytest
from dsb_verifier.checks.claims import c4_stability as C4
from dsb_verifier.checks.profiles import get_profile
from dsb_verifier.checks.verdict import Status
from dsb_verifier.theory.models import RBM, DirectModel

TINY = dataclasses.replace(
    get_profile("quick"), n_cases=6, max_n_generic=3, max_n_rbm=3, n_inits=3, init_scales=(0.01, 1.0)
)

ROW_KEYS = {
    "family",
    "status",
    "n_points",
    "N",
    "P",
    "max_identity_rel",
    "n_stable",
    "n_neutral",
    "n_unstable",
    "dim_ker",
    "neutral_equals_ker_points",
    "max_principal_angle",
    "slope_neutral_dJ",
    "slope_neutral_kl",
    "slope_stable_dJ",
    "slope_stable_kl",
    "n_failed_points",
    "n_undetermined_points",
}


def _rises_by_one_to_its_total(calls: list[tuple[int, int]]) -> bool:
    """``progress(done, total)`` was called with done = 1, 2, ..., total and one fixed total."""
    return bool(calls) and calls == [(d, calls[0][1]) for d in range(1, calls[0][1] + 1)]


def _doc(report) -> str:
    """Everything a run reports except its timing."""
    return json.dumps([report.verdict.to_json(), *(c.to_json() for c in report.controls)], sort_keys=True)


@pytest.fixture(scope="module")
def run_with_progress():
    calls: list[tuple[int, int]] = []
    return C4.run(TINY, 3, progress=lambda done, total: calls.append((done, total))), calls


@pytest.fixture(scope="module")
def report(run_with_progress):
    return run_with_progress[0]


def test_c4_holds_with_evidence_rows(report):
    v = report.verdict
    assert v.status is Status.HOLDS, v.counterexamples
    rows = {r["family"]: r for r in v.evidence["rows"]}
    assert set(rows) == {"rbm-spin", "rbm-bit", "tanh-1", "tanh-2", "direct", "truncated-2"}
    for r in rows.values():
        assert ROW_KEYS <= set(r)
        assert r["n_unstable"] == 0 and r["status"] == "holds"
        assert r["max_identity_rel"] <= C4.TOLERANCES["hessian_identity_rel"]
    for fam in ("rbm-spin", "rbm-bit", "tanh-1", "tanh-2"):  # over-parameterised: ker A != 0
        assert rows[fam]["dim_ker"] > 0 and rows[fam]["n_neutral"] == rows[fam]["dim_ker"]
        lo, hi = rows[fam]["slope_neutral_kl"]
        assert 3.6 <= lo <= hi <= 4.4
    for fam in ("direct", "truncated-2"):  # A injective: no neutral direction
        assert rows[fam]["dim_ker"] == 0 and rows[fam]["slope_neutral_dJ"] is None
    assert isinstance(v.evidence["headline"], str) and "; 0 unstable;" in v.evidence["headline"]
    assert v.conditions["flows"]["run"] == 3 * TINY.n_inits


def test_c4_controls_are_caught_for_the_right_reason(report):
    controls = {c.name: c for c in report.controls}
    assert set(controls) == {"perturbed-teacher", "spurious-fields-matching", "wrong-jacobian"}
    assert all(c.caught for c in controls.values())
    reasons = {
        name: {x.description.split(":")[0] for x in c.verdict.counterexamples} for name, c in controls.items()
    }
    # the KL slope is the change relative to the base point (Var_q(du)/2), which grows like eps^4 along
    # ker A whether or not the base is data-consistent: the consequences that catch it are these two
    assert {"identity", "neutral_is_ker"} <= reasons["perturbed-teacher"]
    assert "no_unstable" in reasons["spurious-fields-matching"]  # a saddle
    assert reasons["wrong-jacobian"] == {"identity"}  # only -A^T F A uses A, and ker A is unchanged


def test_c4_report_is_json_and_deterministic_and_progress_does_not_change_it(report):
    doc = report.verdict.to_json()
    json.dumps(doc, allow_nan=False)
    json.dumps([c.to_json() for c in report.controls], allow_nan=False)
    again = C4.run(TINY, 3)  # without progress; ``report`` was run with it
    assert _doc(again) == _doc(report)


def test_c4_progress_rises_by_one_to_the_flows_and_points(run_with_progress):
    report, calls = run_with_progress
    assert _rises_by_one_to_its_total(calls)
    teachers = len(C4._teacher_points(TINY, 3))
    assert calls[-1][1] == teachers + 2 * report.verdict.conditions["flows"]["run"]  # a flow and its point


def test_c4_figures_are_written(report, tmp_path):
    paths = C4.figures(report, tmp_path)
    assert [p.split("/")[-1] for p in paths] == ["c4_hessian_spectra.png", "c4_eps_slopes.png"]
    for p in paths:
        with open(p, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_evaluate_fails_on_a_point_that_is_not_data_consistent():
    model = RBM(3, 2)
    rng = np.random.default_rng(0)
    theta = model.init(rng, 1.0)
    q = DirectModel(3).prob(DirectModel(3).init(rng, 0.5))  # an unrelated target
    v = C4.evaluate(
        [C4.Point(model, theta, q, {"family": "rbm-spin", "N": 3, "P": model.n_params, "index": 0})],
        seed=0,
        conditions={},
    )
    assert v.status is Status.FAILS
    assert v.counterexamples[0].description.startswith("identity")


def test_point_and_evaluate_validate_their_input():
    model = RBM(3, 2)
    with pytest.raises(ValueError, match="wrong shape"):
        C4.Point(model, np.zeros(3), np.full(8, 1 / 8), {"family": "x"})
    with pytest.raises(ValueError, match="at least one point"):
        C4.evaluate([], seed=0, conditions={})


def test_c4_tanh_point_with_tiny_nonzero_base_kl_gives_kl_slope_four():
    """Issue 14 item 8: a tanh-1 point (N = 3) with KL(q || p_theta*) ~ 1e-26 used to give slope -0.02."""
    from dsb_verifier import theory as T
    from dsb_verifier.theory.models import TanhNetwork

    model = TanhNetwork(3, (4,))
    rng = np.random.default_rng(3)
    theta = model.init(rng, 1.0)
    J = model.couplings(theta)
    d = rng.standard_normal(J.size)
    d[0] = 0.0
    q = T.prob(J + 1.6e-13 * d / np.linalg.norm(d))
    case = {"family": "tanh-1", "N": 3, "P": model.n_params, "index": 0, "origin": "flow"}
    v = C4.evaluate([C4.Point(model, theta, q, case)], seed=0, conditions={})
    assert 1e-27 < v.evidence["max_kl_at_points"] < 1e-25
    (row,) = v.evidence["rows"]
    # the moved target leaves a residual-term eigenvalue at the band edge (undetermined, not failed)
    assert v.status is not Status.FAILS and not v.counterexamples
    assert v.evidence["criteria"]["slopes_neutral"] == {"pass": 1, "fail": 0, "undetermined": 0}
    lo, hi = row["slope_neutral_kl"]
    assert round(lo, 2) == round(hi, 2) == 4.00
    assert v.evidence["kl_routes"]["max_abs_slope_difference"] <= 0.05


def test_c4_user_target_adds_the_direct_point_and_converged_flows():
    from dsb_verifier import theory as T

    q = T.dirichlet_target(3, np.random.default_rng(1))
    calls: list[tuple[int, int]] = []
    report = C4.run(TINY, 3, target=q, progress=lambda done, total: calls.append((done, total)))
    assert _rises_by_one_to_its_total(calls)  # the user-data flows and points counted from the start
    user = report.verdict.conditions["user_data"]
    assert user["N"] == 3 and [f["family"] for f in user["flows"]] == ["rbm-spin", "tanh-1"]
    assert user["points"] == 1 + sum(f["used"] for f in user["flows"])
    assert report.verdict.status is Status.HOLDS
    big = C4._user_points(np.full(2**9, 2.0**-9), 0, start=0)
    assert big[0] == [] and "N = 9 > 8" in big[1]["skipped"]
