r"""Order-by-order learning times and the tangent-kernel mechanism (Claim C5).

Claim C5 (docs/theory.md §5): under gradient flow from small initialisation,
lower-order interactions are learned before higher-order ones — the order-``k``
part of the residual (or of the coupling error) settles at a time :math:`t_k`
that grows with ``k`` — and the mechanism is that, near small parameters, the
order-``k`` diagonal block of the tangent kernel :math:`K = A A^\top` is
suppressed by a power of the parameter scale that grows with ``k``.

What "learned" means is an open reading (docs/theory.md §6). This module
implements the three readings as order-resolved curves :math:`v_k(t)`,
``k = 1..N``, computed from a :class:`~dsb_verifier.theory.dynamics.flow.Trajectory` and its target ``q``:

``"a"`` — moment residual
    :math:`v_k(t) = \|r_k(t)\|`, the Euclidean norm of the order-``k`` entries of
    :math:`r = m(q) - m(p_{\theta(t)})` (``Trajectory.residual_order_norms``).
``"b"`` — coupling error
    :math:`v_k(t) = \|J_k(t) - J^*_k\|` with :math:`J^* = J(q)`
    (``Trajectory.coupling_error_order_norms``).
``"c"`` — connected-information gap between maximum-entropy projections
    Let :math:`p_{(k)}` be the maximum-entropy projection of ``p`` onto the
    generalised Ising models of order ``<= k`` (it matches the moments of ``p``
    up to order ``k``; :math:`p_{(0)}` is uniform, :math:`p_{(N)} = p`). The
    order-``k`` connected information (Amari, IEEE Trans. Inf. Theory 47, 1701
    (2001); Schneidman, Still, Berry, Bialek, PRL 91, 238701 (2003)) is the KL
    gap between consecutive projections,

    .. math:: I_k(p) = \mathrm{KL}\big(p_{(k)} \,\|\, p_{(k-1)}\big)
              = H(p_{(k-1)}) - H(p_{(k)}) \ge 0,
              \qquad \sum_{k=1}^{N} I_k(p) = \mathrm{KL}(p \,\|\, \text{uniform}),

    the information carried by the order-``k`` statistics beyond those of lower
    order. Reading (c) is :math:`v_k(t) = |I_k(q) - I_k(p_{\theta(t)})|`.

    Why this definition. It is resolved by order (one curve per ``k``, like (a)
    and (b)), measured in nats, and zero at the target; it needs one
    maximum-entropy projection per order and recorded time, done here by a
    batched Newton solve (:func:`connected_information`, checked against
    :func:`theory.maxent_projection`). Two alternatives were rejected: the
    *cumulative* gap :math:`\mathrm{KL}(q_{(k)} \,\|\, p_{\theta(t),(k)})`
    (:func:`maxent_kl_curves`, kept for reference) vanishes only once *every*
    order ``<= k`` is matched, so its settle times lean towards increasing with
    ``k`` whatever the dynamics; and the crossing of :math:`\mathrm{KL}(q\|p_t)`
    below :math:`\mathrm{KL}(q\|q_{(k)})` is monotone in ``k`` by construction
    (``KL(q||p_t)`` never increases along the flow and the levels decrease with
    ``k``), so it could not fail.

    Known bias of (c), to be read with its verdicts: :math:`I_k(p)` is a
    function of *all* moments of ``p`` up to order ``k``, so the order-``k`` gap
    generically cannot close before the lower-order moments are right. Reading
    (c) therefore cannot register a dynamics that learns high orders first as
    reversed — it sees ties or an ordering — whereas (a), which compares the
    order-``k`` moments alone, can. It also compares one number per order, so
    it can vanish transiently while the order-``k`` structure is still wrong,
    which the "for good" rule below absorbs.

Settle times (:func:`settle_times`). For a fraction ``tau`` in ``(0, 1)``,
:math:`t_k` is the time after which :math:`v_k(t) \le \tau\, v_k(0)` for every
later recorded time ("for good"). Between the two checkpoints bracketing the
last up-crossing, :math:`\log v_k` is interpolated linearly in :math:`\log t`
(linearly in ``t`` on the first interval ``[0, t_1]``, and linearly in
:math:`v_k` if an end value is 0). If the last recorded value is still above
the threshold, the order has not settled by the end of the run:
:math:`t_k = +\infty`. Orders where the target has no structure *and* the
initial value is already below a floor are undefined: :math:`t_k =` NaN. The
floor is ``floor_rel`` times the largest over orders of the target structure
and the initial value (a relative threshold on a value that starts at rounding
level would measure noise, and reporting 0 would rank an order with nothing to
learn as "learned first"). Target structure per reading: (a) :math:`\|m_k(q)\|`
(the residual of the uniform distribution), (b) :math:`\|J^*_k\|`,
(c) :math:`I_k(q)` (:func:`target_structure`).

Rank statistics (:func:`hierarchy_rank`). Over the *defined* orders only
(undefined orders are dropped, not ranked), the Kendall rank correlation
:math:`\tau_K` between ``k`` and :math:`t_k` (:func:`scipy.stats.kendalltau`,
the tau-b variant, which corrects for ties); orders that never settled are
ranked last, tied with each other. "Monotone" means
:math:`t_{k_1} \le t_{k_2} \le \dots` along the defined orders (non-strict;
``inf <= inf``). An optional resolution ``rtol`` ties settle times within a
factor ``1 + rtol`` of each other before ranking (greedy groups anchored at
their smallest time, so ties do not chain): orders that settle together
in the final approach to the fixed point are simultaneous, not a hierarchy
(with ``rtol = 0`` the raw values are compared). If every defined order falls
in one tie group, :math:`\tau_K = 0` (no ordering) — or NaN if none settled.
With fewer than two defined orders both statistics are undefined (NaN / None).
Dropping undefined orders shrinks the number of pairs — a run with two
defined orders can only give :math:`\tau_K \in \{-1, 0, 1\}` — so callers that
average over runs should report how many orders were defined.

Mechanism (:func:`kernel_scaling`). For random initialisations
:math:`\theta = \sigma z`, :math:`z \sim \mathcal N(0, I)` (the families'
``init``), the diagonal block norms :math:`\|K_{kk}\|_F`
(:func:`theory.kernel_block_norms`) averaged over seeds, and per order the
least-squares slope of :math:`\log\|K_{kk}\|` against :math:`\log\sigma` over
an explicit window of small :math:`\sigma` (:func:`fit_slopes`). For the direct
model ``A = I`` and every slope is 0. For an RBM with hidden spins,
:math:`\log 2\cosh h` is even in the hidden input :math:`h = c + W s = O(\sigma)`,
so :math:`J_1 = O(\sigma)`, :math:`J_2 = O(\sigma^2)`,
:math:`J_3, J_4 = O(\sigma^4)`, ..., hence :math:`A_k = O(\sigma^{d_k - 1})`
and :math:`\|K_{kk}\| = O(\sigma^{2(d_k - 1)})` with slopes ``0, 2, 6, 6, 10, ...``:
non-decreasing in ``k``, which is what Claim C5 asserts.

Glossary: ``t`` recorded times ``(T,)``, ``v`` order curves ``(T, N + 1)``
(column 0, the constant, is unused), ``t_k`` settle times ``(N + 1,)`` with
entry 0 NaN, ``tau`` settle fraction, ``I_k`` connected information, ``K_kk``
diagonal tangent-kernel block, ``sigma`` initialisation scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.stats
from dsb_verifier.theory._validation import as_float_array, distribution, logsumexp
from dsb_verifier.theory.dynamics.flow import Trajectory
from dsb_verifier.theory.dynamics.kernel import kernel_block_norms
from dsb_verifier.theory.effective import couplings, moments
from dsb_verifier.theory.maxent import MaxEntConvergenceError
from dsb_verifier.theory.models.base import EnergyModel
from dsb_verifier.theory.walsh import _orders, order_norms, wht
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "KERNEL_FLOOR_FACTOR",
    "READINGS",
    "SETTLE_FLOOR_REL",
    "HierarchyRank",
    "KernelScaling",
    "connected_information",
    "fit_slopes",
    "kernel_rounding_floors",
    "hierarchy_rank",
    "kernel_scaling",
    "maxent_kl_curves",
    "order_curves",
    "settle_times",
    "structured_orders",
    "target_structure",
    "trajectory_settle_times",
]

#: The open readings of "learned" (docs/theory.md §6): moment residual, coupling
#: error, connected-information gap.
READINGS: tuple[str, ...] = ("a", "b", "c")

#: Default relative floor below which an order with no target structure is undefined.
SETTLE_FLOOR_REL: float = 5e-2

#: Stopping tolerance of the batched maximum-entropy Newton solves (largest moment residual).
_MAXENT_GTOL: float = 1e-11

_MAXENT_MAX_ITER: int = 200

#: Residual accepted when no Armijo step exists any more (rounding floor of very peaked ``p``).
_MAXENT_GTOL_FLOOR: float = 1e-8

#: Largest change of any log-probability allowed in one Newton step of the projections.
_MAXENT_MAX_DU: float = 4.0


# ---- validation ----------------------------------------------------------------
def _check_reading(reading: object) -> str:
    if reading not in READINGS:
        raise ValueError(f"reading must be one of {READINGS}, got {reading!r}")
    return str(reading)


def _check_tau(tau: object) -> float:
    if isinstance(tau, bool) or not isinstance(tau, int | float | np.integer | np.floating):
        raise ValueError(f"tau must be a settle fraction in (0, 1), got {tau!r}")
    x = float(tau)
    if not 0.0 < x < 1.0:
        raise ValueError(f"tau must be a settle fraction in (0, 1), got {tau!r}")
    return x


def _check_floor(floor_rel: object) -> float:
    if isinstance(floor_rel, bool) or not isinstance(floor_rel, int | float | np.integer | np.floating):
        raise ValueError(f"floor_rel must be a number in [0, 1), got {floor_rel!r}")
    x = float(floor_rel)
    if not 0.0 <= x < 1.0:
        raise ValueError(f"floor_rel must be a number in [0, 1), got {floor_rel!r}")
    return x


def _check_rtol(rtol: object) -> float:
    if isinstance(rtol, bool) or not isinstance(rtol, int | float | np.integer | np.floating):
        raise ValueError(f"rtol must be a finite number >= 0, got {rtol!r}")
    x = float(rtol)
    if not (np.isfinite(x) and x >= 0):
        raise ValueError(f"rtol must be a finite number >= 0, got {rtol!r}")
    return x


def _check_trajectory(trajectory: object, q: ArrayLike) -> tuple[Trajectory, NDArray[np.float64]]:
    if not isinstance(trajectory, Trajectory):
        raise ValueError(
            f"trajectory must be a dsb_verifier.theory.dynamics.flow.Trajectory, got {type(trajectory).__name__}"
        )
    qq, N = distribution(q, "q")
    if qq.ndim != 1:
        raise ValueError(f"q must be one target distribution of shape (2^N,), got shape {qq.shape}")
    if N != trajectory.n_visible:
        raise ValueError(f"q describes N={N} spins but the trajectory has N={trajectory.n_visible}")
    return trajectory, qq


# ---- maximum-entropy projections ------------------------------------------------
def _maxent_logp(logp: NDArray[np.float64], K: int, N: int) -> NDArray[np.float64]:
    """Log-probabilities of the order-``<= K`` max-ent projections of a batch ``(B, 2^N)``.

    Damped Newton on the concave dual :math:`L_K(J) = J\\cdot m - \\log Z(J)` from the
    uniform distribution, all batch members at once (batched solves of the
    restricted Fisher matrices; per member, the step is capped so that no
    log-probability changes by more than ``_MAXENT_MAX_DU`` nats, then Armijo
    backtracking). Same problem as :func:`theory.maxent_fit`, which tests compare against.
    """
    return _maxent_fit(logp, K, N)[0]


def _maxent_fit(
    logp: NDArray[np.float64], K: int, N: int, start: NDArray[np.float64] | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """:func:`_maxent_logp` and the couplings ``(B, 2^N)`` it found, from ``start`` (None: uniform).

    ``start`` holds full coupling vectors (entries above order ``K`` are ignored): the
    order-``K - 1`` projection's couplings are a warm start for order ``K`` (a valid
    distribution that already matches every moment below ``K``).
    """
    n = 2**N
    B = logp.shape[0]
    if K >= N:
        return logp.copy(), np.full((B, n), np.nan)
    if K == 0:
        return np.full((B, n), -N * np.log(2.0)), np.zeros((B, n))
    idx = np.flatnonzero((_orders(N) <= K) & (np.arange(n) > 0))
    xor = idx[:, None] ^ idx[None, :]
    m_t = wht(np.exp(logp))[:, idx]
    # the uniform distribution (F = I there), or the warm start
    J = np.zeros((B, idx.size)) if start is None else np.array(start[:, idx], dtype=np.float64)

    def evaluate(
        Js: NDArray[np.float64], u: NDArray[np.float64], rows: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Dual objective L_K and normalised log-probabilities at couplings ``Js`` (``u`` = their
        unnormalised log-probabilities, ``wht`` of the full coupling vector) of members ``rows``."""
        logZ = logsumexp(u, axis=-1)
        return np.einsum("bi,bi->b", Js, m_t[rows]) - logZ, u - logZ[:, None]

    # unnormalised log-probabilities of the current couplings: the transform is linear, so a
    # step delta moves them by wht(delta), computed once per Newton step (not per trial step)
    U = wht(_full(J, idx, n))
    L, lp = evaluate(J, U, np.arange(B))
    active = np.ones(B, dtype=bool)
    for _ in range(_MAXENT_MAX_ITER):
        rows = np.flatnonzero(active)
        m = wht(np.exp(lp[rows]))
        g = m_t[rows] - m[:, idx]
        gmax = np.max(np.abs(g), axis=-1)
        done = gmax <= _MAXENT_GTOL
        active[rows[done]] = False
        if not active.any():
            return lp, _full(J, idx, n)
        rows, m, g, gmax = rows[~done], m[~done], g[~done], gmax[~done]
        F = m[:, xor] - m[:, idx, None] * m[:, None, idx]
        delta = _solve_batch(F, g)
        slope = np.einsum("bi,bi->b", g, delta)
        du = wht(_full(delta, idx, n))
        # cap the change of log p per step: a full step from the uniform start can
        # overshoot into a nearly deterministic region where F is numerically singular
        step = np.minimum(1.0, _MAXENT_MAX_DU / np.maximum(np.max(np.abs(du), axis=-1), 1e-300))
        accept = np.zeros(rows.size, dtype=bool)
        for _ in range(40):
            todo = np.flatnonzero(~accept)
            Ut = U[rows[todo]] + step[todo, None] * du[todo]
            Lt, lpt = evaluate(J[rows[todo]] + step[todo, None] * delta[todo], Ut, rows[todo])
            ok = Lt >= L[rows[todo]] + 1e-4 * step[todo] * slope[todo] - 1e-13 * np.abs(L[rows[todo]])
            new = todo[ok]
            J[rows[new]] += step[new, None] * delta[new]
            U[rows[new]] = Ut[ok]
            L[rows[new]], lp[rows[new]] = Lt[ok], lpt[ok]
            accept[new] = True
            if accept.all():
                break
            step[~accept] *= 0.5
        # no ascent step exists at the rounding floor of the moments: accept if close enough
        floor = ~accept & (gmax <= _MAXENT_GTOL_FLOOR)
        active[rows[floor]] = False
    if not active.any():
        return lp, _full(J, idx, n)
    raise MaxEntConvergenceError(
        f"batched max-ent projection to order {K} did not reach moment residual "
        f"{_MAXENT_GTOL:.0e} in {_MAXENT_MAX_ITER} Newton iterations"
    )


