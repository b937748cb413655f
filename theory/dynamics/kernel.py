r"""Tangent kernel in Fourier coordinates and its order-block norms (Claim C5).

Under the gradient flow :math:`\dot\theta = A^\top r` the effective couplings
move by :math:`\dot J = K r` with (docs/theory.md §4)

.. math:: K(\theta) = A(\theta) A(\theta)^\top, \qquad \text{shape } (2^N - 1) \times (2^N - 1),

positive semidefinite, a neural tangent kernel written in the Walsh basis.
Grouping subsets by order, the block :math:`K_{kl} = A_k A_l^\top` (``A_k`` the
rows of ``A`` whose subset has order ``k``) couples the order-``l`` residual into
the order-``k`` couplings. Claim C5's mechanism: near small parameters
:math:`\|K_{kl}\|_F` is suppressed by a power of the parameter scale that grows
with ``k`` and ``l``. For the direct model ``A = I``, so ``K = I`` and
:math:`\|K_{kk}\|_F = \sqrt{\binom{N}{k}}`, :math:`K_{kl} = 0` for ``k != l``:
no mechanism for a hierarchy beyond the target itself.

Block norms without the ``2^N x 2^N`` kernel. :func:`kernel_block_norms` has
three routes to :math:`\|K_{kl}\|_F = \|A_k A_l^\top\|_F`:

``"qr"`` (default)
    Replace every ``A_k`` with more rows than columns (``n_k > P``) by the
    triangular factor ``R_k`` of its QR decomposition; ``A_k = Q_k R_k`` with
    orthonormal ``Q_k`` gives :math:`\|A_k A_l^\top\|_F = \|R_k R_l^\top\|_F`.
    Cost :math:`O(2^N P^2)` for the factorisations plus
    :math:`\sum_{k,l} r_k r_l P` with :math:`r_k = \min(n_k, P)` for the products,
    and the accuracy of forming the blocks directly.
``"gram"``
    :math:`\|A_k A_l^\top\|_F^2 = \langle A_k^\top A_k,\, A_l^\top A_l\rangle_F`,
    ``N`` Gram matrices of size ``P x P``: cost :math:`O((2^N + N^2) P^2)`. Cheapest,
    but the inner product cancels: a block is resolved only down to about
    :math:`\sqrt{\epsilon}\,\|A_k\|_F\,\|A_l\|_F` (``1.5e-8`` relative), so blocks
    that are small because rows of different orders are nearly *orthogonal*
    (rather than small) are floored there.
``"dense"``
    Form each block ``A_k A_l^T`` in turn (never the whole ``K``): cost
    :math:`O(4^N P)`, memory of the largest block. A cross-check route.

For ``P >= 2^N - 1`` (e.g. the direct model) ``"qr"`` coincides with ``"dense"``.

Glossary: ``A`` Jacobian ``(2^N - 1, P)``, ``A_k`` its order-``k`` rows
(``n_k = C(N, k)`` of them), ``K`` kernel, ``K_kl`` its blocks, ``R_k`` a
triangular factor with ``R_k^T R_k = A_k^T A_k``.
"""

from __future__ import annotations

import math

import numpy as np
from dsb_verifier.theory._validation import check_memory, scaled_norm
from dsb_verifier.theory.models.base import EnergyModel, check_model
from dsb_verifier.theory.walsh import _orders
from numpy.typing import ArrayLike, NDArray

__all__ = ["tangent_kernel", "kernel_block_norms", "KERNEL_BLOCK_METHODS"]

#: Routes accepted by :func:`kernel_block_norms`.
KERNEL_BLOCK_METHODS = ("qr", "gram", "dense")


