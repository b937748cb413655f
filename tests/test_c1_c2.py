"""Claims C1 and C2: verdicts on a tiny profile, negative controls caught, determinism."""

import dataclasses
import json

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks.claims import c1_bijection, c2_convexity
from dsb_verifier.checks.claims.controls import WrongJacobian, WrongSpinSign, bit_reversal
from dsb_verifier.checks.profiles import get_profile
from dsb_verifier.checks.verdict import Status
from dsb_verifier.theory.models import RBM, DirectModel

TINY = dataclasses.replace(
    get_profile("quick"), n_cases=4, max_n_generic=3, max_n_rbm=3, max_n_symbolic=2, t_max=3e3
)


@pytest.fixture(scope="module")
def c1_report():
    return c1_bijection.run(TINY, 5)


@pytest.fixture(scope="module")
def c2_report():
    return c2_convexity.run(TINY, 5)


def test_c1_holds_and_controls_are_caught(c1_report):
    v = c1_report.verdict
    assert v.status is Status.HOLDS, v.counterexamples
    for key in ("roundtrip", "couplings_transform", "jacobian_dense", "jacobian_fd", "symbolic_parity"):
        assert v.evidence[key]["n_cases"] > 0
    assert {c.name for c in c1_report.controls} == {"wrong-jacobian", "wrong-spin-sign"}
    assert all(c.caught for c in c1_report.controls)
    json.dumps(v.to_json())


def test_c1_is_deterministic(c1_report):
    again = c1_bijection.run(TINY, 5)
    assert again.verdict.to_json() == c1_report.verdict.to_json()


def test_c2_holds_and_controls_are_caught(c2_report):
    v = c2_report.verdict
    assert v.status is Status.HOLDS, v.counterexamples
    assert v.evidence["smallest_eigenvalue_of_minus_hessian"] > 0
    assert all(c.caught for c in c2_report.controls)
    json.dumps([c.to_json() for c in c2_report.controls])


def test_c2_flags_a_non_concave_parameterisation():
    q = T.dirichlet_target(3, np.random.default_rng(0))
    v = c2_convexity.evaluate(
        RBM(3, 2), [q], [], seed=0, conditions={}, point_scales=(1.0, 2.0), flow_scales=(), t_max=10.0
    )
    assert v.status is Status.FAILS
    assert "eigenvalue" in v.counterexamples[0].description


def test_c2_flags_a_wrong_fisher():
    q = T.dirichlet_target(2, np.random.default_rng(1))
    v = c2_convexity.evaluate(
        DirectModel(2),
        [q],
        [],
        seed=0,
        conditions={},
        point_scales=(0.5,),
        flow_scales=(),
        t_max=10.0,
        fisher_fn=c2_convexity.fisher_or,
    )
    assert v.status is Status.FAILS


def test_broken_models_differ_from_the_real_ones():
    model = RBM(3, 2)
    theta = model.init(np.random.default_rng(2), 0.8)
    assert not np.allclose(WrongJacobian(model).jacobian(theta), model.jacobian(theta))
    assert not np.allclose(WrongSpinSign(model).couplings(theta), model.couplings(theta))
    assert sorted(bit_reversal(3).tolist()) == list(range(8))
    assert bit_reversal(3)[1] == 4


def test_user_target_joins_the_cases():
    q = T.empirical(np.random.default_rng(4).integers(0, 2, (300, 5)), pseudo_count=0.2)
    base = c1_bijection.run(TINY, 1).verdict.evidence["roundtrip"]["n_cases"]
    with_user = c1_bijection.run(TINY, 1, target=q).verdict
    assert with_user.evidence["roundtrip"]["n_cases"] == base + 1
    assert with_user.status is Status.HOLDS
    v2 = c2_convexity.run(TINY, 1, target=q).verdict
    assert 5 in v2.conditions["N"]
