r"""Per-order Frobenius norms of an RBM's effective couplings at any N (the paper's Fig. 1).

:math:`\|J_k\|^2 = \sum_{|S| = k} J_S^2` (shared/THEORY.md §8; Claim C5's hierarchy is
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

from dataclasses import dataclass
from itertools import combinations
from math import comb

import numpy as np
from dsb_verifier.theory.rbm.integral import (
    _check_law,
    _check_params,
    _fields,
    _model,
    _pairwise,
    _subset_couplings,
)
from dsb_verifier.theory.rbm.io import RBMParams
from numpy.typing import NDArray

__all__ = ["OrderNorms", "rbm_order_norms", "sample_subsets"]


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
    sq_norm, sq_stderr
        :math:`\\|J_k\\|^2` (unbiased where sampled) and its standard error.
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
    """

    orders: tuple[int, ...]
    norm: NDArray[np.float64]
    stderr: NDArray[np.float64]
    sq_norm: NDArray[np.float64]
    sq_stderr: NDArray[np.float64]
    n_subsets: NDArray[np.float64]
    n_sampled: NDArray[np.int64]
    exhaustive: NDArray[np.bool_]
    law: str
    seed: int

    def __post_init__(self) -> None:
        K = len(self.orders)
        if tuple(self.orders) != tuple(range(1, K + 1)) or K < 1:
            raise ValueError(f"orders must be (1, ..., K) with K >= 1, got {self.orders}")
        for name in ("norm", "stderr", "sq_norm", "sq_stderr", "n_subsets", "n_sampled", "exhaustive"):
            v = np.asarray(getattr(self, name))
            if v.shape != (K,):
                raise ValueError(f"{name} must have shape ({K},), got {v.shape}")
            if name != "exhaustive" and (not np.all(np.isfinite(v)) or np.any(v < 0)):
                raise ValueError(f"{name} must be finite and non-negative, got {v!r}")
        if np.any(self.stderr[self.exhaustive] != 0) or np.any(self.n_sampled > self.n_subsets):
            raise ValueError("exhaustive orders have stderr 0 and n_sampled <= n_subsets")
        if self.law not in ("exact", "gaussian"):
            raise ValueError(f"law must be 'exact' or 'gaussian', got {self.law!r}")

    @property
    def rel_stderr(self) -> NDArray[np.float64]:
        """``stderr / norm`` (0 where exhaustive; ``inf`` for a zero sampled norm with nonzero error)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            r = self.stderr / self.norm
        return np.where(self.stderr == 0, 0.0, r)


def _sum_squares(J: NDArray[np.float64]) -> float:
    """``sum J^2`` scaled by ``max |J|`` (no overflow); refuses non-finite couplings."""
    if not np.all(np.isfinite(J)):
        raise ValueError("couplings must be finite; the integral produced NaN or inf (report this as a bug)")
    s = float(np.max(np.abs(J))) if J.size else 0.0
    if s == 0.0:
        return 0.0
    return s * s * float(np.sum((J / s) ** 2))


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
        Subsets drawn per sampled order (``>= 2``, for a standard error).
    seed
        Base seed; order ``k`` uses ``default_rng(seed + k)``.
    law
        ``"exact"`` (shared/THEORY.md §8) or ``"gaussian"`` (SciPost 2024 mapping);
        the same subsets are drawn for both laws at equal seed.
    exhaustive_limit
        Orders with at most this many subsets are summed exhaustively.
    """
    p = _check_params(params)
    lw = _check_law(law)
    N = p.n_visible
    K = _check_int(max_order, "max_order", 1)
    if K > N:
        raise ValueError(
            f"max_order must be at most N = {N} (there are no couplings of higher order), got {K}"
        )
    n_draw = _check_int(samples, "samples", 2)
    base_seed = _check_int(seed, "seed", 0)
    limit = _check_int(exhaustive_limit, "exhaustive_limit", 0)
    model = _model(p, lw)
    sq, se, n_used, exh = np.zeros(K), np.zeros(K), np.zeros(K, np.int64), np.zeros(K, bool)
    counts = np.array([float(comb(N, k)) for k in range(1, K + 1)])
    sq[0], n_used[0], exh[0] = _sum_squares(_fields(model)), N, True
    if K >= 2:
        J2 = _pairwise(model)
        sq[1], n_used[1], exh[1] = _sum_squares(J2[np.triu_indices(N, 1)]), comb(N, 2), True
    for k in range(3, K + 1):
        if comb(N, k) <= limit:
            S = np.array(list(combinations(range(N), k)), dtype=np.int64).reshape(-1, k)
            sq[k - 1], n_used[k - 1], exh[k - 1] = _sum_squares(_subset_couplings(model, S)), S.shape[0], True
            continue
        S = sample_subsets(N, k, n_draw, np.random.default_rng(base_seed + k))
        J = _subset_couplings(model, S)
        s = float(np.max(np.abs(J))) if np.all(np.isfinite(J)) else np.nan
        if not np.isfinite(s):
            raise ValueError(
                "couplings must be finite; the integral produced NaN or inf (report this as a bug)"
            )
        x = (J / s) ** 2 if s > 0 else np.zeros_like(J)
        sq[k - 1] = counts[k - 1] * s * s * float(np.mean(x))
        se[k - 1] = counts[k - 1] * s * s * float(np.std(x, ddof=1)) / np.sqrt(n_draw)
        n_used[k - 1] = n_draw
    norm = np.sqrt(sq)
    with np.errstate(divide="ignore", invalid="ignore"):
        se_norm = np.where(se == 0, 0.0, se / (2.0 * norm))
    se_norm = np.where(np.isfinite(se_norm), se_norm, np.sqrt(se))  # zero estimate: se of sqrt is sqrt(se)
    return OrderNorms(
        orders=tuple(range(1, K + 1)),
        norm=norm,
        stderr=se_norm,
        sq_norm=sq,
        sq_stderr=se,
        n_subsets=counts,
        n_sampled=n_used,
        exhaustive=exh,
        law=lw,
        seed=base_seed,
    )
