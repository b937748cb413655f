"""Results that used to be silently wrong are now right or refused (issue 16, theory side)."""

from __future__ import annotations

import numpy as np
import pytest
from dsb_verifier import theory
from dsb_verifier.theory._validation import scaled_norm
from dsb_verifier.theory.walsh import characters, order_norms, states, subset_indices, subset_mask


# ---- overflow-safe norms ------------------------------------------------------------------
def test_order_norms_do_not_overflow():
    out = order_norms(np.array([0.0, 1e200, 1e200, 0.0]))
    np.testing.assert_allclose(out, [0.0, np.sqrt(2) * 1e200, 0.0], rtol=1e-15)


def test_order_norms_do_not_underflow():
    out = order_norms(np.array([0.0, 3e-200, 4e-200, 0.0]))
    np.testing.assert_allclose(out[1], 5e-200, rtol=1e-15)


def test_order_norms_refuse_a_norm_beyond_float64():
    J = np.zeros(16)
    J[theory.orders(4) == 2] = 1e308  # six couplings: norm sqrt(6) * 1e308 > 1.8e308
    with pytest.raises(ValueError, match="exceeds the float64 range"):
        order_norms(J)


@pytest.mark.parametrize("shape", [(5,), (3, 7), (2, 0)])
def test_scaled_norm_equals_numpy_in_range(shape):
    x = np.random.default_rng(1).standard_normal(shape)
    np.testing.assert_allclose(scaled_norm(x), np.linalg.norm(x, axis=-1), rtol=1e-14)


def test_scaled_norm_propagates_nan_and_inf():
    assert np.isnan(scaled_norm(np.array([np.nan, 1.0])))
    assert scaled_norm(np.array([np.inf, 1.0])) == np.inf


# ---- masked arrays are refused, never read without their mask -----------------------------
MASKED = np.ma.masked_array([0.1, 0.2, 0.3, 0.4], mask=[0, 1, 0, 0])


@pytest.mark.parametrize(
    "call",
    [
        lambda: theory.wht(MASKED),
        lambda: order_norms(MASKED),
        lambda: theory.couplings(MASKED),
        lambda: theory.moments(MASKED),
        lambda: theory.spins_from_bits(np.ma.masked_array([0, 1], mask=[1, 0])),
        lambda: theory.state_index(np.ma.masked_array([[1, -1]], mask=[[0, 1]])),
        lambda: theory.empirical(np.ma.masked_array([[1, -1]], mask=[[0, 1]]), pseudo_count=1.0),
        lambda: characters(np.ma.masked_array([1, 2], mask=[0, 1]), 2),
    ],
)
def test_masked_arrays_are_refused(call):
    with pytest.raises(ValueError, match="must not be a masked array"):
        call()


# ---- empirical: a pseudo-count that underflows ----------------------------------------------
def test_empirical_refuses_an_underflowing_pseudo_count():
    samples = np.array([[1, 1, 1]] * 10)
    alpha_min = np.finfo(np.float64).tiny * (10 + 8)
    with pytest.raises(ValueError, match=r"pseudo_count=1e-320 is too small.*smallest usable pseudo_count"):
        theory.empirical(samples, pseudo_count=1e-320)
    with pytest.raises(ValueError, match="pseudo_count"):
        theory.empirical(samples, pseudo_count=alpha_min / 2)
    q = theory.empirical(samples, pseudo_count=alpha_min)
    assert np.all(q >= np.finfo(np.float64).tiny) and abs(q.sum() - 1) < 1e-15


# ---- booleans are not counts --------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: states(True), "N"),
        (lambda: subset_indices(True, 3), "S"),
        (lambda: subset_mask([True], 3), "variable index"),
        (lambda: theory.orders(np.True_), "N"),
    ],
)
def test_booleans_are_not_counts(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_states_lean_route_equals_the_bit_formula():
    for N in range(1, 9):
        b = np.arange(2**N)[:, None]
        np.testing.assert_array_equal(states(N), 1 - 2 * ((b >> np.arange(N)) & 1))


# ---- an empty batch of distributions is refused in the package's words ---------------------
@pytest.mark.parametrize(
    "call",
    [
        lambda: theory.couplings(np.zeros((0, 4))),
        lambda: theory.moments(np.zeros((0, 4))),
        lambda: theory.entropy(np.zeros((0, 4))),
        lambda: theory.kl(np.zeros((0, 4)), np.zeros((0, 4))),
        lambda: theory.fisher(np.zeros((0, 4))),
    ],
)
def test_empty_batches_of_distributions_are_refused(call):
    with pytest.raises(
        ValueError, match=r"must hold at least one distribution over 2\^N states, got shape \(0, 4\)"
    ):
        call()
