r"""Mechanism predictions of Claim C5 from the tangent kernel (docs/theory.md §7).

Near small parameters the order-``k`` diagonal block of :math:`K = A A^\top`
sets how fast the order-``k`` couplings move. Per (family, ``N``, :math:`\sigma`)
this module measures the per-order kernel scale

.. math:: \kappa_k(\sigma) = \|K_{kk}\|_F / \sqrt{\tbinom Nk},

the root-mean-square eigenvalue of the block (1 for the direct model at every
order; :math:`g^{2k}` for the reversed-kernel control), averaged over
``KERNEL_SEEDS`` seeded directions :math:`\theta = \sigma z`. A pair ``(k, k')``
is predicted to *separate* when :math:`\rho = \kappa_{k'}/\kappa_k` is at most
``1/SEPARATION_RATIO`` (lower order faster: lower-first) or at least
``SEPARATION_RATIO`` (higher-first), and to *tie* otherwise. The fitted block
exponents :math:`s_k` (:func:`~dsb_verifier.theory.dynamics.hierarchy.kernel_scaling`)
are reported beside: at small :math:`\sigma`, :math:`s_{k'} > s_k` is what makes
:math:`\rho` small. Predictions are evidence about the mechanism; they select
which pairs are decisive but never make the claim hold by themselves.
"""

from __future__ import annotations

from math import comb

import numpy as np
from dsb_verifier.checks.claims._common import seeded_rng
from dsb_verifier.theory.dynamics.hierarchy import kernel_scaling
from dsb_verifier.theory.dynamics.kernel import kernel_block_norms
from dsb_verifier.theory.models import EnergyModel
from numpy.typing import NDArray

__all__ = [
    "KERNEL_SCALES",
    "KERNEL_SEEDS",
    "KERNEL_WINDOW",
    "SEPARATION_RATIO",
    "exponents",
    "kernel_scale",
    "predict",
    "representable_orders",
]

#: A pair is predicted to separate when the kernel scales of its two orders differ by this factor.
SEPARATION_RATIO = 10.0

#: Seeded directions averaged per (family, N, sigma).
KERNEL_SEEDS = 3

#: Scales at which the block exponents are fitted, and the fit window.
KERNEL_SCALES: tuple[float, ...] = tuple(float(x) for x in np.geomspace(1e-3, 3.0, 15))
KERNEL_WINDOW = (1e-3, 3e-2)


def kernel_scale(model: EnergyModel, sigma: float, seed: int) -> NDArray[np.float64]:
    r""":math:`\kappa_k(\sigma)`, shape ``(N + 1,)`` (entry 0 unused, 0)."""
    N = model.n_visible
    Z = np.stack([model.init(seeded_rng(seed, "c5-kernel", N, j), 1.0) for j in range(KERNEL_SEEDS)])
    blocks = kernel_block_norms(model, float(sigma) * Z)
    diag = np.mean(np.diagonal(blocks, axis1=-2, axis2=-1), axis=0)
    out = np.zeros(N + 1)
    out[1:] = diag[1:] / np.sqrt([comb(N, k) for k in range(1, N + 1)])
    return out


def representable_orders(model: EnergyModel, seed: int) -> tuple[int, ...]:
    """Orders whose rows of ``A = dJ/dtheta`` are not identically zero at a random point.

    A truncated model has ``A_k = 0`` above its maximum order at every ``theta``:
    it never learns those orders, which is not "learning them later", so they
    take no part in its pairs (listed as unrepresentable in the evidence).
    """
    N = model.n_visible
    theta = model.init(seeded_rng(seed, "c5-repr", N), 1.0)
    A = np.abs(model.jacobian(theta))
    k = np.array([bin(S).count("1") for S in range(1, 2**N)])
    return tuple(int(o) for o in range(1, N + 1) if float(np.max(A[k == o])) > 0.0)


def exponents(model: EnergyModel, seed: int) -> NDArray[np.float64]:
    r"""Fitted exponents :math:`s_k` of :math:`\|K_{kk}\| \propto \sigma^{s_k}`, shape ``(N + 1,)``."""
    ks = kernel_scaling(model, KERNEL_SCALES, seed=seed, n_seeds=KERNEL_SEEDS, window=KERNEL_WINDOW)
    return np.asarray(ks.slopes)


def predict(kappa: NDArray[np.float64], k: int, k2: int) -> tuple[str, str | None, float]:
    """``(predicted, direction, ratio)`` for the pair ``(k, k2)``, ``k < k2``, from the kernel scales.

    ``predicted`` is ``"separation"`` or ``"tie"``; ``direction`` ``"lower-first"``,
    ``"higher-first"`` or None (tie); ``ratio`` :math:`\\kappa_{k2}/\\kappa_k` (inf if
    :math:`\\kappa_k = 0`).
    """
    if not 1 <= k < k2 < kappa.size:
        raise ValueError(f"the pair must satisfy 1 <= k < k2 <= N, got ({k}, {k2}) with N = {kappa.size - 1}")
    lo, hi = float(kappa[k]), float(kappa[k2])
    ratio = hi / lo if lo > 0 else (float("inf") if hi > 0 else 1.0)
    if ratio <= 1.0 / SEPARATION_RATIO:
        return "separation", "lower-first", ratio
    if ratio >= SEPARATION_RATIO:
        return "separation", "higher-first", ratio
    return "tie", None, ratio
