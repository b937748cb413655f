r"""High-precision twins: the float64 routes against 50-digit mpmath, for N <= 4.

Every quantity here is recomputed in mpmath at :data:`PRECISION_DPS` significant
digits from the *same* float64 inputs (a float64 number is an exact binary
rational, so the twin sees exactly what the float64 route saw) and compared with
the float64 route of :mod:`theory`. This is the "exact vs mpmath high precision"
pair of house rule 3, docs/development.md; it backs the numbers behind Claims C1 (``J``, ``m``,
``log Z``), C2 (``F``), C3 (the residual of a spurious point) and C4 (the exact
Hessian). Precision is raised only inside each function (``mp.workdps``).

Disagreement measures (all returned as float, all ``>= 0``)
-----------------------------------------------------------
``d(x, y) = max_i |x_i - y_i| / max(max_i |y_i|, floor)`` with ``x`` the float64
route and ``y`` the 50-digit twin, evaluated in mpmath. The twin evaluates the
*same formula on the same float64 input* (a distribution is not renormalised:
theory's validation accepts sums within ``~1e-12`` of 1, an input-level error the
routes do not claim to remove), so ``d`` measures the rounding of the route only.

* ``couplings``, ``log_partition``, ``kl``: ``floor`` tiny, i.e. norm-wise
  *relative* (``max|J| >= |J_0| >= N log 2`` and ``log Z >= N log 2`` never vanish;
  ``KL`` is compared only between distinct targets).
* ``moments``, ``fisher``, ``residual``, ``hessian``: ``floor = 1``, i.e.
  *absolute* below unit scale — these entries can be exactly 0 and are bounded:
  ``|m_S| <= 1``, ``|F_ST| <= 2``, ``|r_S| <= 2``, and for an RBM ``|H_kl| <= 3``
  (``|f''| <= 1``, ``|du/dtheta| <= 1``).

Accuracy of the float64 routes (measured; see :data:`PRECISION_BOUNDS`)
---------------------------------------------------------------------
Typical targets (Dirichlet and Ising targets, RBM points with O(1) weights):
every disagreement is below ``1e-15`` (``audit(0)``: max ``6e-16``). At the
extremes — smallest probability ``1e-15``, couplings up to ``|J_S| = 20``, RBM
weights up to 20 — the bounds of :data:`PRECISION_BOUNDS` still hold (measured
over 30 random extreme cases per kind: couplings ``2e-16``, moments ``2e-16``,
``F`` ``4e-16``, ``log Z`` ``2e-16``, ``KL`` ``3e-16``, ``H`` ``1e-14`` (weights 20),
``r`` ``1.3e-15``). The routes are **not** entry-wise relatively accurate where the
true value is far below unit scale, and nothing refuses such inputs:

* ``theory.fisher`` forms :math:`m_{S\oplus T} - m_S m_T`; for a peaked ``p``
  (``|J| = 20``) the true smallest eigenvalue is ``1e-27..1e-39`` but the float64
  matrix has eigenvalues down to ``-5e-16`` (indefinite, although documented
  positive definite), and ``1 - m_S^2`` rounds to exactly 0. The formula is
  also first-order sensitive to ``sum p - 1 ~ EPS`` (its exact value on the
  float64 vector is indefinite too). The centred form
  :math:`\sum_s p\,(\chi_S - m_S)(\chi_T - m_T)` (as in
  ``dsb_verifier.theory.likelihood._covariance``) recovers eigenvalues down to ``~1e-19``.
* ``theory.kl(q, p)`` sums :math:`q(\log q - \log p)` with absolute error
  ``~EPS * sum q |log q|``: relative error ``2.5e-4`` at ``KL = 4e-13``; for ``p``
  within ``1e-8`` of ``q`` it returns ``-3e-17`` (documented ``>= 0``). Below
  ``~1e-15`` KL is not resolvable from float64 inputs at all: a normalisation
  error ``delta = sum p - 1 ~ EPS`` enters KL at first order (the exact KL of
  those float64 vectors is itself ``-4e-17`` there).
* ``theory.exact_hessian`` at a peaked model (``p_max = 1 - 3e-16``): an entry of
  size ``2.6e-19`` carries relative error ``7e-5`` (absolute ``2e-23``), from
  ``q - p`` with both near 1.

A probability that underflows to 0 (``theory.prob`` at ``|u|`` beyond ~745) is
refused by ``couplings``, ``moments``, ``fisher`` and ``kl`` (strict positivity)
with a ``ValueError``, as are ``N > 4`` and non-RBM models by the twins here.

Glossary: ``p``, ``q`` distributions (state axis last), ``J`` couplings, ``m``
moments, ``F`` Fisher matrix, ``theta`` RBM parameters ``concat(a, c, W)``, ``u``
negative energy, ``G`` its gradient over states, ``H`` exact Hessian of ``L``,
``r`` moment residual over ``S != 0``, ``dps`` decimal digits of mpmath.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import mpmath
import numpy as np
from dsb_verifier.theory._validation import distribution, state_vector
from dsb_verifier.theory.dynamics.fixed_points import independent_point
from dsb_verifier.theory.effective import couplings, fisher, kl, log_partition, moments
from dsb_verifier.theory.likelihood import exact_hessian, residual
from dsb_verifier.theory.models.rbm import RBM
from dsb_verifier.theory.targets import dirichlet_target, ising_target
from dsb_verifier.theory.tolerances import EPS
from mpmath import mp
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "MAX_N_PRECISION",
    "PRECISION_BOUNDS",
    "PRECISION_DPS",
    "PRECISION_QUANTITIES",
    "PrecisionAudit",
    "audit",
    "couplings_disagreement",
    "fisher_disagreement",
    "hessian_disagreement",
    "kl_disagreement",
    "log_partition_disagreement",
    "moments_disagreement",
    "residual_disagreement",
]

#: Significant decimal digits of the mpmath twins.
PRECISION_DPS = 50

#: Largest N the twins enumerate (2^N states, P^2 Hessian entries in mpmath).
MAX_N_PRECISION = 4

#: Quantities audited, in report order.
PRECISION_QUANTITIES: tuple[str, ...] = (
    "couplings",
    "moments",
    "log_partition",
    "fisher",
    "kl",
    "hessian",
    "residual",
)

#: Rounding budget of one length-2^N transform at N <= 4: 2^N terms, N butterfly
#: levels, plus the rounding of the inputs (log, exp) — 16 * 4 * 4 EPS ~ 5.7e-14.
_TRANSFORM = 4.0 * 2**MAX_N_PRECISION * MAX_N_PRECISION * EPS

#: Documented float64 accuracy (in the measures of the module docstring) that the
#: float64 routes meet for strictly positive float64 inputs with smallest
#: probability >= 1e-15, couplings |J_S| <= 20 and RBM parameters |theta| <= 20 at
#: N <= 4. Derived from the transform budget times the conditioning of each formula:
#:
#: * ``couplings``: ``log p`` has absolute error ``<= EPS |log p|`` and
#:   ``max|log p| <= 2^N mean|log p| <= 2^N max|J|`` -> ``2^N`` times the budget.
#: * ``moments``, ``fisher``, ``residual``: sums of ``2^N`` terms of size ``<= 1``
#:   (products for ``F``), absolute -> the budget (twice for ``F`` and ``r``).
#: * ``log_partition``: log-sum-exp of ``u`` with ``|u| <= sum|J|``; relative to
#:   ``log Z >= N log 2`` the error is ``<= 2^N`` times the budget.
#: * ``kl``: relative error ``<= EPS * sum q |log(q/p)| / KL``; for distinct targets
#:   (``KL >= 1e-2``, ``|log(q/p)| <= 35``) that is ``<= 4e3 EPS`` -> ``1e3`` budgets.
#: * ``hessian``: ``p_theta`` carries relative error ``EPS max|u|`` from log-sum-exp,
#:   with ``max|u| <~ 300`` at ``|theta| <= 20``; times ``|d^2u| <= 1`` -> ``1e2`` budgets.
PRECISION_BOUNDS: dict[str, float] = {
    "couplings": 2**MAX_N_PRECISION * _TRANSFORM,
    "moments": _TRANSFORM,
    "log_partition": 2**MAX_N_PRECISION * _TRANSFORM,
    "fisher": 2.0 * _TRANSFORM,
    "kl": 1e3 * _TRANSFORM,
    "hessian": 1e2 * _TRANSFORM,
    "residual": 2.0 * _TRANSFORM,
}

_TINY = 1e-300


# ---- validation -------------------------------------------------------------------
def _check_small(N: int, what: str) -> None:
    if N > MAX_N_PRECISION:
        raise ValueError(
            f"{what}: the 50-digit twin enumerates 2^N states in mpmath and needs "
            f"N <= {MAX_N_PRECISION}, got N = {N}"
        )


def _one_distribution(p: ArrayLike, name: str, what: str) -> NDArray[np.float64]:
    x, N = distribution(p, name)
    if x.ndim != 1:
        raise ValueError(f"{what} takes one {name} of shape (2^N,), got shape {x.shape}")
    _check_small(N, what)
    return x


def _check_rbm_point(
    model: object, theta: ArrayLike, q: ArrayLike, what: str
) -> tuple[RBM, NDArray[np.float64], NDArray[np.float64]]:
    if not isinstance(model, RBM):
        raise ValueError(
            f"{what} has a 50-digit twin for dsb_verifier.theory.models.RBM only, got {type(model).__name__}"
        )
    _check_small(model.n_visible, what)
    th = model.check_theta(theta)
    if th.ndim != 1:
        raise ValueError(f"{what} takes one theta of shape (P,) = ({model.n_params},), got {th.shape}")
    qq = model.check_target(q)
    if qq.ndim != 1:
        raise ValueError(f"{what} takes one target q of shape (2^N,), got {qq.shape}")
    return model, th, qq


# ---- mpmath kernels (call inside mp.workdps) ------------------------------------------
def _mp(x: NDArray[np.float64]) -> list[mpmath.mpf]:
    """Float64 entries as exact mpf numbers (flattened, row-major)."""
    return [mp.mpf(float(v)) for v in np.ravel(x)]


def _mp_wht(x: Sequence[mpmath.mpf]) -> list[mpmath.mpf]:
    """Unnormalised Walsh–Hadamard transform (conventions of :mod:`dsb_verifier.theory.walsh`) in mpmath."""
    y = list(x)
    h = 1
    while h < len(y):
        for lo in range(0, len(y), 2 * h):
            for b in range(lo, lo + h):
                y[b], y[b + h] = y[b] + y[b + h], y[b] - y[b + h]
        h *= 2
    return y


def _spins(N: int) -> list[list[int]]:
    """``s[b][i] = (-1)^(bit i of b)`` (:func:`dsb_verifier.theory.walsh.states`)."""
    return [[1 - 2 * ((b >> i) & 1) for i in range(N)] for b in range(2**N)]


def _disagreement(x: ArrayLike, y: Sequence[mpmath.mpf], floor: float) -> float:
    r""":math:`\max_i |x_i - y_i| / \max(\max_i |y_i|, \mathrm{floor})`, evaluated in mpmath."""
    xs = _mp(np.asarray(x, dtype=np.float64))
    if len(xs) != len(y):
        raise AssertionError(f"route lengths differ: {len(xs)} vs {len(y)}")  # pragma: no cover, no mutate
    err = max(abs(a - b) for a, b in zip(xs, y, strict=True))
    scale = max(max(abs(b) for b in y), mp.mpf(floor))
    return float(err / scale)


def _mp_log_partition(J: Sequence[mpmath.mpf]) -> mpmath.mpf:
    u = _mp_wht([mp.mpf(0), *J[1:]])
    umax = max(u)
    return umax + mp.log(mp.fsum(mp.exp(v - umax) for v in u))


def _mp_moments(p: Sequence[mpmath.mpf]) -> list[mpmath.mpf]:
    return _mp_wht(p)


def _mp_fisher(p: Sequence[mpmath.mpf]) -> list[mpmath.mpf]:
    m = _mp_moments(p)
    n = len(p)
    return [m[S ^ T] - m[S] * m[T] for S in range(1, n) for T in range(1, n)]


def _rbm_terms(
    model: RBM, theta: NDArray[np.float64]
) -> tuple[list[mpmath.mpf], list[list[mpmath.mpf]], list[list[list[mpmath.mpf]]]]:
    r"""``u[b]``, ``G[b][k] = du/dtheta_k`` and ``D2[b][mu] = (f(h), f'(h), f''(h))`` per unit.

    :math:`f = \log 2\cosh`, :math:`f' = \tanh`, :math:`f'' = \mathrm{sech}^2` for hidden
    spins; :math:`f = \log(1 + e^h)`, :math:`f' = \sigma(h)`, :math:`f'' = \sigma(1 - \sigma)`
    for hidden bits (:mod:`dsb_verifier.theory.models.rbm`).
    """
    N, M = model.n_visible, model.n_hidden
    th = _mp(theta)
    a, c = th[:N], th[N : N + M]
    W = [[th[N + M + i * M + mu] for mu in range(M)] for i in range(N)]
    u: list[mpmath.mpf] = []
    G: list[list[mpmath.mpf]] = []
    D: list[list[list[mpmath.mpf]]] = []
    for s in _spins(N):
        us = mp.fsum(a[i] * s[i] for i in range(N))
        f1s, dd = [], []
        for mu in range(M):
            h = c[mu] + mp.fsum(s[i] * W[i][mu] for i in range(N))
            if model.hidden == "spin":
                f, f1 = mp.log(2 * mp.cosh(h)), mp.tanh(h)
                f2 = mp.sech(h) ** 2
            else:
                f, f1 = mp.log1p(mp.exp(h)), 1 / (1 + mp.exp(-h))
                f2 = f1 * (1 - f1)
            us += f
            f1s.append(f1)
            dd.append([f, f1, f2])
        u.append(us)
        G.append([mp.mpf(si) for si in s] + f1s + [s[i] * f1s[mu] for i in range(N) for mu in range(M)])
        D.append(dd)
    return u, G, D


def _mp_prob(u: Sequence[mpmath.mpf]) -> list[mpmath.mpf]:
    umax = max(u)
    w = [mp.exp(v - umax) for v in u]
    Z = mp.fsum(w)
    return [v / Z for v in w]


def _mp_hessian(model: RBM, theta: NDArray[np.float64], q: NDArray[np.float64]) -> list[mpmath.mpf]:
    r""":math:`\sum_s (q - p)\nabla^2 u - \mathrm{Cov}_p(\nabla u)`, row-major ``P x P``."""
    N, M, P = model.n_visible, model.n_hidden, model.n_params
    u, G, D = _rbm_terms(model, theta)
    p = _mp_prob(u)
    qq = _mp(q)
    S = _spins(N)
    n = len(p)
    Gbar = [mp.fsum(p[b] * G[b][k] for b in range(n)) for k in range(P)]
    Gc = [[G[b][k] - Gbar[k] for k in range(P)] for b in range(n)]
    H = [[-mp.fsum(p[b] * Gc[b][k] * Gc[b][l] for b in range(n)) for l in range(P)] for k in range(P)]
    for mu in range(M):
        # unit mu's parameters: c_mu, then W[i, mu]; curvature f''(h_mu) x x^T with x = (1, s)
        idx = [N + mu] + [N + M + i * M + mu for i in range(N)]
        for j, kj in enumerate(idx):
            for l, kl_ in enumerate(idx):
                H[kj][kl_] += mp.fsum(
                    (qq[b] - p[b])
                    * D[b][mu][2]
                    * (1 if j == 0 else S[b][j - 1])
                    * (1 if l == 0 else S[b][l - 1])
                    for b in range(n)
                )
    return [H[k][l] for k in range(P) for l in range(P)]


# ---- public disagreements ---------------------------------------------------------
def couplings_disagreement(p: ArrayLike) -> float:
    r"""Norm-wise relative disagreement of :func:`theory.couplings` with the 50-digit twin.

    Twin: :math:`J_S = 2^{-N} \sum_b \chi_S(b) \log p_b` in mpmath, ``J_0`` included
    (Claim C1). ``p``: one strictly positive distribution, ``N <= 4``.
    """
    x = _one_distribution(p, "p", "couplings_disagreement")
    with mp.workdps(PRECISION_DPS):
        logp = [mp.log(v) for v in _mp(x)]
        J = [v / len(x) for v in _mp_wht(logp)]
        return _disagreement(couplings(x), J, _TINY)


def moments_disagreement(p: ArrayLike) -> float:
    r"""Absolute disagreement of :func:`theory.moments`, :math:`m_S = \sum_b \chi_S(b) p_b`."""
    x = _one_distribution(p, "p", "moments_disagreement")
    with mp.workdps(PRECISION_DPS):
        return _disagreement(moments(x), _mp_moments(_mp(x)), 1.0)


def log_partition_disagreement(J: ArrayLike) -> float:
    r"""Relative disagreement of :func:`theory.log_partition`, :math:`\log \sum_s e^{u(s)}`.

    ``J``: one coupling vector of shape ``(2^N,)``, ``N <= 4`` (``J[0]`` ignored).
    """
    x, N = state_vector(J, "J")
    if x.ndim != 1:
        raise ValueError(f"log_partition_disagreement takes one J of shape (2^N,), got shape {x.shape}")
    _check_small(N, "log_partition_disagreement")
    with mp.workdps(PRECISION_DPS):
        return _disagreement(log_partition(x), [_mp_log_partition(_mp(x))], _TINY)


def fisher_disagreement(p: ArrayLike) -> float:
    r"""Absolute disagreement of :func:`theory.fisher`, :math:`F_{ST} = m_{S\oplus T} - m_S m_T` (C2)."""
    x = _one_distribution(p, "p", "fisher_disagreement")
    with mp.workdps(PRECISION_DPS):
        return _disagreement(fisher(x), _mp_fisher(_mp(x)), 1.0)


def kl_disagreement(q: ArrayLike, p: ArrayLike) -> float:
    r"""Relative disagreement of :func:`theory.kl`, :math:`\sum_s q \log(q/p)`.

    Only meaningful for distinct ``q`` and ``p``: for ``p -> q`` the float64 route
    loses all relative accuracy (module docstring); the relative measure then grows
    without bound, which this function reports rather than hides.
    """
    qq = _one_distribution(q, "q", "kl_disagreement")
    pp = _one_distribution(p, "p", "kl_disagreement")
    if qq.shape != pp.shape:
        raise ValueError(f"q and p must have the same shape, got {qq.shape} and {pp.shape}")
    with mp.workdps(PRECISION_DPS):
        ref = mp.fsum(a * (mp.log(a) - mp.log(b)) for a, b in zip(_mp(qq), _mp(pp), strict=True))
        return _disagreement(kl(qq, pp), [ref], _TINY)


def hessian_disagreement(model: RBM, theta: ArrayLike, q: ArrayLike) -> float:
    r"""Disagreement (absolute below unit scale) of :func:`theory.exact_hessian` for an RBM (Claim C4).

    Twin: :math:`u(s) = a\cdot s + \sum_\mu f(c_\mu + W_{:\mu}\cdot s)` with mpmath
    ``log``/``cosh``/``exp``, :math:`\partial u/\partial\theta` and
    :math:`\partial^2 u/\partial\theta^2` analytically, and
    :math:`H = \sum_s (q - p)\nabla^2 u - \mathrm{Cov}_p(\nabla u)`.
    """
    model, th, qq = _check_rbm_point(model, theta, q, "hessian_disagreement")
    with mp.workdps(PRECISION_DPS):
        return _disagreement(exact_hessian(model, th, qq), _mp_hessian(model, th, qq), 1.0)


def residual_disagreement(model: RBM, theta: ArrayLike, q: ArrayLike) -> float:
    r"""Absolute disagreement of :func:`theory.residual`, :math:`r = m(q) - m(p_\theta)` over ``S != 0``.

    Used at the spurious ``W = 0`` fields-matching point (Claim C3), where the
    order-1 entries are 0 in exact arithmetic.
    """
    model, th, qq = _check_rbm_point(model, theta, q, "residual_disagreement")
    with mp.workdps(PRECISION_DPS):
        u, _, _ = _rbm_terms(model, th)
        r = [a - b for a, b in zip(_mp_moments(_mp(qq)), _mp_moments(_mp_prob(u)), strict=True)]
        return _disagreement(residual(model, th, qq), r[1:], 1.0)


# ---- the audit ----------------------------------------------------------------------
@dataclass(frozen=True)
class PrecisionAudit:
    """Largest float64-vs-50-digit disagreement of each quantity over the audited cases.

    Attributes are the measures of the module docstring (relative for
    ``couplings``, ``log_partition``, ``kl``; absolute below unit scale for
    ``moments``, ``fisher``, ``hessian``, ``residual``); ``max`` is the largest of them and ``n_cases`` the
    number of generated cases per kind.
    """

    couplings: float
    moments: float
    log_partition: float
    fisher: float
    kl: float
    hessian: float
    residual: float
    max: float
    n_cases: int

    def __post_init__(self) -> None:
        vals = [getattr(self, q) for q in PRECISION_QUANTITIES]
        if not all(np.isfinite(v) and v >= 0 for v in [*vals, self.max]):
            raise ValueError(f"disagreements must be finite and >= 0, got {self.to_dict()}")
        if self.max != max(vals):
            raise ValueError(f"max must be the largest disagreement {max(vals)!r}, got {self.max!r}")
        if self.n_cases < 1:
            raise ValueError(f"n_cases must be >= 1, got {self.n_cases}")

    def to_dict(self) -> dict[str, float]:
        """``{quantity: disagreement, ..., "max": ...}`` (the report's ``precision_audit``)."""
        return {f.name: float(getattr(self, f.name)) for f in fields(self) if f.name != "n_cases"}

    def within_bounds(self, bounds: dict[str, float] | None = None) -> bool:
        """True iff every quantity is within ``bounds`` (default :data:`PRECISION_BOUNDS`)."""
        b = PRECISION_BOUNDS if bounds is None else bounds
        return all(getattr(self, q) <= b[q] for q in PRECISION_QUANTITIES)


def _extreme_cases(rng: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """A Dirichlet target with smallest probability 1e-15 and couplings up to |J_S| = 20."""
    p = dirichlet_target(3, rng, alpha=0.5, floor=1e-15)
    p[int(rng.integers(2**3))] = 1e-15
    p /= p.sum()
    J = rng.uniform(-20.0, 20.0, 2**3)
    J[0] = 0.0
    return p, J


def audit(seed: int, n_cases: int = 2, *, extreme: bool = False) -> PrecisionAudit:
    r"""Float64 vs 50-digit disagreements on seeded generated cases, N = 2..4.

    Per ``N`` and per case: a Dirichlet target and an Ising target (pairwise
    profile) for ``J``, ``m``, ``F``, ``log Z`` and ``KL`` between the two; an RBM
    (hidden spins and bits alternately, 2 hidden units, parameters
    :math:`\mathcal{N}(0, 0.5^2)`) for the exact Hessian against the Ising target;
    and the spurious ``W = 0`` fields-matching point
    (:func:`dsb_verifier.theory.dynamics.fixed_points.independent_point`) of the Dirichlet target for
    the residual. With ``extreme=True`` each case also includes a target with
    smallest probability ``1e-15`` and couplings with ``|J_S|`` up to 20 at N = 3.

    The same ``seed`` gives the same numbers. Takes about 0.1 s per case.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(n_cases, bool) or not isinstance(n_cases, int | np.integer) or n_cases < 1:
        raise ValueError(f"n_cases must be a positive integer, got {n_cases!r}")
    rng = np.random.default_rng([int(seed), 0x50EC])
    d = dict.fromkeys(PRECISION_QUANTITIES, 0.0)

    def put(name: str, value: float) -> None:
        d[name] = max(d[name], value)

    for k in range(int(n_cases)):
        for N in range(2, MAX_N_PRECISION + 1):
            p = dirichlet_target(N, rng, alpha=1.0, floor=1e-3 / 2**N)
            J_ising = rng.normal(0.0, 0.5, 2**N)
            J_ising[0] = 0.0
            q = ising_target(N, {1: 0.5, 2: 0.5}, rng)
            for target in (p, q):
                put("couplings", couplings_disagreement(target))
                put("moments", moments_disagreement(target))
                put("fisher", fisher_disagreement(target))
            put("log_partition", log_partition_disagreement(J_ising))
            put("kl", kl_disagreement(q, p))
            model = RBM(N, 2, hidden="spin" if (k + N) % 2 == 0 else "bit")
            put("hessian", hessian_disagreement(model, model.init(rng, 0.5), q))
            spurious, theta0 = independent_point(p, 2, hidden=model.hidden)
            put("residual", residual_disagreement(spurious, theta0, p))
        if extreme:
            p_ext, J_ext = _extreme_cases(rng)
            put("couplings", couplings_disagreement(p_ext))
            put("moments", moments_disagreement(p_ext))
            put("fisher", fisher_disagreement(p_ext))
            put("log_partition", log_partition_disagreement(J_ext))
    return PrecisionAudit(**d, max=max(d.values()), n_cases=int(n_cases))
