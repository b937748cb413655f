"""Effective model: bijection p <-> J (C1), moments, likelihood, Fisher (C2)."""

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks.claims.strategies import ORDER_PROFILES, coupling_vectors, distributions, n_spins
from dsb_verifier.theory.tolerances import FD_RTOL, ROUNDTRIP_RTOL
from hypothesis import given
from hypothesis import strategies as st


@given(distributions())
def test_p_to_J_to_p_round_trip(p):
    J = T.couplings(p)
    # relative accuracy holds even for probabilities down to ~1e-13
    np.testing.assert_allclose(T.prob(J), p, rtol=ROUNDTRIP_RTOL, atol=0)
    np.testing.assert_allclose(T.wht(J), np.log(p), rtol=0, atol=1e-12 * max(1.0, np.abs(np.log(p)).max()))


@given(coupling_vectors())
def test_J_to_p_to_J_round_trip(J):
    back = T.couplings(T.prob(J))
    np.testing.assert_allclose(back[1:], J[1:], rtol=0, atol=1e-12)
    assert back[0] == pytest.approx(-float(T.log_partition(J)), rel=1e-12)


@given(distributions())
def test_constant_coupling_is_minus_log_Z(p):
    J = T.couplings(p)
    assert J[0] == pytest.approx(-float(T.log_partition(J)), rel=1e-12, abs=1e-12)


@given(coupling_vectors())
def test_J0_is_ignored_by_parameter_functions(J):
    shifted = J.copy()
    shifted[0] = 7.0
    np.testing.assert_array_equal(T.log_prob(J), T.log_prob(shifted))
    np.testing.assert_array_equal(T.log_partition(J), T.log_partition(shifted))


@given(st.data())
def test_moments_of_product_distributions(data):
    N = data.draw(n_spins(1, 7))
    m = np.array(data.draw(st.lists(st.floats(-0.99, 0.99), min_size=N, max_size=N)))
    p = T.independent_sites(m)
    mom = T.moments(p)
    expected = np.array([np.prod(m[list(T.subset_indices(S, N))]) for S in range(2**N)])
    np.testing.assert_allclose(mom, expected, rtol=1e-10, atol=1e-14)


@given(distributions())
def test_moments_two_routes(p):
    N = p.size.bit_length() - 1
    np.testing.assert_allclose(T.moments(p), T.hadamard(N) @ p, rtol=0, atol=1e-14)
    assert T.moments(p)[0] == pytest.approx(1.0, abs=1e-14)


@st.composite
def same_n(draw, first, second, max_n=5):
    """Draw two arrays over the same number of spins."""
    N = draw(n_spins(1, max_n))
    return draw(first(N)), draw(second(N))


@given(same_n(distributions, coupling_vectors))
def test_loglik_two_routes(case):
    q, J = case
    direct = np.sum(q * T.log_prob(J))
    assert float(T.loglik(J, q)) == pytest.approx(direct, rel=1e-12, abs=1e-12)


@given(same_n(distributions, distributions))
def test_kl_identities(case):
    q, p = case
    d = float(T.kl(q, p))
    assert d >= -1e-15
    assert float(T.kl(q, q)) == pytest.approx(0.0, abs=1e-15)
    # KL(q||p) = -H(q) - L(J(p); q)
    assert d == pytest.approx(-float(T.entropy(q)) - float(T.loglik(T.couplings(p), q)), abs=1e-10)


@given(distributions(max_n=5))
def test_entropy_bounds(p):
    N = p.size.bit_length() - 1
    assert -1e-12 <= float(T.entropy(p)) <= N * np.log(2) + 1e-12


@given(distributions(max_n=5, min_log10=-6))
def test_fisher_symmetric_positive_definite(p):
    F = T.fisher(p)
    np.testing.assert_array_equal(F, F.T)
    assert np.linalg.eigvalsh(F).min() > 0


@given(distributions(max_n=5))
def test_fisher_two_routes(p):
    N = p.size.bit_length() - 1
    H = T.hadamard(N)[1:]
    m = H @ p
    dense = H @ np.diag(p) @ H.T - np.outer(m, m)
    np.testing.assert_allclose(T.fisher(p), dense, rtol=0, atol=1e-13)