def _full(J: NDArray[np.float64], idx: NDArray[np.int64], n: int) -> NDArray[np.float64]:
    out = np.zeros((J.shape[0], n))
    out[:, idx] = J
    return out


def _solve_batch(F: NDArray[np.float64], g: NDArray[np.float64]) -> NDArray[np.float64]:
    """Newton directions ``F^-1 g`` for a batch; least squares for members where ``F`` is singular."""
    try:
        return np.asarray(np.linalg.solve(F, g[..., None])[..., 0], dtype=np.float64)
    except np.linalg.LinAlgError:
        return np.stack([np.linalg.lstsq(Fb, gb, rcond=None)[0] for Fb, gb in zip(F, g, strict=True)])


def _projections(logp: NDArray[np.float64], N: int) -> list[NDArray[np.float64]]:
    """``[log p_(0), ..., log p_(N)]`` for a batch of normalised log-probabilities ``(B, 2^N)``."""
    out, J = [], None
    for K in range(N + 1):  # each order starts from the one below (it matches every lower moment)
        lp, J = _maxent_fit(logp, K, N, J)
        out.append(lp)
    return out


def _connected_information_log(logp: NDArray[np.float64], N: int) -> NDArray[np.float64]:
    """:func:`connected_information` of a batch of normalised log-probabilities ``(B, 2^N)``."""
    logs = _projections(logp, N)
    out = np.zeros((logp.shape[0], N + 1))
    for k in range(1, N + 1):
        out[:, k] = _kl_logs(logs[k], logs[k - 1])
    return out


