"""Tests of dsb_verifier.theory.dynamics.stability: Hessian spectrum at data-consistent points and invariance slopes (Claim C4).

Two routes wherever possible (house rule 3, docs/development.md): the Hessian against -A^T F A by the
covariance and dense-Fisher routes and against -fisher(p) for the direct model; the
cancellation-free KL against mpmath at 50 digits and against theory.kl; Delta J from
the energy difference against the difference of model.couplings.
"""

from __future__ import annotations

import dataclasses
import re

import mpmath
import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks.claims.controls import WrongJacobian
from dsb_verifier.checks.claims.strategies import ORDER_PROFILES, coupling_vectors
from dsb_verifier.theory.dynamics.invariance import _fit_slope, _window
from dsb_verifier.theory.dynamics.stability import (
    BASE_FACTOR,
    MIN_WINDOW_POINTS,
    HessianSpectrum,
    InvarianceSlopes,
    _kl,
    half_variance,
    invariance_slopes,
    spectrum,
)
from dsb_verifier.theory.models import RBM, DirectModel, TanhNetwork, rbm_teacher
from dsb_verifier.theory.tolerances import EPS
from hypothesis import given, settings
from hypothesis import strategies as st

EPS_GRID = np.logspace(-8.0, -1.0, 15)


def _teacher(hidden: str, M: int, seed: int, N: int = 3):
    return rbm_teacher(N, M, np.random.default_rng(seed), 1.0, hidden)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


# ---- spectrum --------------------------------------------------------------------------------
@given(
    J=st.integers(1, 4).flatmap(lambda N: coupling_vectors(N, ORDER_PROFILES["flat"])),
)
@settings(max_examples=25)
def test_direct_model_at_q_equal_p_has_no_neutral_direction_and_H_is_minus_F(J):
    N = int(J.size).bit_length() - 1
    model = DirectModel(N)
    theta = J[1:]
    q = model.prob(theta)
    sp = spectrum(model, theta, q)
    F = T.fisher(q)
    lam_F = np.linalg.eigvalsh(F)
    assert sp.n_neutral == 0 and sp.n_unstable == 0 and sp.n_stable == 2**N - 1
    assert sp.dim_kernel == 0 and sp.principal_angles.size == 0
    assert sp.identity_error_rel <= 64 * EPS * 2**N
    # H = -F: the spectra agree (two routes: exact Hessian vs the Fisher matrix)
    np.testing.assert_allclose(np.sort(-sp.eigenvalues), lam_F, rtol=0, atol=64 * EPS * 2**N * lam_F[-1])
    assert sp.kl <= 1e-28 and sp.residual_max <= 64 * EPS


@pytest.mark.parametrize("hidden", ["spin", "bit"])
@pytest.mark.parametrize("M", [3, 4])
@pytest.mark.parametrize("seed", [0, 1])
def test_overparameterised_rbm_teacher_neutral_space_is_ker_A(hidden, M, seed):
    model, theta, q = _teacher(hidden, M, seed)
    sp = spectrum(model, theta, q)
    P = model.n_params
    assert P > 2**3 - 1
    assert sp.rank == 2**3 - 1  # A has full row rank at a generic teacher
    assert sp.n_neutral == sp.dim_kernel == P - sp.rank
    assert sp.n_unstable == 0 and sp.n_stable == sp.rank
    assert sp.max_angle <= 1e-8
    assert sp.identity_error_rel <= 1e-13
    assert sp.margin >= 10 and sp.resolves_kernel(10.0)
    # the kernel basis really is annihilated by A, and the neutral vectors too
    A = model.jacobian(theta)
    assert np.max(np.abs(A @ sp.kernel)) <= 1e-12 * sp.singular_values[0]
    assert np.max(np.abs(A @ sp.neutral_vectors)) <= 1e-6 * sp.singular_values[0]


def test_two_layer_tanh_teacher_neutral_space_is_ker_A():
    model = TanhNetwork(3, (3, 3))  # complex-step Hessian route
    theta = model.init(np.random.default_rng(4), 1.0)
    sp = spectrum(model, theta, model.prob(theta))
    assert sp.n_neutral == sp.dim_kernel == model.n_params - 7
    assert sp.n_unstable == 0 and sp.max_angle <= 1e-8 and sp.identity_error_rel <= 1e-13


