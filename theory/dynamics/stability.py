r"""Stability around data-consistent points: Hessian spectrum, ``ker A`` and invariance slopes (Claim C4).

At a data-consistent point :math:`\theta^*` (:math:`p_{\theta^*} = q`, docs/theory.md §5, C4)
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
  (cancellation-free :math:`\tfrac12\mathrm{Var}_q(\Delta u)`, and the direct KL as a
  second route) against :math:`\varepsilon` over the part of an explicit grid where each
  quantity is resolved (above its rounding floor and, for the direct KL, clearly above
  its base-point value; derived below).

Numerics of the slopes: :mod:`dsb_verifier.theory.dynamics.invariance` (the cancellation-free
KL, the second route, the rounding floors); its names are re-exported here.

Glossary: ``H`` exact Hessian of ``L``, ``GN`` Gauss–Newton matrix
:math:`-A^\top F A`, ``lam``/``V`` eigenvalues (ascending) and eigenvectors of ``H``,
``tol`` neutral half-width, ``sigma`` singular values of ``A``, ``K`` an orthonormal
basis of ``ker A``, ``eps`` the step sizes :math:`\varepsilon`, ``v`` a unit direction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from dsb_verifier.theory.dynamics.invariance import (
    BASE_FACTOR,
    MIN_WINDOW_POINTS,
    SLOPE_FLOOR_FACTOR,
    InvarianceSlopes,
    _kl,
    _one_point,
    half_variance,
    invariance_slopes,
)
from dsb_verifier.theory.effective import fisher
from dsb_verifier.theory.likelihood import exact_hessian, gauss_newton
from dsb_verifier.theory.models.base import EnergyModel, check_model
from dsb_verifier.theory.tolerances import EPS
from dsb_verifier.theory.walsh import wht
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "BASE_FACTOR",
    "DENSE_MAX_N",
    "MIN_WINDOW_POINTS",
    "NEUTRAL_FACTOR",
    "RANK_FACTOR",
    "SLOPE_FLOOR_FACTOR",
    "HessianSpectrum",
    "InvarianceSlopes",
    "half_variance",
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

#: Tolerance on the orthonormality of the eigenvector matrix in :class:`HessianSpectrum`.
_ORTHO_ATOL: float = 1e-8


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