def _kl_logs(log_a: NDArray[np.float64], log_b: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.maximum(np.sum(np.exp(log_a) * (log_a - log_b), axis=-1), 0.0)


def connected_information(p: ArrayLike) -> NDArray[np.float64]:
    r"""Connected information :math:`I_k(p) = \mathrm{KL}(p_{(k)} \| p_{(k-1)})` per order (C5, reading c).

    Parameters
    ----------
    p
        Strictly positive distribution(s), shape ``(..., 2^N)``.

    Returns
    -------
    ndarray, shape ``(..., N + 1)``
        Entry ``k`` (``1..N``) is :math:`I_k(p) \ge 0`; entry 0 is 0. The entries
        sum to :math:`\mathrm{KL}(p \,\|\, \text{uniform}) = N \log 2 - H(p)`.
    """
    pp, N = distribution(p, "p")
    out = _connected_information_log(np.log(pp.reshape(-1, 2**N)), N)
    return out.reshape(pp.shape[:-1] + (N + 1,))


def maxent_kl_curves(p: ArrayLike, q: ArrayLike) -> NDArray[np.float64]:
    r"""Cumulative gaps :math:`\mathrm{KL}(q_{(k)} \| p_{(k)})` per order (reference; not reading c).

    Zero for order ``k`` iff ``p`` matches the moments of ``q`` of every order
    ``<= k``; non-decreasing-in-``k`` settle times are built into it (module
    docstring), which is why reading (c) uses :func:`connected_information`.

    Parameters
    ----------
    p
        Model distribution(s), shape ``(..., 2^N)``.
    q
        One target distribution, shape ``(2^N,)``.

    Returns
    -------
    ndarray, shape ``(..., N + 1)``, entry 0 is 0.
    """
    pp, N = distribution(p, "p")
    qq, Nq = distribution(q, "q")
    if qq.ndim != 1 or Nq != N:
        raise ValueError(f"q must be one distribution over the same 2^N = {2**N} states, got {qq.shape}")
    flat = pp.reshape(-1, 2**N)
    lp = _projections(np.log(flat), N)
    lq = _projections(np.log(qq)[None, :], N)
    out = np.zeros((flat.shape[0], N + 1))
    for k in range(1, N + 1):
        out[:, k] = _kl_logs(np.broadcast_to(lq[k], lp[k].shape), lp[k])
    return out.reshape(pp.shape[:-1] + (N + 1,))


# ---- order curves ------------------------------------------------------------------
def target_structure(q: ArrayLike, reading: str) -> NDArray[np.float64]:
    r"""The target's structure at each order under ``reading`` (Claim C5).

    ``"a"``: :math:`\|m_k(q)\|` (the order-``k`` residual of the uniform
    distribution); ``"b"``: :math:`\|J^*_k\|`; ``"c"``: :math:`I_k(q)`.

    Returns
    -------
    ndarray, shape ``(N + 1,)``, entry 0 is 0.
    """
    reading = _check_reading(reading)
    qq, _ = distribution(q, "q")
    if qq.ndim != 1:
        raise ValueError(f"q must be one target distribution of shape (2^N,), got shape {qq.shape}")
    if reading == "a":
        return order_norms(moments(qq))
    if reading == "b":
        return order_norms(couplings(qq))
    return connected_information(qq)


def structured_orders(q: ArrayLike, floor: float) -> NDArray[np.int64]:
    r"""Orders where the target has interaction structure (Claim C5, docs/theory.md §7).

    Order ``k`` is structured when :math:`\|J^*_k\| \ge \mathrm{floor}\cdot\max_j \|J^*_j\|`
    (Frobenius norms of the target's order-``k`` couplings). A nonzero order-``k``
    *moment* induced by lower-order couplings is not structure at order ``k``.

    Parameters
    ----------
    q
        One strictly positive target distribution, shape ``(2^N,)``.
    floor
        Relative floor in ``(0, 1]``.

    Returns
    -------
    ndarray of int
        The structured orders in increasing order (empty only for the uniform target).
    """
    if isinstance(floor, bool) or not isinstance(floor, int | float | np.integer | np.floating):
        raise ValueError(f"floor must be a number in (0, 1], got {floor!r}")
    f = float(floor)
    if not 0.0 < f <= 1.0:
        raise ValueError(f"floor must be a number in (0, 1], got {floor!r}")
    s = target_structure(q, "b")[1:]
    top = float(np.max(s))
    if top == 0.0:
        return np.zeros(0, dtype=np.int64)
    return (np.flatnonzero(s >= f * top) + 1).astype(np.int64)


def order_curves(trajectory: Trajectory, q: ArrayLike, reading: str) -> NDArray[np.float64]:
    r"""Order-resolved curves :math:`v_k(t)` of one reading along a trajectory (Claim C5).

    Parameters
    ----------
    trajectory
        A :class:`~dsb_verifier.theory.dynamics.flow.Trajectory` of a flow towards ``q``.
    q
        The target of that flow, shape ``(2^N,)``.
    reading
        ``"a"`` (moment residual), ``"b"`` (coupling error) or ``"c"``
        (connected-information gap); see the module docstring.

    Returns
    -------
    ndarray, shape ``(T, N + 1)``
        Column ``k`` is :math:`v_k` at ``trajectory.t``; column 0 is 0.
    """
    reading = _check_reading(reading)
    tr, qq = _check_trajectory(trajectory, q)
    if reading == "a":
        return np.array(tr.residual_order_norms)
    if reading == "b":
        return np.array(tr.coupling_error_order_norms)
    # log p_theta(t) = wht(J(t)) since J[:, 0] = -log Z; renormalised against rounding
    logp = wht(tr.J)
    logp -= logsumexp(logp, axis=-1, keepdims=True)
    I_t = _connected_information_log(logp, tr.n_visible)
    return np.abs(I_t - connected_information(qq)[None, :])


# ---- settle times --------------------------------------------------------------------
def _crossing(t0: float, t1: float, v0: float, v1: float, level: float) -> float:
    """Time in ``(t0, t1]`` where the segment from ``v0 > level`` to ``v1 <= level`` crosses ``level``."""
    if v1 > 0.0 and level > 0.0:
        y0, y1, y = np.log(v0), np.log(v1), np.log(level)
    else:
        y0, y1, y = v0, v1, level
    f = (y0 - y) / (y0 - y1) if y0 != y1 else 1.0
    f = min(max(f, 0.0), 1.0)
    if t0 <= 0.0:
        return float(t0 + f * (t1 - t0))
    return float(np.exp(np.log(t0) + f * (np.log(t1) - np.log(t0))))


def settle_times(
    t: ArrayLike,
    curves: ArrayLike,
    tau: float,
    *,
    structure: ArrayLike | None = None,
    floor_rel: float = SETTLE_FLOOR_REL,
) -> NDArray[np.float64]:
    r"""Settle time :math:`t_k` of each order: :math:`v_k \le \tau\, v_k(0)` for good (Claim C5).

    Parameters
    ----------
    t
        Recorded times, shape ``(T,)``, ``t[0] = 0``, strictly increasing.
    curves
        Non-negative order curves :math:`v_k(t)`, shape ``(T, N + 1)``; column 0
        is ignored.
    tau
        Settle fraction in ``(0, 1)``.
    structure
        The target's structure per order, shape ``(N + 1,)`` (:func:`target_structure`).
        ``None`` treats every order as structured, so none is undefined.
    floor_rel
        Relative floor in ``[0, 1)``: an order is undefined when both its
        structure and :math:`v_k(0)` are ``<= floor_rel * scale``, where ``scale``
        is the largest structure or initial value over orders ``1..N``.

    Returns
    -------
    ndarray, shape ``(N + 1,)``
        Entry 0 is NaN (the constant is not an interaction). Entry ``k`` is the
        settle time (log–log interpolated between checkpoints, see the module
        docstring), ``+inf`` if the order had not settled at the last recorded
        time, NaN if the order is undefined.

    Raises
    ------
    ValueError
        On shapes that do not match, times that do not start at 0 or do not
        increase, negative or non-finite curves, ``tau`` outside ``(0, 1)``.
    """
    tt = as_float_array(t, "t")
    v = as_float_array(curves, "curves", min_ndim=2)
    tau_ = _check_tau(tau)
    floor_ = _check_floor(floor_rel)
    if tt.ndim != 1 or tt.size < 1:
        raise ValueError(f"t must be a vector of recorded times of shape (T,), got shape {tt.shape}")
    if tt[0] != 0.0 or np.any(np.diff(tt) <= 0):
        raise ValueError("t must start at 0 and be strictly increasing")
    if v.ndim != 2 or v.shape[0] != tt.size or v.shape[1] < 2:
        raise ValueError(f"curves must have shape (T, N + 1) = ({tt.size}, N + 1) with N >= 1, got {v.shape}")
    if np.any(v < 0):
        raise ValueError("curves must be non-negative (they are norms or gaps)")
    N = v.shape[1] - 1
    if structure is None:
        s = np.full(N + 1, np.inf)
    else:
        s = as_float_array(structure, "structure")
        if s.shape != (N + 1,):
            raise ValueError(f"structure must have shape (N + 1,) = ({N + 1},), got {s.shape}")
        if np.any(s < 0):
            raise ValueError("structure must be non-negative")
    finite_s = np.where(np.isfinite(s[1:]), s[1:], 0.0)
    scale = max(float(np.max(v[0, 1:])), float(np.max(finite_s)))
    floor = floor_ * scale
    out = np.full(N + 1, np.nan)
    for k in range(1, N + 1):
        vk = v[:, k]
        if s[k] <= floor and vk[0] <= floor:
            continue
        level = tau_ * vk[0]
        above = np.flatnonzero(vk > level)
        if above.size == 0:  # v_k(0) = 0 with structure: nothing to settle
            out[k] = 0.0
        elif above[-1] == tt.size - 1:
            out[k] = np.inf
        else:
            i = int(above[-1])
            out[k] = _crossing(tt[i], tt[i + 1], vk[i], vk[i + 1], level)
    return out


def trajectory_settle_times(
    trajectory: Trajectory,
    q: ArrayLike,
    reading: str,
    taus: Sequence[float],
    *,
    floor_rel: float = SETTLE_FLOOR_REL,
) -> NDArray[np.float64]:
    """Settle times of one trajectory under ``reading`` for each ``tau`` (Claim C5).

    Returns
    -------
    ndarray, shape ``(len(taus), N + 1)``
        Rows as :func:`settle_times`.
    """
    tr, qq = _check_trajectory(trajectory, q)
    curves = order_curves(tr, qq, reading)
    struct = target_structure(qq, reading)
    if len(taus) == 0:
        raise ValueError("taus must contain at least one settle fraction")
    return np.stack([settle_times(tr.t, curves, tau, structure=struct, floor_rel=floor_rel) for tau in taus])


# ---- rank statistics -------------------------------------------------------------------
@dataclass(frozen=True)
class HierarchyRank:
    """Rank statistics of settle times over the defined orders (Claim C5).

    Attributes
    ----------
    kendall_tau
        Kendall tau-b between order and settle time (tie-group ranks); 0 when
        all defined orders tie, NaN when fewer than two orders are defined or
        none settled.
    monotone
        Whether :math:`t_k` is non-decreasing along the defined orders; None when
        fewer than two orders are defined.
    n_defined
        Number of defined orders.
    n_unsettled
        Number of defined orders with :math:`t_k = +\\infty`.
    """

    kendall_tau: float
    monotone: bool | None
    n_defined: int
    n_unsettled: int

    def __post_init__(self) -> None:
        if not (np.isnan(self.kendall_tau) or -1.0 - 1e-12 <= self.kendall_tau <= 1.0 + 1e-12):
            raise ValueError(f"kendall_tau must lie in [-1, 1] or be NaN, got {self.kendall_tau}")
        if not 0 <= self.n_unsettled <= self.n_defined:
            raise ValueError("n_unsettled must lie between 0 and n_defined")
        if (self.monotone is None) != (self.n_defined < 2):
            raise ValueError("monotone must be None exactly when fewer than two orders are defined")


def _tie_groups(t: NDArray[np.float64], rtol: float) -> NDArray[np.int64]:
    """Group rank of each settle time; ``inf`` last, tied with each other.

    Sorted times are grouped greedily: a group collects the times within a
    factor ``1 + rtol`` of its smallest member (no chaining beyond that factor).
    """
    order = np.argsort(t, kind="stable")
    ts = t[order]
    group = np.zeros(t.size, dtype=np.int64)
    g, start = 0, ts[0]
    for i in range(1, ts.size):
        same = ts[i] == start or (np.isfinite(ts[i]) and ts[i] <= start * (1.0 + rtol))
        if not same:
            g, start = g + 1, ts[i]
        group[i] = g
    out = np.empty(t.size, dtype=np.int64)
    out[order] = group
    return out


def hierarchy_rank(t_k: ArrayLike, *, rtol: float = 0.0) -> HierarchyRank:
    r"""Kendall correlation of order vs settle time, and monotonicity (Claim C5).

    Parameters
    ----------
    t_k
        Settle times, shape ``(N + 1,)`` as returned by :func:`settle_times`:
        entry 0 is ignored, NaN marks an undefined order (dropped), ``+inf`` an
        order that never settled (ranked last, tied with the other ``+inf``).
    rtol
        Resolution of the comparison, ``>= 0``: sorted settle times are grouped
        greedily, each group holding the times within a factor ``1 + rtol`` of
        its smallest member, and times in one group are tied. ``0`` compares
        the raw values, so the statistic is :func:`scipy.stats.kendalltau` of
        ``(k, t_k)`` and "monotone" is :math:`t_{k_1} \le t_{k_2} \le \dots`.

    Returns
    -------
    HierarchyRank
        ``kendall_tau`` is the tau-b of ``k`` against the tie-group ranks; 0
        when every defined order settled at the same (finite) time — no
        ordering — and NaN when fewer than two orders are defined or none
        settled. ``monotone`` says whether the tie-group ranks never decrease
        with ``k``.
    """
    x = np.asarray(t_k, dtype=np.float64)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"t_k must have shape (N + 1,) with N >= 1, got {x.shape}")
    if np.any(x[1:] < 0):  # entry 0 (the empty subset) is ignored, whatever it holds
        raise ValueError("settle times must be >= 0 (NaN for undefined, +inf for not settled)")
    rtol_ = _check_rtol(rtol)
    k = np.arange(1, x.size)
    tk = x[1:]
    ok = ~np.isnan(tk)
    kd, td = k[ok], tk[ok]
    n_def = int(kd.size)
    n_uns = int(np.sum(np.isinf(td)))
    if n_def < 2:
        return HierarchyRank(kendall_tau=float("nan"), monotone=None, n_defined=n_def, n_unsettled=n_uns)
    ranks = _tie_groups(td, rtol_)
    mono = bool(np.all(np.diff(ranks) >= 0))
    if np.ptp(ranks) > 0:
        kt = float(scipy.stats.kendalltau(kd, ranks).statistic)
    else:  # one tie group: simultaneous (no ordering), or nothing settled (no information)
        kt = float("nan") if n_uns == n_def else 0.0
    return HierarchyRank(kendall_tau=kt, monotone=mono, n_defined=n_def, n_unsettled=n_uns)


