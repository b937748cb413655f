"""Claim C6's rules on hand-built rows: regimes, material orders, distinct points, categories, status.

Every rule of :mod:`dsb_verifier.checks.claims.c6_points` and :mod:`.c6_verdict` is tested on
both sides of its boundary with hand-built classified points (``classified`` is replaced
by a table), so the tests are fast and independent of any flow. The real run and the
negative controls are exercised in ``test_c3_c6.py``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks.claims import c6_saddles, c6_verdict
from dsb_verifier.checks.claims.c3_fixed_points import Candidate
from dsb_verifier.checks.claims.c6_plan import minimal_width, plan_Ns, targets
from dsb_verifier.checks.claims.c6_points import (
    MATERIAL_FRACTION,
    MERGE_RTOL,
    DistinctPoint,
    Item,
    distinct_points,
    lowest_material_order,
    material_ratios,
    regime_of,
    same_size,
    target_structure,
)
from dsb_verifier.checks.claims.strategies import ORDER_PROFILES
from dsb_verifier.checks.profiles import get_profile
from dsb_verifier.checks.verdict import Status
from dsb_verifier.theory.dynamics.fixed_points import FixedPoint, classify
from dsb_verifier.theory.models import RBM, DirectModel, TanhNetwork, TruncatedIsing


# ---- material orders ---------------------------------------------------------------------------
def test_material_ratio_boundary_is_inclusive_at_ten_percent():
    s = np.array([0.0, 0.5, 0.2, 0.0])  # no structure at order 3: its reference is max s = 0.5
    r = np.array([0.0, 0.0, MATERIAL_FRACTION * 0.2, 0.0])
    ratios = material_ratios(r, s)
    np.testing.assert_allclose(ratios, [0.0, 0.0, MATERIAL_FRACTION, 0.0])
    assert lowest_material_order(ratios) == 2
    r[2] = np.nextafter(MATERIAL_FRACTION * 0.2, 0)
    assert lowest_material_order(material_ratios(r, s)) is None  # near-consistent
    r[3] = MATERIAL_FRACTION * 0.5  # an order without structure: measured against max_j s_j
    assert lowest_material_order(material_ratios(r, s)) == 3
    r[3] = np.nextafter(MATERIAL_FRACTION * 0.5, 0)
    assert lowest_material_order(material_ratios(r, s)) is None


def test_material_ratios_refuse_mismatched_shapes_and_structureless_targets():
    with pytest.raises(ValueError, match=r"must both have shape \(N \+ 1,\)"):
        material_ratios(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="no structure at any order"):
        material_ratios(np.zeros(3), np.zeros(3))


def test_target_structure_of_the_three_body_target_is_at_order_three_only():
    s = target_structure(T.k_body_target(4, 0b0111, 1.0))
    assert s[0] == 0 and s[1] < 1e-12 and s[2] < 1e-12 and s[3] > 0.5 and s[4] < 1e-9


# ---- regimes -----------------------------------------------------------------------------------
def test_regime_boundary_p_equal_to_2_to_the_n_minus_1_with_full_generic_rank():
    assert regime_of(DirectModel(4), same_size_teacher=False, seed=0) == "E1"  # P = 15 exactly
    assert RBM(4, 3).n_params == 19 and regime_of(RBM(4, 3), same_size_teacher=False, seed=0) == "E1"
    assert RBM(4, 2).n_params == 14  # one short of 2^N - 1
    assert regime_of(RBM(4, 2), same_size_teacher=True, seed=0) == "E2"
    assert regime_of(RBM(4, 2), same_size_teacher=False, seed=0) == "other"
    # P >= 2^N - 1 is not enough: a truncated model never has full row rank
    assert (
        TruncatedIsing(4, 3).n_params == 14
        and regime_of(TruncatedIsing(4, 3), same_size_teacher=False, seed=0) == "other"
    )
    assert regime_of(TanhNetwork(4, (8,)), same_size_teacher=False, seed=0) == "E1"
    assert regime_of(TanhNetwork(4, (2,)), same_size_teacher=True, seed=0) == "E2"


def test_same_size_counts_hidden_spins_and_bits_of_one_width_as_one_size():
    assert same_size(RBM(4, 2, "bit"), "rbm-spin", RBM(4, 2, "spin").n_params)
    assert not same_size(RBM(4, 3, "bit"), "rbm-spin", RBM(4, 2, "spin").n_params)
    assert not same_size(TanhNetwork(4, (2,)), "rbm-spin", 12)


def test_minimal_width_is_the_smallest_over_parameterised_rbm():
    assert minimal_width(3) == 1 and RBM(3, 1).n_params == 7
    for N in (4, 5, 6):
        M = minimal_width(N)
        assert RBM(N, M).n_params >= 2**N - 1 > RBM(N, M - 1).n_params


def test_plan_sizes_and_populations_follow_the_profile():
    assert plan_Ns(get_profile("quick")) == [4] and plan_Ns(get_profile("thorough")) == [4, 5, 6]
    keys = [t.key for t in targets(get_profile("quick"), 0, 4)]
    assert keys == [
        "rbm-teacher#0", "rbm-teacher#1", "planted-3#0", "planted-3#1", "planted-4#0", "planted-4#1",
        "three-body", "tanh-teacher#0", "tanh-teacher#1",
    ]  # fmt: skip
    user = T.dirichlet_target(4, np.random.default_rng(0))
    assert targets(get_profile("quick"), 0, 4, user)[-1].key == "user-data"
    assert [t.key for t in targets(get_profile("thorough"), 0, 5)].count("planted-3#1") == 1


# ---- hand-built classified points ---------------------------------------------------------------
N3 = 3
Q3 = T.ising_target(N3, ORDER_PROFILES["planted-3"], np.random.default_rng(5))
S3 = target_structure(Q3)


def _fp(theta, ratios, lam, *, rank=None, N=N3, s=S3):
    """A consistent FixedPoint with order residuals ``ratios * s`` and Hessian eigenvalues ``lam``."""
    theta = np.asarray(theta, dtype=np.float64)
    P = theta.size
    r = np.concatenate([[0.0], np.asarray(ratios, dtype=np.float64) * s[1:]])
    norm = float(np.linalg.norm(r))
    consistent = norm <= 1e-9
    lowest = None if consistent else int(np.flatnonzero(r > 1e-9 / np.sqrt(N))[0])
    rows = 2**N - 1
    n_sv = min(rows, P)
    rank = n_sv if rank is None else rank
    sv = np.array([1.0] * rank + [0.0] * (n_sv - rank))
    lam = np.sort(np.asarray(lam, dtype=np.float64))
    htol = 1e-8 * float(np.max(np.abs(lam)))
    return FixedPoint(
        theta=theta, grad_norm=0.0, jacobian_grad_norm=0.0, kl=0.5 * norm**2, residual_norm=norm,
        residual_order_norms=r, kind="data-consistent" if consistent else "spurious", lowest_order=lowest,
        singular_values=sv, rank=rank, rank_tol=1e-8, hessian_eigenvalues=lam, hessian_tol=htol,
        n_unstable=int(np.sum(lam > htol)), n_neutral=int(np.sum(np.abs(lam) <= htol)),
        n_stable=int(np.sum(lam < -htol)), residual_atol=1e-9,
    )  # fmt: skip


SADDLE = [-1.0] * 6 + [0.5]
MAXIMUM = [-1.0] * 7
DEGENERATE = [-1.0] * 6 + [0.0]


def _item(theta, *, origin="flow", regime="E1", key="planted-3#0", model=None, q=Q3):
    model = model or DirectModel(N3)
    c = Candidate(
        origin, model.family, model.n_visible, key, True, model, q, np.asarray(theta, float), 0.0, {}
    )
    return Item(c, regime, key)


@pytest.fixture
def table(monkeypatch):
    """``classified`` replaced by a lookup on id(candidate) (None: unresolved)."""
    rows: dict[int, FixedPoint | None] = {}
    monkeypatch.setattr(c6_verdict, "classified", lambda c, hessian=None: rows[id(c)])
    return rows


def _add(rows, item, fp):
    rows[id(item.candidate)] = fp
    return item


def _evaluate(items, **kw):
    return c6_saddles.evaluate(items, seed=0, conditions={}, **kw)


THETA = np.linspace(-0.3, 0.4, 7)


def _in_scope_saddle(rows, key="planted-3#0"):
    """A construction materially inconsistent at order 2 (ratio 1) that is a saddle: in scope for (a)."""
    return _add(
        rows, _item(THETA + 1.0, origin="construction-i", key=key), _fp(THETA + 1.0, [0, 1, 1], SADDLE)
    )


def _consistent_flows(rows, n, regime="E1"):
    return [
        _add(rows, _item(THETA + 2.0 + j, regime=regime), _fp(THETA + 2.0 + j, [0, 0, 0], MAXIMUM))
        for j in range(n)
    ]


def test_e1_holds_with_an_in_scope_saddle_and_resolved_flows(table):
    v = _evaluate([_in_scope_saddle(table), *_consistent_flows(table, 2)])
    e1 = v.evidence["regimes"]["E1"]
    assert v.status is Status.HOLDS and e1["status"] == "holds"
    assert (e1["n_points_distinct"], e1["n_spurious_distinct"], e1["n_flows"], e1["n_unresolved"]) == (
        2,
        1,
        2,
        0,
    )
    assert e1["categories"] == {"saddle": 1} and e1["flow_ends"] == {"data-consistent": 2}
    assert e1["flows_by_model"] == {"direct P=7 N=3": {"data-consistent": 2}}
    assert v.evidence["regimes"]["other"]["status"] == "not judged"
    assert {"status", "n_points_distinct", "n_flows", "n_unresolved"} <= set(v.evidence["regimes"]["E2"])


def test_two_flows_at_the_same_stable_low_order_point_are_one_counterexample(table):
    bad = [_add(table, _item(THETA), _fp(THETA, [0, 0.5, 1], MAXIMUM)) for _ in range(2)]
    v = _evaluate([_in_scope_saddle(table), *bad, *_consistent_flows(table, 1)])
    e1 = v.evidence["regimes"]["E1"]
    assert v.status is Status.FAILS and e1["n_counterexamples"] == 1 and len(v.counterexamples) == 1
    assert e1["n_flows"] == 3 and e1["flow_ends"] == {"counterexample": 2, "data-consistent": 1}
    ce = v.counterexamples[0]
    assert ce.description.startswith(
        "E1 (a) and (b) reached by a flow: distinct spurious point (2 representative(s), 2 flow end(s))"
    )
    assert ce.value == pytest.approx(0.5)


def test_an_immaterial_low_order_residual_is_near_consistent_not_a_counterexample(table):
    near = _add(table, _item(THETA), _fp(THETA, [0, MATERIAL_FRACTION * (1 - 1e-12), 1e-3], MAXIMUM))
    v = _evaluate([_in_scope_saddle(table), near, *_consistent_flows(table, 1)])
    assert v.status is Status.HOLDS and v.evidence["regimes"]["E1"]["categories"] == {
        "saddle": 1,
        "near-consistent": 1,
    }
    table[id(near.candidate)] = _fp(THETA, [0, MATERIAL_FRACTION, 1e-3], MAXIMUM)  # at the boundary: material
    assert _evaluate([_in_scope_saddle(table), near, *_consistent_flows(table, 1)]).status is Status.FAILS


def test_points_merge_by_couplings_within_merge_rtol_and_not_beyond(table):
    J = THETA.copy()  # the direct model: J = theta, max|J| = 0.4 so the tolerance is MERGE_RTOL
    a = _add(table, _item(J, origin="construction-i"), _fp(J, [0, 1, 1], SADDLE))
    for delta, n_points in ((MERGE_RTOL * (1 - 1e-6), 1), (MERGE_RTOL * (1 + 1e-6), 2)):
        b = _add(table, _item(J + delta * np.eye(7)[0], origin="construction-i"), _fp(J, [0, 1, 1], SADDLE))
        v = _evaluate([a, b, *_consistent_flows(table, 1)])
        assert v.evidence["regimes"]["E1"]["n_spurious_distinct"] == n_points, delta


def test_hessian_margin_boundary_decides_undetermined_or_counterexample(table):
    lam = [-1.0] * 6 + [0.0]
    fp = _fp(THETA, [0, 1, 1], lam)
    dp = DistinctPoint((0,), "E1", "direct P=7", 3, 7, "k", "spurious", 1, ("flow",), tuple(fp.residual_order_norms / np.r_[1, S3[1:]]),
                       (False, True, True, True), "no", 10.0, False, False, 0.0)  # fmt: skip
    yes = lambda k: True  # noqa: E731
    assert c6_verdict.categorise(dp, 2, yes, 10.0) == "counterexample"
    assert (
        c6_verdict.categorise(
            dataclasses.replace(dp, min_margin_non_saddle=np.nextafter(10.0, 0)), 2, yes, 10.0
        )
        == "undetermined"
    )
    assert c6_verdict.categorise(dataclasses.replace(dp, saddle="yes"), 2, yes, 10.0) == "saddle"
    assert c6_verdict.categorise(dataclasses.replace(dp, saddle="mixed"), 2, yes, 10.0) == "counterexample"
    assert c6_verdict.categorise(dp, 1, yes, 10.0) == "high-order"  # material from order 2 > k_low = 1
    assert c6_verdict.categorise(dp, 2, lambda k: False, 10.0) == "not-represented"
    # no structure at the order and no flow: the claim says nothing; with a flow it is (b)
    unstructured = dataclasses.replace(dp, structured=(False, True, False, True), n_flows=0)
    assert c6_verdict.categorise(unstructured, 2, yes, 10.0) == "no-structure"
    assert (
        c6_verdict.categorise(dataclasses.replace(unstructured, n_flows=1), 2, yes, 10.0) == "counterexample"
    )


def test_regime_status_boundaries():
    base = dict(n_counterexamples=0, n_in_scope=1, n_flows_resolved=3, n_unresolved=3, n_undetermined=0)
    assert c6_verdict.regime_status(**base) is Status.HOLDS  # exactly half unresolved still decides
    assert c6_verdict.regime_status(**{**base, "n_unresolved": 4}) is Status.INCONCLUSIVE
    assert c6_verdict.regime_status(**{**base, "n_in_scope": 0}) is Status.INCONCLUSIVE
    assert (
        c6_verdict.regime_status(**{**base, "n_flows_resolved": 0, "n_unresolved": 0}) is Status.INCONCLUSIVE
    )
    assert c6_verdict.regime_status(**{**base, "n_undetermined": 1}) is Status.INCONCLUSIVE
    assert c6_verdict.regime_status(**{**base, "n_counterexamples": 1, "n_in_scope": 0}) is Status.FAILS


def test_unresolved_flows_are_counted_in_the_regime_and_the_headline(table):
    unresolved = [_add(table, _item(THETA + 5 + j), None) for j in range(3)]
    items = [_in_scope_saddle(table), *_consistent_flows(table, 2), *unresolved]
    v = _evaluate(items)
    e1 = v.evidence["regimes"]["E1"]
    assert (e1["n_flows"], e1["n_flows_resolved"], e1["n_unresolved"]) == (5, 2, 3)
    assert e1["status"] == "inconclusive" and v.status is Status.INCONCLUSIVE  # 3 > 2
    assert "5 flows, 3 unresolved" in v.evidence["headline"]
    (model,) = e1["flows_by_model"]
    assert f"(more than half unresolved: {model} 3/5)" in v.evidence["headline"]
    assert e1["flow_ends"]["unresolved"] == 3
    assert _evaluate(items[:-1]).status is Status.HOLDS  # 2 unresolved of 4: decided
    assert "more than half unresolved" not in _evaluate(items[:-1]).evidence["headline"]


def test_e2_is_a_condition_never_a_failure_of_e1(table):
    rbm = RBM(N3, 1)  # P = 7 < ... only the labels and couplings matter here
    theta = np.linspace(0.1, 0.7, rbm.n_params)
    e2_bad = _add(table, _item(theta, regime="E2", model=rbm), _fp(theta, [0, 1, 1], MAXIMUM))
    e2_near = _add(
        table, _item(theta + 1, regime="E2", model=rbm), _fp(theta + 1, [0, 1e-6, 1e-6], MAXIMUM, rank=7)
    )
    e1 = [_in_scope_saddle(table), *_consistent_flows(table, 2)]
    v = _evaluate([*e1, e2_near])
    assert v.status is Status.HOLDS  # a near-consistent strict maximum in E2 is reported, not a failure
    near = v.evidence["regimes"]["E2"]["near_consistent"]
    assert near == {
        "n_distinct": 1,
        "n_strict_maxima": 1,
        "n_full_column_rank": 1,
        "n_reached_by_flows": 1,
        "n_flows": 1,
    }
    v = _evaluate([*e1, e2_bad])
    assert (
        v.evidence["regimes"]["E2"]["status"] == "fails" and v.evidence["regimes"]["E1"]["status"] == "holds"
    )
    assert v.status is Status.HOLDS_UNDER_CONDITIONS
    assert v.evidence["conditions_failing"] == ["E2 (same-size teacher-student) fails"]
    assert [ce.case["regime"] for ce in v.counterexamples] == ["E2"]


def test_the_alternative_reading_is_evaluated_in_e1_and_is_a_condition(table):
    high = _add(table, _item(THETA + 7, origin="construction-i"), _fp(THETA + 7, [0, 0, 1], DEGENERATE))
    items = [_in_scope_saddle(table), high, *_consistent_flows(table, 1)]
    assert _evaluate(items).status is Status.HOLDS
    v = _evaluate(items, alt_k_low=3)
    assert (
        v.evidence["reading_alternative"]["status"] == "fails" and v.status is Status.HOLDS_UNDER_CONDITIONS
    )
    assert v.evidence["conditions_failing"] == ["E1 under the reading k_low = 3 fails"]


# ---- real points: symmetries ---------------------------------------------------------------------
def test_two_points_equal_modulo_a_hidden_unit_permutation_and_a_sign_flip_count_once():
    """An RBM point and its copy with units permuted and one unit's (c, W) negated: one distinct point."""
    N, M = 3, 3
    model = RBM(N, M, hidden="spin")
    rng = np.random.default_rng(2)
    q = T.ising_target(N, ORDER_PROFILES["planted-3"], rng)
    theta = model.init(rng, 0.8)
    parts = model.unpack(theta)
    a, c, W = parts["a"], parts["c"], parts["W"]
    perm = [2, 0, 1]
    c2, W2 = c[perm].copy(), W[:, perm].copy()
    c2[1], W2[:, 1] = -c2[1], -W2[:, 1]
    theta2 = model.pack(a=a, c=c2, W=W2)
    np.testing.assert_allclose(model.couplings(theta2), model.couplings(theta), atol=1e-12)
    other = model.init(rng, 0.8)
    items, fps = [], []
    for th, origin in ((theta, "flow"), (theta2, "flow"), (other, "flow")):
        cand = Candidate(origin, model.family, N, "planted-3#0", True, model, q, th, 0.0, {})
        items.append(Item(cand, "E1", "planted-3#0"))
        fps.append(classify(model, th, q))
    assert all(fp.kind == "spurious" for fp in fps)
    points, sep = distinct_points(items, fps, {(N, "planted-3#0"): target_structure(q)})
    assert [len(p.members) for p in points] == [2, 1] and points[0].n_flows == 2
    assert sep["max_within"] <= 1e-12 and sep["min_between"] > 1e-3


def test_targets_with_one_key_at_two_sizes_are_two_targets(table):
    """'planted-3#0' at N = 3 and at N = 4 are different targets: structures and points kept apart."""
    q4 = T.ising_target(4, ORDER_PROFILES["planted-3"], np.random.default_rng(6))
    theta4 = np.linspace(-0.2, 0.2, 15)
    four = _add(
        table,
        _item(theta4, model=DirectModel(4), q=q4),
        _fp(theta4, [0, 0, 0, 0], [-1.0] * 15, N=4, s=target_structure(q4)),
    )
    v = _evaluate([_in_scope_saddle(table), *_consistent_flows(table, 1), four])
    e1 = v.evidence["regimes"]["E1"]
    assert e1["n_points_distinct"] == 3 and e1["flow_ends"] == {"data-consistent": 2}
