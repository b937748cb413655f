"""Maximum-entropy projection onto orders <= K (C3 under-expressive fits, reading (c) of C5)."""

import numpy as np
import pytest
import scipy.optimize
from dsb_verifier import theory as T
from dsb_verifier.checks.claims.strategies import distributions, n_spins
from dsb_verifier.theory.maxent import MaxEntFit
from hypothesis import given, settings
from hypothesis import strategies as st


@st.composite
def target_and_order(draw, max_n=6, min_log10=-12.0, min_order=0):
    N = draw(n_spins(max(1, min_order), max_n))
    return draw(distributions(N, min_log10=min_log10)), draw(st.integers(min_order, N))


def _L_K(J_sub, idx, q):
    J = np.zeros(q.size)
    J[idx] = J_sub
    return float(T.loglik(J, q))


@given(target_and_order())
def test_projection_matches_moments_up_to_K(case):
    q, K = case
    N = q.size.bit_length() - 1
    J = T.maxent_projection(q, K)
    k = T.orders(N)
    assert np.all(J[k > K] == 0)
    r = T.moments(q) - T.moments(T.prob(J))
    assert np.max(np.abs(r[k <= K])) <= 1e-11
    assert J[0] == pytest.approx(-float(T.log_partition(J)), rel=1e-12, abs=1e-12)


@given(target_and_order(max_n=4, min_log10=-4, min_order=1))
@settings(max_examples=25)
def test_projection_is_the_unique_maximiser(case):
    q, K = case
    N = q.size.bit_length() - 1
    idx = np.flatnonzero((T.orders(N) <= K) & (np.arange(2**N) > 0))
    J = T.maxent_projection(q, K)
    best = _L_K(J[idx], idx, q)
    rng = np.random.default_rng(0)
    for _ in range(5):  # every perturbation within the model lowers L
        d = rng.standard_normal(idx.size) * 1e-3
        assert _L_K(J[idx] + d, idx, q) < best
    # an independent optimiser finds no better point
    res = scipy.optimize.minimize(
        lambda x: -_L_K(x, idx, q), np.zeros(idx.size), method="BFGS", options={"gtol": 1e-10}
    )
    assert -res.fun <= best + 1e-12
    assert -res.fun == pytest.approx(best, abs=1e-7)


@given(distributions(max_n=6))
def test_full_order_projection_is_the_target(q):
    N = q.size.bit_length() - 1
    np.testing.assert_allclose(T.maxent_projection(q, N), T.couplings(q), rtol=0, atol=1e-12)


def test_order_zero_projection_is_uniform():
    q = T.dirichlet_target(4, np.random.default_rng(1))
    np.testing.assert_allclose(T.prob(T.maxent_projection(q, 0)), np.full(16, 1 / 16))


def test_projection_of_an_order_K_model_is_itself():
    rng = np.random.default_rng(2)
    J = T.random_ising(6, {1: 0.4, 2: 0.4}, rng)
    P2 = T.maxent_projection(T.prob(J), 2)
    np.testing.assert_allclose(P2[1:], J[1:], atol=1e-10)


def test_pythagorean_decomposition():
    # KL(q || p_1) = KL(q || p_2) + KL(p_2 || p_1) for nested max-ent projections
    q = T.ising_target(5, {1: 0.3, 2: 0.3, 3: 0.6}, np.random.default_rng(3))
    p1 = T.prob(T.maxent_projection(q, 1))
    p2 = T.prob(T.maxent_projection(q, 2))
    assert float(T.kl(q, p1)) == pytest.approx(float(T.kl(q, p2) + T.kl(p2, p1)), rel=1e-9)


def test_fit_reports_status():
    q = T.dirichlet_target(5, np.random.default_rng(4))
    fit = T.maxent_fit(q, 2)
    assert fit.converged and fit.iterations > 0 and fit.residual <= 1e-12
    with pytest.raises(ValueError, match="read-only"):
        fit.J[1] = 0.0
    unconverged = T.maxent_fit(q, 2, max_iter=1)
    assert not unconverged.converged
    with pytest.raises(T.MaxEntConvergenceError, match="moment residual"):
        T.maxent_projection(q, 2, gtol=1e-300)


@pytest.mark.parametrize(
    ("K", "match"), [(-1, r"\[0, N\]"), (5, r"\[0, N\]"), (1.5, "integer"), (True, "integer")]
)
def test_bad_orders(K, match):
    with pytest.raises(ValueError, match=match):
        T.maxent_projection(np.full(16, 1 / 16), K)


def test_projection_converges_from_far_away():
    """Regression: a full Newton step from J = 0 used to land where F is singular and stall."""
    rng = np.random.default_rng(6)
    for _ in range(5):
        q = T.ising_target(6, {k: 0.5 for k in range(1, 7)}, rng)
    for K in range(7):
        fit = T.maxent_fit(q, K)
        assert fit.converged, (K, fit.residual)


def test_maxent_fit_result_refuses_inconsistent_fields():
    J = np.zeros(8)
    J[[1, 3]] = 0.5  # a field and a pair: order <= 2
    fit = MaxEntFit(J=J.copy(), max_order=2, residual=0.0, iterations=3, converged=True)
    assert not fit.J.flags.writeable  # frozen result, frozen array
    MaxEntFit(J=J.copy(), max_order=3, residual=0.0, iterations=0, converged=False)
    MaxEntFit(J=np.zeros(8), max_order=0, residual=0.0, iterations=0, converged=True)
    with pytest.raises(ValueError, match=r"^J must be one vector of length 2\^N, got shape \(2, 8\)$"):
        MaxEntFit(J=np.zeros((2, 8)), max_order=1, residual=0.0, iterations=0, converged=True)
    with pytest.raises(ValueError, match=r"^J must be one vector of length 2\^N, got shape \(6,\)$"):
        MaxEntFit(J=np.zeros(6), max_order=1, residual=0.0, iterations=0, converged=True)
    for bad in (-1, 4):
        with pytest.raises(ValueError, match=rf"^max_order must be in \[0, 3\], got {bad}$"):
            MaxEntFit(J=J.copy(), max_order=bad, residual=0.0, iterations=0, converged=True)
    with pytest.raises(ValueError, match=r"^couplings above max_order must be exactly zero$"):
        MaxEntFit(J=J.copy(), max_order=1, residual=0.0, iterations=0, converged=True)


def test_maxent_fit_reports_its_iterations_exactly():
    rng = np.random.default_rng(5)
    q = T.ising_target(4, {1: 0.8, 2: 0.8, 3: 0.8}, rng)
    # K = 0 and K = N need no Newton step
    for K in (0, 4):
        fit = T.maxent_fit(q, K)
        assert fit.iterations == 0 and fit.converged
        assert isinstance(fit.residual, float) and fit.residual < 1e-12
    # one step allowed: exactly one taken, and not converged on this target
    one = T.maxent_fit(q, 2, max_iter=1)
    assert one.iterations == 1 and not one.converged and one.residual > 1e-6
    full = T.maxent_fit(q, 2)
    assert full.converged and 1 < full.iterations < 200
    # running again with exactly that budget reproduces the result
    again = T.maxent_fit(q, 2, max_iter=full.iterations)
    assert again.iterations == full.iterations and again.converged
    np.testing.assert_array_equal(again.J, full.J)


def test_maxent_fit_refuses_a_batch_of_targets():
    q = T.dirichlet_target(3, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"^q must be one distribution of shape \(2\^N,\), got shape \(2, 8"):
        T.maxent_fit(np.stack([q, q]), 1)