# ---- tangent-kernel mechanism -------------------------------------------------------------
def fit_slopes(
    scales: ArrayLike,
    norms: ArrayLike,
    window: tuple[float, float],
    floors: ArrayLike | None = None,
) -> NDArray[np.float64]:
    r"""Least-squares slopes of :math:`\log\|K_{kk}\|` against :math:`\log\sigma` per order (Claim C5).

    Only values clearly above their rounding floor enter a fit (docs/theory.md §7,
    "Slopes and floors"): with ``floors`` given, a scale is used for order ``k`` only when
    ``norms[i, k] >= floors[i, k]``.

    Parameters
    ----------
    scales
        Initialisation scales :math:`\sigma > 0`, shape ``(S,)``.
    norms
        Block norms, shape ``(S, N + 1)``; column 0 ignored.
    window
        ``(lo, hi)``: only scales with ``lo <= sigma <= hi`` enter the fit; at
        least two must.
    floors
        Optional smallest usable norm per scale and order, shape ``(S, N + 1)``
        (e.g. ``SLOPE_FLOOR_FACTOR`` times :func:`kernel_rounding_floors`).

    Returns
    -------
    ndarray, shape ``(N + 1,)``
        Entry 0 NaN; entry ``k`` the fitted exponent (:func:`numpy.polyfit`,
        degree 1). NaN for an order whose norm is 0 somewhere in the window, or
        that has fewer than two scales in the window at or above its floor.
    """
    s = as_float_array(scales, "scales")
    nrm = as_float_array(norms, "norms", min_ndim=2)
    if s.ndim != 1 or np.any(s <= 0):
        raise ValueError("scales must be a vector of positive initialisation scales")
    if nrm.ndim != 2 or nrm.shape[0] != s.size or nrm.shape[1] < 2:
        raise ValueError(f"norms must have shape (S, N + 1) = ({s.size}, N + 1), got {nrm.shape}")
    if np.any(nrm < 0):
        raise ValueError("norms must be non-negative")
    lo, hi = (float(w) for w in window)
    if not 0 < lo < hi:
        raise ValueError(f"window must be (lo, hi) with 0 < lo < hi, got {window!r}")
    sel = (s >= lo) & (s <= hi)
    if int(sel.sum()) < 2:
        raise ValueError(
            f"the window [{lo:g}, {hi:g}] must contain at least two scales, got {int(sel.sum())}"
        )
    fl = None
    if floors is not None:
        fl = as_float_array(floors, "floors", min_ndim=2)
        if fl.shape != nrm.shape or np.any(fl < 0):
            raise ValueError(
                f"floors must be non-negative with the shape of norms {nrm.shape}, got {fl.shape}"
            )
    out = np.full(nrm.shape[1], np.nan)
    for k in range(1, nrm.shape[1]):
        use = sel if fl is None else sel & (nrm[:, k] >= fl[:, k])
        y = nrm[use, k]
        if y.size >= 2 and np.all(y > 0):
            out[k] = float(np.polyfit(np.log(s[use]), np.log(y), 1)[0])
    return out


