r"""Eigenvalues of the Fisher matrix without forming it: a secular-equation solver.

The Fisher matrix of the effective model (Claim C2, :func:`theory.fisher`) is the
``(2^N - 1) x (2^N - 1)`` covariance :math:`F_{ST} = m_{S \oplus T} - m_S m_T`,
``S, T != 0``. Its spectrum follows from a rank-one update of a diagonal matrix.

**Identity.** Let :math:`H` be the Sylvester Hadamard matrix of order :math:`n = 2^N`
(:func:`theory.hadamard`, :math:`H_{Sb} = \chi_S(b)`, :math:`H H^T = n I`), and
:math:`C = D - p p^T` with :math:`D = \mathrm{diag}(p)`. Then

.. math::

    (H C H^T)_{ST} = \sum_b \chi_S(b)\chi_T(b) p_b - (Hp)_S (Hp)_T
                   = m_{S \oplus T} - m_S m_T ,

because :math:`\chi_S \chi_T = \chi_{S \oplus T}` and :math:`Hp = m`. Since
:math:`\sum_b p_b = 1`, :math:`C \mathbf 1 = p - p (p^T \mathbf 1) = 0`; row 0 of
:math:`H` is :math:`\mathbf 1^T`, so row and column ``S = 0`` of :math:`H C H^T`
vanish identically and its ``S, T != 0`` block is :math:`F`. As
:math:`H/\sqrt n` is orthogonal, :math:`H C H^T = n\,(H/\sqrt n) C (H/\sqrt n)^T`
has the eigenvalues of :math:`n C`; removing the zero row and column removes one
zero eigenvalue (eigenvector :math:`e_0`, the image of :math:`\mathbf 1`). Hence

.. math:: \mathrm{spec}(F) = n \cdot \bigl(\mathrm{spec}(D - p p^T) \setminus \{0\}\bigr).

**Secular equation.** For distinct sorted values :math:`d_1 < \dots < d_K` of ``p``
with multiplicities :math:`m_g`, an eigenvector supported on one group of equal
values and orthogonal to :math:`\mathbf 1` is an eigenvector of :math:`C` with
eigenvalue :math:`d_g` (*deflation*: :math:`m_g - 1` copies of :math:`d_g`). On the
remaining ``K``-dimensional space :math:`C` acts as :math:`\mathrm{diag}(d) - z z^T`
with :math:`z_g^2 = w_g = m_g d_g^2`, whose eigenvalues :math:`\lambda` solve

.. math:: f(\lambda) = 1 - \sum_g \frac{w_g}{d_g - \lambda} = 0

(Golub 1973). :math:`f` decreases from :math:`+\infty` to :math:`-\infty` on each
interval :math:`(d_k, d_{k+1})`, so there is exactly one root in each of the
``K - 1`` intervals (the eigenvalues interlace the sorted ``p``), plus the root
:math:`\lambda = 0` below :math:`d_1` (:math:`f(0) = 1 - \sum_b p_b = 0`), and none
above :math:`d_K` (:math:`f > 0` there). Counting: ``(K - 1) + sum(m_g - 1) + 1 = n``.
All eigenvalues of :math:`F` are therefore positive: each lies strictly above
some :math:`n\,d_g > 0` (Claim C2, positive definiteness).

The zero root is divided out *analytically* before solving: with
:math:`w_g / (d_g - \lambda) = m_g d_g + \lambda\, m_g d_g / (d_g - \lambda)` and
:math:`\sum_g m_g d_g = 1`,

.. math:: f(\lambda) = -\lambda\, g(\lambda), \qquad
   g(\lambda) = \sum_g \frac{v_g}{d_g - \lambda}, \quad v_g = m_g d_g ,

so the nonzero eigenvalues are the roots of :math:`g` (increasing from
:math:`-\infty` to :math:`+\infty` on each interval). This matters: in :math:`f` the
constant 1 cancels against the pole sums, so roots near a tiny probability would
only be found to absolute accuracy ``~ eps`` (relative error ``1e-5`` was observed
for ``p_min ~ 1e-13``); :math:`g` has no such cancellation.

**Algorithm.** All ``K - 1`` roots are iterated simultaneously, vectorised over
roots and chunked over them (``chunk`` roots at a time, ``O(K * chunk)`` memory).
Each root is written :math:`\lambda = d_o + \tau` relative to its nearer pole
:math:`d_o` (chosen by the sign of :math:`f` at the interval midpoint), so the
differences :math:`d_j - \lambda = (d_j - d_o) - \tau` keep high relative accuracy
near the poles (as in LAPACK ``dlaed4``). Steps come from the "middle way"
osculatory rational model (Bunch, Nielsen & Sorensen 1978; R.-C. Li 1993): the
sums over poles left and right of the root are each replaced by one pole plus a
constant matching value and slope; its root is the step. A bisection safeguard
keeps every iterate inside its bracket. One evaluation costs ``O(K^2)`` time; a
handful of evaluations (typically 4–6) converge, so the cost is ``O(4^N)`` time
and ``O(2^N * chunk)`` memory, against ``O(8^N)`` time and ``O(4^N)`` memory for
``eigvalsh(fisher(p))``.

**Accuracy.** A root is accepted when
:math:`|g(\lambda)| \le \epsilon\,(8(\phi - \psi) + 3|\tau|(\psi' + \phi'))`, the
rounding-error bound of evaluating :math:`g` (``dlaed4``'s criterion), or when its
bracket shrinks to a few ulps. Values of ``p`` closer than ``4 eps`` relative are
merged into one group (their eigenvalues are returned as the ``p`` values
themselves, off by at most that gap). Observed (tests/test_spectrum.py): agreement
with ``numpy.linalg.eigvalsh(fisher(p))`` within about ``12 eps * max(lambda_max, 1)``
for N <= 4 and ``p_min`` down to ``1e-13`` (the dense route's own error: its entries
are differences of moments of size one); the smallest eigenvalue within about
``6 eps`` *relative* of a 50-digit reference, even when it is ``1e-12``.

The identity assumes :math:`\sum_b p_b = 1`; validation admits a deviation up to
about ``1e-12``. Rescaling ``p`` rescales the roots of :math:`g` alike, so the
result is ``sum(p)`` times the spectrum of ``fisher(p / sum(p))``: a relative
change of the same order.

Glossary: ``p`` distribution over ``n = 2^N`` states, ``F`` Fisher matrix, ``d``
sorted distinct probabilities (poles), ``w``/``v`` pole weights of ``f``/``g``,
``k`` interval index, ``o`` origin pole index, ``tau`` offset of an iterate from
its origin, ``psi``/``phi`` sums over poles left/right of the root.
"""

