r"""Stationary points of the likelihood: polishing, classification, constructions (Claims C3, C6).

A parameter vector :math:`\theta^*` is *stationary* when :math:`\nabla_\theta L = A^\top r = 0`
(docs/theory.md §4–5). It is

* **data-consistent** when the moment residual vanishes, :math:`r = 0`
  (equivalently :math:`p_{\theta^*} = q`, :math:`KL(q\|p_{\theta^*}) = 0`);
* **spurious** otherwise: then :math:`r \ne 0` lies in :math:`\ker A^\top`, so
  ``A`` (shape ``(2^N - 1, P)``) has lost row rank. Contrapositive (Claim C3): a
  stationary point where ``A`` has full row rank ``2^N - 1`` is data-consistent,
  since :math:`\|r\| \le \|A^\top r\| / \sigma_{\min}(A)`.

:func:`polish` refines an approximate stationary point (e.g. a gradient-flow end
point) by Levenberg–Marquardt steps on the gradient with the exact Hessian
(Cholesky solves only, no eigen-decomposition), and
:func:`classify` returns a :class:`FixedPoint` with the residual's order profile,
the numerical rank of ``A`` and the exact Hessian's spectrum split into unstable
(:math:`\lambda > \text{tol}`, ascent), neutral and stable directions (Claim C6).

Constructive spurious points (Claim C3), each stationary for a reason that holds
exactly:

(i) :func:`independent_point` — RBM with ``W = 0`` and fields matching the
    target's magnetisations (:meth:`dsb_verifier.theory.models.RBM.fields_matching`). At
    ``W = 0`` every column of ``A`` lives on the order-1 subsets, where ``r = 0``.
    Spurious whenever ``q`` is not a product distribution (lowest order 2 when
    ``q`` has pairwise correlations). Eliminating the fields, the Hessian restricted
    to one unit's weights :math:`W_{:\mu}` is :math:`f''(c_\mu)\, R` with
    :math:`R_{ij} = r_{\{i,j\}}` (zero diagonal): traceless, so it has a positive
    eigenvalue whenever the pairwise residual is nonzero — a saddle (Claim C6). On a
    target without pairwise structure ``R = 0`` and the point is Hessian-degenerate.
(ii) :func:`tied_point` — RBM with ``k`` identical hidden units. Swapping two
    units is a symmetry of ``L``, so the subspace of tied units is invariant under
    the flow and the gradient there is tied too: the ``c_mu``/``W_mu`` components
    all equal the gradient of the one-unit :class:`TiedRBM`
    (:math:`u = a\cdot s + k f(c + W\cdot s)`) divided by ``k``. A stationary point
    of :class:`TiedRBM` therefore lifts to a stationary point of ``RBM(N, k)``;
    it is spurious on a target needing distinct units (e.g. a two-unit teacher).
(iii) :func:`maxent_point` — ``TruncatedIsing(N, K)`` at the maximum-entropy
    projection :func:`theory.maxent_projection`: its moments match ``q`` up to
    order ``K``, and ``A`` selects exactly those rows, so :math:`A^\top r = 0`.
    Spurious (lowest order ``K + 1`` generically) when ``q`` has structure above ``K``.

Glossary: ``theta`` parameters ``(P,)``, ``q`` target, ``g`` gradient of ``L``,
``H`` exact Hessian, ``A`` Jacobian of the couplings, ``sigma`` its singular
values, ``r`` moment residual over ``S != 0``, ``lam`` Hessian eigenvalues,
``mu`` Levenberg–Marquardt damping, ``k`` number of tied copies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from dsb_verifier.theory._validation import distribution, scaled_norm
from dsb_verifier.theory.dynamics.flow import integrate_flow
from dsb_verifier.theory.effective import prob
from dsb_verifier.theory.likelihood import exact_hessian, grad_loglik, residual
from dsb_verifier.theory.maxent import maxent_projection
from dsb_verifier.theory.models.base import EnergyModel, TruncatedIsing, check_model
from dsb_verifier.theory.models.rbm import RBM
from dsb_verifier.theory.tolerances import EPS
from dsb_verifier.theory.walsh import order_norms, wht
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "FIXED_POINT_KINDS",
    "HESSIAN_RTOL",
    "POLISH_GTOL",
    "RANK_RTOL",
    "RESIDUAL_ATOL",
    "FixedPoint",
    "TiedRBM",
    "classify",
    "independent_point",
    "maxent_point",
    "polish",
    "represented_orders",
    "structure_at_order",
    "tied_point",
]

#: Signature of a Hessian of ``L``: ``(model, theta, q) -> (P, P)``.
HessianFn = Callable[[EnergyModel, NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]]

#: Kinds of stationary point (Claim C3).
FIXED_POINT_KINDS = ("data-consistent", "spurious")

#: Data-consistent iff ``|r| <= RESIDUAL_ATOL`` (absolute: the true value can be 0;
#: moments are bounded by 1). A point polished to ``|grad| ~ 1e-14`` resolves ``r`` to
#: about ``|grad| / sigma_min(A) + 2^N eps``: consistent flow end points have ``|r| <= 1e-11``,
#: while the smallest spurious residual met (a same-size RBM student's local maximum,
#: ``N = 4``) is ``1e-6``; this threshold sits between, two decades from each.
RESIDUAL_ATOL: float = 1e-9

#: Numerical rank of ``A``: singular values ``<= RANK_RTOL * sigma_max`` count as zero.
#: ``sqrt(eps)``: a polished point is known to about ``|grad| / |lambda|`` (1e-10 or
#: better), so smaller singular values are not resolved there, and the rank loss of
#: a spurious point (``sigma_min <= |A^T r| / |r|``) sits far below this threshold.
RANK_RTOL: float = float(np.sqrt(EPS))

#: Hessian eigenvalues with ``|lambda| <= HESSIAN_RTOL * max|lambda|`` are neutral.
HESSIAN_RTOL: float = float(np.sqrt(EPS))

#: Default target gradient norm of :func:`polish` (a few hundred eps for O(1) gradients).
POLISH_GTOL: float = 1e-13

#: Smallest Levenberg–Marquardt damping ``(_MU0_RTOL * |H|)^2`` (a smooth pseudo-inverse:
#: directions with curvature below ``_MU0_RTOL * |H|`` are not inverted).
_MU0_RTOL = float(np.sqrt(EPS))

#: :func:`polish` stops when ``|g|`` fell by less than ``_STALL_FACTOR`` over ``_STALL_ITERS``
#: accepted steps (Newton converges quadratically inside its basin; linear crawl means outside).
_STALL_ITERS = 10
_STALL_FACTOR = 0.5


# ---- validation -------------------------------------------------------------------
def _one_theta(model: EnergyModel, theta: ArrayLike) -> NDArray[np.float64]:
    th = model.check_theta(theta)
    if th.ndim != 1:
        raise ValueError(f"theta must have shape (P,) = ({model.n_params},), got {th.shape}")
    return th


def _check_point(model: EnergyModel, theta: ArrayLike, q: ArrayLike) -> tuple[NDArray, NDArray]:
    th = _one_theta(model, theta)
    qq = model.check_target(q)
    if qq.ndim != 1:
        raise ValueError(f"q must be one target distribution of shape (2^N,), got {qq.shape}")
    return th.copy(), qq


def _positive(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    v = float(value)
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


# ---- polishing --------------------------------------------------------------------
def polish(
    model: EnergyModel, theta: ArrayLike, q: ArrayLike, *, gtol: float = POLISH_GTOL, max_iter: int = 100
) -> tuple[NDArray[np.float64], float]:
    r"""Refine an approximate stationary point to :math:`\nabla L = 0` (Claim C3).

    Levenberg–Marquardt on the system :math:`g(\theta) = \nabla L = 0` with the exact
    Hessian ``H`` (:func:`theory.exact_hessian`) as its Jacobian:

    .. math:: (H^2 + \mu I)\,\delta = -H g, \qquad
              \delta = -V\, \mathrm{diag}\big(\lambda / (\lambda^2 + \mu)\big)\, V^\top g,

    (``H = V diag(lambda) V^T``) a Newton step with a smooth pseudo-inverse:
    directions with :math:`|\lambda| \ll \sqrt\mu`, e.g. the neutral directions of
    over-parameterised models, are not moved. Solved by Cholesky (no
    eigen-decomposition). A step is accepted when it lowers :math:`\|g\|`; then
    ``mu`` shrinks tenfold, down to :math:`(\sqrt{\epsilon}\,\|H\|)^2`, otherwise it
    grows tenfold. Converges quadratically to the stationary point (maximum or
    saddle) whose basin the start lies in; stops early when :math:`\|g\|` stalls
    (a plateau near a saddle, a point escaping to infinity, or a degenerate quartic
    direction), so the caller must compare the returned gradient norm with its
    stationarity tolerance.

    Parameters
    ----------
    model
        An :class:`~dsb_verifier.theory.models.EnergyModel`.
    theta
        Start, shape ``(P,)``.
    q
        Target distribution, shape ``(2^N,)``.
    gtol
        Stop once :math:`\|\nabla L\| \le` ``gtol``.
    max_iter
        Maximum number of Hessian evaluations.

    Returns
    -------
    theta : ndarray, shape ``(P,)``
        The polished point (the start itself if no step lowered :math:`\|g\|`).
    grad_norm : float
        :math:`\|\nabla L\|` there; compare with a tolerance to decide stationarity.
    """
    model = check_model(model)
    th, qq = _check_point(model, theta, q)
    gtol_ = _positive(gtol, "gtol")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int | np.integer) or max_iter < 0:
        raise ValueError(f"max_iter must be an integer >= 0, got {max_iter!r}")
    g = grad_loglik(model, th, qq)
    gn = float(scaled_norm(g))
    history = [gn]
    mu = 0.0
    for _ in range(int(max_iter)):
        if gn <= gtol_ or (len(history) > _STALL_ITERS and gn > _STALL_FACTOR * history[-1 - _STALL_ITERS]):
            break  # converged, or stalled (outside a Newton basin: a plateau or an escape to infinity)
        H = exact_hessian(model, th, qq)
        scale = float(scaled_norm(np.ravel(H)))
        if scale == 0.0:
            break
        mu_min, mu_max = (_MU0_RTOL * scale) ** 2, 1e4 * scale**2
        mu = max(mu, mu_min) if mu else mu_min
        HH, Hg = H @ H, H @ g
        improved = False
        while mu <= mu_max:
            try:
                step = scipy.linalg.cho_solve(scipy.linalg.cho_factor(HH + mu * np.eye(H.shape[0])), Hg)
            except np.linalg.LinAlgError:  # H^2 + mu I not numerically positive definite
                mu *= 10.0
                continue
            trial = th - step
            with np.errstate(all="ignore"):
                try:
                    g_new = grad_loglik(model, trial, qq)
                except ValueError:  # non-finite trial point
                    g_new = np.full_like(g, np.inf)
            gn_new = float(scaled_norm(g_new))
            if gn_new < gn:
                th, g, gn, improved = trial, g_new, gn_new, True
                history.append(gn)
                mu = max(mu / 10.0, mu_min)
                break
            mu *= 10.0
        if not improved:
            break
    return th, gn


# ---- classification -----------------------------------------------------------------
@dataclass(frozen=True)
class FixedPoint:
    r"""A classified stationary point (Claims C3, C6).

    Attributes
    ----------
    theta
        Parameters, shape ``(P,)``.
    grad_norm
        :math:`\|\nabla L\|` from :func:`theory.grad_loglik` (route ``G (q - p)``).
    jacobian_grad_norm
        :math:`\|A^\top r\|` with the model's Jacobian (the statement's route); equal
        to ``grad_norm`` up to rounding for a correct model.
    kl
        :math:`KL(q \| p_\theta)`.
    residual_norm
        :math:`\|r\|` over ``S != 0``.
    residual_order_norms
        :func:`theory.order_norms` of ``r`` padded with ``S = 0`` (entry 0 is 0), shape ``(N + 1,)``.
    kind
        ``"data-consistent"`` iff ``residual_norm <= residual_atol``, else ``"spurious"``.
    lowest_order
        Smallest ``k`` with ``residual_order_norms[k] > residual_atol / sqrt(N)``
        (exists whenever the point is spurious); ``None`` for data-consistent points.
    singular_values
        Singular values of ``A`` in decreasing order, length ``min(2^N - 1, P)``.
    rank
        Number of singular values above ``rank_tol``.
    rank_tol
        ``RANK_RTOL * sigma_max`` (absolute threshold used).
    hessian_eigenvalues
        Eigenvalues of the Hessian of ``L`` in increasing order, shape ``(P,)``.
    hessian_tol
        ``HESSIAN_RTOL * max|lambda|``.
    n_unstable, n_neutral, n_stable
        Counts of eigenvalues ``> tol``, ``|.| <= tol`` and ``< -tol`` (ascent:
        positive eigenvalues are unstable).
    residual_atol
        The tolerance that decided ``kind``.
    """

    theta: NDArray[np.float64]
    grad_norm: float
    jacobian_grad_norm: float
    kl: float
    residual_norm: float
    residual_order_norms: NDArray[np.float64]
    kind: str
    lowest_order: int | None
    singular_values: NDArray[np.float64]
    rank: int
    rank_tol: float
    hessian_eigenvalues: NDArray[np.float64]
    hessian_tol: float
    n_unstable: int
    n_neutral: int
    n_stable: int
    residual_atol: float

    def __post_init__(self) -> None:
        for name in ("theta", "residual_order_norms", "singular_values", "hessian_eigenvalues"):
            arr = np.array(getattr(self, name), dtype=np.float64)
            if arr.ndim != 1 or not np.all(np.isfinite(arr)):
                raise ValueError(f"FixedPoint.{name} must be a finite 1-d array, got shape {arr.shape}")
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        P, N = self.theta.size, self.residual_order_norms.size - 1
        if N < 1 or self.residual_order_norms[0] != 0 or np.any(self.residual_order_norms < 0):
            raise ValueError("FixedPoint.residual_order_norms must have shape (N + 1,), N >= 1, entry 0 zero")
        if self.hessian_eigenvalues.shape != (P,) or np.any(np.diff(self.hessian_eigenvalues) < 0):
            raise ValueError(f"FixedPoint.hessian_eigenvalues must be sorted ascending with shape ({P},)")
        sv = self.singular_values
        if sv.size != min(2**N - 1, P) or np.any(np.diff(sv) > 0) or np.any(sv < 0):
            raise ValueError(
                f"FixedPoint.singular_values must be min(2^N - 1, P) = {min(2**N - 1, P)} values, "
                "non-increasing and >= 0"
            )
        for name in (
            "grad_norm",
            "jacobian_grad_norm",
            "residual_norm",
            "residual_atol",
            "rank_tol",
            "hessian_tol",
        ):
            v = getattr(self, name)
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"FixedPoint.{name} must be finite and >= 0, got {v!r}")
        if not np.isfinite(self.kl) or self.kl < -1e-12:
            raise ValueError(f"FixedPoint.kl must be finite and >= 0, got {self.kl!r}")
        if self.kind not in FIXED_POINT_KINDS:
            raise ValueError(f"FixedPoint.kind must be one of {FIXED_POINT_KINDS}, got {self.kind!r}")
        if (self.kind == "data-consistent") != (self.residual_norm <= self.residual_atol):
            raise ValueError("FixedPoint.kind disagrees with residual_norm <= residual_atol")
        if (self.lowest_order is None) != (self.kind == "data-consistent"):
            raise ValueError("FixedPoint.lowest_order must be None exactly for data-consistent points")
        if self.lowest_order is not None and not 1 <= self.lowest_order <= N:
            raise ValueError(f"FixedPoint.lowest_order must be in [1, {N}], got {self.lowest_order}")
        if self.rank != int(np.sum(sv > self.rank_tol)):
            raise ValueError("FixedPoint.rank disagrees with singular_values and rank_tol")
        lam, tol = self.hessian_eigenvalues, self.hessian_tol
        counts = (int(np.sum(lam > tol)), int(np.sum(np.abs(lam) <= tol)), int(np.sum(lam < -tol)))
        if counts != (self.n_unstable, self.n_neutral, self.n_stable):
            raise ValueError("FixedPoint eigenvalue counts disagree with hessian_eigenvalues and hessian_tol")

    @property
    def n_visible(self) -> int:
        """Number of visible spins ``N``."""
        return self.residual_order_norms.size - 1

    @property
    def n_rows(self) -> int:
        """Rows of ``A``, ``2^N - 1`` (full row rank means ``rank == n_rows``)."""
        return 2**self.n_visible - 1

    @property
    def full_row_rank(self) -> bool:
        """Whether ``A`` has numerical rank ``2^N - 1``."""
        return self.rank == self.n_rows

    @property
    def rank_margin(self) -> float:
        """Factor by which the singular values nearest ``rank_tol`` clear it (``inf`` if none)."""
        return _margin(self.singular_values, self.rank_tol)

    @property
    def hessian_margin(self) -> float:
        """Factor by which the eigenvalues nearest the neutral band ``hessian_tol`` clear it."""
        return _margin(np.abs(self.hessian_eigenvalues), self.hessian_tol)

    @property
    def residual_margin(self) -> float:
        """Factor by which the residual decisions clear their thresholds (``kind`` and ``lowest_order``).

        Data-consistent: ``residual_atol / |r|``. Spurious: the smallest of
        ``|r| / residual_atol``, ``|r_k| / t`` at the lowest order ``k`` and
        ``t / max_{j<k} |r_j|``, with ``t = residual_atol / sqrt(N)``.
        """
        r, atol, t = (
            self.residual_order_norms,
            self.residual_atol,
            self.residual_atol / np.sqrt(self.n_visible),
        )
        if self.lowest_order is None:
            return float(atol / self.residual_norm) if self.residual_norm > 0 else np.inf
        below = float(np.max(r[: self.lowest_order]))
        return float(
            min(self.residual_norm / atol, r[self.lowest_order] / t, t / below if below > 0 else np.inf)
        )

    @property
    def is_saddle(self) -> bool:
        """At least one unstable (ascent) direction (Claim C6)."""
        return self.n_unstable > 0


def _margin(x: NDArray[np.float64], tol: float) -> float:
    """``min(smallest x above tol / tol, tol / largest x at or below tol)``, ignoring exact zeros."""
    above, below = x[x > tol], x[(x <= tol) & (x > 0)]
    out = np.inf
    if above.size and tol > 0:
        out = min(out, float(above.min()) / tol)
    if below.size:
        out = min(out, tol / float(below.max()))
    return float(out)


def classify(
    model: EnergyModel,
    theta: ArrayLike,
    q: ArrayLike,
    *,
    residual_atol: float = RESIDUAL_ATOL,
    rank_rtol: float = RANK_RTOL,
    hessian_rtol: float = HESSIAN_RTOL,
    hessian: HessianFn = exact_hessian,
) -> FixedPoint:
    r"""Classify a (polished) stationary point as data-consistent or spurious (Claims C3, C6).

    Parameters
    ----------
    model, theta, q
        Model, one parameter vector ``(P,)`` and one target ``(2^N,)``. ``theta``
        should already be stationary (:func:`polish`); ``grad_norm`` says how well.
    residual_atol, rank_rtol, hessian_rtol
        Named tolerances (:data:`RESIDUAL_ATOL`, :data:`RANK_RTOL`, :data:`HESSIAN_RTOL`).
    hessian
        ``(model, theta, q) -> (P, P)`` Hessian of ``L``; :func:`theory.exact_hessian`
        unless a negative control substitutes a wrong one.

    Returns
    -------
    FixedPoint
    """
    model = check_model(model)
    th, qq = _check_point(model, theta, q)
    atol = _positive(residual_atol, "residual_atol")
    rrt = _positive(rank_rtol, "rank_rtol")
    hrt = _positive(hessian_rtol, "hessian_rtol")
    N = model.n_visible
    r = residual(model, th, qq)
    A = model.jacobian(th)
    sv = np.asarray(np.linalg.svd(A, compute_uv=False), dtype=np.float64)
    r_orders = order_norms(np.concatenate([[0.0], r]))
    r_norm = float(scaled_norm(r))
    consistent = r_norm <= atol
    lowest = None if consistent else int(np.flatnonzero(r_orders > atol / np.sqrt(N))[0])
    H = np.asarray(hessian(model, th, qq), dtype=np.float64)
    if H.shape != (model.n_params, model.n_params) or not np.all(np.isfinite(H)):
        raise ValueError(f"hessian must return a finite ({model.n_params}, {model.n_params}) array")
    lam = np.asarray(np.linalg.eigvalsh(0.5 * (H + H.T)), dtype=np.float64)
    htol = hrt * float(np.max(np.abs(lam))) if lam.size else 0.0
    rank_tol = rrt * float(sv[0]) if sv.size else 0.0
    return FixedPoint(
        theta=th,
        grad_norm=float(scaled_norm(grad_loglik(model, th, qq))),
        jacobian_grad_norm=float(scaled_norm(A.T @ r)),
        kl=float(np.sum(qq * (np.log(qq) - model.log_prob(th)))),
        residual_norm=r_norm,
        residual_order_norms=r_orders,
        kind=FIXED_POINT_KINDS[0] if consistent else FIXED_POINT_KINDS[1],
        lowest_order=lowest,
        singular_values=sv,
        rank=int(np.sum(sv > rank_tol)),
        rank_tol=rank_tol,
        hessian_eigenvalues=lam,
        hessian_tol=htol,
        n_unstable=int(np.sum(lam > htol)),
        n_neutral=int(np.sum(np.abs(lam) <= htol)),
        n_stable=int(np.sum(lam < -htol)),
        residual_atol=atol,
    )


# ---- orders: what the model represents, where the target has structure (Claim C6) ----
def represented_orders(model: EnergyModel, theta: ArrayLike) -> NDArray[np.bool_]:
    r"""Orders ``k`` the model's couplings can move at: order-``k`` rows of ``A(theta)`` not all zero.

    Evaluate at a generic ``theta`` (e.g. ``model.init(rng, 1.0)``). For
    ``TruncatedIsing(N, K)`` this is exactly ``1 <= k <= K``; for RBMs and tanh
    networks every order. A spurious point whose residual starts at an order the
    family cannot represent (e.g. ``K + 1`` for the max-ent fit) is a maximum of
    the family, not a low-order inconsistency (the reading of Claim C6 we test).

    Returns
    -------
    ndarray of bool, shape ``(N + 1,)``
        Entry ``k``: the order-``k`` block of ``A`` has norm above ``RANK_RTOL * |A|``
        (entry 0, the constant, is False).
    """
    model = check_model(model)
    th = _one_theta(model, theta)
    A = model.jacobian(th)
    blocks = order_norms(np.concatenate([np.zeros((1, A.shape[1])), A], axis=0).T)  # (P, N + 1)
    per_order = scaled_norm(blocks, axis=0)
    return per_order > RANK_RTOL * float(scaled_norm(np.ravel(A)))


def structure_at_order(q: ArrayLike, k: int) -> float:
    r"""Size of the target's new structure at order ``k`` (Claim C6).

    .. math:: \|m_k(q) - m_k(p^{(k-1)})\|

    with :math:`p^{(k-1)}` the maximum-entropy projection of ``q`` onto orders
    ``< k`` (:func:`theory.maxent_projection`; the uniform distribution for
    ``k = 1``): zero exactly when the order-``k`` moments of ``q`` follow from
    its lower-order ones. E.g. any pairwise-correlated ``q`` has structure at
    order 2; the pure three-body :func:`theory.k_body_target` has none at orders
    1 and 2.
    """
    qq, N = distribution(q, "q")
    if qq.ndim != 1:
        raise ValueError(f"q must be one target distribution of shape (2^N,), got {qq.shape}")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= N:
        raise ValueError(f"k must be an integer order in [1, N] = [1, {N}], got {k!r}")
    J = maxent_projection(qq, int(k) - 1)
    gap = wht(qq) - wht(prob(J))
    return float(order_norms(gap)[int(k)])


# ---- constructive spurious points (Claim C3) ------------------------------------------
class TiedRBM(EnergyModel):
    r"""One RBM hidden unit counted ``k`` times: :math:`u = a\cdot s + k\, f(c + W\cdot s)` (Claim C3 (ii)).

    The restriction of ``RBM(N, k)`` to the invariant subspace where all hidden
    units coincide. Layout as ``RBM(N, 1)``: ``a (N,), c (1,), W (N, 1)``;
    :meth:`lift` maps a point to the tied ``RBM(N, k)`` parameters. Computed from
    the one-unit RBM through :math:`u(\theta) = k\, u_1(D\theta)` with ``D`` scaling
    ``a`` by ``1/k``.
    """

    def __init__(self, n_visible: int, n_copies: int = 2, hidden: str = "spin") -> None:
        super().__init__(n_visible)
        if isinstance(n_copies, bool) or not isinstance(n_copies, int | np.integer) or n_copies < 2:
            raise ValueError(f"n_copies must be an integer >= 2 (tied hidden units), got {n_copies!r}")
        self.n_copies = int(n_copies)
        self._unit = RBM(n_visible, 1, hidden=hidden)
        self.hidden = hidden
        self.family = f"rbm-{hidden} tied x{self.n_copies}"

    @property
    def layout(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        return self._unit.layout

    def _inner(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        th = np.array(theta, dtype=np.float64)
        th[..., : self.n_visible] /= self.n_copies
        return th

    def _neg_energy(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        return self.n_copies * self._unit._neg_energy(self._inner(theta))

    def _grad_neg_energy(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        G = self._unit._grad_neg_energy(self._inner(theta))
        G[..., self.n_visible :, :] *= self.n_copies  # d/da = k * (1/k) s; d/dc, d/dW scale by k
        return G

    def _weighted_hessian(self, theta: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
        return self.n_copies * self._unit._weighted_hessian(self._inner(theta), w)

    def init(self, rng: np.random.Generator, scale: float) -> NDArray[np.float64]:
        """As :meth:`dsb_verifier.theory.models.RBM.init` for one unit."""
        return self._unit.init(rng, scale)

    def lift(self, theta: ArrayLike) -> tuple[RBM, NDArray[np.float64]]:
        """The ``RBM(N, k)`` and its parameters with ``k`` identical copies of the unit."""
        th = self.check_theta(theta)
        if th.ndim != 1:
            raise ValueError(f"lift takes one theta of shape (P,) = ({self.n_params},), got {th.shape}")
        k, N = self.n_copies, self.n_visible
        full = RBM(N, k, hidden=self.hidden)
        p = self.unpack(th)
        return full, full.pack(a=p["a"], c=np.repeat(p["c"], k), W=np.repeat(p["W"], k, axis=1))

    def __repr__(self) -> str:
        return f"TiedRBM(n_visible={self.n_visible}, n_copies={self.n_copies}, hidden={self.hidden!r})"


def independent_point(q: ArrayLike, n_hidden: int, hidden: str = "spin") -> tuple[RBM, NDArray[np.float64]]:
    """Construction (i): ``RBM(N, n_hidden)`` at ``W = 0``, ``c = 0``, fields matching ``q``.

    See :meth:`dsb_verifier.theory.models.RBM.fields_matching` for why it is stationary. Lowest
    inconsistent order 2 when ``q`` has pairwise correlations beyond the product.
    """
    qq = np.asarray(q, dtype=np.float64)
    model = RBM(int(qq.shape[-1]).bit_length() - 1, n_hidden, hidden=hidden)
    return model, model.fields_matching(qq)


def tied_point(
    q: ArrayLike,
    theta0: ArrayLike,
    *,
    n_copies: int = 2,
    hidden: str = "spin",
    t_max: float = 1e4,
    flow_gtol: float = 1e-6,
    gtol: float = POLISH_GTOL,
) -> tuple[RBM, NDArray[np.float64]]:
    r"""Construction (ii): a stationary point of ``RBM(N, k)`` with ``k`` coinciding hidden units.

    Integrates the gradient flow of :class:`TiedRBM` from ``theta0`` (shape
    ``(2N + 1,)``) until ``|grad| < flow_gtol`` or ``t_max``, polishes the end point
    within the tied subspace (:func:`polish` with ``gtol``) and lifts it. The tied
    (one-unit) fit may lie at infinity (a unit saturating into an effective
    pairwise star); the caller checks stationarity of the result, e.g. with
    :func:`theory.grad_loglik`, and may retry with another target or start.

    Returns
    -------
    model : RBM
        ``RBM(N, n_copies, hidden)``.
    theta : ndarray
        The lifted point; stationary for ``model`` to the accuracy of the tied polish.
    """
    qq = np.asarray(q, dtype=np.float64)
    tied = TiedRBM(int(qq.shape[-1]).bit_length() - 1, n_copies, hidden)
    end = integrate_flow(
        tied, theta0, qq, t_max=t_max, gtol=flow_gtol, rtol=1e-6, atol=1e-9, n_checkpoints=1
    ).theta_end
    th, _ = polish(tied, end, qq, gtol=gtol)
    return tied.lift(th)


def maxent_point(q: ArrayLike, max_order: int) -> tuple[TruncatedIsing, NDArray[np.float64]]:
    """Construction (iii): ``TruncatedIsing(N, K)`` at the maximum-entropy projection of ``q``.

    Stationary because its moments match ``q``'s up to order ``K`` and ``A``
    selects exactly those subsets; a maximum within the (concave) family.
    """
    J = maxent_projection(q, max_order)
    model = TruncatedIsing(int(J.size).bit_length() - 1, max_order)
    return model, J[model.subsets]