#: A block norm enters a kernel-exponent fit only at ``>= KERNEL_FLOOR_FACTOR`` times its
#: rounding floor (:func:`kernel_rounding_floors`; relative error then <= 1 %).
KERNEL_FLOOR_FACTOR: float = 100.0


def kernel_rounding_floors(model: EnergyModel, theta: ArrayLike) -> NDArray[np.float64]:
    r"""Rounding floor of :math:`\|K_{kk}\|_F` per order at ``theta`` (Claim C5; docs/theory.md §7).

    ``A = 2^{-N} H\,\partial u/\partial\theta`` is computed by an ``N``-stage transform, so
    each entry of column ``j`` carries an error up to
    :math:`\delta_j = N \epsilon \max_s |\partial u(s)/\partial\theta_j|`; over the
    :math:`\binom{N}{k}` rows of order ``k``, :math:`\|\delta A_k\|_F \le d_k =
    \binom{N}{k}^{1/2} (\sum_j \delta_j^2)^{1/2}`, and
    :math:`\|K_{kk}\|_F = \|A_k A_k^\top\|_F` is then uncertain by up to
    :math:`2\|A_k\|_F d_k + d_k^2`. Returned with shape ``(..., N + 1)`` (entry 0 is 0).
    """
    from math import comb

    th = model.check_theta(theta)
    N = model.n_visible
    flat = th.reshape(-1, model.n_params)
    out = np.zeros((flat.shape[0], N + 1))
    eps = float(np.finfo(np.float64).eps)
    for i, row in enumerate(flat):
        g = model.grad_neg_energy(row)  # (P, 2^N)
        delta = N * eps * np.max(np.abs(g), axis=-1)
        A = model.jacobian(row)
        blocks = order_norms(np.concatenate([np.zeros((1, A.shape[1])), A], axis=0).T)  # (P, N + 1)
        a_k = np.sqrt(np.sum(blocks**2, axis=0))
        d = np.array([np.sqrt(comb(N, k)) for k in range(N + 1)]) * float(np.linalg.norm(delta))
        out[i] = 2.0 * a_k * d + d**2
        out[i, 0] = 0.0
    return out.reshape(th.shape[:-1] + (N + 1,))


