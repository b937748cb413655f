r"""Stability around data-consistent points: Hessian spectrum, ``ker A`` and invariance slopes (Claim C4).

At a data-consistent point :math:`\theta^*` (:math:`p_{\theta^*} = q`, shared/THEORY.md §5, C4)
the residual term of the Hessian (:mod:`dsb_verifier.theory.likelihood`) vanishes and

.. math::

    \nabla^2 L(\theta^*) = -A^\top F A ,

with ``F`` the Fisher matrix (positive definite). Every eigenvalue is therefore
``< 0`` (stable) or ``= 0`` (neutral), and the neutral subspace is
:math:`\ker(A^\top F A) = \ker A`. Along :math:`v \in \ker A` the first-order change
of the couplings vanishes, so

.. math::

    |J(\theta^* + \varepsilon v) - J(\theta^*)| = O(\varepsilon^2), \qquad
    KL(q \,\|\, p_{\theta^* + \varepsilon v}) = O(\varepsilon^4),

against :math:`O(\varepsilon)` and :math:`O(\varepsilon^2)` along any direction with
:math:`A v \ne 0` (:math:`KL \approx \tfrac12 \Delta J^\top F \Delta J`).

Two public routines measure this:

* :func:`spectrum` — eigen-decomposition of the exact Hessian, its distance to the
  Gauss–Newton matrix by two routes (:func:`theory.gauss_newton`, and the dense
  :math:`-A^\top F A` with :func:`theory.fisher` for ``N <=`` :data:`DENSE_MAX_N`),
  the stable / neutral / unstable counts with a tolerance set from the spectrum's
  scale, and the principal angles between the neutral eigenspace and ``ker A``.
* :func:`invariance_slopes` — fitted log–log slopes of :math:`|\Delta J|` and of the KL
  against :math:`\varepsilon` over the part of an explicit grid where each quantity is
  resolved (above a rounding floor derived below).

Numerics of the slopes. Both quantities are computed without cancellation:
:math:`\Delta J_S = 2^{-N}\sum_s \chi_S(s)\,[u_{\theta^*+\varepsilon v}(s) - u_{\theta^*}(s)]`
(``S != 0``; the normalisation drops out), and

.. math::

    KL(q\|p) = \sum_s q(s)\, \varphi\big(\log p(s) - \log q(s)\big), \qquad
    \varphi(x) = e^x - 1 - x \ \ge 0,

which equals :math:`\sum_s q \log(q/p)` because :math:`\sum_s p = \sum_s q = 1`, and has
no cancellation between terms (:math:`\varphi` is evaluated by its Taylor series for
small arguments). With :math:`\epsilon_m` = ``EPS`` (float64 machine epsilon), the
rounding error of :math:`|\Delta J|` is about :math:`\delta_J = \epsilon_m \max_s |u(s)|`
(Parseval) and that of the KL about :math:`\sqrt{2\,KL}\,\delta_{KL}` (Cauchy–Schwarz), with
:math:`\delta_{KL} = \epsilon_m \max(1, \|\log q\|_{2,q}, \|u\|_{2,q})` the ``q``-weighted rms
rounding error of the log-ratio (checked against 50-digit mpmath in the tests). Values
are used in a fit only when they exceed the floors :math:`c\,\delta_J` and
:math:`2(c\,\delta_{KL})^2`, :math:`c` = :data:`SLOPE_FLOOR_FACTOR`, i.e. where their
relative rounding error is below :math:`1/c`.
A naive ``sum q log(q/p)`` would instead stop at about ``1e-16``.

Glossary: ``H`` exact Hessian of ``L``, ``GN`` Gauss–Newton matrix
:math:`-A^\top F A`, ``lam``/``V`` eigenvalues (ascending) and eigenvectors of ``H``,
``tol`` neutral half-width, ``sigma`` singular values of ``A``, ``K`` an orthonormal
basis of ``ker A``, ``eps`` the step sizes :math:`\varepsilon`, ``v`` a unit direction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from dsb_verifier.theory._validation import scaled_norm
from dsb_verifier.theory.effective import _phi, fisher
from dsb_verifier.theory.likelihood import exact_hessian, gauss_newton
from dsb_verifier.theory.models.base import EnergyModel, check_model
from dsb_verifier.theory.tolerances import EPS
from dsb_verifier.theory.walsh import wht
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "DENSE_MAX_N",
    "MIN_WINDOW_POINTS",
    "NEUTRAL_FACTOR",
    "RANK_FACTOR",
    "SLOPE_FLOOR_FACTOR",
    "HessianSpectrum",
    "InvarianceSlopes",
    "invariance_slopes",
    "spectrum",
]

#: Neutral half-width: ``tol = NEUTRAL_FACTOR * EPS * max(P, 2^N) * max|lam|``. The
#: eigenvalues of ``H`` are sums over ``2^N`` states and ``P`` parameters; at exactly
#: data-consistent points the neutral ones come out near ``EPS * max|lam|``.
NEUTRAL_FACTOR: float = 10.0

#: Rank tolerance of ``A``: singular values ``<= RANK_FACTOR * EPS * max(2^N - 1, P) * sigma_max``
#: span ``ker A`` (ten times numpy's ``matrix_rank`` default).
RANK_FACTOR: float = 10.0

#: Largest ``N`` for which :func:`spectrum` also forms the dense ``-A^T F A`` (``F`` is
#: ``(2^N - 1)^2``).
DENSE_MAX_N: int = 8

#: A value enters a slope fit only above ``SLOPE_FLOOR_FACTOR`` times its rounding error
#: (relative error <= 1%: a slope over two decades is then good to about 0.01).
SLOPE_FLOOR_FACTOR: float = 100.0

#: Fewest grid points a slope is fitted on; fewer gives ``nan``.
MIN_WINDOW_POINTS: int = 3

#: Tolerance on the orthonormality of the eigenvector matrix in :class:`HessianSpectrum`.
_ORTHO_ATOL: float = 1e-8

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


# ---- Hessian spectrum ---------------------------------------------------------------------
def _ratio_margin(values: NDArray[np.float64], tol: float) -> float:
    """``min(|x| / tol for |x| > tol, tol / |x| for |x| <= tol)``: distance from the band edge."""
    a = np.abs(values)
    if a.size == 0:
        return float("inf")
    if tol <= 0:
        return float("inf") if np.all(a == 0) else 0.0
    with np.errstate(divide="ignore"):
        r = np.where(a > tol, a / tol, tol / a)
    return float(np.min(r))


@dataclass(frozen=True)
class HessianSpectrum:
    r"""Spectrum of the exact Hessian of ``L`` at one point, against ``-A^T F A`` and ``ker A`` (Claim C4).

    Attributes
    ----------
    eigenvalues
        Eigenvalues of the exact Hessian ``H``, ascending, shape ``(P,)``.
    eigenvectors
        Orthonormal eigenvectors as columns, shape ``(P, P)``.
    scale
        :math:`\max_i |\lambda_i|`.
    tol
        Neutral half-width, ``NEUTRAL_FACTOR * EPS * max(P, 2^N) * scale``.
    n_stable, n_neutral, n_unstable
        Counts of :math:`\lambda < -tol`, :math:`|\lambda| \le tol`, :math:`\lambda > tol`.
    identity_error
        :math:`\max|H - GN|` with ``GN`` from :func:`theory.gauss_newton` (covariance route).
    identity_error_dense
        :math:`\max|H + A^\top F A|` with the dense Fisher matrix, or None when
        ``N > DENSE_MAX_N``.
    fisher_min_eigenvalue
        Smallest eigenvalue of the dense Fisher matrix ``F`` at :math:`p_\theta`, or None
        when ``N > DENSE_MAX_N``; it bounds how small a stable eigenvalue can be
        (:meth:`resolves_kernel`).
    singular_values
        Singular values of ``A`` (descending), shape ``(min(2^N - 1, P),)``.
    rank_tol
        Rank tolerance ``RANK_FACTOR * EPS * max(2^N - 1, P) * sigma_max``.
    rank
        Number of singular values above ``rank_tol``.
    kernel
        Orthonormal basis of ``ker A``, shape ``(P, P - rank)``.
    principal_angles
        :func:`scipy.linalg.subspace_angles` between the neutral eigenvectors and
        ``kernel`` (radians, ``min(n_neutral, P - rank)`` of them; empty if either is empty).
    kl
        :math:`KL(q \| p_\theta)`, computed without cancellation (diagnostic of data-consistency).
    residual_max
        :math:`\max_S |r_S|`, the moment residual (diagnostic of data-consistency).
    """

    eigenvalues: NDArray[np.float64]
    eigenvectors: NDArray[np.float64]
    scale: float
    tol: float
    n_stable: int
    n_neutral: int
    n_unstable: int
    identity_error: float
    identity_error_dense: float | None
    fisher_min_eigenvalue: float | None
    singular_values: NDArray[np.float64]
    rank_tol: float
    rank: int
    kernel: NDArray[np.float64]
    principal_angles: NDArray[np.float64]
    kl: float
    residual_max: float

    def __post_init__(self) -> None:
        for name in ("eigenvalues", "eigenvectors", "singular_values", "kernel", "principal_angles"):
            arr = np.array(getattr(self, name), dtype=np.float64)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        lam, V = self.eigenvalues, self.eigenvectors
        if lam.ndim != 1 or not np.all(np.isfinite(lam)):
            raise ValueError("eigenvalues must be a finite 1-d array")
        P = lam.size
        if np.any(np.diff(lam) < 0):
            raise ValueError("eigenvalues must be sorted ascending")
        if V.shape != (P, P) or np.max(np.abs(V.T @ V - np.eye(P)), initial=0.0) > _ORTHO_ATOL:
            raise ValueError(f"eigenvectors must be an orthonormal ({P}, {P}) matrix")
        top = float(np.max(np.abs(lam), initial=0.0))
        if not (self.tol >= 0 and abs(self.scale - top) <= 4 * EPS * top):
            raise ValueError("scale must be max|eigenvalues| and tol must be >= 0")
        counts = (
            int(np.sum(lam < -self.tol)),
            int(np.sum(np.abs(lam) <= self.tol)),
            int(np.sum(lam > self.tol)),
        )
        if counts != (self.n_stable, self.n_neutral, self.n_unstable):
            raise ValueError(
                f"counts (stable, neutral, unstable) = {(self.n_stable, self.n_neutral, self.n_unstable)} "
                f"do not match the eigenvalues and tol, which give {counts}"
            )
        s = self.singular_values
        if s.ndim != 1 or np.any(s < 0) or np.any(np.diff(s) > 0):
            raise ValueError("singular_values must be non-negative and descending")
        if self.rank != int(np.sum(s > self.rank_tol)):
            raise ValueError("rank must count the singular values above rank_tol")
        if self.kernel.shape != (P, P - self.rank):
            raise ValueError(f"kernel must have shape (P, P - rank) = ({P}, {P - self.rank})")
        n_angles = min(self.n_neutral, P - self.rank)
        ang = self.principal_angles
        if ang.shape != (n_angles,) or np.any(ang < 0) or np.any(ang > np.pi / 2 + 1e-12):
            raise ValueError(f"principal_angles must be {n_angles} angles in [0, pi/2]")
        if not (self.identity_error >= 0 and self.kl >= 0 and self.residual_max >= 0):
            raise ValueError("identity_error, kl and residual_max must be >= 0")
        if self.identity_error_dense is not None and not self.identity_error_dense >= 0:
            raise ValueError("identity_error_dense must be >= 0 or None")

    @property
    def n_params(self) -> int:
        """Number of parameters ``P``."""
        return int(self.eigenvalues.size)

    @property
    def dim_kernel(self) -> int:
        """``dim ker A = P - rank A``."""
        return self.n_params - self.rank

    @property
    def identity_error_rel(self) -> float:
        r""":math:`|H + A^\top F A|`, each route relative to its own rounding scale.

        The covariance route (:func:`theory.gauss_newton`) against :math:`\max|\lambda|`;
        the dense route against :math:`\max(\max|\lambda|, \sigma_{\max}(A)^2)`, because the
        entries :math:`m_{S \oplus T} - m_S m_T` of ``F`` carry an absolute rounding error of
        order ``EPS`` however small they are (a peaked ``p`` has a tiny ``F``). The larger
        of the two relative errors is returned (a zero denominator counts as 1).
        """
        cov = self.identity_error / (self.scale or 1.0)
        if self.identity_error_dense is None:
            return cov
        smax = float(self.singular_values[0]) if self.singular_values.size else 0.0
        return max(cov, self.identity_error_dense / (max(self.scale, smax**2) or 1.0))

    @property
    def neutral_vectors(self) -> NDArray[np.float64]:
        """Eigenvectors of the neutral eigenvalues, shape ``(P, n_neutral)``."""
        return self.eigenvectors[:, np.abs(self.eigenvalues) <= self.tol]

    @property
    def stable_vectors(self) -> NDArray[np.float64]:
        """Eigenvectors of the stable eigenvalues (most stable first), shape ``(P, n_stable)``."""
        return self.eigenvectors[:, self.eigenvalues < -self.tol]

    @property
    def max_angle(self) -> float:
        """Largest principal angle between the neutral eigenspace and ``ker A`` (0 if none)."""
        return float(np.max(self.principal_angles, initial=0.0))

    @property
    def margin(self) -> float:
        """How clearly the eigenvalues are classified: ``min(|lam|/tol outside, tol/|lam| inside)``.

        ``>= 1`` by construction; a value near 1 means some eigenvalue sits at the
        band edge and its classification depends on ``NEUTRAL_FACTOR``.
        """
        return _ratio_margin(self.eigenvalues, self.tol)

    @property
    def rank_margin(self) -> float:
        """The same for the singular values of ``A`` against ``rank_tol``."""
        return _ratio_margin(self.singular_values, self.rank_tol)

    def resolves_kernel(self, margin: float = 1.0) -> bool:
        r"""Whether every direction outside ``ker A`` must show a stable eigenvalue below ``-margin * tol``.

        By Ostrowski's theorem (with Higham & Cheng's extension to singular congruences,
        Linear Algebra Appl. 278, 1998) the ``k``-th nonzero eigenvalue of :math:`A^\top F A` is
        :math:`\vartheta_k \sigma_k^2` with :math:`\vartheta_k \in [\lambda_{\min}(F), \lambda_{\max}(F)]`,
        so when :math:`\lambda_{\min}(F)\,\sigma_{\mathrm{rank}}^2 \le` ``margin * tol`` a direction
        that ``A`` resolves (singular value above ``rank_tol``) may legitimately look neutral
        in float64: the neutral count can then exceed ``dim ker A`` without contradicting
        Claim C4. False when ``F`` was not formed (``N > DENSE_MAX_N``).
        """
        if self.rank == 0:
            return True
        if self.fisher_min_eigenvalue is None:
            return False
        sigma_rank = float(self.singular_values[self.rank - 1])
        return self.fisher_min_eigenvalue * sigma_rank**2 > margin * self.tol


def spectrum(model: EnergyModel, theta: ArrayLike, q: ArrayLike) -> HessianSpectrum:
    r"""Spectrum of the exact Hessian of ``L`` at ``theta`` and its relation to ``A`` (Claim C4).

    Parameters
    ----------
    model
        An :class:`~dsb_verifier.theory.models.EnergyModel`.
    theta
        One parameter vector, shape ``(P,)``; Claim C4 concerns data-consistent points
        (:math:`p_\theta = q`), but any point is accepted and measured.
    q
        One strictly positive target distribution, shape ``(2^N,)``.

    Returns
    -------
    HessianSpectrum
        Eigen-decomposition of :func:`theory.exact_hessian`, its distance to
        :math:`-A^\top F A` by two routes, the stable / neutral / unstable counts with
        ``tol = NEUTRAL_FACTOR * EPS * max(P, 2^N) * max|lam|``, the singular values and
        kernel of :math:`A` = ``model.jacobian(theta)`` (rank tolerance
        ``RANK_FACTOR * EPS * max(2^N - 1, P) * sigma_max``) and the principal angles
        between the neutral eigenspace and ``ker A``.

    Raises
    ------
    ValueError
        If ``model`` is not an EnergyModel, or ``theta`` / ``q`` are not one valid
        parameter vector / one valid target of the model.
    """
    model = check_model(model)
    th, qq = _one_point(model, theta, q, "spectrum")
    N, P = model.n_visible, model.n_params
    H = exact_hessian(model, th, qq)
    lam, V = np.linalg.eigh(H)
    scale = float(np.max(np.abs(lam), initial=0.0))
    tol = NEUTRAL_FACTOR * EPS * max(P, 2**N) * scale
    identity_error = float(np.max(np.abs(H - gauss_newton(model, th))))
    A = model.jacobian(th)
    p = model.prob(th)
    dense = f_min = None
    if N <= DENSE_MAX_N:
        F = fisher(p)
        dense = float(np.max(np.abs(H + A.T @ F @ A)))
        f_min = float(np.linalg.eigvalsh(F)[0])
    _, sigma, Vt = np.linalg.svd(A, full_matrices=True)
    rank_tol = RANK_FACTOR * EPS * max(A.shape) * float(np.max(sigma, initial=0.0))
    rank = int(np.sum(sigma > rank_tol))
    K = Vt[rank:].T.copy()
    neutral = np.abs(lam) <= tol
    if np.any(neutral) and K.shape[1] > 0:
        angles = np.clip(scipy.linalg.subspace_angles(V[:, neutral], K), 0.0, np.pi / 2)
    else:
        angles = np.zeros(0)
    return HessianSpectrum(
        eigenvalues=lam,
        eigenvectors=V,
        scale=scale,
        tol=tol,
        n_stable=int(np.sum(lam < -tol)),
        n_neutral=int(np.sum(neutral)),
        n_unstable=int(np.sum(lam > tol)),
        identity_error=identity_error,
        identity_error_dense=dense,
        fisher_min_eigenvalue=f_min,
        singular_values=sigma,
        rank_tol=rank_tol,
        rank=rank,
        kernel=K,
        principal_angles=angles,
        kl=float(_kl(qq, model.log_prob(th))),
        residual_max=float(np.max(np.abs(wht(qq - p)[1:]))),
    )


# ---- invariance along a direction ------------------------------------------------------------
def _kl(q: NDArray[np.float64], log_p: NDArray[np.float64]) -> NDArray[np.float64]:
    r""":math:`KL(q\|p) = \sum_s q\,\varphi(\log p - \log q)` for normalised ``q``, ``p`` (batched)."""
    return np.asarray(np.sum(q * _phi(log_p - np.log(q)), axis=-1))


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


@dataclass(frozen=True)
class InvarianceSlopes:
    r"""Log–log slopes of the change of the effective model along one direction (Claim C4).

    Attributes
    ----------
    eps
        The step sizes :math:`\varepsilon`, strictly increasing, shape ``(G,)``.
    dJ
        :math:`\|J(\theta^* + \varepsilon v) - J(\theta^*)\|_2` over ``S != 0``, shape ``(G,)``.
    kl
        :math:`KL(q \| p_{\theta^* + \varepsilon v})`, shape ``(G,)``.
    dJ_floor, kl_floor
        Rounding floors: only values ``>=`` the floor enter the fits.
    max_points
        Each fit uses the ``max_points`` smallest step sizes whose value is at or above
        the floor (all of them when None): the claim is about :math:`\varepsilon \to 0`.
    dJ_window, kl_window
        Boolean masks of the grid points used in each fit.
    slope_dJ, slope_kl
        Least-squares slopes of ``log dJ`` and ``log kl`` against ``log eps`` over their
        windows (:func:`numpy.polyfit`); ``nan`` when a window has fewer than
        :data:`MIN_WINDOW_POINTS` points.
    """

    eps: NDArray[np.float64]
    dJ: NDArray[np.float64]
    kl: NDArray[np.float64]
    dJ_floor: float
    kl_floor: float
    max_points: int | None
    dJ_window: NDArray[np.bool_]
    kl_window: NDArray[np.bool_]
    slope_dJ: float
    slope_kl: float

    def __post_init__(self) -> None:
        G = self.eps.shape
        if len(G) != 1 or np.any(self.eps <= 0) or np.any(np.diff(self.eps) <= 0):
            raise ValueError("eps must be a 1-d positive, strictly increasing grid")
        for name in ("dJ", "kl", "dJ_window", "kl_window"):
            if getattr(self, name).shape != G:
                raise ValueError(f"{name} must have the shape of eps, {G}")
        if not (np.all(np.isfinite(self.dJ)) and np.all(self.dJ >= 0)):
            raise ValueError("dJ must be finite and >= 0")
        if not (np.all(np.isfinite(self.kl)) and np.all(self.kl >= 0)):
            raise ValueError("kl must be finite and >= 0")
        if not (self.dJ_floor > 0 and self.kl_floor > 0):
            raise ValueError("floors must be > 0")
        if self.max_points is not None and self.max_points < MIN_WINDOW_POINTS:
            raise ValueError(f"max_points must be None or >= {MIN_WINDOW_POINTS}")
        if np.any(self.dJ_window != _window(self.dJ, self.dJ_floor, self.max_points)) or np.any(
            self.kl_window != _window(self.kl, self.kl_floor, self.max_points)
        ):
            raise ValueError(
                "windows must be the max_points smallest eps whose value is at or above the floor"
            )
        for name, window in (("slope_dJ", self.dJ_window), ("slope_kl", self.kl_window)):
            enough = int(np.sum(window)) >= MIN_WINDOW_POINTS
            if enough != bool(np.isfinite(getattr(self, name))):
                raise ValueError(
                    f"{name} must be finite exactly when its window has >= {MIN_WINDOW_POINTS} points"
                )

    @staticmethod
    def _range(eps: NDArray[np.float64], window: NDArray[np.bool_]) -> tuple[float, float] | None:
        return (float(eps[window].min()), float(eps[window].max())) if np.any(window) else None

    @property
    def dJ_range(self) -> tuple[float, float] | None:
        """``(eps_min, eps_max)`` of the ``dJ`` fit window, or None if it is empty."""
        return self._range(self.eps, self.dJ_window)

    @property
    def kl_range(self) -> tuple[float, float] | None:
        """``(eps_min, eps_max)`` of the KL fit window, or None if it is empty."""
        return self._range(self.eps, self.kl_window)

    @staticmethod
    def _bend(
        eps: NDArray[np.float64], y: NDArray[np.float64], window: NDArray[np.bool_], slope: float
    ) -> float:
        if not np.isfinite(slope):
            return float("nan")
        local = np.diff(np.log(y[window])) / np.diff(np.log(eps[window]))
        return float(np.max(np.abs(local - slope)))

    @property
    def dJ_bend(self) -> float:
        """Largest deviation of a local slope (consecutive window points) from ``slope_dJ``.

        Near 0 for a single power law; a large value means the window straddles a
        crossover (e.g. a weakly stable direction turning quartic), so the fitted slope
        is not an order. ``nan`` when there is no slope.
        """
        return self._bend(self.eps, self.dJ, self.dJ_window, self.slope_dJ)

    @property
    def kl_bend(self) -> float:
        """The same for ``slope_kl``."""
        return self._bend(self.eps, self.kl, self.kl_window, self.slope_kl)


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
        data-consistent points), the KL, the floors
        ``dJ_floor = c * EPS * max(1, max|u*|)`` and
        ``kl_floor = 2 (c * EPS * max(1, rms_q(log q), rms_q(u*)))^2`` with
        ``c = SLOPE_FLOOR_FACTOR`` (values there have relative rounding error below
        ``1/c``; module docstring), the fit windows and the slopes.

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
    kl = _kl(qq, model.log_prob(thetas))
    delta_J = EPS * max(1.0, float(np.max(np.abs(u0))))
    delta_kl = EPS * max(1.0, float(np.sqrt(qq @ np.log(qq) ** 2)), float(np.sqrt(qq @ u0**2)))
    dJ_floor = SLOPE_FLOOR_FACTOR * delta_J
    kl_floor = 2.0 * (SLOPE_FLOOR_FACTOR * delta_kl) ** 2
    dJ_window = _window(dJ, dJ_floor, max_points)
    kl_window = _window(kl, kl_floor, max_points)
    return InvarianceSlopes(
        eps=eps,
        dJ=dJ,
        kl=kl,
        dJ_floor=dJ_floor,
        kl_floor=kl_floor,
        max_points=max_points,
        dJ_window=dJ_window,
        kl_window=kl_window,
        slope_dJ=_fit_slope(eps, dJ, dJ_window),
        slope_kl=_fit_slope(eps, kl, kl_window),
    )
