"""Deliberately broken models for the negative controls of the claim checks.

Each wrapper delegates everything to a correct model except one computation,
which it gets wrong in a way a real implementation could (a convention slip).
The checks run their ordinary evaluation on these; the claim must then be
reported as failing (house rule 5, docs/development.md).
"""

from __future__ import annotations

import numpy as np
from dsb_verifier.theory.models import EnergyModel
from dsb_verifier.theory.walsh import _orders, wht
from numpy.typing import ArrayLike, NDArray

__all__ = ["WrongJacobian", "WrongSpinSign", "bit_reversal"]


def bit_reversal(N: int) -> NDArray[np.int64]:
    """Permutation of state indices reversing the bit order (variable i <-> N-1-i)."""
    b = np.arange(2**N)
    out = np.zeros_like(b)
    for i in range(N):
        out |= ((b >> i) & 1) << (N - 1 - i)
    return out


class _Delegate(EnergyModel):
    """An EnergyModel that forwards every kernel to ``inner``."""

    def __init__(self, inner: EnergyModel) -> None:
        super().__init__(inner.n_visible)
        self.inner = inner
        self.family = f"{inner.family} [{type(self).__name__}]"

    @property
    def layout(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        return self.inner.layout

    def _neg_energy(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        return self.inner._neg_energy(theta)

    def _grad_neg_energy(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        return self.inner._grad_neg_energy(theta)

    def _weighted_hessian(self, theta: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
        return self.inner._weighted_hessian(theta, w)

    def init(self, rng: np.random.Generator, scale: float) -> NDArray[np.float64]:
        return self.inner.init(rng, scale)


class WrongJacobian(_Delegate):
    """Jacobian transformed with the variables in reversed bit order (a convention slip).

    Wrong for ``N >= 2`` whenever the model is not symmetric under reversing the
    variables. Negative control for Claims C1 and C4.
    """

    def jacobian(self, theta: ArrayLike) -> NDArray[np.float64]:
        G = self.grad_neg_energy(theta)[..., bit_reversal(self.n_visible)]
        A = wht(G) / 2.0**self.n_visible
        return np.swapaxes(A[..., 1:], -1, -2)


class WrongSpinSign(_Delegate):
    """Couplings computed with the opposite spin sign (bit 1 read as spin +1).

    Flips the sign of every odd-order coupling: wrong whenever the model has
    odd-order structure. Negative control for Claim C1.
    """

    def couplings(self, theta: ArrayLike) -> NDArray[np.float64]:
        J = super().couplings(theta)
        return J * (1.0 - 2.0 * (_orders(self.n_visible) & 1))
