r"""Quadrature grid of the characteristic-function integral (docs/theory.md §8), with error bounds.

For one hidden unit with input :math:`h = c + Y`, :math:`Y = \sum_j w_j s_j`
(spin visible units, uniform :math:`s`), and :math:`|S| = k \ge 1`,

.. math::

    J_S = -\frac1\pi \int_0^\infty \frac{\mathcal K(\omega)}{\omega^2}\,
          P_S(\omega)\, g_k(\omega c)\, d\omega, \qquad
    P_S = \prod_{i\in S}\sin(\omega w_i) \prod_{j\notin S}\cos(\omega w_j),

with :math:`g_k = (-1)^{k/2}\cos` (k even), :math:`(-1)^{(k+1)/2}\sin` (k odd) and
:math:`\mathcal K = \mathrm{FT}[f'']`: :math:`\pi\omega/\sinh(\pi\omega/\tau)` with
:math:`\tau = 2` for :math:`f = \log 2\cosh` and :math:`\tau = 1` for softplus
(``K(0) = tau``). Order 1 is written with its :math:`\omega \to 0` part taken out
exactly, :math:`J_i = w_i f'(c) + \frac1\pi\int_0^\infty \frac{\mathcal K}{\omega^2}
\sin(\omega c)\,[P_{\{i\}}(\omega) - \omega w_i]\,d\omega` (docs/notes/integral.md).

Rule and error bound
--------------------
The trapezoid rule with step :math:`h = 2\pi/T` on :math:`[0, \infty)` (weight
``h/2`` at 0) equals, by Poisson summation, the periodisation
:math:`\sum_m \psi_S(c + mT)` of the coupling as a function of the bias,
:math:`\psi_S(x) = \mathbb E[\chi_S f(x + Y)]` (minus :math:`w_i f'(x)` at order 1),
so its error is :math:`\sum_{m\ne0}\psi_S(c + mT)`. Writing :math:`f` as its
piecewise-linear asymptote (slope jump :math:`\kappa = \tau` at 0) plus
:math:`r`, :math:`0 < r(y) \le e^{-\tau|y|}`, for :math:`z > 0`

.. math::

    |\psi_S(\pm z)| \le B(z) = \kappa\,\mathbb E(-z - Y)_+ + \mathbb E e^{-\tau|z+Y|}
                        + \kappa\, m\, e^{-\tau z}, \qquad m = \max_i |w_i|,

and with :math:`\rho = \sum_j|w_j|`, :math:`\sigma^2 = \sum_j w_j^2` (Hoeffding:
:math:`P(Y < -z) \le e^{-z^2/2\sigma^2}`, :math:`\mathbb E e^{-\tau Y} \le e^{\tau^2\sigma^2/2}`)

.. math::

    B(z) \le \min\Big\{ [z > \rho]\,(e^{-\tau(z-\rho)} + \kappa m e^{-\tau z}),\;
    (\kappa\sigma^2/z + 1)\,e^{-z^2/2\sigma^2} + e^{-\tau z + \tau^2\sigma^2/2}
    + \kappa m e^{-\tau z}\Big\}.

The second form also holds when :math:`Y` is replaced by the Gaussian law of the
mapping (same variance). Every term decays at least geometrically in ``m``, so the
aliasing error is at most :math:`2B(T - |c|)/(1 - q)`, :math:`q = \max(e^{-\tau T},
e^{-T^2/2\sigma^2})`; ``T`` is the smallest (bisection) making it ``<= EPS_UNIT``.
Cutting the sum at :math:`\Omega = Lh` leaves at most
:math:`\int_\Omega^\infty \frac{1 + \omega m}{\omega\sinh(\pi\omega/\tau)}d\omega \le
(1/\Omega + m)\,\frac{2\tau}{\pi}\,\frac{e^{-\pi\Omega/\tau}}{1 - e^{-2\pi\Omega/\tau}}`
(:math:`|P_S| \le 1`), also made ``<= EPS_UNIT``. So each hidden unit contributes at
most ``2 EPS_UNIT`` of discretisation error to every coupling, plus rounding.

Glossary: ``c``, ``W`` spin-convention hidden biases and weights (``N x M``),
``tau`` the width parameter of the hidden function, ``T`` the period of the
periodisation, ``h`` node spacing, ``L`` nodes per unit, ``Omega = L h``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from dsb_verifier.theory.rbm._checks import check_fits
from numpy.typing import NDArray

__all__ = ["EPS_UNIT", "MAX_NODES_PER_UNIT", "Grid", "quadrature_grid", "hidden_tau"]

#: Target of each discretisation error (aliasing, truncation) per hidden unit, absolute: 2^-60.
EPS_UNIT: float = 2.0**-60

#: Largest number of quadrature nodes of one hidden unit (about ``Omega T / 2 pi``);
#: beyond it the weights are refused as too large for the integral route.
MAX_NODES_PER_UNIT: int = 2**20

#: ``tau`` of the hidden functions: log 2cosh (hidden spins) 2, softplus (hidden bits) 1.
_TAU = {"spin": 2.0, "bernoulli": 1.0}


def hidden_tau(hidden: str) -> float:
    """``tau`` of the hidden function (``K(omega) = pi omega / sinh(pi omega / tau)``, ``K(0) = tau``)."""
    return _TAU[hidden]


@dataclass(frozen=True)
class Grid:
    """Trapezoid nodes of every hidden unit, flattened into columns ``(unit, omega)``.

    Attributes
    ----------
    unit
        Hidden unit of each column, shape ``(n_cols,)``, non-decreasing.
    omega
        Node :math:`\\omega_l = l h_\\mu`, ``l = 1..L_mu`` (the node at 0 is handled analytically).
    weight
        :math:`h_\\mu \\mathcal K(\\omega)/(\\pi\\omega^2) = h_\\mu / (\\omega\\sinh(\\pi\\omega/\\tau))`.
    spacing
        ``h_mu`` per hidden unit, shape ``(M,)``.
    error_bound
        Bound on the discretisation error (aliasing + truncation) each hidden unit
        adds to any coupling, shape ``(M,)``.
    tau
        Width parameter of the hidden function.
    """

    unit: NDArray[np.int64]
    omega: NDArray[np.float64]
    weight: NDArray[np.float64]
    spacing: NDArray[np.float64]
    error_bound: NDArray[np.float64]
    tau: float

    def __post_init__(self) -> None:
        n = self.omega.shape
        if self.unit.shape != n or self.weight.shape != n or self.spacing.shape != self.error_bound.shape:
            raise ValueError("Grid arrays must have matching shapes")
        if not (np.all(self.omega > 0) and np.all(np.isfinite(self.weight)) and np.all(self.spacing > 0)):
            raise ValueError("Grid nodes must be positive with finite weights")

    @property
    def n_cols(self) -> int:
        """Total number of (unit, node) columns."""
        return int(self.omega.size)


def _truncation(tau: float, m: NDArray[np.float64], Omega: NDArray[np.float64]) -> NDArray[np.float64]:
    """Tail bound ``(1/Omega + m) (2 tau / pi) e^{-pi Omega/tau} / (1 - e^{-2 pi Omega/tau})``."""
    a = np.pi * Omega / tau
    return (1.0 / Omega + m) * (2.0 * tau / np.pi) * np.exp(-a) / -np.expm1(-2.0 * a)


def _log_alias(
    tau: float,
    z: NDArray[np.float64],
    T: NDArray[np.float64],
    rho: NDArray[np.float64],
    sigma2: NDArray[np.float64],
    m: NDArray[np.float64],
    law: str,
) -> NDArray[np.float64]:
    """Log of the aliasing bound ``2 B(z) / (1 - q)`` at ``z = T - |c| > 0`` (module docstring)."""
    kappa = tau
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        s2 = np.maximum(sigma2, 1e-300)
        gauss_tail = np.log(kappa * s2 / z + 1.0) - z * z / (2.0 * s2)
        gauss_tail = np.where(sigma2 > 0, gauss_tail, -np.inf)
        log_b_gauss = np.logaddexp(
            gauss_tail,
            np.logaddexp(-tau * z + tau * tau * sigma2 / 2.0, np.log(kappa * m + 1e-300) - tau * z),
        )
        log_b_support = np.where(
            z > rho, np.logaddexp(-tau * (z - rho), np.log(kappa * m + 1e-300) - tau * z), np.inf
        )
        log_b = log_b_gauss if law == "gaussian" else np.minimum(log_b_gauss, log_b_support)
        q = np.maximum(np.exp(-tau * T), np.where(sigma2 > 0, np.exp(-(T * T) / (2.0 * s2)), 0.0))
    return np.log(2.0) + log_b - np.log1p(-np.minimum(q, 0.5))


def quadrature_grid(c: NDArray[np.float64], W: NDArray[np.float64], hidden: str, law: str) -> Grid:
    r"""Nodes, weights and error bound for every hidden unit (module docstring).

    Parameters
    ----------
    c, W
        Spin-convention hidden biases ``(M,)`` and weights ``(N, M)``.
    hidden
        ``"spin"`` (log 2cosh) or ``"bernoulli"`` (softplus).
    law
        ``"exact"`` or ``"gaussian"``: the Gaussian law has no bounded support, so
        only the sub-Gaussian form of the aliasing bound applies.

    Raises
    ------
    ValueError
        If a hidden unit would need more than :data:`MAX_NODES_PER_UNIT` nodes
        (weights or bias too large for the integral route), naming the weight scale.
    """
    tau = hidden_tau(hidden)
    absc = np.abs(c)
    rho = np.abs(W).sum(axis=0)
    sigma2 = (W * W).sum(axis=0)
    m = np.abs(W).max(axis=0)
    log_eps = np.log(EPS_UNIT)
    # Truncation: a few fixed-point steps of Omega = (tau/pi) log(bound-prefactor / eps).
    Omega = np.full_like(m, 8.0)
    for _ in range(6):
        Omega = np.maximum(
            1.0, (tau / np.pi) * np.log((1.0 / Omega + m) * (2.0 * tau / np.pi) / EPS_UNIT * 1.001)
        )
    while np.any(_truncation(tau, m, Omega) > EPS_UNIT):  # pragma: no cover - safety net
        Omega = Omega * 1.01
    # Aliasing: an upper bracket, then bisection on T - |c|.
    hi = np.full_like(m, 1.0)
    while True:
        bad = _log_alias(tau, hi, absc + hi, rho, sigma2, m, law) > log_eps
        if not np.any(bad) or np.max(hi) > 1e12:
            break
        hi = np.where(bad, 2.0 * hi, hi)
    lo = np.zeros_like(hi)
    for _ in range(40):  # bracket width below 2^-40 of its start: T to ~1e-9 relative
        mid = 0.5 * (lo + hi)
        ok = _log_alias(tau, mid, absc + mid, rho, sigma2, m, law) <= log_eps
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    T = absc + hi
    h = 2.0 * np.pi / T
    L = np.ceil(Omega / h)
    worst = int(np.argmax(L))
    if L[worst] > MAX_NODES_PER_UNIT:
        raise ValueError(
            f"weight scale too large for the integral route: hidden unit {worst} has |c| = {absc[worst]:.3g}, "
            f"sum_j |W_j| = {rho[worst]:.3g}, sqrt(sum_j W_j^2) = {np.sqrt(sigma2[worst]):.3g} "
            f"(spin convention) and needs {int(L[worst])} quadrature nodes, more than {MAX_NODES_PER_UNIT}; "
            "weights and hidden biases of a trained RBM are O(1) (see docs/notes/integral.md)"
        )
    Li = L.astype(np.int64)
    n_cols = int(Li.sum())
    check_fits(
        8.0 * 4 * n_cols,
        f"the quadrature grid ({n_cols} nodes over {c.size} hidden units)",
        "the work grows with the number of hidden units; split them (couplings add over hidden units)",
    )
    unit = np.repeat(np.arange(c.size, dtype=np.int64), Li)
    starts = np.concatenate(([0], np.cumsum(Li)[:-1]))
    ell = np.arange(n_cols, dtype=np.float64) - np.repeat(starts, Li) + 1.0
    omega = ell * h[unit]
    a = np.pi * omega / tau
    weight = h[unit] * 2.0 * np.exp(-a) / (omega * -np.expm1(-2.0 * a))
    Omega_used = Li * h
    bound = _truncation(tau, m, Omega_used) + np.exp(_log_alias(tau, hi, T, rho, sigma2, m, law))
    return Grid(unit=unit, omega=omega, weight=weight, spacing=h, error_bound=bound, tau=tau)
