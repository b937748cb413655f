"""Claim C6 (checks/c6_saddles.py): the evidence, tallies and status rules, on hand-built point sets.

What this pins, beyond the end-to-end run of tests/test_c3_c6.py:

* the tallies of a reading (``reading_primary`` / ``reading_alternative``): every spurious point is
  either in scope or counted once under the reason that put it out of scope, and the per-regime
  ``tested`` counts add up to the (a)-tests (in scope, not undetermined) plus the flow end points;
* each scope reason means what the module docstring says (high order, order not represented,
  family not sufficiently expressive unless a flow of the same family demonstrated it);
* the status rules: ``holds``, ``inconclusive`` (an undetermined point: no unstable eigenvalue
  within a factor ``hessian_margin_min`` of the neutral band), ``holds-under-conditions`` (only the
  alternative reading fails), ``fails``; counterexamples are one per (criterion, point), taken
  from the primary reading and carrying its ``k_low``;
* the flow-end histogram categories (consistent, lowest order, saddle-plateau, unresolved);
* the higher-order probe at Hessian-degenerate points (its keys; it tells the two ``W = 0``
  points of the pure three-body target apart: a cubic rise at ``c = 1``, a quartic fall at ``c = 0``);
* :func:`three_body_candidates`, and the bookkeeping of :func:`run` (conditions, construction sizes
  chosen from the profile, which flow pairs are swept, the controls' names and conditions) with the
  expensive constructions and flows replaced by recorders.

The point sets are small: the two ``W = 0`` points of ``RBM(4, 16)`` on the pure three-body target,
and a two-unit RBM teacher at ``N = 3`` with its construction (i) points and max-ent fit.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks.claims import c6_saddles
from dsb_verifier.checks.claims.c3_fixed_points import TOLERANCES as C3_TOLERANCES
from dsb_verifier.checks.claims.c3_fixed_points import Candidate, classified, flow_plan, point_row
from dsb_verifier.checks.profiles import get_profile
from dsb_verifier.checks.verdict import Status
from dsb_verifier.theory.dynamics.fixed_points import HESSIAN_RTOL, structure_at_order
from dsb_verifier.theory.models import rbm_teacher

HIGH_3 = "high order (lowest inconsistent order 3 > 2)"
NOT_REPRESENTED_2 = "order 2 not represented by the family"
NOT_SUFFICIENT = "family not (declared or demonstrated) sufficiently expressive for the target"
READING_KEYS = {
    "k_low",
    "n_in_scope",
    "n_failures",
    "n_undetermined",
    "n_flow_end_points_tested",
    "out_of_scope",
    "regimes",
    "first_failure",
}
PROBE_KEYS = {
    "eps",
    "max_rise",
    "ascent_found",
    "loglog_slope_of_abs_rise",
    "n_directions",
    "n_flat_directions",
}


# ---- point sets -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def three_body() -> list[Candidate]:
    return c6_saddles.three_body_candidates()


@pytest.fixture(scope="module")
def small() -> dict[str, Candidate]:
    """A two-unit RBM teacher at N = 3 (P = 11 >= 2^3 - 1), its W = 0 points and its K = 1 max-ent fit."""
    teacher, theta_t, q = rbm_teacher(3, 2, np.random.default_rng(0), 0.5)

    def cand(origin, model, theta, family=None, sufficient=True, info=None):
        g = float(np.linalg.norm(T.grad_loglik(model, theta, q)))
        fam = family or model.family
        return Candidate(origin, fam, 3, "rbm-teacher", sufficient, model, q, theta, g, info)

    m1, th1 = T.maxent_point(q, 1)
    return {
        # a flow that ended at the teacher: data-consistent, and it demonstrates rbm-spin at N = 3
        "flow_at_teacher": cand("flow", teacher, theta_t, info={"init": 0}),
        "i_spin": cand("construction-i", *T.independent_point(q, 2, "spin"), info={"c": 0.0}),
        "i_bit": cand("construction-i", *T.independent_point(q, 2, "bit"), info={"c": 0.0}),
        "iii_1": cand("construction-iii", m1, th1, family="truncated-1", sufficient=False, info={"K": 1}),
    }


def _near_band_hessian(model, theta, q):
    """No unstable direction, one eigenvalue a factor 3 inside the neutral band: margin 3 < 10."""
    return np.diag(np.r_[-np.ones(model.n_params - 1), -HESSIAN_RTOL / 3])


def _check_tallies(reading: dict, n_spurious: int) -> None:
    """The internal consistency every reading summary must have."""
    assert set(reading) == READING_KEYS
    assert reading["n_in_scope"] + sum(reading["out_of_scope"].values()) == n_spurious
    assert 0 <= reading["n_undetermined"] <= reading["n_in_scope"]
    tested = sum(t["tested"] for t in reading["regimes"].values())
    failed = sum(t["failed"] for t in reading["regimes"].values())
    assert tested == reading["n_in_scope"] - reading["n_undetermined"] + reading["n_flow_end_points_tested"]
    assert failed == reading["n_failures"]


@pytest.fixture(scope="module")
def mixed(three_body, small):
    """Primary k_low = 2 holds (saddles in scope, the rest out of scope); k_low = 3 catches three-body."""
    cands = [*three_body, small["i_spin"], small["i_bit"], small["iii_1"], small["flow_at_teacher"]]
    return c6_saddles.evaluate(cands, seed=0, conditions={"who": "test"}, alt_k_low=3)


@pytest.fixture(scope="module")
def flows_at_three_body(three_body, small):
    """Flows said to end at the three-body W = 0 points (stable spurious, k = 3), plus one of each
    other histogram category: unresolved (not stationary), saddle-plateau, data-consistent."""
    cands = [
        *(dataclasses.replace(c, origin="flow") for c in three_body),
        dataclasses.replace(three_body[0], origin="flow", grad_norm=1.0),
        dataclasses.replace(small["i_spin"], origin="flow"),
        small["flow_at_teacher"],
    ]
    return c6_saddles.evaluate(cands, seed=0, conditions={}, k_low=3, alt_k_low=4)


# ---- readings and status ----------------------------------------------------------------------
def test_mixed_set_partitions_spurious_points_by_scope(mixed):
    ev = mixed.evidence
    primary, alt = ev["reading_primary"], ev["reading_alternative"]
    assert len(ev["spurious_points"]) == 5
    _check_tallies(primary, 5)
    _check_tallies(alt, 5)
    assert primary["k_low"] == 2 and alt["k_low"] == 3
    assert primary["n_in_scope"] == 2  # the two construction (i) points, order 2
    assert primary["out_of_scope"] == {HIGH_3: 2, NOT_REPRESENTED_2: 1}
    assert alt["n_in_scope"] == 4 and alt["out_of_scope"] == {NOT_REPRESENTED_2: 1}
    # only the flow is a flow end point: the constructions are never counted under (b)
    assert primary["n_flow_end_points_tested"] == alt["n_flow_end_points_tested"] == 1
    assert primary["regimes"] == {"P >= 2^N - 1": {"tested": 3, "failed": 0}}
    scopes = sorted(r["scope_primary"] for r in ev["spurious_points"])
    assert scopes == sorted([HIGH_3, HIGH_3, NOT_REPRESENTED_2, "in scope", "in scope"])


def test_only_the_alternative_reading_failing_gives_holds_under_conditions(mixed):
    assert mixed.status is Status.HOLDS_UNDER_CONDITIONS
    assert mixed.conditions == {"who": "test"}
    assert mixed.evidence["reading_primary"]["first_failure"] is None
    assert mixed.evidence["reading_alternative"]["n_failures"] == 2
    assert len(mixed.counterexamples) == 2
    for ce in mixed.counterexamples:
        assert ce.case["k_low"] == 3 and ce.case["target"] == "pure-three-body"
    assert mixed.evidence["headline"].endswith("; k_low=3: 2 failure(s)")


def test_saddles_in_scope_and_a_consistent_flow_end_hold(small):
    cands = [small["i_spin"], small["i_bit"], small["flow_at_teacher"]]
    v = c6_saddles.evaluate(cands, seed=0, conditions={})
    assert v.status is Status.HOLDS
    assert v.counterexamples == ()
    assert v.evidence["reading_alternative"] is None
    r = v.evidence["reading_primary"]
    _check_tallies(r, 2)
    assert (r["n_in_scope"], r["n_undetermined"], r["n_flow_end_points_tested"]) == (2, 0, 1)


def test_points_within_the_hessian_margin_are_undetermined_not_counterexamples(small):
    cands = [small["i_spin"], small["i_bit"], small["flow_at_teacher"]]
    v = c6_saddles.evaluate(cands, seed=0, conditions={}, hessian=_near_band_hessian)
    r = v.evidence["reading_primary"]
    _check_tallies(r, 2)
    assert (r["n_in_scope"], r["n_undetermined"], r["n_failures"]) == (2, 2, 0)
    assert r["regimes"] == {"P >= 2^N - 1": {"tested": 1, "failed": 0}}  # only the flow end
    assert v.status is Status.INCONCLUSIVE
    assert v.counterexamples == ()


def test_insufficient_family_is_out_of_scope_unless_a_flow_demonstrates_it(small):
    not_declared = dataclasses.replace(small["i_spin"], sufficient=False)
    alone = c6_saddles.evaluate([not_declared], seed=0, conditions={}).evidence["reading_primary"]
    assert alone["out_of_scope"] == {NOT_SUFFICIENT: 1} and alone["n_in_scope"] == 0
    # a flow of the same family, N and target reached a data-consistent point
    shown = c6_saddles.evaluate([not_declared, small["flow_at_teacher"]], seed=0, conditions={})
    assert shown.evidence["reading_primary"]["out_of_scope"] == {}
    assert shown.evidence["reading_primary"]["n_in_scope"] == 1
    assert shown.evidence["spurious_points"][0]["scope_primary"] == "in scope"


# ---- flow end points ----------------------------------------------------------------------------
def test_stable_flow_ends_at_low_order_fail_both_criteria(flows_at_three_body):
    v = flows_at_three_body
    r = v.evidence["reading_primary"]
    # spurious: two three-body ends (in scope, stable) and the saddle-plateau (in scope, a saddle)
    _check_tallies(r, 3)
    assert (r["n_in_scope"], r["n_flow_end_points_tested"], r["n_failures"]) == (3, 4, 4)
    assert v.status is Status.FAILS
    # one counterexample per (criterion, point), from the primary reading, not repeated from k_low = 4
    got = sorted((ce.description[:3], ce.case["c"], ce.case["k_low"]) for ce in v.counterexamples)
    assert got == [("(a)", 0.0, 3), ("(a)", 1.0, 3), ("(b)", 0.0, 3), ("(b)", 1.0, 3)]
    for ce in v.counterexamples:
        assert ce.case["lowest_order"] == 3 and ce.case["regime"] == "P >= 2^N - 1"
        if ce.description.startswith("(a)"):
            assert ce.description.startswith("(a) spurious point inconsistent from order 3 (<= 3, |r_3| = ")
            assert "target has structure there) with no unstable Hessian direction (largest eigenvalue" in (
                ce.description
            )
        else:
            assert ce.description.startswith(
                "(b) a flow from a generic start ended at a stable spurious point "
                "inconsistent from order 3 <= 3"
            )


def test_flow_end_histogram_counts_every_flow_once(flows_at_three_body):
    assert flows_at_three_body.evidence["flow_end_histogram"] == {
        "rbm-spin N=4 (pure-three-body)": {"3": 2, "unresolved": 1},
        "rbm-spin N=3 (rbm-teacher)": {"saddle-plateau": 1, "consistent": 1},
    }


# ---- higher-order probe and the three-body points ------------------------------------------------
def test_probe_tells_the_two_three_body_points_apart(mixed):
    rows = {r["c"]: r for r in mixed.evidence["spurious_points"] if r["target"] == "pure-three-body"}
    assert set(rows) == {0.0, 1.0}
    for r in rows.values():
        assert r["n_unstable"] == 0 and r["n_neutral"] > 0
        probe = r["higher_order_probe"]
        assert set(probe) == PROBE_KEYS
        assert len(probe["max_rise"]) == len(probe["eps"]) == 3
        assert probe["n_directions"] == r["n_neutral"] + 48  # the eigenvectors and 48 random mixtures
        assert (
            0 <= probe["n_flat_directions"] <= r["n_neutral"]
        )  # exact invariances: some eigenvectors at most
    at0, at1 = rows[0.0]["higher_order_probe"], rows[1.0]["higher_order_probe"]
    assert not at0["ascent_found"] and all(x < 0 for x in at0["max_rise"])
    assert round(at0["loglog_slope_of_abs_rise"]) == 4
    assert at1["ascent_found"] and all(x > 0 for x in at1["max_rise"])
    assert round(at1["loglog_slope_of_abs_rise"]) == 3
    # saddles get no probe
    assert all("higher_order_probe" not in r for r in mixed.evidence["spurious_points"] if r["n_unstable"])


def test_three_body_candidates_are_the_w0_points_with_hidden_biases_0_and_1(three_body):
    q = T.k_body_target(4, 0b0111, 1.0)
    assert structure_at_order(q, 1) < 1e-12 and structure_at_order(q, 2) < 1e-12
    assert structure_at_order(q, 3) > 0.1
    assert [c.info["c"] for c in three_body] == [0.0, 1.0]
    p0 = three_body[0].model.prob(three_body[0].theta)
    for c in three_body:
        assert (c.origin, c.family, c.N, c.target, c.sufficient) == (
            "construction-i",
            "rbm-spin",
            4,
            "pure-three-body",
            True,
        )
        assert c.model.n_hidden == 16
        np.testing.assert_array_equal(c.q, q)
        np.testing.assert_array_equal(c.theta[4:20], np.full(16, c.info["c"]))  # hidden biases
        np.testing.assert_array_equal(c.theta[20:], 0.0)  # W = 0
        assert c.grad_norm < 1e-12
        np.testing.assert_allclose(c.model.prob(c.theta), p0, atol=1e-15)  # same p for every c


# ---- run: bookkeeping, with constructions and flows recorded instead of computed ----------------
@pytest.fixture(scope="module")
def stubbed_run():
    """``run`` on a profile with ``max_n_rbm = 5``; construction tasks and flow cases are recorded."""
    profile = dataclasses.replace(get_profile("quick"), name="tiny-5", max_n_rbm=5, n_inits=1)
    tasks, swept = [], []

    def construction_task(task):
        tasks.append(task)
        return []

    def flow_sweep(cases, executor=None):
        swept.extend(cases)
        return []

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(c6_saddles, "construction_task", construction_task)
        mp.setattr(c6_saddles, "flow_sweep", flow_sweep)
        rep = c6_saddles.run(profile, 0)
    return profile, rep, tasks, swept


def test_run_conditions_describe_the_sweep(stubbed_run):
    profile, rep, _, swept = stubbed_run
    cond = rep.verdict.conditions
    assert set(cond) == {
        "k_low",
        "alternative_k_low",
        "construction_N",
        "flow_pairs",
        "n_inits",
        "init_scales",
        "t_max",
        "three_body_target",
        "seed",
    }
    assert cond["three_body_target"] == "k_body_target(N=4, S=0b111, beta=1.0)"
    assert (cond["k_low"], cond["seed"], cond["n_inits"], cond["t_max"]) == (2, 0, 1, profile.t_max)
    assert cond["flow_pairs"] == [f"{c.family} N={c.N} {c.target}" for c in swept]
    assert cond["init_scales"] == sorted({s for c in swept for s, _ in c.inits})
    # only the three-body points were examined: the alternative reading is k_low = N = 4
    assert rep.verdict.evidence["reading_alternative"]["k_low"] == 4


def test_run_construction_sizes_follow_the_profile(stubbed_run):
    _, rep, tasks, _ = stubbed_run
    assert rep.verdict.conditions["construction_N"] == [4, 5]  # {4, 5, 6} up to max_n_rbm = 5
    assert [t[0] for t in tasks] == [4, 5]


def test_run_sweeps_generic_targets_and_rbm_teachers_from_n_4(stubbed_run):
    profile, _, _, swept = stubbed_run
    plan = flow_plan(profile, 0)
    expected = [c for c in plan if c.target == "generic" or (c.target == "rbm-teacher" and c.N >= 4)]
    assert [(c.family, c.N, c.target) for c in swept] == [(c.family, c.N, c.target) for c in expected]
    assert {c.target for c in swept} == {"generic", "rbm-teacher"}
    assert {c.N for c in swept if c.target == "rbm-teacher"} == {4, 5}
    # left out: other teachers (tanh, pairwise) and RBM teachers below N = 4
    assert any(c.target in ("tanh-teacher", "pairwise-teacher") and c.N >= 4 for c in plan)


def test_run_controls_are_named_and_record_what_they_change(stubbed_run):
    _, rep, _, _ = stubbed_run
    gn, tb = rep.controls
    cond = rep.verdict.conditions
    assert (gn.name, tb.name) == ("gauss-newton-hessian", "pure-three-body-all-orders")
    assert gn.verdict.conditions == {**cond, "control": "gauss-newton-hessian"}
    assert tb.verdict.conditions == {**cond, "control": "pure-three-body-all-orders", "k_low": 3}
    assert tb.verdict.evidence["reading_primary"]["k_low"] == 3
    assert "Gauss-Newton matrix" in gn.description
    assert "W = 0 point on the pure three-body target" in tb.description and "orders <= 3" in tb.description
    assert tb.caught  # the pure three-body control needs no construction or flow


# ---- counterexamples, headline, scope rows, regimes: whole texts against independent computation -------
def _stable_hessian(model, theta, q):
    """Negative definite, largest eigenvalues -1/2, -1/4: no unstable or neutral direction, a wide margin."""
    return np.diag(np.r_[-np.ones(model.n_params - 2), -0.5, -0.25])


def _stable_flow_end(small, init):
    """The order-2 construction (i) point, said to be where flow number ``init`` ended."""
    return dataclasses.replace(small["i_spin"], origin="flow", info={"init": init})


def test_counterexamples_carry_whole_descriptions_values_cases_and_seed(small):
    c = _stable_flow_end(small, 3)
    v = c6_saddles.evaluate([c], seed=11, conditions={}, hessian=_stable_hessian)
    fp = classified(c, _stable_hessian)  # C3's classification, with the same substituted Hessian
    assert (fp.kind, fp.lowest_order, fp.n_unstable, fp.n_neutral) == ("spurious", 2, 0, 0)
    band = C3_TOLERANCES["hessian_rtol"] * 1.0  # the spectrum's scale is max |lambda| = 1
    a = (
        "(a) spurious point inconsistent from order 2 (<= 2, "
        f"|r_2| = {fp.residual_order_norms[2]:.2g}, target has structure there) "
        f"with no unstable Hessian direction (largest eigenvalue -0.25, band {band:.1g})"
    )
    b = (
        "(b) a flow from a generic start ended at a stable spurious point inconsistent from order 2 <= 2 "
        f"(|r| = {fp.residual_norm:.2g}, KL = {fp.kl:.2g})"
    )
    assert [ce.description for ce in v.counterexamples] == [a, b]
    assert [ce.value for ce in v.counterexamples] == [-0.25, fp.residual_norm]
    assert [ce.seed for ce in v.counterexamples] == [11, 11]
    case = {
        "origin": "flow",
        "family": "rbm-spin",
        "N": 3,
        "P": 11,
        "target": "rbm-teacher",
        "sufficient": True,
        "init": 3,
        "regime": "P >= 2^N - 1",
        "k_low": 2,
        "lowest_order": 2,
    }
    assert [dict(ce.case) for ce in v.counterexamples] == [case, case]
    # the one regime tested failed: fails, not holds-under-conditions
    assert v.status is Status.FAILS
    r = v.evidence["reading_primary"]
    assert (r["n_in_scope"], r["n_failures"], r["n_flow_end_points_tested"]) == (1, 2, 1)
    assert r["first_failure"] == a
    assert r["regimes"] == {"P >= 2^N - 1": {"tested": 2, "failed": 2}}
    assert v.evidence["headline"] == (
        "k_low=2: 0/1 in-scope spurious points are saddles, 1 flow ends tested (P >= 2^N - 1: 2/2 failed)"
    )


def test_counterexamples_are_capped_at_20_in_order_of_the_points(small):
    cands = [_stable_flow_end(small, i) for i in range(11)]  # 11 points, each failing (a) and (b)
    v = c6_saddles.evaluate(cands, seed=0, conditions={}, hessian=_stable_hessian)
    assert v.evidence["reading_primary"]["n_failures"] == 22
    got = [(ce.description[:3], ce.case["init"]) for ce in v.counterexamples]
    assert got == [(crit, i) for i in range(10) for crit in ("(a)", "(b)")]


def test_headline_counts_saddles_and_flow_ends_per_regime_in_full(mixed, small):
    assert mixed.evidence["headline"] == (
        "k_low=2: 2/2 in-scope spurious points are saddles, 1 flow ends tested (P >= 2^N - 1: 0/3 failed); "
        "k_low=3: 2 failure(s)"
    )
    # a second regime: a data-consistent flow end of the K = 1 max-ent family (P = 3 < 2^3 - 1)
    m1, th1 = T.maxent_point(small["i_spin"].q, 1)
    q1 = m1.prob(th1)
    g = float(np.linalg.norm(T.grad_loglik(m1, th1, q1)))
    flow_k1 = Candidate("flow", "truncated-1", 3, "maxent-1", True, m1, q1, th1, g, {"init": 0})
    cands = [small["i_spin"], small["i_bit"], small["flow_at_teacher"], flow_k1]
    v = c6_saddles.evaluate(cands, seed=0, conditions={})
    assert v.status is Status.HOLDS
    assert v.evidence["headline"] == (
        "k_low=2: 2/2 in-scope spurious points are saddles, 2 flow ends tested "
        "(P < 2^N - 1: 0/1 failed, P >= 2^N - 1: 0/3 failed)"
    )
    assert v.evidence["flow_end_histogram"] == {
        "rbm-spin N=3 (rbm-teacher)": {"consistent": 1},
        "truncated-1 N=3 (maxent-1)": {"consistent": 1},
    }


def test_regime_boundary_is_p_equal_to_2_to_the_n_minus_1(small):
    q = small["i_spin"].q
    got = {}
    for K in (2, 3):  # truncated-2 at N = 3: P = 6 = 2^3 - 2; truncated-3: P = 7 = 2^3 - 1
        m, th = T.maxent_point(q, K)
        got[m.n_params] = c6_saddles.regime(Candidate("flow", f"truncated-{K}", 3, "x", True, m, q, th, 0.0))
    assert got == {6: "P < 2^N - 1", 7: "P >= 2^N - 1"}


def test_spurious_rows_add_structure_representation_and_scope_to_the_c3_row(mixed, three_body, small):
    points = [*three_body, small["i_spin"], small["i_bit"], small["iii_1"]]
    cands = {(c.family, c.N, c.info.get("c")): c for c in points}
    rows = mixed.evidence["spurious_points"]
    assert len(rows) == 5
    for row in rows:
        c = cands[(row["family"], row["N"], row.get("c"))]
        fp = classified(c)
        k = fp.lowest_order
        extra = {"structure_at_lowest_order", "order_represented", "scope_primary"}
        if fp.n_unstable == 0 and fp.n_neutral > 0:
            extra.add("higher_order_probe")
        assert set(row) == set(point_row(c, fp)) | extra
        assert row["structure_at_lowest_order"] == pytest.approx(structure_at_order(c.q, k), rel=1e-12)
        # RBMs move every order; the K = 1 max-ent family moves fields only
        assert row["order_represented"] is (c.family != "truncated-1")
        expected_scope = {2: "in scope", 3: HIGH_3}[k] if row["order_represented"] else NOT_REPRESENTED_2
        assert row["scope_primary"] == expected_scope


def test_only_data_consistent_flow_ends_demonstrate_expressiveness(small):
    not_declared = dataclasses.replace(small["i_spin"], sufficient=False)
    spurious_flow = dataclasses.replace(small["i_spin"], origin="flow", sufficient=False)  # a saddle plateau
    teacher_point = dataclasses.replace(small["flow_at_teacher"], origin="teacher")  # consistent, not a flow
    unresolved_flow = dataclasses.replace(small["flow_at_teacher"], grad_norm=1.0)  # not stationary
    v = c6_saddles.evaluate(
        [not_declared, spurious_flow, teacher_point, unresolved_flow], seed=0, conditions={}
    )
    r = v.evidence["reading_primary"]
    assert r["out_of_scope"] == {NOT_SUFFICIENT: 2}
    assert (r["n_in_scope"], r["n_flow_end_points_tested"], r["regimes"]) == (0, 0, {})
    assert [row["scope_primary"] for row in v.evidence["spurious_points"]] == [NOT_SUFFICIENT, NOT_SUFFICIENT]
    assert v.status is Status.INCONCLUSIVE
