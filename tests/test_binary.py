"""Bits <-> spins for states and for energy polynomials of every order."""

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks.claims.strategies import n_spins
from dsb_verifier.theory.tolerances import ROUNDTRIP_RTOL
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

coef = st.floats(-10, 10, allow_nan=False, allow_infinity=False)


@st.composite
def polynomials(draw, max_n=7):
    N = draw(n_spins(1, max_n))
    return N, draw(hnp.arrays(np.float64, 2**N, elements=coef))


def _eval_bit_polynomial(c, x):
    """Dense route: u(x) = sum_T c_T prod_{i in T} x_i, evaluated term by term."""
    N = x.shape[1]
    u = np.zeros(x.shape[0])
    for T_ in range(2**N):
        idx = [i for i in range(N) if (T_ >> i) & 1]
        u += c[T_] * (np.prod(x[:, idx], axis=1) if idx else 1.0)
    return u


def test_physics_convention_one_is_spin_up():
    assert T.spins_from_bits([0, 1]).tolist() == [-1, 1]
    assert T.bits_from_spins([-1, 1]).tolist() == [0, 1]
    # state 0 (all bits of the index 0) is all spins up, i.e. all bits 1
    assert T.bits_from_spins(T.states(3))[0].tolist() == [1, 1, 1]


def test_state_round_trip():
    x = np.array([[0, 1, 1], [1, 0, 0]])
    np.testing.assert_array_equal(T.bits_from_spins(T.spins_from_bits(x)), x)


@given(polynomials())
def test_bit_polynomial_and_spin_couplings_are_the_same_function(case):
    N, c = case
    J = T.polynomial_bits_to_spins(c)
    x = T.bits_from_spins(T.states(N)).astype(float)
    np.testing.assert_allclose(T.wht(J), _eval_bit_polynomial(c, x), rtol=1e-10, atol=1e-9)


@given(polynomials())
def test_polynomial_round_trip(case):
    _, c = case
    back = T.polynomial_spins_to_bits(T.polynomial_bits_to_spins(c))
    np.testing.assert_allclose(back, c, rtol=ROUNDTRIP_RTOL, atol=1e-9)


@pytest.mark.parametrize("N", [1, 3, 5])
def test_round_trip_at_every_order(N):
    # a single monomial of each order k maps to spin couplings on all its subsets,
    # J_S = 2^-k for S within T, and back
    for Tmask in range(2**N):
        c = np.zeros(2**N)
        c[Tmask] = 1.0
        J = T.polynomial_bits_to_spins(c)
        k = bin(Tmask).count("1")
        expected = np.array([2.0**-k if (S & ~Tmask) == 0 else 0.0 for S in range(2**N)])
        np.testing.assert_allclose(J, expected, rtol=0, atol=1e-15)
        np.testing.assert_allclose(T.polynomial_spins_to_bits(J), c, rtol=0, atol=1e-14)


def test_batched_polynomials():
    rng = np.random.default_rng(3)
    c = rng.standard_normal((4, 2, 16))
    J = T.polynomial_bits_to_spins(c)
    for i in np.ndindex(4, 2):
        np.testing.assert_allclose(J[i], T.polynomial_bits_to_spins(c[i]))


@pytest.mark.parametrize(
    ("fn", "arg", "match"),
    [
        (T.spins_from_bits, [0, 2], r"only the values \(0, 1\)"),
        (T.spins_from_bits, [0.5, 1], r"only the values \(0, 1\)"),
        (T.bits_from_spins, [0, 1], r"only the values \(-1, 1\)"),
        (T.state_index, [[1, 0]], r"only the values \(-1, 1\)"),
        (T.spins_from_bits, ["a"], "numeric array"),
        (T.polynomial_bits_to_spins, np.ones(6), r"length 2\^N"),
        (T.polynomial_spins_to_bits, [np.nan, 1.0], "finite"),
    ],
)
def test_bad_binary_input(fn, arg, match):
    with pytest.raises(ValueError, match=match):
        fn(np.asarray(arg))


def test_state_index_of_one_state_and_of_nested_batches():
    s = T.states(5)
    # one state (1-D) and a (2, 16, 5) batch: the index is taken along the LAST axis only
    assert T.state_index(s[19]) == 19 and np.ndim(T.state_index(s[19])) == 0
    idx = T.state_index(s.reshape(2, 16, 5))
    assert idx.dtype == np.int64 and idx.shape == (2, 16)
    np.testing.assert_array_equal(idx.ravel(), np.arange(32))
    # a batch axis of length N must not be mistaken for the spin axis
    sq = T.states(3)[[1, 2, 4]]  # shape (3, 3)
    np.testing.assert_array_equal(T.state_index(sq), [1, 2, 4])


def test_state_index_spin_limit():
    assert T.state_index(np.ones(62, dtype=np.int8)) == 0
    assert T.state_index(-np.ones(62, dtype=np.int8)) == 2**62 - 1
    with pytest.raises(ValueError, match=r"^state_index supports at most 62 spins, got 63$"):
        T.state_index(np.ones((2, 63), dtype=np.int8))
    with pytest.raises(ValueError, match=r"^s must have a last axis over the N spins$"):
        T.state_index(np.int8(1))


def test_conversions_return_int8_and_accept_bool_and_float():
    assert T.spins_from_bits(np.array([True, False])).tolist() == [1, -1]
    assert T.spins_from_bits(np.array([1.0, 0.0])).dtype == np.int8
    out = T.bits_from_spins(np.array([[1.0, -1.0]]))
    assert out.dtype == np.int8 and out.tolist() == [[1, 0]]
    assert T.spins_from_bits([0, 1]).dtype == np.int8
    assert T.state_index(np.array([1.0, -1.0])) == 2
