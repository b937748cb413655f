"""Evidence rows, flow plans and headlines of Claims C3 and C4, on hand-built or tiny inputs.

(C5's evidence is pinned in tests/test_c5*.py.)

What this pins, beyond the end-to-end runs of tests/test_c3_c6.py and tests/test_c4.py:

* C3 :func:`~dsb_verifier.checks.claims.c3_fixed_points.flow_plan`: which (family, N, target) pairs each profile sweeps,
  which are declared sufficiently expressive, how many starts each gets (``n_inits``, halved above
  ``N = 5``, at least one) and the horizon of teacher–student pairs;
* C3 :func:`~dsb_verifier.checks.claims.c3_fixed_points.point_row`: ``sigma_ratio`` is the smallest over the largest of
  the ``2^N - 1`` singular values of ``A`` (0 when ``A`` has fewer columns than rows), checked against
  a dense SVD and against the ``implication_full_rank`` summary of the same evaluation;
* C4: the per-criterion tallies, a slope outside its window failing ``slopes_neutral``, and the figure data
  (the keys :func:`dsb_verifier.checks.claims.c4_stability.figures` reads, arrays on the eps grid, fit windows above
  their rounding floors).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks.claims import c3_fixed_points as c3
from dsb_verifier.checks.claims import c4_stability as c4
from dsb_verifier.checks.claims import c4_sweep
from dsb_verifier.checks.profiles import get_profile
from dsb_verifier.checks.verdict import Status
from dsb_verifier.theory.models import RBM, rbm_teacher


# ---- C3: the flow plan --------------------------------------------------------------------------
def _pairs(plan, target):
    return sorted((c.family, c.N) for c in plan if c.target == target)


def test_c3_quick_plan_sweeps_the_documented_pairs():
    profile = get_profile("quick")
    plan = c3.flow_plan(profile, 0)
    assert _pairs(plan, "rbm-teacher") == [("rbm-bit", 3), ("rbm-bit", 4), ("rbm-spin", 3), ("rbm-spin", 4)]
    assert _pairs(plan, "tanh-teacher") == [("tanh-1", 3)]
    assert _pairs(plan, "pairwise-teacher") == [("truncated-2", 4)]
    assert {c.N for c in plan if c.target == "generic"} == {4}
    assert all(len(c.inits) == profile.n_inits for c in plan)


def test_c3_larger_profile_plan_sizes_declarations_starts_and_horizons():
    profile = get_profile("thorough")
    plan = c3.flow_plan(profile, 0)
    # RBM teacher-student at N in {3, 4, 5, 6, 8} up to max_n_rbm (10), tanh at 3..5, generic at 4, 5
    assert {c.N for c in plan if c.target == "rbm-teacher"} == {3, 4, 5, 6, 8}
    assert _pairs(plan, "tanh-teacher") == [("tanh-1", 3), ("tanh-1", 4), ("tanh-1", 5)]
    assert {c.N for c in plan if c.target == "generic"} == {4, 5}
    # universal-width RBMs (M = 2^N) only on generic targets with N <= 4
    universal = [c for c in plan if c.family.startswith("rbm") and c.model.n_hidden == 2**c.N]
    assert {(c.N, c.target) for c in universal} == {(4, "generic")}
    # declared sufficient: all but truncated-2 and tanh-1 on generic targets, and as plain bools
    for c in plan:
        undeclared = c.target == "generic" and c.family in ("truncated-2", "tanh-1")
        assert c.sufficient is (not undeclared), (c.family, c.N, c.target)
    # n_inits starts per pair, halved above N = 5, at scales of the profile within [0.1, 1]
    for c in plan:
        assert len(c.inits) == (profile.n_inits if c.N <= 5 else profile.n_inits // 2), (c.family, c.N)
        assert {s for s, _ in c.inits} <= {s for s in profile.init_scales if 0.1 <= s <= 1.0}
        assert all(theta.shape == (c.model.n_params,) for _, theta in c.inits)
    # teacher-student pairs get at least the 1e5 horizon, the others the profile's
    for c in plan:
        expected = max(profile.t_max, 1e5) if c.target.endswith("teacher") else profile.t_max
        assert c.t_max == expected


@pytest.mark.parametrize(("n_inits", "above_5"), [(5, 2), (1, 1)])
def test_c3_plan_halves_the_starts_above_n_5_but_keeps_one(n_inits, above_5):
    profile = dataclasses.replace(get_profile("thorough"), max_n_rbm=6, max_n_generic=4, n_inits=n_inits)
    plan = c3.flow_plan(profile, 0)
    assert {c.N for c in plan if c.target == "rbm-teacher"} == {3, 4, 5, 6}
    assert {c.N for c in plan if c.target == "generic"} == {4}  # max_n_generic < 5: no N = 5
    assert {len(c.inits) for c in plan if c.N == 6} == {above_5}
    assert {len(c.inits) for c in plan if c.N <= 5} == {n_inits}


# ---- C3: point rows --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def c3_points():
    """Two-unit RBM teacher at N = 3 (P = 11), its K = 1, 2 max-ent fits (P = 3, 6), a non-stationary flow."""
    teacher, theta_t, q = rbm_teacher(3, 2, np.random.default_rng(0), 0.5)

    def cand(origin, model, theta, family=None, sufficient=True, info=None, expected=None):
        g = float(np.linalg.norm(T.grad_loglik(model, theta, q)))
        fam = family or model.family
        info = info or {}
        return c3.Candidate(origin, fam, 3, "rbm-teacher", sufficient, model, q, theta, g, info, expected)

    m1, th1 = T.maxent_point(q, 1)
    m2, th2 = T.maxent_point(q, 2)
    cands = [
        cand("teacher", teacher, theta_t),
        cand("construction-iii", m1, th1, "truncated-1", False, {"K": 1}, (2, 2)),
        cand("construction-iii", m2, th2, "truncated-2", False, {"K": 2}, (3, 3)),
        cand("flow", teacher, theta_t + 0.3, info={"init": 0, "init_scale": 0.1}),
    ]
    return cands, c3.evaluate(cands, seed=0, conditions={})


def test_c3_point_rows_sigma_ratio_is_that_of_the_dense_svd(c3_points):
    cands, verdict = c3_points
    rows = verdict.evidence["points"]
    assert [r["origin"] for r in rows] == [c.origin for c in cands]
    n_rows = 2**3 - 1
    for c, r in zip(cands, rows, strict=True):
        if r["kind"] == "unresolved":
            continue
        sv = np.linalg.svd(c.model.jacobian(c.theta), compute_uv=False)
        padded = np.concatenate([sv, np.zeros(n_rows - sv.size)])  # A has P < 2^N - 1 columns: zeros
        assert r["n_rows"] == n_rows
        assert r["sigma_ratio"] == pytest.approx(padded[-1] / padded[0], rel=1e-10, abs=1e-300)
    by_family = {r["family"]: r for r in rows if r["origin"] != "flow"}
    assert by_family["truncated-1"]["sigma_ratio"] == 0.0 and by_family["truncated-2"]["sigma_ratio"] == 0.0
    assert 0.0 < by_family["rbm-spin"]["sigma_ratio"] <= 1.0


def test_c3_point_rows_agree_with_the_implication_summary(c3_points):
    _, verdict = c3_points
    rows = verdict.evidence["points"]
    imp = verdict.evidence["implication_full_rank"]
    stationary = [r for r in rows if r["kind"] != "unresolved"]
    spurious = [r for r in stationary if r["kind"] == "spurious"]
    assert imp["n_stationary"] == len(stationary) == 3
    assert imp["n_full_row_rank"] == sum(r["rank"] == r["n_rows"] for r in stationary) == 1
    assert imp["max_sigma_ratio_spurious"] == max(r["sigma_ratio"] for r in spurious)
    assert imp["min_residual_spurious"] == min(r["residual_norm"] for r in spurious)
    # the non-stationary flow is an unresolved row with its provenance and no classification
    (flow,) = [r for r in rows if r["origin"] == "flow"]
    assert flow["kind"] == "unresolved" and flow["init"] == 0 and flow["init_scale"] == 0.1
    assert "sigma_ratio" not in flow and "kl" not in flow


# ---- C4: tallies, figure data ---------------------------------------------------------------
@pytest.fixture(scope="module")
def c4_verdict():
    """An RBM(3, 3) teacher (a flow point, ker A != 0) and the same teacher moved by 0.05 (not consistent)."""
    model = RBM(3, 3)
    rng = np.random.default_rng(0)
    theta = model.init(rng, 1.0)
    q = model.prob(theta)
    xi = rng.standard_normal(model.n_params)
    base = {"family": "rbm-spin", "N": 3, "P": model.n_params}
    moved = theta + 0.05 * xi / np.linalg.norm(xi)
    points = [
        c4.Point(model, theta, q, {**base, "index": 0, "origin": "flow"}),
        c4.Point(model, moved, q, {**base, "index": 1, "teacher_scale": 1.0}),
    ]
    return c4.evaluate(points, seed=0, conditions={})


def test_c4_tallies_add_up_and_a_slope_outside_its_window_fails(c4_verdict):
    ev = c4_verdict.evidence
    (row,) = ev["rows"]
    assert row["n_points"] == 2 and row["n_flow_points"] == 1 and row["n_failed_points"] == 1
    for crit, tally in ev["criteria"].items():
        assert sum(tally.values()) == row["n_points"], crit
    # away from the data the Hessian is not -A^T F A: the identity fails at the moved point only
    assert ev["criteria"]["identity"] == {"pass": 1, "fail": 1, "undetermined": 0}
    (bad,) = [x for x in c4_verdict.counterexamples if x.description.startswith("identity")]
    assert bad.case["index"] == 1
    # the decided KL slope is Var_q(du)/2, the change along ker A: eps^4 there too; the direct KL
    # stays at its base value KL(q || p) > 0, never reaches 100x it, and gives no slope (second route)
    assert ev["criteria"]["slopes_neutral"] == {"pass": 2, "fail": 0, "undetermined": 0}
    routes = ev["kl_routes"]
    assert routes["n_directions"] == 8 and routes["n_direct_resolved"] == 4  # the consistent point's
    assert routes["max_abs_slope_difference"] <= 0.05
    assert ev["counts"]["dim_ker"] == row["dim_ker"] and ev["counts"]["n_neutral"] == row["n_neutral"]


def test_c4_figure_data_has_the_keys_the_figures_read(c4_verdict):
    data = c4_verdict.evidence["figure_data"]
    (spectrum,) = data["spectra"]  # one per family
    assert spectrum["label"] == "rbm-spin (N=3, P=15, dim ker A=8)"
    assert len(spectrum["eigenvalues_rel"]) == 15 and spectrum["tol_rel"] > 0
    curves = data["curves"]
    assert curves["label"] == "rbm-spin N=3 P=15 (flow)"  # the first point with neutral and stable curves
    keys = {"eps", "dJ", "kl", "dJ_floor", "kl_floor", "dJ_window", "kl_window", "slope_dJ", "slope_kl"}
    keys |= {"kl_direct", "kl_base", "kl_direct_window", "slope_kl_direct"}
    row = c4_verdict.evidence["rows"][0]
    for kind in ("neutral", "stable"):
        c = curves[kind]
        assert set(c) == keys
        np.testing.assert_array_equal(c["eps"], c4.EPS_GRID)
        for qty in ("dJ", "kl"):
            y, w = np.asarray(c[qty]), np.asarray(c[f"{qty}_window"], dtype=bool)
            assert y.shape == w.shape == c4.EPS_GRID.shape
            assert 3 <= w.sum() <= c4.FIT_POINTS
            assert np.all(y[w] > c[f"{qty}_floor"])  # fitted only above the rounding floor
            lo, hi = row[f"slope_{kind}_{qty}"]
            assert lo <= c[f"slope_{qty}"] <= hi


# ---- C4 controls and flow points (mutation testing, round 2) ----
def test_c4_controls_are_named_described_and_replayable():
    controls = c4._controls(5, {"seed": 5})
    assert [c.name for c in controls] == ["perturbed-teacher", "spurious-fields-matching", "wrong-jacobian"]
    described = {c.name: c.description for c in controls}
    assert described["perturbed-teacher"].startswith(f"RBM teacher moved by {c4._PERTURBATION} ")
    spurious = described["spurious-fields-matching"]
    assert spurious.startswith("RBM.fields_matching(q) on an RBM teacher's target")
    assert described["wrong-jacobian"] == (
        "WrongJacobian(RBM) at the teacher: A with subsets bit-reversed, so -A^T F A != Hessian"
    )
    for c in controls:
        assert c.claim == "C4" and c.caught, c.name
        assert c.verdict.conditions == {"seed": 5, "control": c.name}
        assert c.verdict.counterexamples
        for x in c.verdict.counterexamples:  # the coordinates that replay the control's point
            assert (x.case["N"], x.case["P"], x.case["widths"], x.case["index"]) == (3, 15, [3], 0), c.name
            assert x.seed == 5


def test_c4_flow_points_keep_only_converged_polished_flows(monkeypatch):
    profile = dataclasses.replace(get_profile("quick"), n_inits=1)  # one flow per family
    points, log = c4._flow_points(profile, 0, start=7)
    assert [e["family"] for e in log["cases"]] == ["rbm-spin", "rbm-bit", "tanh-1"]
    assert log["run"] == 3 and log["t_max"] == c4_sweep._FLOW_T_MAX
    # at the 1e5 horizon every flow converges, is polished onto J(theta) = J(q), and is used
    assert log["converged"] == sum(e["kl_end"] <= c4.TOLERANCES["flow_kl_max"] for e in log["cases"]) == 3
    assert log["used"] == sum(e["used"] for e in log["cases"]) == len(points) == 3
    for e in log["cases"]:
        assert 0.0 < e["polish_displacement"] < 1e-2
    for k, pt in enumerate(points):
        assert pt.case["index"] == 7 + k and pt.case["origin"] == "flow" and pt.case["N"] == 3
        dJ = pt.model.couplings(pt.theta)[1:] - T.couplings(pt.q)[1:]
        assert np.max(np.abs(dJ)) <= c4.TOLERANCES["polish_J_abs"]
    # too short a horizon: no flow reaches the data-consistent set, none is used or polished
    monkeypatch.setattr(c4_sweep, "_FLOW_T_MAX", 100.0)
    points, log = c4._flow_points(profile, 0, start=7)
    assert points == [] and log["t_max"] == 100.0
    assert (log["run"], log["converged"], log["used"]) == (3, 0, 0)
    for e in log["cases"]:
        assert e["used"] is False and "polish_displacement" not in e
        assert e["kl_end"] > c4.TOLERANCES["flow_kl_max"]


def _c4_rbm_teacher(scale, index):
    model = RBM(3, 3)
    theta = model.init(np.random.default_rng(index), scale)
    case = {"family": "rbm-spin", "N": 3, "P": model.n_params, "index": index, "teacher_scale": scale}
    return c4.Point(model, theta, model.prob(theta), case)


def test_c4_a_family_of_undetermined_points_is_inconclusive_not_holding():
    # at scale 0.01 (below the teacher range) a singular value of A sits at the rank tolerance
    tiny = c4.evaluate([_c4_rbm_teacher(0.01, 0)], seed=0, conditions={})
    assert tiny.status is Status.INCONCLUSIVE and not tiny.counterexamples
    assert tiny.evidence["criteria"]["neutral_is_ker"] == {"pass": 0, "fail": 0, "undetermined": 1}
    assert [r["status"] for r in tiny.evidence["rows"]] == ["inconclusive"]
    # with a decided point beside it the family holds, and the undetermined point is counted
    both = c4.evaluate([_c4_rbm_teacher(0.01, 0), _c4_rbm_teacher(0.3, 1)], seed=0, conditions={})
    assert both.status is Status.HOLDS
    (row,) = both.evidence["rows"]
    assert row["status"] == "holds" and row["n_undetermined_points"] == 1
    assert row["undetermined_by_teacher_scale"] == {"0.01": 1, "0.3": 0}


@pytest.fixture(scope="module")
def c4_small_run():
    """C4 at N = 3 only, two teachers per (size, scale) (n_cases = 12), one flow per family."""
    profile = dataclasses.replace(
        get_profile("quick"), n_cases=12, max_n_generic=3, max_n_rbm=3, n_inits=1, init_scales=(0.01, 1.0)
    )
    return c4.run(profile, 0)


def test_c4_run_conditions_count_the_points_it_evaluated(c4_small_run):
    cond = c4_small_run.verdict.conditions
    assert cond["teacher_scales"] == [1.0]  # 0.01 is outside the teacher range [0.03, 3]
    assert cond["teachers_per_size_and_scale"] == 12 // 6
    n_sizes = sum(len(s) for s in cond["sizes"].values())
    flows = cond["flows"]
    n_teachers = cond["teachers_per_size_and_scale"] * n_sizes * len(cond["teacher_scales"])
    assert cond["n_points"] == n_teachers + flows["used"]
    rows = c4_small_run.verdict.evidence["rows"]
    assert sum(r["n_points"] for r in rows) == cond["n_points"]
    assert sum(r["n_flow_points"] for r in rows) == flows["used"] == sum(e["used"] for e in flows["cases"])
