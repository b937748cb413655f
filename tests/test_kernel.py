"""Tests of dsb_verifier.theory.dynamics.kernel: the tangent kernel K = A A^T and its order-block norms (Claim C5)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from dsb_verifier.checks.claims._common import make_model as _roster_model
from dsb_verifier.theory.dynamics.kernel import (
    KERNEL_BLOCK_METHODS,
    _block_norms_from_jacobian,
    kernel_block_norms,
    tangent_kernel,
)
from dsb_verifier.theory.models.base import DirectModel, EnergyModel, TruncatedIsing
from dsb_verifier.theory.walsh import _orders
from hypothesis import given
from hypothesis import strategies as st


def make_model(family: str, N: int) -> EnergyModel:
    """The roster of dsb_verifier.checks.claims._common, with 3 hidden units for RBMs ("truncated" is pairwise)."""
    return _roster_model({"truncated": "truncated-2"}.get(family, family), N, width=3)


def dense_block_norms(K: np.ndarray, N: int) -> np.ndarray:
    """Reference: slice the dense kernel by subset order."""
    k = _orders(N)[1:]
    out = np.zeros((N + 1, N + 1))
    for a in range(1, N + 1):
        for b in range(1, N + 1):
            out[a, b] = np.linalg.norm(K[np.ix_(k == a, k == b)])
    return out


cases = st.tuples(
    st.sampled_from(["direct", "truncated", "rbm-spin", "rbm-bit"]),
    st.integers(1, 5),
    st.integers(0, 2**32 - 1),
    st.sampled_from([0.05, 0.3, 1.0]),
)


@given(case=cases)
def test_kernel_is_A_At_and_psd(case):
    family, N, seed, scale = case
    model = make_model(family, N)
    theta = model.init(np.random.default_rng(seed), scale)
    A = model.jacobian(theta)
    K = tangent_kernel(model, theta)
    assert K.shape == (2**N - 1, 2**N - 1)
    np.testing.assert_array_equal(K, K.T)
    np.testing.assert_allclose(K, A @ A.T, rtol=1e-12, atol=1e-15)
    assert np.linalg.eigvalsh(K).min() >= -1e-12 * max(1.0, np.abs(K).max())


@given(case=cases, method=st.sampled_from(KERNEL_BLOCK_METHODS))
def test_block_norms_match_dense_kernel(case, method):
    """Every route equals the norms of the blocks of the dense K (two routes, one answer)."""
    family, N, seed, scale = case
    model = make_model(family, N)
    theta = model.init(np.random.default_rng(seed), scale)
    ref = dense_block_norms(tangent_kernel(model, theta), N)
    got = kernel_block_norms(model, theta, method=method)
    assert got.shape == (N + 1, N + 1)
    np.testing.assert_array_equal(got[0], 0.0)
    np.testing.assert_array_equal(got[:, 0], 0.0)
    np.testing.assert_array_equal(got, got.T)
    # gram resolves a block only to ~sqrt(eps) |A_k| |A_l| (module docstring)
    floor = 3e-8 if method == "gram" else 1e-13
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=floor * max(1.0, float(ref.max())))


@pytest.mark.parametrize("N", [1, 3, 6])
@pytest.mark.parametrize("method", KERNEL_BLOCK_METHODS)
def test_direct_model_kernel_is_identity(N, method):
    """A = I: K = I, so ||K_kk|| = sqrt(C(N, k)) and off-diagonal blocks vanish (C5 control)."""
    model = DirectModel(N)
    theta = model.init(np.random.default_rng(N), 1.0)
    np.testing.assert_array_equal(tangent_kernel(model, theta), np.eye(2**N - 1))
    expected = np.diag([0.0] + [math.sqrt(math.comb(N, k)) for k in range(1, N + 1)])
    np.testing.assert_allclose(kernel_block_norms(model, theta, method=method), expected, rtol=1e-14, atol=0)


def test_truncated_model_kernel_is_order_projector():
    """TruncatedIsing(N, K): K projects on orders <= K; higher orders receive nothing."""
    N, Kmax = 5, 2
    model = TruncatedIsing(N, Kmax)
    got = kernel_block_norms(model, model.init(np.random.default_rng(0), 1.0))
    expected = np.diag([0.0] + [math.sqrt(math.comb(N, k)) if k <= Kmax else 0.0 for k in range(1, N + 1)])
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=0)


def test_batched_block_norms_equal_loop():
    model = make_model("rbm-spin", 4)
    rng = np.random.default_rng(5)
    thetas = np.stack([model.init(rng, 0.4) for _ in range(6)]).reshape(2, 3, -1)
    got = kernel_block_norms(model, thetas)
    assert got.shape == (2, 3, 5, 5)
    for i in range(2):
        for j in range(3):
            np.testing.assert_allclose(got[i, j], kernel_block_norms(model, thetas[i, j]), rtol=1e-14)


def test_qr_resolves_nearly_orthogonal_blocks_where_gram_floors():
    """Negative control for the Gram route: blocks small by orthogonality, not by size.

    N = 3, P = 2: order-1 rows along u, order-2 rows along v with a 1e-9 component
    along u, so ||K_12|| = 1e-9 |a||c| exactly while |A_1|, |A_2| are O(1). The QR
    route (order blocks with n_k = 3 > P = 2 are compressed) keeps full accuracy; the
    Gram route's inner product cancels and reports ~1e-8.
    """
    N = 3
    c, s = np.cos(0.3), np.sin(0.3)
    u, v = np.array([c, s]), np.array([-s, c])
    a, b, cc = np.array([1.0, 2.0, -1.5]), np.array([0.7, -1.1, 0.4]), np.array([1.0, 0.5, -2.0])
    k = _orders(N)[1:]
    A = np.zeros((7, 2))
    A[k == 1] = np.outer(a, u)
    A[k == 2] = np.outer(b, v) + 1e-9 * np.outer(cc, u)
    A[k == 3] = [0.3, 0.2]
    exact = 1e-9 * np.linalg.norm(a) * np.linalg.norm(cc)
    qr = _block_norms_from_jacobian(A, N, "qr")[1, 2]
    dense = _block_norms_from_jacobian(A, N, "dense")[1, 2]
    gram = _block_norms_from_jacobian(A, N, "gram")[1, 2]
    np.testing.assert_allclose([qr, dense], exact, rtol=1e-6)
    assert abs(gram - exact) > 0.5 * exact  # floored at ~sqrt(eps) |A_1| |A_2|


def test_validation_messages():
    model = DirectModel(3)
    with pytest.raises(ValueError, match=r"method must be one of \('qr', 'gram', 'dense'\), got 'svd'"):
        kernel_block_norms(model, np.zeros(7), method="svd")
    with pytest.raises(ValueError, match=r"tangent_kernel takes one theta of shape \(P,\)"):
        tangent_kernel(model, np.zeros((2, 7)))
    with pytest.raises(ValueError, match=r"theta must have last axis of length P=7"):
        kernel_block_norms(model, np.zeros(6))
    with pytest.raises(ValueError, match=r"model must be a dsb_verifier.theory.models.EnergyModel"):
        tangent_kernel(None, np.zeros(7))
