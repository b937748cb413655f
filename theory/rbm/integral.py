r"""Exact effective couplings of an RBM at any N, by one integral per hidden unit (shared/THEORY.md §8).

Every coupling :math:`J_S = 2^{-N}\sum_s \chi_S(s)\,u(s)`, :math:`S \ne \emptyset`, of
:math:`u(s) = a\cdot s + \sum_\mu f(c_\mu + s\cdot W_{:\mu})` (Claim C1; the spin form
of any stored RBM, :meth:`RBMParams.spin_parameters`) is the sum over hidden units
of a one-dimensional integral of the hidden unit's characteristic function; no state
is enumerated and no central-limit approximation is made. The integral, the
trapezoid rule and its error bound are in :mod:`.quadrature`; the derivation is in
docs/notes/integral.md. The error of every coupling is at most
``sum_mu Grid.error_bound[mu]`` (``<= 2^-59 M``) plus rounding.

Shared work: for each column (hidden unit ``mu``, node ``omega``) the product
:math:`C = \prod_j \cos(\omega w_{j\mu})` is formed once; a member ``i`` of ``S``
replaces its cosine by the sine, :math:`P_S = C \prod_{i\in S} t_i`,
:math:`t_i = \tan(\omega w_{i\mu})`. Since a double never is an exact zero of cos
(:math:`|\cos x| > 2^{-62}` for every double ``x``), :math:`|t_i| < 2^{62}`; every
partial product :math:`C\prod_{i\in A} t_i = \prod_{j\notin A}\cos\prod_{i\in A}\sin`
is at most 1 in magnitude and at least :math:`|P_S|\,2^{-62(k - |A|)}`, so for
``k <= 14`` nothing overflows and whatever underflows contributes less than
``1e-50``. Orders ``k > 14`` use the log-magnitude form
:math:`P_S = \mathrm{sign}\cdot\exp(\sum_j \log|\cos| + \sum_{i\in S}\log|t_i|)`.
All pairs at once are one symmetric matrix product per chunk of columns,
:math:`J^{(2)} = T\,\mathrm{diag}(D)\,T^\top` with :math:`T_{i,(\mu l)} = t_{i\mu}(\omega_l)`.

``law="gaussian"`` replaces the law of :math:`\sum_{j\notin S} w_j s_j` by the normal law of
the same mean (0) and variance, the mapping of Decelle, Furtlehner, Navas Gómez and
Seoane, SciPost Phys. 16, 095 (2024): :math:`\prod_{j\notin S}\cos(\omega w_j) \to
\exp(-\omega^2\sigma_S^2/2)`, the members of ``S`` kept exact — the same quantity as
:func:`theory.conditioned_couplings` with ``input_law="gaussian"`` (tested).

Glossary: ``N`` visible units, ``M`` hidden units, ``a, c, W`` spin-convention fields,
biases and weights, ``S`` subset (array of member indices), ``k = |S|``, ``C`` cosine
product, ``t`` tangents, ``D`` column weights, ``u = omega^2 w^2 / 2``, ``V = omega^2 sigma^2 / 2``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from dsb_verifier.theory._validation import check_memory
from dsb_verifier.theory.rbm.io import RBMParams
from dsb_verifier.theory.rbm.quadrature import Grid, quadrature_grid
from numpy.typing import NDArray
from scipy.special import expit

__all__ = ["LAWS", "rbm_couplings", "rbm_fields", "rbm_pairwise"]

#: Laws of the input from the units outside ``S``: the exact one, or the Gaussian mapping.
LAWS: tuple[str, str] = ("exact", "gaussian")

#: Float64 entries of one chunk table (``N x columns``): 16 MiB, several tables at a time.
_CHUNK_ENTRIES = 2**21

#: Highest order computed by the plain tangent product (module docstring); above, log magnitudes.
_MAX_TAN_ORDER = 14

#: Columns of the Gaussian pair route whose two largest exponents differ by more than twice this
#: (e-folds) go element-wise; below it every table entry and the unused diagonal stay under e^600.
_GAUSS_RANGE = 300.0


def _check_params(params: object) -> RBMParams:
    if not isinstance(params, RBMParams):
        raise ValueError(f"params must be an RBMParams, got {type(params).__name__}")
    return params


def _check_law(law: object) -> str:
    if law not in LAWS:
        raise ValueError(f"law must be one of {LAWS}, got {law!r}")
    return str(law)


def _fprime(hidden: str, x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``f'``: tanh (hidden spins, log 2cosh) or the logistic function (hidden bits, softplus)."""
    return np.tanh(x) if hidden == "spin" else expit(x)


