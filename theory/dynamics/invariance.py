r"""Invariance of the effective model along a direction: log–log slopes of ``|Delta J|`` and KL (Claim C4).

At a data-consistent point :math:`\theta^*` the slopes are 2 and 4 along :math:`v \in \ker A` and
1 and 2 along a direction with :math:`Av \ne 0` (docs/theory.md §5, C4;
:mod:`dsb_verifier.theory.dynamics.stability` for the Hessian side). :func:`invariance_slopes`
measures them on an explicit grid of step sizes.

The KL slope without a base-point offset (docs/theory.md §7, "Slopes and floors").
Write :math:`\Delta u = u_{\theta^*+\varepsilon v} - u_{\theta^*}`. Exactly,

.. math::

    KL(q\|p_{\theta^*+\varepsilon v}) = KL(q\|p_{\theta^*})
        + \log E_{p_{\theta^*}}\big[e^{\Delta u}\big] - E_q[\Delta u],

and at a data-consistent point (:math:`p_{\theta^*} = q`) the last two terms are the
cumulant series of :math:`\Delta u` under ``q`` without its mean,
:math:`\sum_{n \ge 2} \kappa_n(\Delta u)/n! = \tfrac12 \mathrm{Var}_q(\Delta u) + O(\kappa_3)`.
Along :math:`v \in \ker A` the first-order change of ``u`` is a constant (its Walsh
coefficients over ``S != 0`` are :math:`\varepsilon (Av)_S = 0`), so the centred
:math:`\Delta u - E_q\Delta u` is :math:`O(\varepsilon^2)`, :math:`\mathrm{Var}_q = O(\varepsilon^4)`
and :math:`\kappa_3 = O(\varepsilon^6)`; along :math:`Av \ne 0`, :math:`\mathrm{Var}_q =
O(\varepsilon^2)` and :math:`\kappa_3 = O(\varepsilon^3)`. Either way
:math:`KL - KL_0 = \tfrac12\mathrm{Var}_q(\Delta u)\,(1 + O(\varepsilon))`, so the slope of
:math:`\tfrac12\mathrm{Var}_q(\Delta u)` (``kl_var``) is the order of the KL. It is
computed in two passes (mean, then centred squares) from :math:`\Delta u` itself, so it
does not contain the base-point value :math:`KL_0 = KL(q\|p_{\theta^*})` (never exactly 0
at a numerically data-consistent point: ``5e-27`` at a polished flow end point flattened
the direct KL at the smallest steps and once gave a slope of ``-0.02``), nor the term
:math:`-\varepsilon\, v^\top\nabla L` of an imperfectly stationary base point. It is
the slope the check decides on.

The direct route is kept as a second route: :math:`KL(q\|p)` itself, computed without
cancellation between terms,

.. math::

    KL(q\|p) = \sum_s q(s)\, \varphi\big(\log p(s) - \log q(s)\big), \qquad
    \varphi(x) = e^x - 1 - x \ \ge 0,

which equals :math:`\sum_s q \log(q/p)` because :math:`\sum_s p = \sum_s q = 1`
(:math:`\varphi` by its Taylor series for small arguments). Its fit uses only values at
least :data:`BASE_FACTOR` times the base-point value :math:`KL_0` (so the offset moves a
slope by at most about ``slope / BASE_FACTOR``), besides the rounding floor; where both
are resolved the two routes agree (tests).

Rounding floors. With :math:`\epsilon_m` = ``EPS`` (float64 machine epsilon), the
rounding error of :math:`|\Delta J|` is about :math:`\delta_J = \epsilon_m \max_s |u(s)|`
(Parseval) and that of :math:`\Delta u` per state about the same :math:`\delta_u = \delta_J`,
so :math:`\tfrac12\mathrm{Var}_q(\Delta u)` has relative error about
:math:`2\delta_u/\sqrt{\mathrm{Var}}`; the direct KL's is about :math:`\sqrt{2\,KL}\,\delta_{KL}`
(Cauchy–Schwarz), with :math:`\delta_{KL} = \epsilon_m \max(1, \|\log q\|_{2,q}, \|u\|_{2,q})`
the ``q``-weighted rms rounding error of the log-ratio (checked against 50-digit mpmath
in the tests). Values are used in a fit only when they exceed the floors
:math:`c\,\delta_J`, :math:`\tfrac12(c\,\delta_u)^2` and :math:`2(c\,\delta_{KL})^2`,
:math:`c` = :data:`SLOPE_FLOOR_FACTOR`, i.e. where their relative rounding error is about
:math:`2/c` or below. A naive ``sum q log(q/p)`` would instead stop at about ``1e-16``.

Glossary: ``eps`` the step sizes :math:`\varepsilon`, ``v`` a unit direction, ``du`` the change
:math:`\Delta u` of the negative energy over the states, ``kl_var`` :math:`\tfrac12\mathrm{Var}_q(\Delta u)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from dsb_verifier.theory._validation import scaled_norm
from dsb_verifier.theory.effective import _phi
from dsb_verifier.theory.models.base import EnergyModel, check_model
from dsb_verifier.theory.tolerances import EPS
from dsb_verifier.theory.walsh import wht
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "BASE_FACTOR",
    "MIN_WINDOW_POINTS",
    "SLOPE_FLOOR_FACTOR",
    "InvarianceSlopes",
    "half_variance",
    "invariance_slopes",
]

#: A value enters a slope fit only above ``SLOPE_FLOOR_FACTOR`` times its rounding error
#: (relative error <= 1%: a slope over two decades is then good to about 0.01).
SLOPE_FLOOR_FACTOR: float = 100.0

#: The direct KL enters its fit only at ``>= BASE_FACTOR * KL(q || p_theta*)`` (the base-point
#: value): the offset then contributes at most ``1 / BASE_FACTOR`` of the value.
BASE_FACTOR: float = 100.0

#: Fewest grid points a slope is fitted on; fewer gives ``nan``.
MIN_WINDOW_POINTS: int = 3

#: Tolerance on ``|v| = 1`` in :func:`invariance_slopes`.
_UNIT_ATOL: float = 1e-8


# ---- validation -------------------------------------------------------------------------
def _one_point(
    model: EnergyModel, theta: ArrayLike, q: ArrayLike, what: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    th = model.check_theta(theta)
    if th.ndim != 1:
        raise ValueError(f"{what} takes one theta of shape (P,) = ({model.n_params},), got {th.shape}")
    qq = model.check_target(q)
    if qq.ndim != 1:
        raise ValueError(f"{what} takes one target q of shape (2^N,) = ({qq.shape[-1]},), got {qq.shape}")
    return th, qq


def _check_eps_grid(eps_grid: ArrayLike) -> NDArray[np.float64]:
    eps = np.asarray(eps_grid, dtype=np.float64)
    if eps.ndim != 1 or eps.size < MIN_WINDOW_POINTS:
        raise ValueError(
            f"eps_grid must be a 1-d array of at least {MIN_WINDOW_POINTS} step sizes, got shape {eps.shape}"
        )
    if not np.all(np.isfinite(eps)) or np.any(eps <= 0) or np.any(np.diff(eps) <= 0):
        raise ValueError("eps_grid must be finite, positive and strictly increasing")
    return eps


def _check_direction(model: EnergyModel, v: ArrayLike) -> NDArray[np.float64]:
    vv = model.check_theta(v)
    if vv.ndim != 1:
        raise ValueError(f"v must be one direction of shape (P,) = ({model.n_params},), got {vv.shape}")
    norm = float(scaled_norm(np.ravel(vv)))
    if abs(norm - 1.0) > _UNIT_ATOL:
        raise ValueError(f"v must be a unit vector (|v| = 1 within {_UNIT_ATOL:g}), got |v| = {norm:.6g}")
    return vv


# ---- invariance along a direction ------------------------------------------------------------
def _kl(q: NDArray[np.float64], log_p: NDArray[np.float64]) -> NDArray[np.float64]:
    r""":math:`KL(q\|p) = \sum_s q\,\varphi(\log p - \log q)` for normalised ``q``, ``p`` (batched)."""
    return np.asarray(np.sum(q * _phi(log_p - np.log(q)), axis=-1))


def half_variance(q: NDArray[np.float64], du: NDArray[np.float64]) -> NDArray[np.float64]:
    r""":math:`\tfrac12\mathrm{Var}_q(\Delta u)` in two passes (mean, then centred squares), batched over rows.

    The cancellation-free leading term of :math:`KL(q\|p_{\theta^*+\varepsilon v})` at a
    data-consistent :math:`\theta^*` (module docstring; docs/theory.md §7, Claim C4).
    """
    mean = du @ q
    return np.asarray(0.5 * (((du - mean[..., None]) ** 2) @ q))


def _window(y: NDArray[np.float64], floor: float, max_points: int | None) -> NDArray[np.bool_]:
    """The ``max_points`` smallest-eps grid points with ``y >= floor`` (all when None)."""
    above = y >= floor
    if max_points is not None:
        above &= np.cumsum(above) <= max_points
    return above


def _fit_slope(eps: NDArray[np.float64], y: NDArray[np.float64], window: NDArray[np.bool_]) -> float:
    if int(np.sum(window)) < MIN_WINDOW_POINTS:
        return float("nan")
    return float(np.polyfit(np.log(eps[window]), np.log(y[window]), 1)[0])


def _bend(eps: NDArray[np.float64], y: NDArray[np.float64], window: NDArray[np.bool_], slope: float) -> float:
    if not np.isfinite(slope):
        return float("nan")
    local = np.diff(np.log(y[window])) / np.diff(np.log(eps[window]))
    return float(np.max(np.abs(local - slope)))


@dataclass(frozen=True)
class InvarianceSlopes:
    r"""Log–log slopes of the change of the effective model along one direction (Claim C4).

    Attributes
    ----------
    eps
        The step sizes :math:`\varepsilon`, strictly increasing, shape ``(G,)``.
    dJ
        :math:`\|J(\theta^* + \varepsilon v) - J(\theta^*)\|_2` over ``S != 0``, shape ``(G,)``.
    kl_var
        :math:`\tfrac12\mathrm{Var}_q(u_{\theta^*+\varepsilon v} - u_{\theta^*})`, the
        cancellation-free KL (module docstring), shape ``(G,)``.
    kl
        The direct :math:`KL(q \| p_{\theta^* + \varepsilon v})` (second route), shape ``(G,)``.
    kl_base
        The direct KL at the base point, :math:`KL(q\|p_{\theta^*}) \ge 0`.
    dJ_floor, kl_var_floor, kl_floor
        Rounding floors: only values ``>=`` the floor enter the fits (the direct KL also
        needs ``>= BASE_FACTOR * kl_base``: :attr:`kl_fit_floor`).
    max_points
        Each fit uses the ``max_points`` smallest step sizes whose value is at or above
        its floor (all of them when None): the claim is about :math:`\varepsilon \to 0`.
    dJ_window, kl_var_window, kl_window
        Boolean masks of the grid points used in each fit.
    slope_dJ, slope_kl_var, slope_kl
        Least-squares slopes of ``log dJ``, ``log kl_var`` and ``log kl`` against
        ``log eps`` over their windows (:func:`numpy.polyfit`); ``nan`` when a window has
        fewer than :data:`MIN_WINDOW_POINTS` points. ``slope_kl_var`` is the KL order
        Claim C4 is judged on; ``slope_kl`` is the direct route's.
    """

    eps: NDArray[np.float64]
    dJ: NDArray[np.float64]
    kl_var: NDArray[np.float64]
    kl: NDArray[np.float64]
    kl_base: float
    dJ_floor: float
    kl_var_floor: float
    kl_floor: float
    max_points: int | None
    dJ_window: NDArray[np.bool_]
    kl_var_window: NDArray[np.bool_]
    kl_window: NDArray[np.bool_]
    slope_dJ: float
    slope_kl_var: float
    slope_kl: float

    def __post_init__(self) -> None:
        G = self.eps.shape
        if len(G) != 1 or np.any(self.eps <= 0) or np.any(np.diff(self.eps) <= 0):
            raise ValueError("eps must be a 1-d positive, strictly increasing grid")
        for name in ("dJ", "kl_var", "kl", "dJ_window", "kl_var_window", "kl_window"):
            if getattr(self, name).shape != G:
                raise ValueError(f"{name} must have the shape of eps, {G}")
        for name in ("dJ", "kl_var", "kl"):
            y = getattr(self, name)
            if not (np.all(np.isfinite(y)) and np.all(y >= 0)):
                raise ValueError(f"{name} must be finite and >= 0")
        if not (np.isfinite(self.kl_base) and self.kl_base >= 0):
            raise ValueError(f"kl_base must be finite and >= 0, got {self.kl_base!r}")
        if not (self.dJ_floor > 0 and self.kl_var_floor > 0 and self.kl_floor > 0):
            raise ValueError("floors must be > 0")
        if self.max_points is not None and self.max_points < MIN_WINDOW_POINTS:
            raise ValueError(f"max_points must be None or >= {MIN_WINDOW_POINTS}")
        expected = (
            ("dJ_window", self.dJ, self.dJ_floor),
            ("kl_var_window", self.kl_var, self.kl_var_floor),
            ("kl_window", self.kl, self.kl_fit_floor),
        )
        for name, y, floor in expected:
            if np.any(getattr(self, name) != _window(y, floor, self.max_points)):
                raise ValueError(
                    f"{name}: windows must be the max_points smallest eps whose value is at or above "
                    "the floor"
                )
        for name, window in (
            ("slope_dJ", self.dJ_window),
            ("slope_kl_var", self.kl_var_window),
            ("slope_kl", self.kl_window),
        ):
            enough = int(np.sum(window)) >= MIN_WINDOW_POINTS
            if enough != bool(np.isfinite(getattr(self, name))):
                raise ValueError(
                    f"{name} must be finite exactly when its window has >= {MIN_WINDOW_POINTS} points"
                )

    @property
    def kl_fit_floor(self) -> float:
        """Smallest direct KL used in its fit: ``max(kl_floor, BASE_FACTOR * kl_base)``."""
        return max(self.kl_floor, BASE_FACTOR * self.kl_base)

    @staticmethod
    def _range(eps: NDArray[np.float64], window: NDArray[np.bool_]) -> tuple[float, float] | None:
        return (float(eps[window].min()), float(eps[window].max())) if np.any(window) else None

    @property
    def dJ_range(self) -> tuple[float, float] | None:
        """``(eps_min, eps_max)`` of the ``dJ`` fit window, or None if it is empty."""
        return self._range(self.eps, self.dJ_window)

    @property
    def kl_var_range(self) -> tuple[float, float] | None:
        """``(eps_min, eps_max)`` of the cancellation-free KL fit window, or None if it is empty."""
        return self._range(self.eps, self.kl_var_window)

    @property
    def kl_range(self) -> tuple[float, float] | None:
        """``(eps_min, eps_max)`` of the direct KL fit window, or None if it is empty."""
        return self._range(self.eps, self.kl_window)

    @property
    def dJ_bend(self) -> float:
        """Largest deviation of a local slope (consecutive window points) from ``slope_dJ``.

        Near 0 for a single power law; a large value means the window straddles a
        crossover (e.g. a weakly stable direction turning quartic), so the fitted slope
        is not an order. ``nan`` when there is no slope.
        """
        return _bend(self.eps, self.dJ, self.dJ_window, self.slope_dJ)

    @property
    def kl_var_bend(self) -> float:
        """The same for ``slope_kl_var``."""
        return _bend(self.eps, self.kl_var, self.kl_var_window, self.slope_kl_var)

    @property
    def kl_bend(self) -> float:
        """The same for the direct ``slope_kl``."""
        return _bend(self.eps, self.kl, self.kl_window, self.slope_kl)


def invariance_slopes(
    model: EnergyModel,
    theta_star: ArrayLike,
    q: ArrayLike,
    v: ArrayLike,
    eps_grid: ArrayLike,
    *,
    max_points: int | None = None,
) -> InvarianceSlopes:
    r"""Fitted orders of :math:`|\Delta J|` and of :math:`KL(q\|p)` along ``theta_star + eps v`` (Claim C4).

    At a data-consistent point the slopes are 2 and 4 along :math:`v \in \ker A` and
    1 and 2 along any direction with :math:`Av \ne 0` (module docstring).

    Parameters
    ----------
    model
        An :class:`~dsb_verifier.theory.models.EnergyModel`.
    theta_star
        Base point, shape ``(P,)`` (data-consistent for Claim C4; any point is measured).
    q
        Target, shape ``(2^N,)``.
    v
        Unit direction, shape ``(P,)`` (``| |v| - 1 | <= 1e-8``; not rescaled).
    eps_grid
        Step sizes, 1-d, positive, strictly increasing, at least
        :data:`MIN_WINDOW_POINTS` of them.
    max_points
        Fit on the ``max_points`` smallest step sizes above each floor (the asymptotic
        end of the grid); None fits on every point above the floor, so the grid's upper
        end must then lie where the leading order still dominates.

    Returns
    -------
    InvarianceSlopes
        :math:`\Delta J` relative to :math:`J(\theta^*)` (not ``J(q)``; they coincide at
        data-consistent points), the cancellation-free KL
        :math:`\tfrac12\mathrm{Var}_q(\Delta u)`, the direct KL and its base-point value, the
        floors ``dJ_floor = c * d_u``, ``kl_var_floor = (c * d_u)^2 / 2`` with
        ``d_u = EPS * max(1, max|u*|)``, and
        ``kl_floor = 2 (c * EPS * max(1, rms_q(log q), rms_q(u*)))^2``, ``c = SLOPE_FLOOR_FACTOR``
        (values there have relative rounding error of about ``2/c``; module docstring),
        the fit windows (the direct KL's also at ``>= BASE_FACTOR * kl_base``) and the slopes.

    Raises
    ------
    ValueError
        On an invalid point, a direction that is not a unit vector of length ``P``,
        an invalid grid, or ``max_points`` below :data:`MIN_WINDOW_POINTS`.
    """
    model = check_model(model)
    th, qq = _one_point(model, theta_star, q, "invariance_slopes")
    vv = _check_direction(model, v)
    eps = _check_eps_grid(eps_grid)
    if max_points is not None and (
        isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < MIN_WINDOW_POINTS
    ):
        raise ValueError(f"max_points must be None or an integer >= {MIN_WINDOW_POINTS}, got {max_points!r}")
    N = model.n_visible
    u0 = model.neg_energy(th)
    thetas = th[None, :] + eps[:, None] * vv[None, :]
    du = model.neg_energy(thetas) - u0
    dJ = scaled_norm(wht(du)[:, 1:], axis=1) / 2.0**N
    kl_var = half_variance(qq, du)
    kl = _kl(qq, model.log_prob(thetas))
    kl_base = max(0.0, float(_kl(qq, model.log_prob(th))))
    delta_u = EPS * max(1.0, float(np.max(np.abs(u0))))
    delta_kl = EPS * max(1.0, float(np.sqrt(qq @ np.log(qq) ** 2)), float(np.sqrt(qq @ u0**2)))
    dJ_floor = SLOPE_FLOOR_FACTOR * delta_u
    kl_var_floor = 0.5 * (SLOPE_FLOOR_FACTOR * delta_u) ** 2
    kl_floor = 2.0 * (SLOPE_FLOOR_FACTOR * delta_kl) ** 2
    dJ_window = _window(dJ, dJ_floor, max_points)
    kl_var_window = _window(kl_var, kl_var_floor, max_points)
    kl_window = _window(kl, max(kl_floor, BASE_FACTOR * kl_base), max_points)
    return InvarianceSlopes(
        eps=eps,
        dJ=dJ,
        kl_var=kl_var,
        kl=kl,
        kl_base=kl_base,
        dJ_floor=dJ_floor,
        kl_var_floor=kl_var_floor,
        kl_floor=kl_floor,
        max_points=max_points,
        dJ_window=dJ_window,
        kl_var_window=kl_var_window,
        kl_window=kl_window,
        slope_dJ=_fit_slope(eps, dJ, dJ_window),
        slope_kl_var=_fit_slope(eps, kl_var, kl_var_window),
        slope_kl=_fit_slope(eps, kl, kl_window),
    )