from __future__ import annotations

import numpy as np
from dsb_verifier.theory._validation import distribution
from dsb_verifier.theory.tolerances import EPS
from numpy.typing import ArrayLike, NDArray

__all__ = ["fisher_eigenvalues"]

#: Default working-set size of one chunk, in matrix elements (1 MiB of float64, cache-sized).
_CHUNK_ELEMENTS = 2**17
#: Relative gap below which neighbouring probabilities are merged (deflated).
_MERGE_RTOL = 4.0 * EPS
#: Iteration cap per root; bisection alone would converge well within it.
_MAX_ITER = 200


def fisher_eigenvalues(p: ArrayLike, *, chunk: int | None = None) -> NDArray[np.float64]:
    r"""Eigenvalues of the Fisher matrix :math:`F` of ``p``, ascending (Claim C2).

    Equal to ``numpy.linalg.eigvalsh(theory.fisher(p))`` up to rounding, but
    computed from :math:`\mathrm{spec}(F) = 2^N\,\mathrm{spec}(\mathrm{diag}(p) - p p^T)
    \setminus \{0\}` by solving the secular equation
    :math:`1 - \sum_b p_b^2 / (p_b - \lambda) = 0` for all roots at once (see the
    module docstring for the identity, the deflation of repeated probabilities
    and the accuracy achieved).

    Parameters
    ----------
    p
        One strictly positive distribution, shape ``(2^N,)``, summing to one.
    chunk
        Number of roots iterated together; the working set is ``chunk * K``
        float64 values for ``K <= 2^N`` distinct probabilities. ``None`` picks
        about 1 MiB (fits in cache; larger chunks are slower).

    Returns
    -------
    ndarray, shape ``(2^N - 1,)``
        The eigenvalues of :math:`F`, ascending; all positive (:math:`F` is
        positive definite, Claim C2). Each lies in
        :math:`[2^N p_{(i)}, 2^N p_{(i+1)}]` for consecutive sorted probabilities.

    Raises
    ------
    ValueError
        If ``p`` is not one strictly positive normalised vector of length ``2^N``,
        or ``chunk`` is not a positive integer.

    Notes
    -----
    Time ``O(4^N)`` (a few evaluations of the secular function at ``K - 1``
    points), memory ``O(2^N * chunk)``.

    References
    ----------
    G. H. Golub, "Some modified matrix eigenvalue problems", SIAM Rev. 15 (1973).
    J. R. Bunch, C. P. Nielsen, D. C. Sorensen, "Rank-one modification of the
    symmetric eigenproblem", Numer. Math. 31 (1978). R.-C. Li, "Solving secular
    equations stably and efficiently", LAPACK Working Note 89 (1993).
    """
    pp, N = distribution(p, "p")
    if pp.ndim != 1:
        raise ValueError(f"fisher_eigenvalues expects one distribution of shape (2^N,), got shape {pp.shape}")
    if chunk is not None and (
        isinstance(chunk, bool) or not isinstance(chunk, int | np.integer) or int(chunk) < 1
    ):
        raise ValueError(f"chunk must be a positive integer number of roots, got {chunk!r}")
    d_all = np.sort(pp)
    # groups of (numerically) equal probabilities: a new group starts at a relative gap
    new = np.empty(d_all.size, dtype=bool)
    new[0] = True
    new[1:] = d_all[1:] - d_all[:-1] > _MERGE_RTOL * d_all[1:]
    starts = np.flatnonzero(new)
    d = d_all[starts]
    v = np.add.reduceat(d_all, starts)  # v_g = m_g d_g
    deflated = d_all[~new]  # m_g - 1 copies of each group's value
    if d.size < 2:
        roots = np.empty(0)
    else:
        c = _CHUNK_ELEMENTS // d.size if chunk is None else int(chunk)
        roots = _secular_roots(d, v, max(1, c))
    return np.sort(np.concatenate([roots, deflated])) * 2.0**N