@dataclass(frozen=True)
class _Model:
    """Spin-convention parameters with their quadrature grid."""

    a: NDArray[np.float64]
    c: NDArray[np.float64]
    W: NDArray[np.float64]
    hidden: str
    law: str
    grid: Grid

    @property
    def N(self) -> int:
        return int(self.W.shape[0])


def _model(params: RBMParams, law: str) -> _Model:
    a, c, W = params.spin_parameters()
    return _Model(a, c, W, params.hidden, law, quadrature_grid(c, W, params.hidden, law))


@dataclass
class _Chunk:
    """Tables of one chunk of columns ``cols`` (a slice of the grid)."""

    omega: NDArray[np.float64]
    weight: NDArray[np.float64]
    c: NDArray[np.float64]
    Wc: NDArray[np.float64]  # (N, n) weights of each column's unit
    sin: NDArray[np.float64]  # (N, n)
    cos: NDArray[np.float64]  # (N, n)
    V: NDArray[np.float64]  # (n,) omega^2 sigma^2 / 2 (Gaussian law)


def _chunks(model: _Model, n_tables: int = 4) -> Iterator[_Chunk]:
    """Column chunks with their sine and cosine tables; at most ``_CHUNK_ENTRIES`` entries per table."""
    g = model.grid
    N = model.N
    step = max(1, _CHUNK_ENTRIES // N)
    check_memory(8.0 * n_tables * N * min(step, g.n_cols), f"the quadrature tables of N = {N} visible units")
    sigma2 = (model.W**2).sum(axis=0)
    for lo in range(0, g.n_cols, step):
        sl = slice(lo, lo + step)
        unit = g.unit[sl]
        om = g.omega[sl]
        Wc = model.W[:, unit]
        arg = Wc * om
        yield _Chunk(
            om, g.weight[sl], model.c[unit], Wc, np.sin(arg), np.cos(arg), om * om * sigma2[unit] / 2.0
        )


def _tangents(ch: _Chunk) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(C, t)``: cosine product per column and tangents ``sin/cos`` (exact law)."""
    return np.prod(ch.cos, axis=0), ch.sin / ch.cos


def _phase(k: int, ch: _Chunk) -> NDArray[np.float64]:
    r"""``-g_k(omega c)`` times the column weight: the order-``k`` factor multiplying :math:`P_S`."""
    if k % 2 == 0:
        return -((-1.0) ** (k // 2)) * np.cos(ch.omega * ch.c) * ch.weight
    return -((-1.0) ** ((k + 1) // 2)) * np.sin(ch.omega * ch.c) * ch.weight


def _fields(model: _Model) -> NDArray[np.float64]:
    r"""Order 1: :math:`a_i + \sum_\mu [w_{i\mu} f'(c_\mu) + \frac1\pi\int \frac{K}{\omega^2}\sin(\omega c)(P_i - \omega w_i)]`."""
    J = model.a + model.W @ _fprime(model.hidden, model.c)
    for ch in _chunks(model):
        d1 = _phase(1, ch)
        if model.law == "exact":
            C, t = _tangents(ch)
            P = t * C
        else:
            P = ch.sin * np.exp(-(ch.V - (ch.Wc * ch.omega) ** 2 / 2.0))
        J += (P - ch.Wc * ch.omega) @ d1
    return J


def _symmetric_product(T: NDArray[np.float64], D: NDArray[np.float64]) -> NDArray[np.float64]:
    """``T diag(D) T^T`` as two symmetric rank updates (positive and negative ``D``)."""
    out = np.zeros((T.shape[0], T.shape[0]))
    for mask, sgn in ((D > 0, 1.0), (D < 0, -1.0)):
        if np.any(mask):
            A = T[:, mask] * np.sqrt(sgn * D[mask])
            out += sgn * (A @ A.T)
    return out


def _pairwise(model: _Model) -> NDArray[np.float64]:
    """All order-2 couplings: node 0 analytically, the other nodes by symmetric matrix products."""
    N = model.N
    check_memory(8.0 * 3 * N * N, f"the {N} x {N} pairwise couplings")
    g = model.grid
    J = (model.W * (g.spacing * g.tau / (2.0 * np.pi))) @ model.W.T
    for ch in _chunks(model, n_tables=6):
        d2 = _phase(2, ch)
        if model.law == "exact":
            C, t = _tangents(ch)
            J += _symmetric_product(t, d2 * C)
            continue
        u = (ch.Wc * ch.omega) ** 2 / 2.0
        top2 = -np.partition(-u, 1, axis=0)[:2] if N > 1 else np.vstack([u, u])
        s = 0.5 * (top2[0] + top2[1])
        wide = (top2[0] - top2[1]) / 2.0 > _GAUSS_RANGE
        ok = ~wide
        if np.any(ok):
            T = ch.sin[:, ok] * np.exp(u[:, ok] - s[ok])
            J += _symmetric_product(T, d2[ok] * np.exp(-(ch.V[ok] - 2.0 * s[ok])))
        for col in np.flatnonzero(wide):  # one dominant weight: element-wise, no overflow
            E = ch.V[col] - u[:, col][:, None] - u[:, col][None, :]
            J += d2[col] * np.exp(-np.maximum(E, 0.0)) * np.outer(ch.sin[:, col], ch.sin[:, col])
    np.fill_diagonal(J, 0.0)
    return 0.5 * (J + J.T)


def _subset_couplings(model: _Model, S: NDArray[np.int64]) -> NDArray[np.float64]:
    """``J_S`` for subsets of one order ``k >= 2``, rows of ``S`` (shape ``(n, k)``)."""
    n, k = S.shape
    J = np.zeros(n)
    if n == 0:
        return J
    for ch in _chunks(model):
        dk = _phase(k, ch)
        step = max(1, _CHUNK_ENTRIES // max(1, ch.omega.size))
        if model.law == "exact" and k <= _MAX_TAN_ORDER:
            C, t = _tangents(ch)
            base = dk * C
            for lo in range(0, n, step):
                rows = S[lo : lo + step]
                P = base * t[rows[:, 0]]
                for m in range(1, k):
                    P *= t[rows[:, m]]
                J[lo : lo + step] += P.sum(axis=1)
        elif model.law == "exact":
            with np.errstate(divide="ignore"):
                logc = np.log(np.abs(ch.cos))
                logt = np.log(np.abs(ch.sin)) - logc
            sgn_t = np.sign(ch.sin) * np.sign(ch.cos)
            logC = logc.sum(axis=0)
            sgnC = np.prod(np.sign(ch.cos), axis=0)
            for lo in range(0, n, step):
                rows = S[lo : lo + step]
                L = logC + logt[rows].sum(axis=1)
                sg = sgnC * np.prod(sgn_t[rows], axis=1)
                J[lo : lo + step] += (sg * np.exp(L)) @ dk
        else:
            u = (ch.Wc * ch.omega) ** 2 / 2.0
            for lo in range(0, n, step):
                rows = S[lo : lo + step]
                E = np.maximum(ch.V - u[rows].sum(axis=1), 0.0)
                P = np.exp(-E) * np.prod(ch.sin[rows], axis=1)
                J[lo : lo + step] += P @ dk
    if k == 2:
        g = model.grid
        J += np.einsum("nm,nm,m->n", model.W[S[:, 0]], model.W[S[:, 1]], g.spacing * g.tau / (2.0 * np.pi))
    return J


def _check_subsets(subsets: object, N: int) -> list[NDArray[np.int64]]:
    """Validate a sequence of subsets of ``range(N)``: non-empty, integer, in range, no repeats."""
    if isinstance(subsets, str | bytes) or not isinstance(subsets, Sequence | np.ndarray):
        raise ValueError(f"subsets must be a sequence of index sequences, got {type(subsets).__name__}")
    out = []
    for n, S in enumerate(subsets):
        arr = np.asarray(S)
        if arr.ndim != 1 or arr.size == 0 or not (np.issubdtype(arr.dtype, np.integer)):
            raise ValueError(f"subsets[{n}] must be a non-empty sequence of integer indices, got {S!r}")
        if arr.size > N:
            raise ValueError(f"subsets[{n}] has order {arr.size}, above N = {N}")
        if np.any(arr < 0) or np.any(arr >= N):
            raise ValueError(f"subsets[{n}] = {arr.tolist()} has an index outside [0, N) = [0, {N})")
        if np.unique(arr).size != arr.size:
            raise ValueError(f"subsets[{n}] = {arr.tolist()} repeats an index; a subset lists each unit once")
        out.append(np.sort(arr).astype(np.int64))
    return out


def rbm_fields(params: RBMParams, *, law: str = "exact") -> NDArray[np.float64]:
    r"""All order-1 couplings :math:`J_i` of an RBM (spin convention, visible fields included).

    Parameters
    ----------
    params
        The RBM as stored (0/1 or ±1 units; converted exactly, :mod:`.io`).
    law
        ``"exact"`` (shared/THEORY.md §8) or ``"gaussian"`` (SciPost 2024 mapping).

    Returns
    -------
    ndarray, shape ``(N,)``
        Equal to the enumeration's ``J[1 << i]`` up to ``sum(grid.error_bound)`` plus rounding.
    """
    return _fields(_model(_check_params(params), _check_law(law)))


def rbm_pairwise(params: RBMParams, *, law: str = "exact") -> NDArray[np.float64]:
    r"""All order-2 couplings :math:`J_{ij}` as a symmetric ``(N, N)`` matrix with zero diagonal.

    Cost ``O(N^2 \sum_\mu L_\mu)`` in BLAS plus ``O(N \sum_\mu L_\mu)`` sines and cosines;
    memory ``O(N^2)`` plus fixed-size chunk tables. See :func:`rbm_fields` for the arguments.
    """
    return _pairwise(_model(_check_params(params), _check_law(law)))


def rbm_couplings(
    params: RBMParams, subsets: Sequence[Sequence[int]], *, law: str = "exact"
) -> NDArray[np.float64]:
    r"""Couplings :math:`J_S` of chosen subsets (each of order ``>= 1``, any mix of orders).

    Parameters
    ----------
    params
        The RBM as stored.
    subsets
        Sequences of distinct visible indices in ``[0, N)``; the order of the
        indices within a subset does not matter.
    law
        ``"exact"`` or ``"gaussian"``.

    Returns
    -------
    ndarray, shape ``(len(subsets),)``
        ``J_S`` in the order given. Cost ``O(k L M)`` per subset after ``O(N L M)`` shared work.

    Raises
    ------
    ValueError
        For an index outside ``[0, N)``, a repeated index, an empty subset or an order above ``N``.
    """
    p = _check_params(params)
    lw = _check_law(law)
    S_list = _check_subsets(subsets, p.n_visible)
    J = np.zeros(len(S_list))
    if not S_list:
        return J
    model = _model(p, lw)
    k_of = np.array([S.size for S in S_list])
    if np.any(k_of == 1):
        fields = _fields(model)
        idx = np.flatnonzero(k_of == 1)
        J[idx] = fields[[int(S_list[i][0]) for i in idx]]
    for k in np.unique(k_of[k_of >= 2]):
        idx = np.flatnonzero(k_of == k)
        J[idx] = _subset_couplings(model, np.stack([S_list[i] for i in idx]))
    return J