@given(
    same_n(
        lambda N: coupling_vectors(N, ORDER_PROFILES["flat"]),
        lambda N: distributions(N, min_log10=-3),
        max_n=4,
    )
)
def test_fisher_is_minus_hessian_of_loglik(case):
    J, q = case
    n = J.size
    h = 1e-4
    hess = np.empty((n - 1, n - 1))
    E = np.eye(n)
    for i in range(1, n):
        for j in range(1, n):

            def f(a, b, i=i, j=j):
                return float(T.loglik(J + a * h * E[i] + b * h * E[j], q))

            hess[i - 1, j - 1] = (f(1, 1) - f(1, -1) - f(-1, 1) + f(-1, -1)) / (4 * h * h)
    np.testing.assert_allclose(-hess, T.fisher(T.prob(J)), rtol=FD_RTOL, atol=1e-6)


@given(same_n(coupling_vectors, distributions, max_n=4))
def test_gradient_is_moment_residual(case):
    J, q = case
    h = 1e-6
    grad = np.array(
        [
            (float(T.loglik(J + h * e, q)) - float(T.loglik(J - h * e, q))) / (2 * h)
            for e in np.eye(J.size)[1:]
        ]
    )
    np.testing.assert_allclose(grad, (T.moments(q) - T.moments(T.prob(J)))[1:], rtol=FD_RTOL, atol=1e-8)


def test_batched_couplings():
    rng = np.random.default_rng(0)
    p = np.stack([T.dirichlet_target(3, rng) for _ in range(4)])
    J = T.couplings(p)
    for i in range(4):
        np.testing.assert_allclose(J[i], T.couplings(p[i]))


@pytest.mark.parametrize(
    ("p", "match"),
    [
        ([0.5, 0.5, 0.0, 0.0], "strictly positive"),
        ([0.6, 0.6, -0.2, 0.0], "strictly positive"),
        ([0.5, np.nan, 0.25, 0.25], "finite"),
        ([0.5, 0.25, 0.25], r"length 2\^N"),
        ([0.5, 0.5, 0.5, 0.5], "sum to 1"),
    ],
)
def test_bad_distributions(p, match):
    with pytest.raises(ValueError, match=match):
        T.couplings(np.array(p))
    with pytest.raises(ValueError, match=match):
        T.moments(np.array(p))


def test_normalize_flag_is_explicit():
    p = np.array([1.0, 1.0, 2.0, 4.0])
    with pytest.raises(ValueError, match="normalize=True"):
        T.couplings(p)
    np.testing.assert_allclose(T.prob(T.couplings(p, normalize=True)), p / 8)


def test_mismatched_sizes():
    with pytest.raises(ValueError, match="same N"):
        T.loglik(np.zeros(8), np.full(4, 0.25))
    with pytest.raises(ValueError, match="same N"):
        T.kl(np.full(4, 0.25), np.full(8, 0.125))
    with pytest.raises(ValueError, match="one distribution"):
        T.fisher(np.full((2, 4), 0.25))


@given(st.integers(1, 10), st.floats(1e-3, 700.0), st.integers(0, 2**32 - 1))
def test_logsumexp_two_routes(n, scale, seed):
    """The package's log-sum-exp equals scipy's (batched, with and without keepdims)."""
    from dsb_verifier.theory._validation import logsumexp
    from scipy.special import logsumexp as scipy_lse

    x = scale * np.random.default_rng(seed).standard_normal((3, 2**n))
    np.testing.assert_allclose(logsumexp(x), scipy_lse(x, axis=-1), rtol=1e-14, atol=1e-13)
    np.testing.assert_allclose(
        logsumexp(x, keepdims=True), scipy_lse(x, axis=-1, keepdims=True), rtol=1e-14, atol=1e-13
    )


def test_entropy_is_per_distribution_along_the_last_axis():
    rng = np.random.default_rng(0)
    p = np.stack([T.dirichlet_target(3, rng) for _ in range(4)]).reshape(2, 2, 8)
    h = T.entropy(p)
    assert h.shape == (2, 2)
    np.testing.assert_allclose(h.ravel(), [-np.sum(v * np.log(v)) for v in p.reshape(4, 8)], rtol=1e-14)
    assert T.entropy(np.full(8, 1 / 8)) == pytest.approx(3 * np.log(2), rel=1e-15)
    with pytest.raises(ValueError, match=r"^p must be strictly positive"):
        T.entropy(np.array([1.0, 0.0]))


def test_loglik_is_per_coupling_vector_along_the_last_axis():
    rng = np.random.default_rng(2)
    q = T.dirichlet_target(3, rng)
    J = rng.normal(size=(2, 3, 8))
    L = T.loglik(J, q)
    assert L.shape == (2, 3)
    want = [np.sum(q * T.log_prob(j)) for j in J.reshape(6, 8)]
    np.testing.assert_allclose(L.ravel(), want, rtol=1e-13)