def _secular_roots(d: NDArray[np.float64], v: NDArray[np.float64], chunk: int) -> NDArray[np.float64]:
    r"""Roots of :math:`h(\lambda) = \sum_j v_j / (d_j - \lambda)` in each ``(d_k, d_{k+1})``.

    ``d`` strictly increasing, ``v > 0``. :math:`h` increases from
    :math:`-\infty` to :math:`+\infty` on each interval. Returns ``K - 1`` roots.
    """
    K = d.size
    k = np.arange(K - 1)
    gap = d[1:] - d[:-1]
    sw = np.sqrt(v)
    # state per root, relative to its origin pole o: lambda = d[o] + tau, bracket (lo, hi)
    o = k.copy()
    tau = 0.5 * gap
    lo = np.zeros(K - 1)
    hi = gap.copy()
    active = k
    for it in range(_MAX_ITER):
        if active.size == 0:
            break
        ka, oa, ta = k[active], o[active], tau[active]
        psi, phi, dpsi, dphi = _sums(d, sw, ka, oa, ta, chunk)
        h = psi + phi
        # offsets of the two neighbouring poles from the iterate: Delta_j = d_j - lambda
        at_left = oa == ka
        ga = gap[active]
        Dk = np.where(at_left, -ta, -ga - ta)
        Dk1 = np.where(at_left, ga - ta, -ta)
        err = EPS * (8.0 * (phi - psi) + 3.0 * np.abs(ta) * (dpsi + dphi))
        la, ha = lo[active], hi[active]
        la = np.where(h < 0, ta, la)
        ha = np.where(h < 0, ha, ta)
        if it == 0:
            # choose the origin: root left of the midpoint (h > 0) -> d_k, else d_{k+1}
            right = h < 0
            la = np.where(right, -(ga - 0.5 * ga), la)
            ha = np.where(right, 0.0, ha)
            oa = np.where(right, ka + 1, ka)
            ta = np.where(right, -(ga - 0.5 * ga), ta)  # the midpoint, relative to the new origin
        converged = (np.abs(h) <= err) | (ha - la <= 4.0 * EPS * np.maximum(np.abs(la), np.abs(ha)))
        # middle-way step: h ~ c + s/(Dk - eta) + S/(Dk1 - eta), matching h, psi', phi'
        s = Dk * Dk * dpsi
        S = Dk1 * Dk1 * dphi
        c = h - Dk * dpsi - Dk1 * dphi
        A = c * (Dk + Dk1) + s + S
        B = Dk * Dk1 * h
        root = np.sqrt(np.maximum(A * A - 4.0 * B * c, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            eta = np.where(A > 0, 2.0 * B / (A + root), (A - root) / (2.0 * c))
        # new offset relative to the (possibly new) origin
        tn = ta + eta
        bad = ~np.isfinite(tn) | (tn <= la) | (tn >= ha)
        tn = np.where(bad, 0.5 * (la + ha), tn)
        converged |= tn == ta
        tau[active] = np.where(converged, ta, tn)
        lo[active], hi[active], o[active] = la, ha, oa
        active = active[~converged]
    else:  # reached only if the iteration budget runs out (tests shrink the budget)
        raise RuntimeError(f"secular equation: {active.size} roots did not converge in {_MAX_ITER} steps")
    return d[o] + tau


def _sums(
    d: NDArray[np.float64],
    sw: NDArray[np.float64],
    k: NDArray[np.intp],
    o: NDArray[np.intp],
    tau: NDArray[np.float64],
    chunk: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    r""":math:`\psi, \phi, \psi', \phi'` at :math:`\lambda_i = d_{o_i} + \tau_i` (``k`` sorted).

    :math:`\psi_i = \sum_{j \le k_i} v_j / \delta_{ij}`, :math:`\phi_i = \sum_{j > k_i}`,
    derivatives with :math:`\delta_{ij}^2`, where :math:`\delta_{ij} = (d_j - d_{o_i}) - \tau_i`.
    """
    R = k.size
    K = d.size
    psi, phi, dpsi, dphi = (np.empty(R) for _ in range(4))
    U = np.empty((min(chunk, R), K))
    for a0 in range(0, R, chunk):
        a1 = min(a0 + chunk, R)
        kk = k[a0:a1]
        u = U[: a1 - a0]
        np.subtract(d[None, :], d[o[a0:a1], None], out=u)
        u -= tau[a0:a1, None]
        np.divide(sw, u, out=u)  # u_ij = sqrt(v_j) / delta_ij
        a = int(kk[0]) + 1  # columns < a lie left of every root of the chunk
        b = int(kk[-1]) + 1  # columns >= b lie right of every root of the chunk
        L, Rt = u[:, :a], u[:, b:]
        ps = L @ sw[:a]
        dps = np.einsum("ij,ij->i", L, L)
        ph = Rt @ sw[b:]
        dph = np.einsum("ij,ij->i", Rt, Rt)
        if b > a:
            M = u[:, a:b]
            left = np.arange(a, b)[None, :] <= kk[:, None]
            ML = np.where(left, M, 0.0)
            MR = M - ML
            ps += ML @ sw[a:b]
            dps += np.einsum("ij,ij->i", ML, ML)
            ph += MR @ sw[a:b]
            dph += np.einsum("ij,ij->i", MR, MR)
        psi[a0:a1], phi[a0:a1], dpsi[a0:a1], dphi[a0:a1] = ps, ph, dps, dph
    return psi, phi, dpsi, dphi
