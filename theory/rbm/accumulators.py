r"""Chunked tables of the characteristic-function integral and the per-order accumulators.

Shared work: for each column (hidden unit ``mu``, node ``omega``) the product
:math:`C = \prod_j \cos(\omega w_{j\mu})` is formed once; a member ``i`` of ``S``
replaces its cosine by the sine, :math:`P_S = C \prod_{i\in S} t_i`,
:math:`t_i = \tan(\omega w_{i\mu})`. A double is never an exact zero of cos: the
double closest to a multiple of :math:`\pi/2` is :math:`4.7\cdot 10^{-19}` away
(J.-M. Muller, *Elementary Functions*, ch. 11), so :math:`|\cos x| > 2^{-62}` and
:math:`|t_i| < 2^{62}`. Every partial product
:math:`C\prod_{i\in A} t_i = \prod_{j\notin A}\cos\prod_{i\in A}\sin` is at most 1 in
magnitude and at least :math:`|P_S|\,2^{-62(k - |A|)}`, so for ``k <= 14`` nothing
overflows and a partial product can underflow only when
:math:`|P_S| < 2^{-1022 + 62 \cdot 14} \approx 4\cdot10^{-47}` (negligible). Orders
``k > 14`` use the log-magnitude form
:math:`P_S = \mathrm{sign}\cdot\exp(\sum_j \log|\cos| + \sum_{i\in S}\log|t_i|)`.
All pairs at once are one symmetric matrix product per chunk of columns,
:math:`J^{(2)} = T\,\mathrm{diag}(D)\,T^\top` with :math:`T_{i,(\mu l)} = t_{i\mu}(\omega_l)`.

The tables of a chunk of columns are computed once and fed to every accumulator
(:class:`_Fields`, :class:`_Pairs`, :class:`_Subsets`), so all orders share one pass.
Formulas: :mod:`.integral` and :mod:`.quadrature`.

Glossary: ``N`` visible units, ``M`` hidden units, ``a, c, W`` spin-convention fields,
biases and weights, ``S`` subset (array of member indices), ``k = |S|``, ``C`` cosine
product, ``t`` tangents, ``D`` column weights, ``u = omega^2 w^2 / 2``, ``V = omega^2 sigma^2 / 2``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
from dsb_verifier.theory.rbm._checks import check_fits
from dsb_verifier.theory.rbm.io import RBMParams
from dsb_verifier.theory.rbm.quadrature import Grid, quadrature_grid
from numpy.typing import NDArray
from scipy.special import expit

#: Float64 entries of one chunk table (``N x columns``): 16 MiB, several tables at a time.
_CHUNK_ENTRIES = 2**21

#: Highest order computed by the plain tangent product (module docstring); above, log magnitudes.
_MAX_TAN_ORDER = 14

#: Columns of the Gaussian pair route whose two largest exponents differ by more than twice this
#: (e-folds) go element-wise; below it every table entry and the unused diagonal stay under e^600.
_GAUSS_RANGE = 300.0


#: Gaussian law, orders >= 3: the plain product is used for k <= _GAUSS_PRODUCT_K on columns
#: whose exponents omega^2 w^2 / 2 are all <= _GAUSS_PRODUCT_U (every column of a trained RBM).
_GAUSS_PRODUCT_K = 7
_GAUSS_PRODUCT_U = 40.0


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
    """Tables of one chunk of columns (a slice of the grid), shared by every accumulator."""

    omega: NDArray[np.float64]
    weight: NDArray[np.float64]
    c: NDArray[np.float64]
    Wc: NDArray[np.float64]  # (N, n) weights of each column's unit
    sin: NDArray[np.float64]  # (N, n)
    cos: NDArray[np.float64]  # (N, n)
    V: NDArray[np.float64]  # (n,) omega^2 sigma^2 / 2 (Gaussian law)
    _tan: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None

    def tangents(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(C, t)``: cosine product per column and tangents ``sin/cos`` (exact law), computed once."""
        if self._tan is None:
            self._tan = (np.prod(self.cos, axis=0), self.sin / self.cos)
        return self._tan

    def phase(self, k: int) -> NDArray[np.float64]:
        r"""``-g_k(omega c)`` times the column weight: the order-``k`` factor multiplying :math:`P_S`."""
        if k % 2 == 0:
            return -((-1.0) ** (k // 2)) * np.cos(self.omega * self.c) * self.weight
        return -((-1.0) ** ((k + 1) // 2)) * np.sin(self.omega * self.c) * self.weight

    @property
    def u(self) -> NDArray[np.float64]:
        """``omega^2 w^2 / 2`` per entry (Gaussian law)."""
        return (self.Wc * self.omega) ** 2 / 2.0


def _chunk_columns(model: _Model) -> int:
    """Columns per chunk: at most ``_CHUNK_ENTRIES`` entries per table of ``N`` rows."""
    return max(1, _CHUNK_ENTRIES // model.N)


def _chunks(model: _Model) -> Iterator[_Chunk]:
    """Column chunks with their sine and cosine tables; at most ``_CHUNK_ENTRIES`` entries per table."""
    g = model.grid
    N = model.N
    step = _chunk_columns(model)
    check_fits(
        8.0 * 8 * N * min(step, g.n_cols),
        f"the quadrature tables of N = {N} visible units",
        "N is too large for the memory of this machine",
    )
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


class _Fields:
    r"""Order 1: :math:`a_i + \sum_\mu [w_{i\mu} f'(c_\mu) + \frac1\pi\int \frac{K}{\omega^2}\sin(\omega c)(P_i - \omega w_i)]`.

    ``J`` the fields, ``A`` the sums of the magnitudes of their terms (for rounding estimates).
    """

    def __init__(self, model: _Model) -> None:
        self.law = model.law
        fp = _fprime(model.hidden, model.c)
        self.J = model.a + model.W @ fp
        self.A = np.abs(model.a) + np.abs(model.W) @ np.abs(fp)

    def step(self, ch: _Chunk) -> None:
        d1 = ch.phase(1)
        if self.law == "exact":
            C, t = ch.tangents()
            P = t * C
        else:
            P = ch.sin * np.exp(-(ch.V - ch.u))
        wo = ch.Wc * ch.omega
        self.J += (P - wo) @ d1
        self.A += np.abs(P) @ np.abs(d1) + np.abs(wo) @ np.abs(d1)


def _symmetric_product(
    T: NDArray[np.float64], D: NDArray[np.float64], a: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``T diag(D) T^T`` as two symmetric rank updates (positive and negative ``D``).

    Adds ``sum_c |D_c| T_ic^2`` to ``a`` in place: by Cauchy-Schwarz the magnitudes of the
    terms of pair ``(i, j)`` sum to at most ``sqrt(a_i a_j)``.
    """
    a += (T * T) @ np.abs(D)
    out = np.zeros((T.shape[0], T.shape[0]))
    for mask, sgn in ((D > 0, 1.0), (D < 0, -1.0)):
        if np.any(mask):
            A = T[:, mask] * np.sqrt(sgn * D[mask])
            out += sgn * (A @ A.T)
    return out


class _Pairs:
    """All order-2 couplings: node 0 analytically, the other nodes by symmetric matrix products.

    ``J (N, N)`` and ``a (N,)``: the term magnitudes of pair ``(i, j)`` sum to at most ``sqrt(a_i a_j)``.
    """

    def __init__(self, model: _Model) -> None:
        N = model.N
        check_fits(
            8.0 * 3 * N * N,
            f"the {N} x {N} pairwise couplings",
            "ask for chosen pairs with rbm_couplings, or for max_order 1",
        )
        self.law, self.N = model.law, N
        g = model.grid
        node0 = g.spacing * g.tau / (2.0 * np.pi)
        self.J = (model.W * node0) @ model.W.T
        self.a = (model.W * model.W) @ node0

    def step(self, ch: _Chunk) -> None:
        d2 = ch.phase(2)
        if self.law == "exact":
            C, t = ch.tangents()
            self.J += _symmetric_product(t, d2 * C, self.a)
            return
        u = ch.u
        top2 = -np.partition(-u, 1, axis=0)[:2] if self.N > 1 else np.vstack([u, u])
        s = 0.5 * (top2[0] + top2[1])
        wide = (top2[0] - top2[1]) / 2.0 > _GAUSS_RANGE
        ok = ~wide
        if np.any(ok):
            T = ch.sin[:, ok] * np.exp(u[:, ok] - s[ok])
            self.J += _symmetric_product(T, d2[ok] * np.exp(-(ch.V[ok] - 2.0 * s[ok])), self.a)
        for col in np.flatnonzero(wide):  # one dominant weight: element-wise, no overflow
            E = ch.V[col] - u[:, col][:, None] - u[:, col][None, :]
            self.J += d2[col] * np.exp(-np.maximum(E, 0.0)) * np.outer(ch.sin[:, col], ch.sin[:, col])
            self.a += abs(d2[col])  # every term of this column is at most |d2| in magnitude

    def result(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        J = self.J.copy()
        np.fill_diagonal(J, 0.0)
        return 0.5 * (J + J.T), self.a


class _Subsets:
    """``J_S`` for subsets of one order ``k >= 2`` (rows of ``S``) and the sums of their terms' magnitudes."""

    def __init__(self, model: _Model, S: NDArray[np.int64]) -> None:
        self.law, self.S = model.law, S
        n, k = S.shape
        self.J, self.A = np.zeros(n), np.zeros(n)
        if k == 2 and n:
            g = model.grid
            node0 = np.einsum(
                "nm,nm,m->nm", model.W[S[:, 0]], model.W[S[:, 1]], g.spacing * g.tau / (2.0 * np.pi)
            )
            self.J += node0.sum(axis=1)
            self.A += np.abs(node0).sum(axis=1)

    def _products(self, base: NDArray[np.float64], T: NDArray[np.float64]) -> None:
        """``J_S += sum_c base_c prod_{i in S} T_ic`` by sequential products (module docstring)."""
        S, (n, k) = self.S, self.S.shape
        step = max(1, _CHUNK_ENTRIES // max(1, base.size))
        for lo in range(0, n, step):
            rows = S[lo : lo + step]
            P = base * T[rows[:, 0]]
            for m in range(1, k):
                P *= T[rows[:, m]]
            self.J[lo : lo + step] += P.sum(axis=1)
            self.A[lo : lo + step] += np.abs(P, out=P).sum(axis=1)

    def step(self, ch: _Chunk) -> None:
        S, (n, k) = self.S, self.S.shape
        if n == 0:
            return
        dk = ch.phase(k)
        step = max(1, _CHUNK_ENTRIES // max(1, ch.omega.size))
        if self.law == "exact" and k <= _MAX_TAN_ORDER:
            C, t = ch.tangents()
            self._products(dk * C, t)
        elif self.law == "exact":
            with np.errstate(divide="ignore"):
                logc = np.log(np.abs(ch.cos))
                logt = np.log(np.abs(ch.sin)) - logc
            sgn_t = np.sign(ch.sin) * np.sign(ch.cos)
            logC = logc.sum(axis=0)
            sgnC = np.prod(np.sign(ch.cos), axis=0)
            for lo in range(0, n, step):
                rows = S[lo : lo + step]
                E = np.exp(logC + logt[rows].sum(axis=1))
                self.J[lo : lo + step] += (sgnC * np.prod(sgn_t[rows], axis=1) * E) @ dk
                self.A[lo : lo + step] += E @ np.abs(dk)
        else:
            u = ch.u
            # Product form e^{-V} prod_i (sin_i e^{u_i}) where every u <= _GAUSS_PRODUCT_U and
            # k <= _GAUSS_PRODUCT_K: nothing overflows, and an underflowed partial product
            # bounds a term below e^{-700 + k _GAUSS_PRODUCT_U} (negligible); else element-wise.
            prod_cols = (
                (u.max(axis=0) <= _GAUSS_PRODUCT_U) if k <= _GAUSS_PRODUCT_K else np.zeros(u.shape[1], bool)
            )
            if np.any(prod_cols):
                self._products(
                    dk[prod_cols] * np.exp(-ch.V[prod_cols]), ch.sin[:, prod_cols] * np.exp(u[:, prod_cols])
                )
            rest = ~prod_cols
            if np.any(rest):
                u_r, sin_r, V_r, d_r = u[:, rest], ch.sin[:, rest], ch.V[rest], dk[rest]
                for lo in range(0, n, step):
                    rows = S[lo : lo + step]
                    P = np.exp(-np.maximum(V_r - u_r[rows].sum(axis=1), 0.0)) * np.prod(sin_r[rows], axis=1)
                    self.J[lo : lo + step] += P @ d_r
                    self.A[lo : lo + step] += np.abs(P) @ np.abs(d_r)


#: Called as ``callback(done, total)`` after each column chunk of every pass (:func:`reporting_progress`).
_PROGRESS: ContextVar[Callable[[int, int], None] | None] = ContextVar("dsb_rbm_progress", default=None)


@contextmanager
def reporting_progress(callback: Callable[[int, int], None]) -> Iterator[None]:
    """Within the block, every quadrature pass calls ``callback(done, total)`` after each chunk of columns.

    For progress lines of long computations (``dsb-verify effective`` on a large RBM); the
    couplings do not depend on it. Context-local (threads and asyncio tasks keep their own).
    """
    if not callable(callback):
        raise ValueError(f"callback must be callable as callback(done, total), got {type(callback).__name__}")
    token = _PROGRESS.set(callback)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def _run(model: _Model, accumulators: Sequence[_Fields | _Pairs | _Subsets]) -> None:
    """One pass over the column chunks feeding every accumulator (the tables are computed once)."""
    callback = _PROGRESS.get()
    total = -(-model.grid.n_cols // _chunk_columns(model))
    for done, ch in enumerate(_chunks(model), start=1):
        for acc in accumulators:
            acc.step(ch)
        if callback is not None:
            callback(done, total)


def _fields(model: _Model) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """All fields and their term-magnitude sums."""
    acc = _Fields(model)
    _run(model, [acc])
    return acc.J, acc.A


def _pairwise(model: _Model) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """All pairs ``(N, N)`` and the Cauchy-Schwarz vector ``a`` of :class:`_Pairs`."""
    acc = _Pairs(model)
    _run(model, [acc])
    return acc.result()


def _subset_couplings(model: _Model, S: NDArray[np.int64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``J_S`` for the rows of ``S`` (one order ``k >= 2``) and their term-magnitude sums."""
    acc = _Subsets(model, S)
    if S.shape[0]:
        _run(model, [acc])
    return acc.J, acc.A