def test_non_consistent_point_breaks_the_identity_and_the_kernel_match():
    model, theta, q = _teacher("spin", 3, 2)
    xi = _unit(np.random.default_rng(5).standard_normal(model.n_params))
    sp = spectrum(model, theta + 0.05 * xi, q)
    assert sp.identity_error_rel > 1e-4  # the residual term no longer vanishes
    assert sp.n_neutral < sp.dim_kernel
    assert sp.kl > 1e-6


def test_spurious_fields_matching_point_is_a_saddle():
    model, _, q = _teacher("spin", 3, 3)
    sp = spectrum(model, model.fields_matching(q), q)
    assert sp.n_unstable > 0
    assert sp.rank == 3  # W = 0: A only reaches the order-1 couplings
    assert sp.identity_error_rel > 1e-4


def test_wrong_jacobian_breaks_only_the_dense_route():
    model, theta, q = _teacher("bit", 3, 6)
    good, bad = spectrum(model, theta, q), spectrum(WrongJacobian(model), theta, q)
    assert bad.identity_error == good.identity_error  # covariance route never uses A
    assert bad.identity_error_rel > 1e-2
    # bit reversal permutes the subsets (rows of A): ker A is unchanged
    import scipy.linalg

    assert np.max(scipy.linalg.subspace_angles(good.kernel, bad.kernel)) <= 1e-10


def test_dense_route_is_skipped_above_dense_max_n(monkeypatch):
    import dsb_verifier.theory.dynamics.stability as S

    monkeypatch.setattr(S, "DENSE_MAX_N", 2)
    model, theta, q = _teacher("spin", 3, 0)
    sp = S.spectrum(model, theta, q)
    assert sp.identity_error_dense is None and sp.fisher_min_eigenvalue is None
    assert not sp.resolves_kernel()


