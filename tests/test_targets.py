"""Target generators: strictly positive, normalised, with the structure they promise."""

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks.claims.strategies import n_spins
from hypothesis import given
from hypothesis import strategies as st


def _is_target(p, N):
    assert p.shape == (2**N,)
    assert np.all(p > 0)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)


@given(n_spins(3, 8), st.integers(0, 2**32 - 1))
def test_random_ising_has_the_requested_order_profile(N, seed):
    rng = np.random.default_rng(seed)
    J = T.random_ising(N, {2: 0.5}, rng)
    k = T.orders(N)
    assert np.all(J[k != 2] == 0)
    p = T.ising_target(N, {1: 0.2, 3: 0.4}, rng)
    _is_target(p, N)
    Jp = T.couplings(p)
    assert np.all(np.abs(Jp[(k != 1) & (k != 3) & (k != 0)]) < 1e-12)


@given(n_spins(1, 8), st.integers(0, 2**32 - 1))
def test_dirichlet_target_respects_floor(N, seed):
    floor = 0.1 * 2.0**-N
    p = T.dirichlet_target(N, np.random.default_rng(seed), floor=floor)
    _is_target(p, N)
    assert p.min() >= floor * (1 - 1e-12)


def test_k_body_target_has_no_lower_structure():
    p = T.k_body_target(4, 0b0111, 0.8)
    _is_target(p, 4)
    J = T.couplings(p)
    expected = np.zeros(16)
    expected[0b0111] = 0.8
    np.testing.assert_allclose(J[1:], expected[1:], atol=1e-14)
    m = T.moments(p)
    assert np.all(np.abs(m[(T.orders(4) < 3) & (np.arange(16) > 0)]) < 1e-14)


def test_independent_sites_magnetisations():
    m = np.array([0.3, -0.9, 0.999999])
    p = T.independent_sites(m)
    _is_target(p, 3)
    np.testing.assert_allclose(T.moments(p)[[1, 2, 4]], m, rtol=1e-12)


def test_empirical_counts_and_pseudo_count():
    x = np.array([[1, 1], [1, 1], [0, 1]])  # bits; (1,1) is all spins up = state 0
    q = T.empirical(x, pseudo_count=1.0)
    np.testing.assert_allclose(q, np.array([3, 1, 1, 1]) / 7 + np.array([0, 1, 0, 0]) / 7)
    s = T.spins_from_bits(x)
    np.testing.assert_array_equal(T.empirical(s, pseudo_count=1.0), q)
    np.testing.assert_array_equal(T.empirical(x, pseudo_count=1.0, values="bit"), q)


def test_empirical_of_a_large_sample_approaches_the_target():
    rng = np.random.default_rng(7)
    p = T.ising_target(4, {1: 0.5, 2: 0.5}, rng)
    idx = rng.choice(16, size=200_000, p=p)
    q = T.empirical(T.states(4)[idx], pseudo_count=0.5)
    assert float(T.kl(p, q)) < 1e-3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"samples": np.array([[0, 2]]), "pseudo_count": 1.0}, r"all 0/1 or all -1/\+1"),
        ({"samples": np.array([[0, -1]]), "pseudo_count": 1.0}, r"all 0/1 or all -1/\+1"),
        ({"samples": np.array([0, 1]), "pseudo_count": 1.0}, "2-D array"),
        ({"samples": np.zeros((0, 3)), "pseudo_count": 1.0}, "2-D array"),
        ({"samples": np.array([[0, 1]]), "pseudo_count": 0.0}, "pseudo_count must be a positive"),
        ({"samples": np.array([[0, 1]]), "pseudo_count": 1.0, "values": "x"}, "values must be"),
        ({"samples": np.array([[-1, 1]]), "pseudo_count": 1.0, "values": "bit"}, r"only the values \(0, 1\)"),
    ],
)
def test_empirical_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        T.empirical(**kwargs)


def test_generator_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"numpy\.random\.Generator"):
        T.random_ising(3, {1: 1.0}, 42)
    with pytest.raises(ValueError, match=r"integers in \[0, N\]"):
        T.random_ising(3, {4: 1.0}, rng)
    with pytest.raises(ValueError, match=">= 0"):
        T.random_ising(3, {1: -1.0}, rng)
    with pytest.raises(ValueError, match="floor must be"):
        T.dirichlet_target(3, rng, floor=0.2)
    with pytest.raises(ValueError, match="non-empty subset"):
        T.k_body_target(3, 0, 1.0)
    with pytest.raises(ValueError, match="strictly inside"):
        T.independent_sites([0.5, 1.0])


def test_empirical_of_one_repeated_state_covers_every_state():
    N = 4
    q = T.empirical(np.ones((5, N), dtype=np.int8), pseudo_count=0.5)  # all spins up: state 0
    assert q.shape == (2**N,)
    assert q[0] == pytest.approx((5 + 0.5) / (5 + 0.5 * 2**N), rel=1e-15)
    np.testing.assert_allclose(q[1:], 0.5 / (5 + 0.5 * 2**N), rtol=1e-15)


def test_empirical_pseudo_count_limit_is_the_float64_range():
    N = 3
    samples = np.array([[1, -1, 1]])
    largest = np.finfo(np.float64).max / 2**N / 1.01  # alpha 2^N still finite
    q = T.empirical(samples, pseudo_count=largest)
    np.testing.assert_allclose(q, 1 / 2**N, rtol=1e-12)
    with pytest.raises(ValueError, match=r"too large: alpha \* 2\^N overflows float64 at N=3$"):
        T.empirical(samples, pseudo_count=largest * 1.02)


def test_empirical_refusals_name_what_is_expected():
    with pytest.raises(ValueError, match=r"^samples must be real 0/1 or -1/\+1 values, got dtype complex"):
        T.empirical(np.array([[1 + 0j, -1]]), pseudo_count=1.0)
    with pytest.raises(ValueError, match=r"found values \[0, 1, 2, 3, 4, 5\]$"):
        T.empirical(np.arange(8).reshape(2, 4), pseudo_count=1.0)
