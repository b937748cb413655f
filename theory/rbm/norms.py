r"""Per-order Frobenius norms of an RBM's effective couplings at any N (the paper's Fig. 1).

:math:`\|J_k\|^2 = \sum_{|S| = k} J_S^2` (docs/theory.md §8; Claim C5's hierarchy is
read off these norms over training). Orders 1 and 2 are summed over all subsets
(:func:`rbm_fields`, :func:`rbm_pairwise`); an order ``k >= 3`` is summed over all
:math:`\binom Nk` subsets when that number is at most ``exhaustive_limit``, and
otherwise estimated from ``n`` subsets drawn independently and uniformly among the
:math:`\binom Nk` (each draw: ``k`` distinct indices, i.e. without replacement
within a draw, with replacement across draws). Then

.. math::

    \widehat{\|J_k\|^2} = \binom Nk \frac1n \sum_{r=1}^n J_{S_r}^2

is unbiased, with standard error :math:`\binom Nk\, \mathrm{sd}(J_{S_r}^2)/\sqrt n`
(sample standard deviation, ``ddof = 1``). The norm and its standard error are
:math:`\sqrt{\widehat{\|J_k\|^2}}` and the delta-method
:math:`\mathrm{se}(\|J_k\|^2) / (2\|J_k\|)`; both forms are stored. Sums of squares
are scaled by :math:`\max|J_S|` first, so nothing overflows. Order ``k`` draws from
``numpy.random.default_rng(seed + k)``.

Glossary: ``k`` order, ``n`` subsets used, ``J`` couplings, ``se`` standard error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, combinations
from math import comb

import numpy as np
from dsb_verifier.theory.rbm._checks import _check_law, _check_params, _check_subset_array, check_fits
from dsb_verifier.theory.rbm.accumulators import _Fields, _Model, _model, _Pairs, _run, _Subsets
from dsb_verifier.theory.rbm.io import RBMParams
from dsb_verifier.theory.tolerances import EPS
from numpy.typing import NDArray

__all__ = [
    "MappingError",
    "OrderCouplings",
    "OrderNorms",
    "gaussian_mapping_error",
    "rbm_order_couplings",
    "rbm_order_norms",
    "sample_subsets",
]


@dataclass(frozen=True)
class OrderNorms:
    """Frobenius norms of the couplings of orders ``1..K`` (exact or sampled).

    Attributes
    ----------
    orders
        ``(1, ..., K)``.
    norm
        :math:`\\|J_k\\|` (its square root of the unbiased estimate where sampled).
    stderr
        Standard error of ``norm`` (delta method; 0 where exhaustive).
    n_subsets
        :math:`\\binom Nk`, as floats (exact up to 2^53).
    n_sampled
        Subsets whose couplings were computed.
    exhaustive
        Whether every subset of the order was computed.
    law
        ``"exact"`` or ``"gaussian"``.
    seed
        Base seed of the sampled orders.
    floor
        Resolution of ``norm``: :math:`\\sqrt{\\binom Nk}` times the discretisation bound
        of one coupling (rigorous, :mod:`.quadrature`) plus the root sum of squares of the
        couplings' rounding estimates :math:`(N + k + 4 + \\sqrt{n_{cols}})\\,\\epsilon
        \\sum|\\text{terms}|` (estimated over the sample where sampled). A norm below its
        floor is not resolved and should not be drawn as data. Default 0 (not known).
    """

    orders: tuple[int, ...]
    norm: NDArray[np.float64]
    stderr: NDArray[np.float64]
    n_subsets: NDArray[np.float64]
    n_sampled: NDArray[np.int64]
    exhaustive: NDArray[np.bool_]
    law: str
    seed: int
    floor: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        K = len(self.orders)
        if tuple(self.orders) != tuple(range(1, K + 1)) or K < 1:
            raise ValueError(f"orders must be (1, ..., K) with K >= 1, got {self.orders}")
        for name in ("norm", "stderr", "n_subsets", "n_sampled", "exhaustive"):
            v = np.asarray(getattr(self, name))
            if v.shape != (K,):
                raise ValueError(f"{name} must have shape ({K},), got {v.shape}")
            if name != "exhaustive" and (not np.all(np.isfinite(v)) or np.any(v < 0)):
                raise ValueError(f"{name} must be finite and non-negative, got {v!r}")
        if np.any(self.stderr[self.exhaustive] != 0) or np.any(self.n_sampled > self.n_subsets):
            raise ValueError("exhaustive orders have stderr 0 and n_sampled <= n_subsets")
        fl = np.zeros(K) if self.floor is None else np.asarray(self.floor, dtype=np.float64)
        if fl.shape != (K,) or not np.all(np.isfinite(fl)) or np.any(fl < 0):
            raise ValueError(f"floor must be {K} finite non-negative numbers, got {self.floor!r}")
        object.__setattr__(self, "floor", fl)
        if self.law not in ("exact", "gaussian"):
            raise ValueError(f"law must be 'exact' or 'gaussian', got {self.law!r}")

    @property
    def sq_norm(self) -> NDArray[np.float64]:
        """:math:`\\|J_k\\|^2` (the unbiased estimate where sampled); ``inf`` if it overflows."""
        with np.errstate(over="ignore"):
            return self.norm**2

    @property
    def sq_stderr(self) -> NDArray[np.float64]:
        """Standard error of :attr:`sq_norm` (``2 norm stderr``, the inverse of the delta method)."""
        with np.errstate(over="ignore"):
            return 2.0 * self.norm * self.stderr

    @property
    def rel_stderr(self) -> NDArray[np.float64]:
        """``stderr / norm`` (0 where exhaustive; ``inf`` for a zero sampled norm with nonzero error)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            r = self.stderr / self.norm
        return np.where(self.stderr == 0, 0.0, r)


def _scaled_squares(J: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
    """``(s, (J / s)^2)`` with ``s = max |J|`` (``s = 1`` for all-zero ``J``): squares that never overflow."""
    if not np.all(np.isfinite(J)):
        raise ValueError("couplings must be finite; the integral produced NaN or inf (report this as a bug)")
    s = float(np.max(np.abs(J))) if J.size else 0.0
    s = s if s > 0 else 1.0
    return s, (J / s) ** 2


def sample_subsets(N: int, k: int, n: int, rng: np.random.Generator) -> NDArray[np.int64]:
    """``n`` independent uniform ``k``-subsets of ``range(N)``, sorted rows, shape ``(n, k)``.

    Each row is ``k`` distinct indices (rows with a repeat are redrawn), so every
    subset has probability ``1 / C(N, k)`` per draw, independently across draws.
    """
    out = np.empty((n, k), dtype=np.int64)
    todo = np.arange(n)
    while todo.size:
        draw = np.sort(rng.integers(0, N, size=(todo.size, k)), axis=1)
        good = np.all(np.diff(draw, axis=1) > 0, axis=1) if k > 1 else np.ones(todo.size, bool)
        out[todo[good]] = draw[good]
        todo = todo[~good]
    return out


def _check_int(x: object, name: str, lo: int) -> int:
    if isinstance(x, bool) or not isinstance(x, int | np.integer) or int(x) < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {x!r}")
    return int(x)


def _check_norm_args(
    params: object, max_order: object, samples: object, seed: object, exhaustive_limit: object
) -> tuple[RBMParams, int, int, int, int]:
    p = _check_params(params)
    N = p.n_visible
    K = _check_int(max_order, "max_order", 1)
    if K > N:
        raise ValueError(
            f"max_order must be at most N = {N} (there are no couplings of higher order), got {K}"
        )
    return (
        p,
        K,
        _check_int(samples, "samples", 2),
        _check_int(seed, "seed", 0),
        _check_int(exhaustive_limit, "exhaustive_limit", 0),
    )


def _order_subsets(N: int, k: int, samples: int, seed: int, limit: int) -> NDArray[np.int64] | None:
    """Subsets of order ``k >= 3``: all of them if ``C(N, k) <= limit``, else ``samples`` uniform draws."""
    n = comb(N, k) if comb(N, k) <= limit else samples
    # subset rows, their couplings, term sums and rounding estimates, and one batch of products
    check_fits(
        8.0 * n * (k + 4) + 8.0 * 2**21,
        f"the {n} order-{k} subsets (exhaustive_limit, samples)",
        "lower exhaustive_limit (the order is then sampled) or samples",
    )
    if comb(N, k) <= limit:
        flat = np.fromiter(chain.from_iterable(combinations(range(N), k)), dtype=np.int64, count=n * k)
        return flat.reshape(n, k)
    return sample_subsets(N, k, samples, np.random.default_rng(seed + k))


def _all_orders(
    model: _Model, subsets: Sequence[NDArray[np.int64] | None]
) -> list[tuple[NDArray[np.float64], NDArray[np.float64]]]:
    """Couplings of orders ``1..K`` in one pass over the quadrature tables.

    ``subsets[k - 1]`` is ``None`` for ``k <= 2`` (all fields, all pairs in upper-triangle
    order) and the subset rows otherwise. Each order comes with its couplings' rounding
    estimates ``(N + k + 4 + sqrt(n_cols)) EPS sum|terms|``.
    """
    K = len(subsets)
    accs: list[_Fields | _Pairs | _Subsets] = [_Fields(model)]
    if K >= 2:
        accs.append(_Pairs(model))
    accs += [_Subsets(model, S) for S in subsets[2:] if S is not None]
    _run(model, accs)
    out = []
    for k in range(1, K + 1):
        gamma = (model.N + k + 4 + np.sqrt(model.grid.n_cols)) * EPS
        acc = accs[k - 1]
        if isinstance(acc, _Pairs):
            P, a = acc.result()
            i, j = np.triu_indices(model.N, 1)
            out.append((P[i, j], gamma * np.sqrt(a[i]) * np.sqrt(a[j])))
        else:
            out.append((acc.J, gamma * acc.A))
    return out


def _estimate(J: NDArray[np.float64], count: float, exhaustive: bool) -> tuple[float, float]:
    """``(norm, stderr)``: exact sum, or ``sqrt(C mean J^2)`` with the delta-method standard error."""
    s, x = _scaled_squares(J)
    if exhaustive:
        return s * float(np.sqrt(np.sum(x))), 0.0
    m, sd = float(np.mean(x)), float(np.std(x, ddof=1))
    norm = s * float(np.sqrt(count * m))
    return norm, (norm * sd / (2.0 * m * np.sqrt(J.size)) if m > 0 else 0.0)


def _floor(model: _Model, r: NDArray[np.float64], count: float, exhaustive: bool) -> float:
    """Resolution of an order's norm: ``sqrt(C)`` times the discretisation bound plus the rounding estimates."""
    disc = float(np.sqrt(count) * model.grid.error_bound.sum())
    s, x = _scaled_squares(r)
    rnd = s * float(np.sqrt(np.sum(x))) if exhaustive else s * float(np.sqrt(count * np.mean(x)))
    return disc + rnd


def rbm_order_norms(
    params: RBMParams,
    max_order: int,
    *,
    samples: int = 2000,
    seed: int = 0,
    law: str = "exact",
    exhaustive_limit: int = 200_000,
) -> OrderNorms:
    r"""Per-order norms :math:`\|J_k\|`, ``k = 1..max_order`` (module docstring).

    Parameters
    ----------
    params
        The RBM as stored.
    max_order
        Highest order, ``1 <= max_order <= N``.
    samples
        Subsets drawn per sampled order (``>= 2``, for a standard error). The interval
        ``norm +- 1.96 stderr`` is a normal approximation: its coverage error is of order
        ``skewness(J_S^2) / sqrt(samples)``, so use ``samples >> skewness^2``
        (docs/notes/integral.md).
    seed
        Base seed; order ``k`` uses ``default_rng(seed + k)``.
    law
        ``"exact"`` (docs/theory.md §8) or ``"gaussian"`` (SciPost 2024 mapping);
        the same subsets are drawn for both laws at equal seed.
    exhaustive_limit
        Orders with at most this many subsets are summed exhaustively.
    """
    p, K, n_draw, base_seed, limit = _check_norm_args(params, max_order, samples, seed, exhaustive_limit)
    model = _model(p, _check_law(law))
    N = p.n_visible
    norm, se, floor = np.zeros(K), np.zeros(K), np.zeros(K)
    n_used, exh = np.zeros(K, np.int64), np.zeros(K, np.bool_)
    counts = np.array([float(comb(N, k)) for k in range(1, K + 1)])
    plan = [_order_subsets(N, k, n_draw, base_seed, limit) if k >= 3 else None for k in range(1, K + 1)]
    values = _all_orders(model, plan)
    for k in range(1, K + 1):
        exh[k - 1] = k <= 2 or comb(N, k) <= limit
        J, r = values[k - 1]
        n_used[k - 1] = J.size
        norm[k - 1], se[k - 1] = _estimate(J, counts[k - 1], bool(exh[k - 1]))
        floor[k - 1] = _floor(model, r, counts[k - 1], bool(exh[k - 1]))
    return OrderNorms(
        orders=tuple(range(1, K + 1)),
        norm=norm,
        stderr=se,
        n_subsets=counts,
        n_sampled=n_used,
        exhaustive=exh,
        law=model.law,
        seed=base_seed,
        floor=floor,
    )


@dataclass(frozen=True)
class OrderCouplings:
    """Couplings of orders ``1..K`` on given subsets, from one pass over the quadrature tables.

    Attributes
    ----------
    values
        ``values[k - 1]``: the order-``k`` couplings: every field (``k = 1``), every pair in
        ``itertools.combinations`` order (``k = 2``), the rows of ``subsets[k - 1]`` (``k >= 3``).
    pairwise
        The order-2 couplings as a symmetric ``(N, N)`` matrix with zero diagonal (``None`` if ``K = 1``).
    floor
        Resolution of each order's norm, as :attr:`OrderNorms.floor` (over every subset of an
        exhaustive order, scaled up from the evaluated subsets of a sampled one).
    """

    values: tuple[NDArray[np.float64], ...]
    pairwise: NDArray[np.float64] | None
    floor: NDArray[np.float64]


def rbm_order_couplings(
    params: RBMParams,
    subsets: Sequence[NDArray[np.integer] | None],
    exhaustive: Sequence[bool],
    *,
    law: str = "exact",
) -> OrderCouplings:
    r"""Couplings of orders ``1..K`` and the floor of each order's norm (what :func:`rbm_order_norms` sums).

    Parameters
    ----------
    params
        The RBM as stored.
    subsets
        One entry per order ``k = 1..K``: ``None`` for ``k <= 2`` (all fields, all pairs) and a
        ``(n, k)`` integer array of subsets for ``k >= 3``.
    exhaustive
        One flag per order: whether ``subsets[k - 1]`` are all :math:`\binom Nk` subsets (else a
        uniform sample); ``True`` for ``k <= 2``. It decides how the floor is scaled.
    law
        ``"exact"`` or ``"gaussian"``.

    Raises
    ------
    ValueError
        ``subsets`` of more than ``N`` orders, an entry that is not ``None`` for ``k <= 2`` or not
        an ``(n, k)`` integer array of valid subsets for ``k >= 3``, or ``exhaustive`` of another
        length or ``False`` for ``k <= 2``.
    """
    p = _check_params(params)
    N = p.n_visible
    K = len(subsets)
    if not 1 <= K <= N:
        raise ValueError(
            f"subsets must have one entry per order 1..K with 1 <= K <= N = {N}, got {K} entries"
        )
    flags = [bool(e) for e in exhaustive]
    if len(flags) != K or not all(flags[:2]):
        raise ValueError(f"exhaustive must be {K} flags, True for orders 1 and 2, got {list(exhaustive)!r}")
    plan: list[NDArray[np.int64] | None] = []
    for k, S in enumerate(subsets, start=1):
        if k <= 2:
            if S is not None:
                raise ValueError(
                    f"subsets[{k - 1}] must be None (order {k} is always computed in full), got {S!r}"
                )
            plan.append(None)
            continue
        arr = np.asarray(S)
        if arr.ndim != 2 or arr.shape[1] != k or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"subsets[{k - 1}] must be an (n, {k}) integer array of order-{k} subsets, got shape {arr.shape}"
            )
        plan.append(_check_subset_array(arr, N))
    model = _model(p, _check_law(law))
    out = _all_orders(model, plan)
    floor = np.array(
        [_floor(model, r, float(comb(N, k)), flags[k - 1]) for k, (_, r) in enumerate(out, start=1)]
    )
    pairwise = None
    if K >= 2:
        P = np.zeros((N, N))
        i, j = np.triu_indices(N, 1)
        P[i, j] = out[1][0]
        pairwise = P + P.T
    return OrderCouplings(values=tuple(J for J, _ in out), pairwise=pairwise, floor=floor)


@dataclass(frozen=True)
class MappingError:
    r"""Per-order error of the Gaussian mapping against the exact couplings, on the same subsets.

    Attributes
    ----------
    exact, gaussian
        :class:`OrderNorms` of both laws (identical subsets).
    error_norm, error_stderr
        :math:`\|J^G_k - J_k\|` (estimated like a norm where sampled) and its standard error.
    rel_error, rel_stderr
        :math:`\|J^G_k - J_k\| / \|J_k\|` and its standard error (delta method for a
        ratio of means over the same subsets; 0 where exhaustive).
    max_abs_error
        :math:`\max |J^G_S - J_S|` over the subsets computed.
    """

    exact: OrderNorms
    gaussian: OrderNorms
    error_norm: NDArray[np.float64]
    error_stderr: NDArray[np.float64]
    rel_error: NDArray[np.float64]
    rel_stderr: NDArray[np.float64]
    max_abs_error: NDArray[np.float64]

    @property
    def error_floor(self) -> NDArray[np.float64]:
        """``exact.floor + gaussian.floor``: error norms below it are not resolved."""
        assert self.exact.floor is not None and self.gaussian.floor is not None
        return self.exact.floor + self.gaussian.floor

    def __post_init__(self) -> None:
        K = len(self.exact.orders)
        if self.gaussian.orders != self.exact.orders or (self.exact.law, self.gaussian.law) != (
            "exact",
            "gaussian",
        ):
            raise ValueError("exact and gaussian must be OrderNorms of the same orders and of those laws")
        for name in ("error_norm", "error_stderr", "rel_error", "rel_stderr", "max_abs_error"):
            v = np.asarray(getattr(self, name))
            if v.shape != (K,) or np.any(np.isnan(v) | (v < 0)):
                raise ValueError(f"{name} must be {K} non-negative numbers, got {v!r}")


def gaussian_mapping_error(
    params: RBMParams,
    max_order: int,
    *,
    samples: int = 2000,
    seed: int = 0,
    exhaustive_limit: int = 200_000,
) -> MappingError:
    r"""Error per order of the Gaussian mapping (SciPost 2024) against the exact couplings.

    Both laws are evaluated on the same subsets (all of them for ``k <= 2`` and where
    :math:`\binom Nk \le` ``exhaustive_limit``, else the same ``samples`` uniform draws);
    arguments as in :func:`rbm_order_norms`. An order whose exact block vanishes has an
    infinite relative error unless the Gaussian block vanishes too (then 0).
    """
    p, K, n_draw, base_seed, limit = _check_norm_args(params, max_order, samples, seed, exhaustive_limit)
    ex, ga = _model(p, "exact"), _model(p, "gaussian")
    N = p.n_visible
    counts = np.array([float(comb(N, k)) for k in range(1, K + 1)])
    out: dict[str, NDArray[np.float64]] = {
        n: np.zeros(K) for n in ("ne", "se_e", "ng", "se_g", "nd", "se_d", "rel", "se_rel", "mx", "fe", "fg")
    }
    n_used, exh = np.zeros(K, np.int64), np.zeros(K, np.bool_)
    plan = [_order_subsets(N, k, n_draw, base_seed, limit) if k >= 3 else None for k in range(1, K + 1)]
    values_e, values_g = _all_orders(ex, plan), _all_orders(ga, plan)
    for k in range(1, K + 1):
        e = bool(k <= 2 or comb(N, k) <= limit)
        exh[k - 1] = e
        (Je, Re), (Jg, Rg) = values_e[k - 1], values_g[k - 1]
        out["fe"][k - 1] = _floor(ex, Re, counts[k - 1], e)
        out["fg"][k - 1] = _floor(ga, Rg, counts[k - 1], e)
        n_used[k - 1] = Je.size
        i = k - 1
        out["ne"][i], out["se_e"][i] = _estimate(Je, counts[i], e)
        out["ng"][i], out["se_g"][i] = _estimate(Jg, counts[i], e)
        out["nd"][i], out["se_d"][i] = _estimate(Jg - Je, counts[i], e)
        out["mx"][i] = float(np.max(np.abs(Jg - Je)))
        if out["ne"][i] == 0:
            out["rel"][i] = 0.0 if out["nd"][i] == 0 else np.inf
            continue
        s = float(np.max(np.abs(Je)))
        d2, j2 = ((Jg - Je) / s) ** 2, (Je / s) ** 2
        R2 = float(np.mean(d2) / np.mean(j2))
        out["rel"][i] = np.sqrt(R2)
        if not e and R2 > 0:
            se_R2 = float(np.std(d2 - R2 * j2, ddof=1) / (np.mean(j2) * np.sqrt(Je.size)))
            out["se_rel"][i] = se_R2 / (2.0 * np.sqrt(R2))

    def norms(
        n: NDArray[np.float64], se: NDArray[np.float64], law: str, fl: NDArray[np.float64]
    ) -> OrderNorms:
        return OrderNorms(tuple(range(1, K + 1)), n, se, counts, n_used, exh, law, base_seed, fl)

    return MappingError(
        exact=norms(out["ne"], out["se_e"], "exact", out["fe"]),
        gaussian=norms(out["ng"], out["se_g"], "gaussian", out["fg"]),
        error_norm=out["nd"],
        error_stderr=out["se_d"],
        rel_error=out["rel"],
        rel_stderr=out["se_rel"],
        max_abs_error=out["mx"],
    )
