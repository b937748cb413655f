r"""The reversed-kernel control model of Claim C5 (docs/theory.md §7).

:class:`HighOrderGain` is the linear parameterisation :math:`J_S = g^{|S|}\theta_S`,
``g > 1``: its tangent kernel :math:`K = \mathrm{diag}(g^{2|S|})` makes every order
:math:`g^2` times faster than the one below it — a model built to learn high
orders first. A reading that reports "lower first" for it cannot discriminate.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from dsb_verifier.theory.models import DirectModel
from dsb_verifier.theory.walsh import _orders
from numpy.typing import NDArray

__all__ = ["HighOrderGain"]


class HighOrderGain(DirectModel):
    r"""Control only: :math:`J_S = g^{|S|}\theta_S`, a tangent kernel that amplifies high orders.

    ``A = diag(g^{|S|})``, so :math:`K = \mathrm{diag}(g^{2|S|})`: the order-``k``
    couplings move :math:`g^{2k}` times faster than in the direct model, the
    opposite of the mechanism of Claim C5. ``init(rng, scale)`` returns
    :math:`\theta_S = \mathrm{scale}\; z_S / g^{|S|}`, so the *couplings* start
    exactly where the direct model's do.
    """

    family = "high-order-gain"

    def __init__(self, n_visible: int, gain: float) -> None:
        super().__init__(n_visible)
        if isinstance(gain, bool) or not np.isfinite(gain) or gain <= 0:
            raise ValueError(f"gain must be a positive finite number, got {gain!r}")
        self.gain = float(gain)

    @cached_property
    def _w(self) -> NDArray[np.float64]:
        """``g^{|S|}`` per parameter (subset ``S = j + 1``)."""
        w = self.gain ** _orders(self.n_visible)[1:].astype(np.float64)
        w.setflags(write=False)
        return w

    def _neg_energy(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        return super()._neg_energy(theta * self._w)

    def _grad_neg_energy(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        return super()._grad_neg_energy(theta) * self._w[:, None]

    def _weighted_grad(self, theta: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
        return super()._weighted_grad(theta, w) * self._w

    def init(self, rng: np.random.Generator, scale: float) -> NDArray[np.float64]:
        """Couplings ``scale * z_S`` as in the direct model, i.e. ``theta = scale * z / g^|S|``."""
        return super().init(rng, scale) / self._w

    def __repr__(self) -> str:
        return f"HighOrderGain(n_visible={self.n_visible}, gain={self.gain})"