@dataclass(frozen=True)
class KernelScaling:
    r"""Diagonal tangent-kernel block norms against the initialisation scale (Claim C5).

    Attributes
    ----------
    scales
        Initialisation scales :math:`\sigma`, shape ``(S,)``, increasing.
    norms
        Seed-averaged :math:`\|K_{kk}\|_F`, shape ``(S, N + 1)``; column 0 is 0.
    slopes
        Fitted log–log slope per order over ``window``, shape ``(N + 1,)``; entry 0 NaN.
    window
        ``(lo, hi)`` range of scales used in the fit.
    n_seeds
        Initialisations averaged per scale.
    floors
        Smallest usable norm per scale and order (``KERNEL_FLOOR_FACTOR`` times the
        seed-averaged :func:`kernel_rounding_floors`), shape ``(S, N + 1)``; values below
        it are left out of the fit. None when not computed.
    """

    scales: NDArray[np.float64]
    norms: NDArray[np.float64]
    slopes: NDArray[np.float64]
    window: tuple[float, float]
    n_seeds: int
    floors: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        for name in ("scales", "norms", "slopes"):
            arr = np.array(getattr(self, name), dtype=np.float64)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        S = self.scales.shape[0] if self.scales.ndim == 1 else -1
        if S < 1 or np.any(np.diff(self.scales) <= 0) or np.any(self.scales <= 0):
            raise ValueError("KernelScaling.scales must be positive and increasing")
        if self.norms.ndim != 2 or self.norms.shape[0] != S:
            raise ValueError(
                f"KernelScaling.norms must have shape (S, N + 1) with S={S}, got {self.norms.shape}"
            )
        if self.slopes.shape != (self.norms.shape[1],):
            raise ValueError("KernelScaling.slopes must have one entry per order (N + 1)")
        if self.n_seeds < 1:
            raise ValueError("KernelScaling.n_seeds must be >= 1")
        if self.floors is not None:
            fl = np.array(self.floors, dtype=np.float64)
            if fl.shape != self.norms.shape:
                raise ValueError(f"KernelScaling.floors must have the shape of norms {self.norms.shape}")
            fl.setflags(write=False)
            object.__setattr__(self, "floors", fl)


