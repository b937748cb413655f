"""C5 experiment plan (targets from populations, starts, sizes) and mechanism predictions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks.claims.c5 import mechanism, plan
from dsb_verifier.checks.claims.c5.models import HighOrderGain
from dsb_verifier.checks.claims.c5.plan import (
    Plan,
    Stage,
    build_model,
    flow_cases,
    plan_for,
    population_targets,
)
from dsb_verifier.checks.profiles import get_profile
from dsb_verifier.theory.dynamics.hierarchy import structured_orders
from dsb_verifier.theory.models import DirectModel
from dsb_verifier.theory.walsh import order_norms


def test_profiles_plans_sizes():
    quick, thorough, extended = (plan_for(get_profile(n)) for n in ("quick", "thorough", "extended"))
    assert [s.N for s in quick.stages] == [5]
    assert [s.N for s in thorough.stages] == [5, 8]
    assert [s.N for s in extended.stages] == [5, 8, 10, 12]
    assert "rbm-spin" in thorough.stages[1].families  # RBMs at N >= 8 in thorough
    custom = dataclasses.replace(get_profile("quick"), name="mine", n_inits=1, init_scales=(0.02, 3.0))
    (stage,) = plan_for(custom).stages
    assert stage.n_inits == 1 and stage.scales == (0.02, 3.0)


@pytest.mark.parametrize("name", ["quick", "thorough", "extended"])
def test_named_plans_give_every_designed_pair_enough_runs_to_be_decided(name):
    """Power rule: per (family, N, sigma), PAIR_RUNS planted and teacher runs, and k-body runs for each k."""
    from collections import Counter

    from dsb_verifier.checks.claims.c5.plan import PAIR_RUNS

    assert PAIR_RUNS == 6
    runs, _ = flow_cases(plan_for(get_profile(name)), 0, control=False)
    per_design: Counter = Counter()
    for r in runs:
        design = r.population if r.population != "k-body" else 2 + r.target % (r.N - 1)  # its k
        per_design[(r.family, r.N, r.init_scale, design)] += 1
    assert min(per_design.values()) >= PAIR_RUNS
    ks = {key[3] for key in per_design if isinstance(key[3], int)}
    assert ks == set(range(2, max(s.N for s in plan_for(get_profile(name)).stages) + 1))


def test_realisable_runs_are_over_parameterised_students_or_teachers():
    runs, _ = flow_cases(plan_for(get_profile("thorough")), 0, control=False)
    for r in runs:
        P = build_model(r.family, r.N).n_params
        assert r.realisable == (P >= 2**r.N - 1 or r.population == "teacher")
    assert any(not r.realisable for r in runs if r.family == "rbm-spin" and r.N == 8)  # P = 152 < 255
    assert all(r.realisable for r in runs if r.family == "rbm-spin" and r.N == 5)  # P = 101 >= 31


def test_the_users_target_gets_enough_initialisations():
    from dsb_verifier.checks.claims.c5.plan import PAIR_RUNS

    q = np.full(32, 1 / 32)
    runs, _ = flow_cases(plan_for(get_profile("quick")), 0, control=False, user=q)
    user = [r for r in runs if r.population == "user"]
    assert {r.init for r in user} == set(range(PAIR_RUNS))


def test_stage_and_plan_refuse_impossible_sizes():
    with pytest.raises(ValueError, match=r"Stage\.N must be in"):
        Stage(13, ("direct",), 1, 1, (0.1,))
    with pytest.raises(ValueError, match="a stage needs families"):
        Stage(4, ("direct",), 0, 1, (0.1,))
    with pytest.raises(ValueError, match="distinct N"):
        Plan(stages=(Stage(4, ("direct",), 1, 1, (0.1,)),) * 2, taus=(0.1,), t_max=1.0)


def test_planted_targets_have_equal_structure_at_every_order():
    N = 8
    qs = population_targets("planted", "direct", N, 10, 0)
    norms = np.array([order_norms(T.couplings(q))[1:] for q in qs])
    np.testing.assert_allclose(norms, plan.PLANTED_NORM, rtol=1e-12)  # exactly c at every order
    assert all(tuple(structured_orders(q, plan.STRUCTURE_FLOOR)) == tuple(range(1, N + 1)) for q in qs)
    directions = np.array([T.couplings(q)[T.orders(N) == 2] for q in qs])
    assert np.linalg.matrix_rank(directions) == 10  # random directions, not one pattern


def test_k_body_targets_have_fields_and_one_order():
    N = 5
    for i, q in enumerate(population_targets("k-body", "rbm-spin", N, 8, 0)):
        k = 2 + i % (N - 1)
        J = order_norms(T.couplings(q))
        assert np.all(np.delete(J[1:], [0, k - 1]) < 1e-10)
        np.testing.assert_allclose(J[[1, k]], plan.PLANTED_NORM, rtol=1e-12)
        assert tuple(structured_orders(q, plan.STRUCTURE_FLOOR)) == (1, k)


def test_shared_populations_are_the_same_for_every_family_teachers_are_not():
    for pop in ("planted", "k-body"):
        a, b = (population_targets(pop, f, 4, 2, 7) for f in ("direct", "tanh-1"))
        np.testing.assert_array_equal(a, b)
    t_direct = population_targets("teacher", "direct", 4, 2, 7)
    t_rbm = population_targets("teacher", "rbm-spin", 4, 2, 7)
    planted = population_targets("planted", "direct", 4, 2, 7)
    assert not np.allclose(t_direct[0], planted[0])  # no duplicated targets
    assert not np.allclose(t_rbm[0], t_direct[0])
    with pytest.raises(ValueError, match="population must be one of"):
        population_targets("data", "direct", 4, 1, 0)


def test_flow_cases_same_direction_at_every_scale_and_control_small_scales_only():
    p = Plan(stages=(Stage(3, ("direct", "rbm-spin"), 1, 2, (0.01, 0.1, 1.0), 1),), taus=(0.1,), t_max=10.0)
    runs, cases = flow_cases(p, 5, control=False)
    # per family: planted and teacher at 3 scales, k-body at the 2 small ones; 2 initialisations
    assert len(runs) == len(cases) == 2 * (2 * 3 + 2) * 2
    assert {r.init_scale for r in runs if r.population == "k-body"} == {0.01, 0.1}
    for family in ("direct", "rbm-spin"):
        mine = [(r, c) for r, c in zip(runs, cases, strict=True) if r.family == family and r.target == 0]
        by_init: dict = {}
        for r, c in mine:
            by_init.setdefault((r.population, r.init), []).append(c[1] / r.init_scale)
        for starts in by_init.values():
            for s in starts[1:]:
                np.testing.assert_allclose(s, starts[0], rtol=1e-12)
    ctl, _ = flow_cases(p, 5, control=True)
    assert {r.family for r in ctl} == {plan.CONTROL_FAMILY}
    assert {r.init_scale for r in ctl} == {0.01, 0.1}
    assert {r.population for r in ctl} == {"planted", "k-body", "teacher"}
    # the control meets the real run's targets: every family's teachers included
    real_q = {r.q.tobytes() for r in runs}
    assert {r.q.tobytes() for r in ctl} == real_q
    # the control starts at the direct model's couplings on the same targets
    d = [c for r, c in zip(runs, cases, strict=True) if r.family == "direct" and r.population == "planted"]
    g = flow_cases(p, 5, control=True)[1]
    np.testing.assert_array_equal(d[0][2], g[0][2])


def test_tie_ratio_is_the_checkpoint_spacing():
    assert plan.tie_ratio(1e4) == pytest.approx((1e4 / 1e-2) ** (1 / 55))


# ---- mechanism ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kappa_hi", "expected"),
    [
        (0.1, ("separation", "lower-first")),
        (0.1001, ("tie", None)),
        (9.99, ("tie", None)),
        (10.0, ("separation", "higher-first")),
    ],
)
def test_prediction_boundaries(kappa_hi, expected):
    kappa = np.array([0.0, 1.0, kappa_hi])
    assert mechanism.predict(kappa, 1, 2)[:2] == expected


def test_prediction_refuses_bad_pairs():
    with pytest.raises(ValueError, match=r"the pair must satisfy 1 <= k < k2 <= N, got \(2, 2\)"):
        mechanism.predict(np.ones(4), 2, 2)


def test_kernel_scales_two_routes_for_the_linear_models():
    N = 4
    np.testing.assert_allclose(mechanism.kernel_scale(DirectModel(N), 0.01, 0)[1:], 1.0, rtol=1e-12)
    g = 4.0
    analytic = g ** (2.0 * np.arange(1, N + 1))  # K = diag(g^(2|S|))
    np.testing.assert_allclose(mechanism.kernel_scale(HighOrderGain(N, g), 0.3, 0)[1:], analytic, rtol=1e-12)
    assert all(mechanism.predict(np.r_[0.0, analytic], k, k + 1)[1] == "higher-first" for k in range(1, N))


def test_rbm_kernel_scale_separates_orders_with_different_exponents_only():
    kappa = mechanism.kernel_scale(plan.build_model("rbm-spin", 4), 0.01, 0)
    assert mechanism.predict(kappa, 1, 2)[:2] == ("separation", "lower-first")
    assert mechanism.predict(kappa, 2, 3)[:2] == ("separation", "lower-first")
    assert mechanism.predict(kappa, 3, 4)[0] == "tie"


def test_high_order_gain_amplifies_high_orders_from_the_direct_models_start():
    N, g = 3, 3.0
    m = HighOrderGain(N, g)
    theta = m.init(np.random.default_rng(1), 0.1)
    direct = DirectModel(N)
    J_direct = direct.couplings(direct.init(np.random.default_rng(1), 0.1))
    np.testing.assert_allclose(m.couplings(theta), J_direct, atol=1e-15)
    gains = g ** T.orders(N)[1:].astype(float)
    np.testing.assert_allclose(m.jacobian(theta), np.diag(gains), atol=1e-14)
    with pytest.raises(ValueError, match="gain must be a positive finite number"):
        HighOrderGain(N, 0.0)


# ---- structured orders (theory) -----------------------------------------------------------------
def test_structured_orders_floor_boundary():
    J = np.zeros(16)
    J[1], J[3], J[7], J[15] = 1.0, 0.1, 0.0999, 0.0
    q = T.prob(J)
    assert list(structured_orders(q, 0.1)) == [1, 2]  # ||J_3|| = 0.0999 < 0.1 * 1
    assert list(structured_orders(q, 0.0999)) == [1, 2, 3]
    assert list(structured_orders(np.full(8, 1 / 8), 0.1)) == []
    for bad in (0.0, 1.5, True):
        with pytest.raises(ValueError, match="floor must be a number in"):
            structured_orders(q, bad)


def test_representable_orders():
    assert mechanism.representable_orders(plan.build_model("truncated-2", 4), 0) == (1, 2)
    assert mechanism.representable_orders(plan.build_model("rbm-spin", 4), 0) == (1, 2, 3, 4)
    assert mechanism.representable_orders(HighOrderGain(3, 4.0), 0) == (1, 2, 3)


def test_the_control_runs_up_to_max_n_control_only():
    ctl, _ = flow_cases(plan_for(get_profile("extended")), 0, control=True)
    assert {r.N for r in ctl} == {5, 8, 10} and plan.MAX_N_CONTROL == 10


# ---- batches of flows (issue 14 item 11) ------------------------------------------------------
def _small_cases(n_per_model: int, t_max: float = 50.0) -> list[plan.FlowCase]:
    rng = np.random.default_rng(5)
    models = [plan.build_model("rbm-spin", 3), plan.build_model("direct", 3)]
    q = T.ising_target(3, {1: 0.3, 2: 0.3}, rng)
    return [(m, m.init(rng, 0.05), q, t_max) for m in models for _ in range(n_per_model)]


def test_flow_batches_cut_by_model_horizon_and_size():
    cases = _small_cases(plan.BATCH_SIZE + 3)
    batches = plan.flow_batches(cases)
    n = plan.BATCH_SIZE + 3
    assert [len(b) for b in batches] == [plan.BATCH_SIZE, 3, plan.BATCH_SIZE, 3]
    assert [i for b in batches for i in b] == list(range(len(cases)))  # order kept, nothing lost
    assert all(cases[b[0]][0] is cases[i][0] for b in batches for i in b)
    # another horizon starts a new batch, even for the same model
    other = [*cases[:2], (*cases[2][:3], 99.0), cases[3]]
    assert [len(b) for b in plan.flow_batches(other)] == [2, 1, 1]
    assert batches == plan.flow_batches(list(cases))  # the cut depends on the list alone
    assert n > plan.BATCH_SIZE


def test_large_models_run_lsoda_one_flow_per_batch(monkeypatch):
    cases = _small_cases(3)
    monkeypatch.setattr(plan, "BATCH_MAX_PARAMS", 10)  # RBM(3, 8): 35 parameters; direct: 7
    assert plan.flow_method(cases[0][0]) == "LSODA" and plan.flow_method(cases[3][0]) == "BDF-batched"
    assert [len(b) for b in plan.flow_batches(cases)] == [1, 1, 1, 3]
    (tr,) = plan.integrate_batch([cases[0]])
    assert tr.method == "LSODA"


def test_integrate_batch_agrees_with_lsoda_and_keeps_order():
    cases = _small_cases(4)[:4]
    got = plan.integrate_batch(cases)
    assert [t.method for t in got] == ["BDF-batched"] * 4
    for case, tr in zip(cases, got, strict=True):
        model, theta0, q, t_max = case
        np.testing.assert_array_equal(tr.theta[0], theta0)
        ref = T.integrate_flow(
            model, theta0, q, t_max=t_max, t_min=plan.FLOW["t_min"], n_checkpoints=int(plan.FLOW["n_checkpoints"]),
            gtol=plan.FLOW["gtol"], method="LSODA", **plan.LSODA_TOL,
        )  # fmt: skip
        assert tr.status == ref.status
        n = min(len(tr.t), len(ref.t)) - 1  # common checkpoints (the end points may differ in time)
        np.testing.assert_allclose(tr.t[:n], ref.t[:n])
        np.testing.assert_allclose(tr.theta[:n], ref.theta[:n], atol=1e-5)
    one = plan.integrate_case(cases[1])
    np.testing.assert_allclose(one.theta[-1], got[1].theta[-1], atol=1e-8)


def test_integrate_batch_refuses_mixed_batches():
    cases = _small_cases(2)
    with pytest.raises(ValueError, match="one model and one t_max"):
        plan.integrate_batch([cases[0], cases[2]])
    with pytest.raises(ValueError, match="one model and one t_max"):
        plan.integrate_batch([cases[0], (*cases[1][:3], 7.0)])
    assert plan.integrate_batch([]) == []
