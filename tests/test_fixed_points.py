"""Stationary points: polishing, classification and the constructive spurious points (Claims C3, C6)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.theory.dynamics.fixed_points import (
    FIXED_POINT_KINDS,
    HESSIAN_RTOL,
    RESIDUAL_ATOL,
    FixedPoint,
    TiedRBM,
    classify,
    independent_point,
    maxent_point,
    polish,
    represented_orders,
    structure_at_order,
    tied_point,
)
from dsb_verifier.theory.likelihood import exact_hessian, grad_loglik
from dsb_verifier.theory.models import RBM, DirectModel, TanhNetwork, TruncatedIsing, rbm_teacher
from hypothesis import given, settings
from hypothesis import strategies as st

#: A stationary point polished by :func:`polish` has |grad L| below this.
STATIONARY = 1e-10


def pairwise_target(N: int, seed: int) -> np.ndarray:
    """A target with fields, pairwise and three-body structure."""
    return T.ising_target(N, {1: 0.3, 2: 0.4, 3: 0.4}, np.random.default_rng(seed))


# ---- polish -----------------------------------------------------------------------------------
@settings(max_examples=6)
@given(N=st.integers(2, 4), seed=st.integers(0, 2**32 - 1))
def test_polish_direct_model_reaches_the_unique_stationary_point(N, seed):
    rng = np.random.default_rng(seed)
    q = T.dirichlet_target(N, rng, alpha=2.0)
    model = DirectModel(N)
    J_star = T.couplings(q)[1:]
    theta, g = polish(model, J_star + 0.05 * rng.standard_normal(model.n_params), q)
    assert g <= STATIONARY
    assert g == pytest.approx(float(np.linalg.norm(grad_loglik(model, theta, q))), rel=1e-12, abs=1e-300)
    np.testing.assert_allclose(theta, J_star, atol=1e-9)


@pytest.mark.parametrize("family", ["truncated", "rbm-spin", "tanh"])
def test_polish_refines_a_flow_end_point(family):
    """Flows stopped at |grad| < 1e-5 are polished to stationarity by a small displacement."""
    _, _, q = rbm_teacher(3, 2, np.random.default_rng(3), 0.8, "spin")
    student = {"truncated": TruncatedIsing(3, 2), "rbm-spin": RBM(3, 4), "tanh": TanhNetwork(3, (6,))}[family]
    tr = T.integrate_flow(student, student.init(np.random.default_rng(4), 0.5), q, t_max=1e4, gtol=1e-5)
    assert tr.grad_norm[-1] > STATIONARY  # the flow alone stops well above the polished accuracy
    theta, g = polish(student, tr.theta_end, q)
    assert g <= STATIONARY
    assert np.linalg.norm(theta - tr.theta_end) < 0.1  # a local refinement, not a jump


def test_polish_returns_the_start_when_already_stationary():
    q = pairwise_target(3, 0)
    model, theta = maxent_point(q, 2)
    out, g = polish(model, theta, q, gtol=1.0)
    np.testing.assert_array_equal(out, theta)
    assert g < 1.0


# ---- classify on known points ----------------------------------------------------------------
@pytest.mark.parametrize("hidden", ["spin", "bit"])
def test_teacher_is_data_consistent(hidden):
    model, theta, q = rbm_teacher(4, 3, np.random.default_rng(1), 1.0, hidden)
    fp = classify(model, theta, q)
    assert fp.kind == "data-consistent"
    assert fp.lowest_order is None
    assert fp.kl == pytest.approx(0.0, abs=1e-13)
    assert fp.residual_norm <= 1e-12
    assert fp.n_unstable == 0  # C4: no unstable direction at a data-consistent point
    assert fp.rank <= min(fp.n_rows, model.n_params)


@pytest.mark.parametrize("hidden", ["spin", "bit"])
def test_fields_matching_point_is_spurious_from_order_two(hidden):
    N = 4
    q = pairwise_target(N, 2)
    assert structure_at_order(q, 2) > 1e-3
    model, theta = independent_point(q, 3, hidden)
    fp = classify(model, theta, q)
    assert fp.grad_norm <= STATIONARY
    assert fp.kind == "spurious" and fp.lowest_order == 2
    assert fp.residual_order_norms[1] <= 1e-12  # magnetisations matched
    assert fp.rank == N < fp.n_rows  # only the order-1 rows of A survive at W = 0
    assert not fp.full_row_rank
    assert fp.n_unstable > 0  # a saddle: the pairwise residual drives an instability (C6)


@given(N=st.integers(3, 5), K=st.integers(1, 2), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=8)
def test_maxent_fit_is_spurious_from_order_K_plus_one(N, K, seed):
    q = T.ising_target(N, {1: 0.3, 2: 0.3, 3: 0.5}, np.random.default_rng(seed))
    model, theta = maxent_point(q, K)
    assert isinstance(model, TruncatedIsing) and model.max_order == K
    fp = classify(model, theta, q)
    assert fp.grad_norm <= STATIONARY
    assert fp.kind == "spurious" and fp.lowest_order == K + 1
    assert fp.rank == model.n_params < fp.n_rows
    assert fp.n_unstable == 0 and fp.n_neutral == 0  # the (concave) family's maximum


def test_tied_point_lifts_to_a_stationary_spurious_point():
    N = 4
    _, _, q = rbm_teacher(N, 2, np.random.default_rng(11), 0.5)
    tied = TiedRBM(N, 2, "spin")
    model, theta = tied_point(q, tied.init(np.random.default_rng(12), 0.1))
    p = model.unpack(theta)
    np.testing.assert_array_equal(p["W"][:, 0], p["W"][:, 1])
    np.testing.assert_array_equal(p["c"][0], p["c"][1])
    fp = classify(model, theta, q)
    assert fp.grad_norm <= STATIONARY  # stationary in the full M = 2 model, by symmetry
    assert fp.kind == "spurious" and fp.lowest_order >= 2
    assert fp.rank <= 2 * N + 1 < fp.n_rows  # two identical units: columns repeat
    assert fp.n_unstable > 0  # splitting the units is an ascent direction


@settings(max_examples=6)
@given(hidden=st.sampled_from(["spin", "bit"]), k=st.integers(2, 3), seed=st.integers(0, 2**32 - 1))
def test_tied_model_agrees_with_the_lifted_rbm(hidden, k, seed):
    rng = np.random.default_rng(seed)
    tied = TiedRBM(3, k, hidden)
    theta = tied.init(rng, 0.7)
    full, lifted = tied.lift(theta)
    q = T.dirichlet_target(3, rng)
    np.testing.assert_allclose(tied.log_prob(theta), full.log_prob(lifted), rtol=0, atol=1e-12)
    # the tied gradient is the sum of the full gradient over the tied copies (chain rule)
    g_full = grad_loglik(full, lifted, q)
    pf = full.unpack(g_full)
    expected = tied.pack(a=pf["a"], c=pf["c"].sum(keepdims=True), W=pf["W"].sum(axis=1, keepdims=True))
    np.testing.assert_allclose(grad_loglik(tied, theta, q), expected, rtol=0, atol=1e-12)
    # exact Hessian of the tied model against central differences of its gradient
    H = exact_hessian(tied, theta, q)
    h = 1e-6
    fd = np.stack(
        [
            (grad_loglik(tied, theta + h * e, q) - grad_loglik(tied, theta - h * e, q)) / (2 * h)
            for e in np.eye(tied.n_params)
        ],
        axis=1,
    )
    np.testing.assert_allclose(H, fd, rtol=0, atol=1e-7)


# ---- orders ---------------------------------------------------------------------------------------
def test_represented_orders():
    rng = np.random.default_rng(0)
    trunc = TruncatedIsing(5, 2)
    np.testing.assert_array_equal(represented_orders(trunc, trunc.init(rng, 1.0)), [0, 1, 1, 0, 0, 0])
    for model in (DirectModel(4), RBM(4, 3), TanhNetwork(4, (6,))):
        np.testing.assert_array_equal(represented_orders(model, model.init(rng, 1.0)), [0, 1, 1, 1, 1])


def test_structure_at_order_of_a_pure_three_body_target():
    q = T.k_body_target(4, 0b0111, 1.0)
    assert structure_at_order(q, 1) <= 1e-14
    assert structure_at_order(q, 2) <= 1e-14
    assert structure_at_order(q, 3) == pytest.approx(np.tanh(1.0), rel=1e-12)
    assert structure_at_order(q, 4) <= 1e-12


def test_three_body_fields_point_has_no_unstable_hessian_direction():
    """The W = 0 point on a pure three-body target: inconsistent at order 3, Hessian-degenerate (C6)."""
    q = T.k_body_target(4, 0b0111, 1.0)
    model, theta = independent_point(q, 4)
    fp = classify(model, theta, q)
    assert fp.kind == "spurious" and fp.lowest_order == 3
    assert fp.n_unstable == 0 and fp.n_neutral > 0


# ---- FixedPoint invariants --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spurious_point() -> FixedPoint:
    q = pairwise_target(3, 5)
    model, theta = independent_point(q, 2)
    return classify(model, theta, q)


def test_fixed_point_fields(spurious_point):
    fp = spurious_point
    assert fp.kind in FIXED_POINT_KINDS
    assert fp.n_unstable + fp.n_neutral + fp.n_stable == fp.theta.size
    assert np.all(np.diff(fp.hessian_eigenvalues) >= 0)
    assert fp.hessian_tol == pytest.approx(HESSIAN_RTOL * np.max(np.abs(fp.hessian_eigenvalues)))
    assert fp.residual_atol == RESIDUAL_ATOL
    assert fp.n_visible == 3 and fp.n_rows == 7
    assert fp.is_saddle == (fp.n_unstable > 0)
    assert fp.rank_margin > 1 and fp.hessian_margin > 1
    assert fp.residual_margin > 1e3  # |r| ~ 0.1 against residual_atol = 1e-9
    assert fp.jacobian_grad_norm == pytest.approx(fp.grad_norm, abs=1e-14)
    with pytest.raises(ValueError, match="read-only"):
        fp.theta[0] = 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "data-consistent"}, r"FixedPoint.kind disagrees with residual_norm <= residual_atol"),
        ({"kind": "maximum"}, r"FixedPoint.kind must be one of \('data-consistent', 'spurious'\)"),
        ({"lowest_order": None}, r"lowest_order must be None exactly for data-consistent points"),
        ({"lowest_order": 9}, r"FixedPoint.lowest_order must be in \[1, 3\], got 9"),
        ({"rank": 6}, r"FixedPoint.rank disagrees with singular_values and rank_tol"),
        ({"n_unstable": 0}, r"eigenvalue counts disagree with hessian_eigenvalues and hessian_tol"),
        ({"kl": -1.0}, r"FixedPoint.kl must be finite and >= 0"),
        ({"grad_norm": np.nan}, r"FixedPoint.grad_norm must be finite and >= 0"),
        (
            {"residual_order_norms": np.ones(4)},
            r"residual_order_norms must have shape \(N \+ 1,\), N >= 1, entry 0",
        ),
        ({"singular_values": np.arange(3.0)}, r"singular_values must be min\(2\^N - 1, P\) = 7 values"),
        (
            {"hessian_eigenvalues": np.zeros(3)},
            r"hessian_eigenvalues must be sorted ascending with shape \(11,\)",
        ),
        ({"theta": np.array([np.inf] * 11)}, r"FixedPoint.theta must be a finite 1-d array"),
    ],
)
def test_fixed_point_invariants(spurious_point, change, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(spurious_point, **change)


# ---- validation -------------------------------------------------------------------------------------
def test_bad_inputs_raise():
    q = pairwise_target(3, 0)
    model = RBM(3, 2)
    theta = model.fields_matching(q)
    with pytest.raises(ValueError, match=r"model must be a dsb_verifier.theory.models.EnergyModel, got str"):
        polish("rbm", theta, q)
    with pytest.raises(ValueError, match=r"theta must have shape \(P,\) = \(11,\), got \(2, 11\)"):
        classify(model, np.stack([theta, theta]), q)
    with pytest.raises(ValueError, match=r"theta must have last axis of length P=11"):
        polish(model, theta[:-1], q)
    with pytest.raises(ValueError, match=r"target q describes N=2 spins but the model has n_visible=3"):
        classify(model, theta, T.dirichlet_target(2, np.random.default_rng(0)))
    with pytest.raises(ValueError, match=r"gtol must be a positive finite number, got 0"):
        polish(model, theta, q, gtol=0)
    with pytest.raises(ValueError, match=r"max_iter must be an integer >= 0, got -1"):
        polish(model, theta, q, max_iter=-1)
    with pytest.raises(ValueError, match=r"residual_atol must be a positive finite number, got nan"):
        classify(model, theta, q, residual_atol=float("nan"))
    with pytest.raises(ValueError, match=r"hessian must return a finite \(11, 11\) array"):
        classify(model, theta, q, hessian=lambda m, th, qq: np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"n_copies must be an integer >= 2 \(tied hidden units\), got 1"):
        TiedRBM(3, 1)
    with pytest.raises(ValueError, match=r"k must be an integer order in \[1, N\] = \[1, 3\], got 0"):
        structure_at_order(q, 0)
    with pytest.raises(ValueError, match=r"q must be strictly positive"):
        structure_at_order(np.array([0.0, 0.5, 0.25, 0.25]), 1)


@pytest.mark.parametrize("routine", [polish, classify])
def test_a_batch_of_targets_is_refused_with_its_shape(routine):
    """polish and classify take one target; a stack of them is refused saying the expected shape."""
    q = pairwise_target(3, 0)
    model = RBM(3, 2)
    with pytest.raises(ValueError) as info:
        routine(model, model.fields_matching(q), np.stack([q, q]))
    assert str(info.value) == "q must be one target distribution of shape (2^N,), got (2, 8)"