def kernel_scaling(
    model: EnergyModel,
    scales: Sequence[float],
    *,
    seed: int,
    n_seeds: int,
    window: tuple[float, float],
) -> KernelScaling:
    r""":math:`\|K_{kk}\|_F` at :math:`\theta = \sigma z` per scale and its log–log slope per order (C5).

    The same standard-normal directions :math:`z` (drawn with ``model.init(rng, 1)``
    from ``numpy.random.default_rng([seed, j])``, ``j < n_seeds``) are used at
    every scale, so the scales differ only in :math:`\sigma`. Block norms are
    averaged arithmetically over the seeds.

    Parameters
    ----------
    model
        An :class:`~dsb_verifier.theory.models.EnergyModel` whose ``init`` is :math:`\sigma`
        times i.i.d. standard normals (all families of :mod:`dsb_verifier.theory.models`).
    scales
        At least two positive scales.
    seed, n_seeds
        Seeds of the directions; ``n_seeds >= 1``.
    window
        Fit window, see :func:`fit_slopes`.
    """
    if not isinstance(model, EnergyModel):
        raise ValueError(
            f"model must be a dsb_verifier.theory.models.EnergyModel, got {type(model).__name__}"
        )
    s = np.sort(as_float_array(list(scales), "scales"))
    if s.ndim != 1 or s.size < 2 or np.any(s <= 0) or np.any(np.diff(s) <= 0):
        raise ValueError("scales must contain at least two distinct positive initialisation scales")
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int | np.integer) or n_seeds < 1:
        raise ValueError(f"n_seeds must be a positive integer, got {n_seeds!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    Z = np.stack([model.init(np.random.default_rng([int(seed), j]), 1.0) for j in range(int(n_seeds))])
    N = model.n_visible
    norms = np.zeros((s.size, N + 1))
    floors = np.zeros((s.size, N + 1))
    for i, sigma in enumerate(s):
        blocks = kernel_block_norms(model, sigma * Z)  # (n_seeds, N + 1, N + 1)
        norms[i] = np.mean(np.diagonal(blocks, axis1=-2, axis2=-1), axis=0)
        floors[i] = KERNEL_FLOOR_FACTOR * np.mean(kernel_rounding_floors(model, sigma * Z), axis=0)
    slopes = fit_slopes(s, norms, window, floors)
    return KernelScaling(
        scales=s,
        norms=norms,
        slopes=slopes,
        window=(float(window[0]), float(window[1])),
        n_seeds=int(n_seeds),
        floors=floors,
    )
