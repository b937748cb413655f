"""Evidence rows, flow plans and headlines of Claims C3, C4 and C5, on hand-built or tiny inputs.

What this pins, beyond the end-to-end runs of tests/test_c3_c6.py, tests/test_c4.py and tests/test_c5.py:

* C3 :func:`~dsb_verifier.checks.claims.c3_fixed_points.flow_plan`: which (family, N, target) pairs each profile sweeps,
  which are declared sufficiently expressive, how many starts each gets (``n_inits``, halved above
  ``N = 5``, at least one) and the horizon of teacher–student pairs;
* C3 :func:`~dsb_verifier.checks.claims.c3_fixed_points.point_row`: ``sigma_ratio`` is the smallest over the largest of
  the ``2^N - 1`` singular values of ``A`` (0 when ``A`` has fewer columns than rows), checked against
  a dense SVD and against the ``implication_full_rank`` summary of the same evaluation;
* C4: the per-criterion tallies, a slope outside its window failing ``slopes_neutral``, and the figure data
  (the keys :func:`dsb_verifier.checks.claims.c4_stability.figures` reads, arrays on the eps grid, fit windows above
  their rounding floors);
* C5: a row's ``supports`` decision (Kendall and monotone thresholds, the ranked-fraction boundary),
  the headline (small initialisation only, per family and reading), the targets of each profile,
  and a user target of exactly ``MAX_N_USER`` spins joining the experiment.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks.claims import c3_fixed_points as c3
from dsb_verifier.checks.claims import c4_stability as c4
from dsb_verifier.checks.claims import c5_hierarchy as c5
from dsb_verifier.checks.profiles import get_profile
from dsb_verifier.checks.verdict import Status
from dsb_verifier.theory.dynamics.hierarchy import KernelScaling
from dsb_verifier.theory.models import RBM, DirectModel, rbm_teacher
from dsb_verifier.theory.walsh import order_norms


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


# ---- C5: rows, headline, targets, user target ---------------------------------------------------
def _runs(n):
    """``n`` converged flows of the direct model (``_row`` reads only their count and status)."""
    tr = SimpleNamespace(status="converged")
    return [c5.FlowRun("direct", 4, 0, 0.01, j, np.full(16, 1 / 16), tr) for j in range(n)]


NAN = float("nan")
UP = np.array([NAN, 1.0, 10.0, 100.0, 1000.0])  # t_k grows with k
DOWN = UP[[0, 4, 3, 2, 1]]
ONE_ORDER = np.array([NAN, NAN, NAN, 5.0, NAN])  # a single defined order: not ranked


def test_c5_row_supports_a_hierarchy_and_reports_its_runs():
    group = _runs(2)
    group[1] = dataclasses.replace(group[1], trajectory=SimpleNamespace(status="failed"))
    row = c5._row("direct", 0.01, "a", 0.1, [UP, np.array([NAN, 2.0, np.inf, np.inf, np.inf])], group)
    assert row["supports"] is True
    # tau-b of k = 1..4 against tie-group ranks (0, 1, 1, 1): 3 / sqrt(6 * 3); mean over the two runs
    assert row["kendall_tau"] == pytest.approx((1.0 + 3 / np.sqrt(18)) / 2, rel=1e-12)
    assert row["monotone_fraction"] == 1.0
    assert (row["n_runs"], row["n_ranked"], row["n_failed_flows"], row["n_runs_unsettled"]) == (2, 2, 1, 1)
    assert row["median_t_k"][:1] == [1.5] and row["small_init"] is True
    down = c5._row("direct", 1.0, "a", 0.1, [DOWN, DOWN], _runs(2))
    assert down["supports"] is False and down["kendall_tau"] == pytest.approx(-1.0)
    assert down["small_init"] is False


def test_c5_row_is_undecided_below_the_ranked_fraction():
    # one of two runs ranked: 1/2 >= ranked_fraction_min, decided; one of three: undecided
    half = c5._row("direct", 0.01, "b", 0.1, [UP, ONE_ORDER], _runs(2))
    assert half["n_ranked"] == 1 and half["supports"] is True
    third = c5._row("direct", 0.01, "b", 0.1, [UP, ONE_ORDER, ONE_ORDER], _runs(3))
    assert third["n_ranked"] == 1 and third["supports"] is None
    none = c5._row("direct", 0.01, "b", 0.1, [ONE_ORDER], _runs(1))
    assert none["supports"] is None and np.isnan(none["kendall_tau"]) and none["median_t_k"][2] == 5.0


def _cell(family, sigma, reading, status):
    small = sigma <= 0.1
    return {"family": family, "init_scale": sigma, "reading": reading, "status": status, "small_init": small}


def test_c5_headline_lists_holding_and_failing_readings_at_small_initialisation():
    statuses = {
        ("direct", 0.01): "holds fails inconclusive",
        ("direct", 0.1): "holds holds inconclusive",
        ("rbm-spin", 0.01): "holds fails holds",
        ("rbm-spin", 0.1): "fails fails holds",
        ("rbm-spin", 1.0): "holds holds fails",  # large sigma: reported, not in the headline
    }
    cells = [
        _cell(f, s, rd, st)
        for (f, s), sts in statuses.items()
        for rd, st in zip("abc", sts.split(), strict=True)
    ]
    mechanism = {"rbm-spin": {"holds": True}, "tanh-1": {"holds": False}}
    text = c5._headline(cells, mechanism, ("rbm-spin", "tanh-1", "rbm-bit"))
    assert text == (
        "sigma <= 0.1: holds direct(a) rbm-spin(c); fails direct(b) rbm-spin(a,b); "
        "kernel exponents grow with k for 1/2 neural families"
    )
    undecided = [_cell("direct", 0.01, rd, "inconclusive") for rd in "abc"]
    assert c5._headline(undecided, {}, ()) == "sigma <= 0.1: holds nowhere; fails nowhere"


def test_c5_targets_of_each_profile():
    (quick,) = c5._targets(get_profile("quick"), 0)
    thorough = c5._targets(get_profile("thorough"), 0)
    assert len(thorough) == 2
    np.testing.assert_array_equal(thorough[0], quick)  # same seeded planted target
    for q in thorough:
        assert q.shape == (16,) and np.isclose(q.sum(), 1.0)
    planted, every = (order_norms(T.couplings(q)) for q in thorough)
    assert planted[4] < 1e-12 and np.all(planted[1:4] > 1e-2)  # fields, pairwise, three-body only
    assert np.all(every[1:5] > 1e-2)  # couplings at every order up to N = 4


def test_c5_user_target_of_exactly_max_n_user_spins_joins(monkeypatch):
    profile = dataclasses.replace(
        get_profile("quick"), n_inits=1, init_scales=(0.01, 1.0), taus=(0.1,), t_max=10.0
    )
    q = T.ising_target(2, {1: 0.4, 2: 0.4}, np.random.default_rng(9))
    monkeypatch.setattr(c5, "MAX_N_USER", 2)
    rep = c5.run(profile, 0, target=q)
    cond = rep.verdict.conditions
    assert cond["user_target"] == {"N": 2, "used": True}
    assert cond["targets"][-1] == {"N": 2, "user_data": True}
    assert all(r["n_runs"] == 2 * profile.n_inits for r in rep.verdict.evidence["rows"])
    assert rep.verdict.evidence["n_flows"] == 2 * len(cond["families"]) * len(profile.init_scales)


# ---- C4 controls and flow points, C5 evaluate/run (mutation testing, round 2) ----
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
    assert log["run"] == 3 and log["t_max"] == c4._FLOW_T_MAX
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
    monkeypatch.setattr(c4, "_FLOW_T_MAX", 100.0)
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


def _c5_failed(run, message):
    """``run`` as a failed flow of a later seed (so that the figures' curves skip it)."""
    tr = dataclasses.replace(run.trajectory, status="failed", message=message)
    return dataclasses.replace(run, init=run.init + 1, trajectory=tr)


@pytest.fixture(scope="module")
def c5_failing_mechanism():
    """One direct-model flow (N = 2), a failed one, and a kernel whose exponents fall with k."""
    q = T.ising_target(2, {1: 0.4, 2: 0.4}, np.random.default_rng(3))
    (run,) = c5.flows([("direct", DirectModel)], [q], (0.01,), 1, seed=5, t_max=5.0)
    runs = [run, _c5_failed(run, "solver gave up")]
    falling = KernelScaling(
        scales=[0.01, 0.1], norms=np.ones((2, 4)), slopes=[NAN, 2.0, 1.0, 0.0], window=(0.01, 0.1), n_seeds=1
    )
    kernels = {"rbm-spin": falling}
    return c5.evaluate(
        runs, taus=(0.1,), seed=7, conditions={}, kernels=kernels, mechanism_families=["rbm-spin"]
    )


def test_c5_failed_flows_are_reported_with_their_coordinates(c5_failing_mechanism):
    ev = c5_failing_mechanism.evidence
    assert ev["n_flows"] == 2 and ev["n_failed_flows"] == 1
    assert ev["n_unranked_run_readings"] == 3  # one per reading
    where = {"family": "direct", "init_scale": 0.01, "target": 0, "init": 1}
    assert ev["unranked_runs"] == [
        {**where, "reading": rd, "error": "flow failed: solver gave up"} for rd in ("a", "b", "c")
    ]
    assert all(r["n_runs"] == 2 and r["n_failed_flows"] == 1 for r in ev["rows"])


def test_c5_a_falling_kernel_exponent_is_a_replayable_counterexample(c5_failing_mechanism):
    v = c5_failing_mechanism
    assert v.evidence["kernel_mechanism"]["rbm-spin"]["holds"] is False
    assert "rbm-spin kernel mechanism" in v.evidence["fails_for"]
    (x,) = [x for x in v.counterexamples if x.case.get("kind") == "kernel-slopes"]
    assert x.description == (
        "tangent-kernel exponents of rbm-spin do not grow with k: {'1': 2.0, '2': 1.0, '3': 0.0}"
    )
    assert dict(x.case) == {"family": "rbm-spin", "kind": "kernel-slopes"}
    assert x.value == -2.0 and x.seed == 7


@pytest.fixture(scope="module")
def c5_three_inits():
    """C5 with three seeds per scale: the diagnostic caps them at two, the control uses all three."""
    profile = dataclasses.replace(
        get_profile("quick"), n_inits=3, init_scales=(0.01, 1.0), taus=(0.1,), t_max=10.0
    )
    return profile, c5.run(profile, 0)


def test_c5_diagnostic_and_control_run_at_the_small_scales(c5_three_inits):
    profile, rep = c5_three_inits
    cond = rep.verdict.conditions
    assert cond["init_scales"] == [0.01, 1.0] and cond["small_init_scales"] == [0.01]
    diag = rep.verdict.evidence["reversed_kernel_diagnostic"]
    assert {r["init_scale"] for r in diag["rows"]} == {0.01}
    assert {r["n_runs"] for r in diag["rows"]} == {min(profile.n_inits, 2)}
    (control,) = rep.controls
    assert control.verdict.conditions["small_init_scales"] == [0.01]
    assert {r["init_scale"] for r in control.verdict.evidence["rows"]} == {0.01}
    assert {r["n_runs"] for r in control.verdict.evidence["rows"]} == {profile.n_inits}


def test_c5_control_counterexample_names_the_failing_cell_and_replays(c5_three_inits):
    _, rep = c5_three_inits
    (control,) = rep.controls
    v = control.verdict
    assert control.caught and v.evidence["fails_for"] == ["high-orders-only sigma=0.01 reading=a"]
    (cell,) = [c for c in v.evidence["cells"] if c["status"] == "fails"]
    (x,) = v.counterexamples  # readings b and c see nothing settle: inconclusive, not counterexamples
    assert dict(x.case) == {"family": "high-orders-only", "init_scale": 0.01, "reading": "a"}
    assert x.value == cell["min_kendall_over_tau"] < 0  # orders 1-2 are never learned: reversed
    assert x.seed == 0  # the run's seed replays it
    assert x.description.startswith("no hierarchy for high-orders-only sigma=0.01 reading=a: over tau,")