def tangent_kernel(model: EnergyModel, theta: ArrayLike) -> NDArray[np.float64]:
    r"""Dense tangent kernel :math:`K = A A^\top` in Fourier coordinates (Claim C5).

    Parameters
    ----------
    model
        An :class:`~dsb_verifier.theory.models.EnergyModel`.
    theta
        One parameter vector, shape ``(P,)``.

    Returns
    -------
    ndarray, shape ``(2^N - 1, 2^N - 1)``
        Symmetric positive semidefinite; row/column ``i`` is subset ``S = i + 1``.
        Only for small ``N``: prefer :func:`kernel_block_norms`.
    """
    model = check_model(model)
    th = model.check_theta(theta)
    if th.ndim != 1:
        raise ValueError(f"tangent_kernel takes one theta of shape (P,), P={model.n_params}; got {th.shape}")
    n = 2**model.n_visible
    # the Jacobian's own working set (at most 4 arrays of n x P: du/dtheta, its transform, the
    # transform's scratch, the scaled copy), then A, K, K + K^T and the result (3 n x n)
    check_memory(8.0 * (3 * n * n + 4 * n * model.n_params), f"the {n - 1} x {n - 1} tangent kernel")
    A = model.jacobian(th)
    K = A @ A.T
    return 0.5 * (K + K.T)


def _block_norms_from_jacobian(A: NDArray[np.float64], N: int, method: str) -> NDArray[np.float64]:
    """Order-block Frobenius norms of ``A A^T`` for one Jacobian ``A`` of shape ``(2^N - 1, P)``."""
    k_of_row = _orders(N)[1:]
    blocks = [A[k_of_row == k] for k in range(1, N + 1)]
    out = np.zeros((N + 1, N + 1))
    if method == "gram":
        M = np.stack([Ak.T @ Ak for Ak in blocks])  # (N, P, P)
        sq = np.einsum("kij,lij->kl", M, M)
        out[1:, 1:] = np.sqrt(np.maximum(0.5 * (sq + sq.T), 0.0))
        return out
    if method == "qr":
        P = A.shape[1]
        blocks = [np.linalg.qr(Ak, mode="r") if Ak.shape[0] > P else Ak for Ak in blocks]
    for k in range(N):
        for l in range(k, N):
            out[k + 1, l + 1] = out[l + 1, k + 1] = scaled_norm(np.ravel(blocks[k] @ blocks[l].T))
    return out


def kernel_block_norms(model: EnergyModel, theta: ArrayLike, *, method: str = "qr") -> NDArray[np.float64]:
    r"""Frobenius norms :math:`\|K_{kl}\|_F` of the order blocks of :math:`K = A A^\top` (Claim C5).

    The ``2^N x 2^N`` kernel is never formed; see the module docstring for the
    routes and their cost and accuracy.

    Parameters
    ----------
    model
        An :class:`~dsb_verifier.theory.models.EnergyModel`.
    theta
        Parameters, shape ``(..., P)``; batch axes (e.g. times along a
        trajectory) are looped over.
    method
        ``"qr"`` (default, accurate), ``"gram"`` (cheapest, floors small blocks at
        ``~sqrt(eps)`` relative) or ``"dense"`` (block by block).

    Returns
    -------
    ndarray, shape ``(..., N + 1, N + 1)``
        Entry ``[..., k, l]`` is :math:`\|K_{kl}\|_F` for orders ``k, l`` in ``1..N``;
        row and column 0 (the constant subset, which has no coupling) are zero,
        so indices match :func:`theory.order_norms`. Symmetric in ``k, l``.
    """
    model = check_model(model)
    if method not in KERNEL_BLOCK_METHODS:
        raise ValueError(f"method must be one of {KERNEL_BLOCK_METHODS}, got {method!r}")
    th = model.check_theta(theta)
    N, P, n = model.n_visible, model.n_params, 2**model.n_visible
    widest = math.comb(N, N // 2)  # rows of the largest order block
    extra = {"gram": N * P * P, "qr": min(widest, P) ** 2, "dense": widest**2}[method]
    check_memory(8.0 * (3 * n * P + extra), "kernel_block_norms")
    flat = th.reshape(-1, P)
    out = np.empty((flat.shape[0], N + 1, N + 1))
    for i, row in enumerate(flat):
        out[i] = _block_norms_from_jacobian(model.jacobian(row), N, method)
    return out.reshape(th.shape[:-1] + (N + 1, N + 1))