# ---- invariance slopes -----------------------------------------------------------------------
@pytest.mark.parametrize("hidden", ["spin", "bit"])
def test_slopes_are_two_and_four_along_ker_A_and_one_and_two_along_stable(hidden):
    model, theta, q = _teacher(hidden, 4, 7)
    sp = spectrum(model, theta, q)
    rng = np.random.default_rng(8)
    v = _unit(sp.kernel @ rng.standard_normal(sp.dim_kernel))
    s = invariance_slopes(model, theta, q, v, EPS_GRID, max_points=5)
    assert abs(s.slope_dJ - 2) <= 0.02 and abs(s.slope_kl_var - 4) <= 0.04 and abs(s.slope_kl - 4) <= 0.04
    assert s.dJ_bend <= 0.02 and s.kl_var_bend <= 0.04 and s.kl_bend <= 0.04
    for j in (0, sp.n_stable // 2):
        s = invariance_slopes(model, theta, q, sp.stable_vectors[:, j], EPS_GRID, max_points=5)
        assert abs(s.slope_dJ - 1) <= 0.01 and abs(s.slope_kl_var - 2) <= 0.02 and abs(s.slope_kl - 2) <= 0.02
        # KL = |lambda| eps^2 / 2 to leading order: the Hessian and the KL agree
        lam = sp.eigenvalues[sp.eigenvalues < -sp.tol][j]
        np.testing.assert_allclose(s.kl[0] / s.eps[0] ** 2, -lam / 2, rtol=1e-3)


def test_slopes_at_a_non_consistent_point_show_no_resolvable_direct_kl_growth():
    model, theta, q = _teacher("spin", 3, 9)
    xi = _unit(np.random.default_rng(10).standard_normal(model.n_params))
    s = invariance_slopes(model, theta + 0.05 * xi, q, xi, EPS_GRID, max_points=5)
    # KL stays near KL(q || p_theta) > 0: no step reaches BASE_FACTOR times it, so no direct slope
    assert s.kl_base > 1e-5 and not np.any(s.kl_window) and np.isnan(s.slope_kl)
    assert abs(s.slope_kl_var - 2) <= 0.02  # Var_q(du)/2 only measures the change along xi


def _tanh_point_with_tiny_base_kl(seed: int = 3):
    """A tanh-1 teacher (N = 3) paired with a target moved by |dJ| = 1.6e-13: KL at the base ~1e-26.

    The case of issue 14 item 8: KL(q || p_theta*) is above the direct KL's rounding floor,
    so the smallest steps along ker A see a flat (even decreasing) KL.
    """
    model = TanhNetwork(3, (4,))
    rng = np.random.default_rng(seed)
    theta = model.init(rng, 1.0)
    J = model.couplings(theta)
    d = rng.standard_normal(J.size)
    d[0] = 0.0
    q = T.prob(J + 1.6e-13 * d / np.linalg.norm(d))
    return model, theta, q


def test_kl_slope_on_a_base_point_with_tiny_nonzero_kl_is_four_along_ker_a():
    model, theta, q = _tanh_point_with_tiny_base_kl()
    sp = spectrum(model, theta, q)
    assert sp.dim_kernel > 0
    v = _unit(sp.kernel @ np.random.default_rng(4).standard_normal(sp.dim_kernel))
    s = invariance_slopes(model, theta, q, v, EPS_GRID, max_points=5)
    assert s.kl_floor < s.kl_base < 1e-25  # the base value sits above the direct KL's rounding floor
    assert round(s.slope_kl_var, 2) == 4.00
    assert abs(s.slope_kl - 4) <= 0.04  # the direct route, fitted only well above the base value
    assert np.all(s.kl[s.kl_window] >= BASE_FACTOR * s.kl_base)
    # the old fit (rounding floor only, base value ignored) is the artefact: flat, not 4
    old = _window(s.kl, s.kl_floor, 5)
    assert abs(_fit_slope(s.eps, s.kl, old)) < 1.0


def test_the_two_kl_routes_agree_where_both_are_resolved():
    """Var_q(du)/2 against KL(q || p) - KL_0: relative error O(eps) (stable), O(eps^2) (ker A)."""
    for model, theta, q in (_teacher("spin", 4, 7), _teacher("bit", 4, 5), _tanh_point_with_tiny_base_kl()):
        sp = spectrum(model, theta, q)
        dirs = [_unit(sp.kernel[:, 0]), sp.stable_vectors[:, 0], sp.stable_vectors[:, sp.n_stable // 2]]
        for v in dirs:
            s = invariance_slopes(model, theta, q, v, EPS_GRID)
            both = s.kl_window & s.kl_var_window & (s.eps <= 1e-3)
            assert np.sum(both) >= 3
            np.testing.assert_allclose(s.kl[both] - s.kl_base, s.kl_var[both], rtol=0.05)


def test_half_variance_is_half_the_q_variance_and_batched():
    q = np.array([0.1, 0.2, 0.3, 0.4])
    du = np.array([[1.0, 2.0, 3.0, 4.0], [5.0, 5.0, 5.0, 5.0]])
    mean = du[0] @ q
    np.testing.assert_allclose(half_variance(q, du), [0.5 * q @ (du[0] - mean) ** 2, 0.0], atol=1e-15)
    # a constant shift of u (the normalisation) does not change it, even at 1e8 (two-pass)
    np.testing.assert_allclose(half_variance(q, du[0] + 1e8), half_variance(q, du[0]), rtol=1e-7)


def test_windows_floors_and_max_points():
    model, theta, q = _teacher("spin", 3, 11)
    sp = spectrum(model, theta, q)
    v = _unit(sp.kernel[:, 0])
    full = invariance_slopes(model, theta, q, v, EPS_GRID)
    five = invariance_slopes(model, theta, q, v, EPS_GRID, max_points=5)
    assert np.array_equal(full.dJ_window, full.dJ >= full.dJ_floor)
    assert five.dJ_window.sum() == 5 and np.all(five.dJ_window <= full.dJ_window)
    assert five.dJ_range is not None and five.dJ_range[0] == full.dJ_range[0]
    assert not five.kl_window[0]  # the smallest steps along ker A are below the KL floor
    assert not five.kl_var_window[0] and five.kl_var_window.sum() == 5
    np.testing.assert_array_equal(full.kl_var_window, full.kl_var >= full.kl_var_floor)
    assert full.kl_fit_floor == max(full.kl_floor, BASE_FACTOR * full.kl_base)
    np.testing.assert_array_equal(full.dJ, five.dJ)


def test_delta_J_matches_the_difference_of_couplings():
    model, theta, q = _teacher("bit", 3, 12)
    v = _unit(np.random.default_rng(13).standard_normal(model.n_params))
    eps = np.logspace(-3, -1, 5)
    s = invariance_slopes(model, theta, q, v, eps)
    J0 = model.couplings(theta)[1:]
    other = [np.linalg.norm(model.couplings(theta + e * v)[1:] - J0) for e in eps]
    np.testing.assert_allclose(s.dJ, other, rtol=1e-9)


def _mp_log_prob_rbm_spin(model: RBM, theta: np.ndarray) -> list:
    """log p_theta over all states in 50-digit arithmetic (RBM with hidden spins)."""
    N, M = model.n_visible, model.n_hidden
    th = [mpmath.mpf(float(x)) for x in theta]
    a, c = th[:N], th[N : N + M]
    W = [[th[N + M + i * M + mu] for mu in range(M)] for i in range(N)]
    u = []
    for s in T.states(N):
        val = sum(a[i] * int(s[i]) for i in range(N))
        for mu in range(M):
            h = c[mu] + sum(int(s[i]) * W[i][mu] for i in range(N))
            val += mpmath.log(2 * mpmath.cosh(h))
        u.append(val)
    logZ = mpmath.log(sum(mpmath.exp(x) for x in u))
    return [x - logZ for x in u]


def test_cancellation_free_kl_matches_mpmath_far_below_float_kl():
    with mpmath.workdps(50):  # local precision: no global mpmath state
        model, theta, q = _teacher("spin", 3, 14)
        v = _unit(spectrum(model, theta, q).kernel[:, 0])
        lq = _mp_log_prob_rbm_spin(model, theta)
        u = model.neg_energy(theta)
        # the module's error model: |error| <~ sqrt(2 KL) * delta_KL (dsb_verifier.theory.dynamics.stability docstring)
        delta = EPS * max(1.0, np.sqrt(q @ np.log(q) ** 2), np.sqrt(q @ u**2))
        for eps in (1e-5, 1e-3):  # KL ~ 1e-24 and 1e-16 along ker A
            th = theta + eps * v
            lp = _mp_log_prob_rbm_spin(model, th)
            kl_mp = float(sum(mpmath.exp(x) * (x - y) for x, y in zip(lq, lp, strict=True)))
            ours = float(_kl(q, model.log_prob(th)))
            naive = float(np.sum(q * (np.log(q) - model.log_prob(th))))  # textbook sum q log(q/p)
            assert abs(ours - kl_mp) <= 4 * np.sqrt(2 * kl_mp) * delta
            assert abs(ours - kl_mp) <= 1e-3 * kl_mp
            assert abs(naive - kl_mp) > 1e3 * abs(ours - kl_mp)  # the naive sum is far worse here
            assert abs(float(T.kl(q, model.prob(th))) - kl_mp) <= 1e-3 * kl_mp  # theory.kl uses phi too
        # and where the naive formula is accurate, the two float routes agree
        th = theta + 0.3 * v
        np.testing.assert_allclose(
            float(_kl(q, model.log_prob(th))), float(T.kl(q, model.prob(th))), rtol=1e-9
        )


# ---- invariants and validation ---------------------------------------------------------------
def test_spectrum_dataclass_checks_its_invariants():
    model, theta, q = _teacher("spin", 3, 15)
    sp = spectrum(model, theta, q)
    with pytest.raises(ValueError, match="do not match the eigenvalues"):
        dataclasses.replace(sp, n_neutral=sp.n_neutral + 1)
    with pytest.raises(ValueError, match="sorted ascending"):
        dataclasses.replace(sp, eigenvalues=sp.eigenvalues[::-1].copy())
    with pytest.raises(ValueError, match="orthonormal"):
        dataclasses.replace(sp, eigenvectors=2 * sp.eigenvectors)
    with pytest.raises(ValueError, match="rank must count"):
        dataclasses.replace(sp, rank=sp.rank - 1)
    with pytest.raises(ValueError, match="principal_angles must be"):
        dataclasses.replace(sp, principal_angles=np.zeros(1))
    assert isinstance(sp, HessianSpectrum)


def test_slopes_dataclass_checks_its_invariants():
    model, theta, q = _teacher("spin", 3, 16)
    s = invariance_slopes(model, theta, q, _unit(np.ones(model.n_params)), EPS_GRID)
    with pytest.raises(ValueError, match="windows must be"):
        dataclasses.replace(s, dJ_window=~s.dJ_window)
    with pytest.raises(ValueError, match="must be finite exactly when"):
        dataclasses.replace(s, slope_kl=float("nan"))
    with pytest.raises(ValueError, match="kl_var_window: windows must be"):
        dataclasses.replace(s, kl_var_window=~s.kl_var_window)
    with pytest.raises(ValueError, match="kl_window: windows must be"):
        dataclasses.replace(s, kl_base=1.0)
    with pytest.raises(ValueError, match="kl_base must be finite and >= 0"):
        dataclasses.replace(s, kl_base=-1.0)
    with pytest.raises(ValueError, match="strictly increasing"):
        dataclasses.replace(s, eps=s.eps[::-1].copy())
    assert isinstance(s, InvarianceSlopes)


def test_spectrum_rejects_bad_input():
    model, theta, q = _teacher("spin", 3, 17)
    with pytest.raises(ValueError, match=r"must be a dsb_verifier\.theory\.models\.EnergyModel"):
        spectrum("rbm", theta, q)
    with pytest.raises(ValueError, match="spectrum takes one theta"):
        spectrum(model, np.stack([theta, theta]), q)
    with pytest.raises(ValueError, match="last axis of length P"):
        spectrum(model, theta[:-1], q)
    with pytest.raises(ValueError, match="describes N=2 spins"):
        spectrum(model, theta, np.full(4, 0.25))
    with pytest.raises(ValueError, match="strictly positive"):
        spectrum(model, theta, np.r_[0.0, q[1:] / q[1:].sum()])


def test_invariance_slopes_rejects_bad_input():
    model, theta, q = _teacher("spin", 3, 18)
    v = _unit(np.ones(model.n_params))
    with pytest.raises(ValueError, match="unit vector"):
        invariance_slopes(model, theta, q, 2 * v, EPS_GRID)
    with pytest.raises(ValueError, match="one direction of shape"):
        invariance_slopes(model, theta, q, np.stack([v, v]), EPS_GRID)
    with pytest.raises(ValueError, match="strictly increasing"):
        invariance_slopes(model, theta, q, v, EPS_GRID[::-1])
    with pytest.raises(ValueError, match=f"at least {MIN_WINDOW_POINTS} step sizes"):
        invariance_slopes(model, theta, q, v, [1e-3, 1e-2])
    with pytest.raises(ValueError, match="strictly increasing"):
        invariance_slopes(model, theta, q, v, [-1e-3, 1e-3, 1e-2])
    with pytest.raises(ValueError, match="max_points must be None or an integer"):
        invariance_slopes(model, theta, q, v, EPS_GRID, max_points=2)
    with pytest.raises(ValueError, match="invariance_slopes takes one theta"):
        invariance_slopes(model, np.stack([theta, theta]), q, v, EPS_GRID)


# ---- pinned by mutation testing ----
def test_batch_of_targets_is_refused_with_the_expected_state_count():
    model = DirectModel(2)
    theta = np.zeros(model.n_params)
    q = np.full((2, 3, 4), 0.25)  # a (2, 3) batch of targets: one is expected, of 2^N = 4 states
    v = _unit(np.ones(model.n_params))
    for what, call in (
        ("spectrum", lambda: spectrum(model, theta, q)),
        ("invariance_slopes", lambda: invariance_slopes(model, theta, q, v, EPS_GRID)),
    ):
        expected = f"{what} takes one target q of shape (2^N,) = (4,), got (2, 3, 4)"
        with pytest.raises(ValueError, match=re.escape(expected)):
            call()


def test_neutral_band_is_proportional_to_the_hessian_scale():
    """The documented half-width ``NEUTRAL_FACTOR * EPS * max(P, 2^N) * max|lam|``, at two scales."""
    from dsb_verifier.theory.dynamics.stability import NEUTRAL_FACTOR

    model = RBM(3, 2, hidden="spin")
    theta = model.init(np.random.default_rng(3), 0.5)
    for q in (model.prob(theta), T.dirichlet_target(3, np.random.default_rng(4))):
        sp = spectrum(model, theta, q)
        expected = NEUTRAL_FACTOR * EPS * max(model.n_params, 8) * sp.scale
        assert sp.tol == pytest.approx(expected, rel=1e-12, abs=0.0)
        assert sp.scale > 0


def test_weighted_hessian_refusal_states_the_number_of_states():
    with pytest.raises(ValueError, match=re.escape("w must have shape (2^N,) = (8,), got (4,)")):
        DirectModel(3).weighted_hessian(np.zeros(7), np.zeros(4))
