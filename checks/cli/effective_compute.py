r"""What ``dsb-verify effective`` computes: per-order norms (and chosen couplings) of every checkpoint.

Methods (docs/theory.md §2, §8)
---------------------------------
``enumerate``
    exact enumeration of the ``2^N`` visible states
    (:mod:`dsb_verifier.checks.cli.effective_enumerate`); every coupling of every order.
``integral``
    the exact one-dimensional integral of THEORY.md §8
    (:mod:`dsb_verifier.theory.rbm`, ``law="exact"``); any ``N``.
``gaussian``
    the same machinery with the hidden input's law replaced by the normal one: the
    central-limit mapping of Decelle et al., SciPost Phys. 16, 095 (2024).
``auto``
    ``enumerate`` when :func:`enumeration_bytes` fits in the memory available now,
    else ``integral``.

Per-order norms :math:`\|J_k\| = (\sum_{|S|=k} J_S^2)^{1/2}` (the paper's Fig. 1)
are exact for every order with ``enumerate``; with the integral they are exact
(all subsets) for ``k <= 2`` and whenever :math:`\binom{N}{k}` is at most
``exhaustive_limit``, and otherwise estimated from ``samples`` subsets drawn
uniformly (with replacement) with ``seed``: :math:`\binom{N}{k}\,\overline{J_S^2}`
is unbiased for :math:`\|J_k\|^2`; its standard error is
:math:`\binom{N}{k}\,\mathrm{sd}(J_S^2)/\sqrt{n}` and the norm's is that over
:math:`2\|J_k\|` (delta method). The same subsets are used at every checkpoint
(common random numbers: the curves over training are not jittered by resampling).

``--compare-gaussian`` evaluates the Gaussian mapping on the same subsets and
reports, per order, its norm, :math:`\|J^G_k - J_k\| / \|J_k\|` (ratio of the
two sums over the evaluated subsets; exact where all subsets are evaluated) and
the largest :math:`|J^G_S - J_S|` over the evaluated subsets.

Glossary: ``T`` checkpoints, ``K`` largest order, ``N``/``M`` visible/hidden units,
``S`` subset (sorted variable indices or bitmask), ``G`` Gaussian.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from math import comb
from typing import Any

import numpy as np
from dsb_verifier.checks.cli.effective_enumerate import (
    enumerate_couplings,
    order_norms_streamed,
)
from dsb_verifier.checks.cli.effective_request import (
    Request,
    check_parameter_scale,
    resolve,
    where,
)
from dsb_verifier.checks.cli.io import InputError, RBMCheckpoints
from dsb_verifier.theory.rbm.io import RBMParams
from numpy.typing import NDArray

__all__ = ["EffectiveResult", "Kept", "compute"]


@dataclass(frozen=True)
class Kept:
    """Couplings kept for the tables of one checkpoint.

    ``J`` (``2^N``, enumeration, ``J[0] = -log Z``) or ``fields`` (N,) and ``pairwise``
    (N, N) (integral routes); ``J_gaussian`` / ``gaussian_fields`` / ``gaussian_pairwise``
    alike (``NaN`` where not evaluated); ``chosen`` and ``chosen_gaussian`` the
    couplings of ``--subsets``.
    """

    J: NDArray[np.float64] | None = None
    fields: NDArray[np.float64] | None = None
    pairwise: NDArray[np.float64] | None = None
    J_gaussian: NDArray[np.float64] | None = None
    gaussian_fields: NDArray[np.float64] | None = None
    gaussian_pairwise: NDArray[np.float64] | None = None
    chosen: NDArray[np.float64] | None = None
    chosen_gaussian: NDArray[np.float64] | None = None


@dataclass(frozen=True)
class EffectiveResult:
    """Per-order norms of every checkpoint (shape ``(T, K)``; order ``k`` in column ``k - 1``).

    ``stderr`` is 0 for orders evaluated exhaustively (``exhaustive[k - 1]``);
    ``n_evaluated`` counts the subsets evaluated per order and checkpoint. The
    ``gaussian_*`` arrays are ``None`` without ``--compare-gaussian`` (and with
    ``method == "gaussian"``, whose ``norms`` already are the Gaussian mapping's).
    """

    source: RBMCheckpoints
    method: str
    request: Request
    norms: NDArray[np.float64]
    stderr: NDArray[np.float64]
    exhaustive: NDArray[np.bool_]
    n_subsets: tuple[int, ...]
    n_evaluated: tuple[int, ...]
    J_empty: NDArray[np.float64] | None = None
    gaussian_norms: NDArray[np.float64] | None = None
    gaussian_stderr: NDArray[np.float64] | None = None
    gaussian_rel_error: NDArray[np.float64] | None = None
    gaussian_max_abs_error: NDArray[np.float64] | None = None
    kept: tuple[Kept, ...] = field(default=())

    def __post_init__(self) -> None:
        T, K = len(self.source.params), len(self.n_subsets)
        for name in ("norms", "stderr", "gaussian_norms", "gaussian_stderr", "gaussian_rel_error"):
            arr = getattr(self, name)
            if arr is not None and arr.shape != (T, K):
                raise ValueError(
                    f"EffectiveResult.{name} must have shape (T, K) = ({T}, {K}), got {arr.shape}"
                )
        if self.exhaustive.shape != (K,) or len(self.n_evaluated) != K:
            raise ValueError("EffectiveResult: exhaustive and n_evaluated need one entry per order")
        if np.any(self.stderr[:, self.exhaustive] != 0):
            raise ValueError("EffectiveResult: an exhaustive order has a non-zero standard error")
        if self.kept and len(self.kept) != T:
            raise ValueError("EffectiveResult: kept couplings need one entry per checkpoint")

    @property
    def orders(self) -> tuple[int, ...]:
        """``1 .. K``."""
        return tuple(range(1, len(self.n_subsets) + 1))

    @property
    def law(self) -> str:
        """``"gaussian"`` for the Gaussian method, else ``"exact"``."""
        return "gaussian" if self.method == "gaussian" else "exact"


def _theory_rbm() -> Any:
    from dsb_verifier.theory import rbm as theory_rbm

    return theory_rbm


def _sampled_subsets(N: int, k: int, n: int, seed: int) -> NDArray[np.int64]:
    """``n`` uniform k-subsets (rows sorted), drawn independently: the draw of :func:`rbm_order_norms`.

    Order ``k`` uses ``default_rng(seed + k)`` and :func:`dsb_verifier.theory.rbm.sample_subsets`,
    so the command's sampled norms are those of ``rbm_order_norms`` at the same seed.
    """
    return np.asarray(_theory_rbm().sample_subsets(N, k, n, np.random.default_rng(seed + k)), dtype=np.int64)


def _all_subsets(N: int, k: int) -> NDArray[np.int64]:
    return np.array(list(combinations(range(N), k)), dtype=np.int64).reshape(-1, k)


def _bitmasks(idx: NDArray[np.int64]) -> NDArray[np.int64]:
    return np.sum(np.int64(1) << idx, axis=1)


def _estimate(values: NDArray[np.float64], total: int, exhaustive: bool) -> tuple[float, float]:
    """``(norm, stderr)`` from the evaluated couplings of one order (module docstring).

    Squares are taken of ``values / max|values|`` (no overflow), as :func:`rbm_order_norms` does.
    """
    s = float(np.max(np.abs(values))) if values.size else 0.0
    if s == 0.0:
        return 0.0, 0.0
    x = (values / s) ** 2
    if exhaustive:
        return s * float(np.sqrt(x.sum())), 0.0
    norm = s * float(np.sqrt(total * float(x.mean())))
    se_sq = total * s * s * float(x.std(ddof=1)) / np.sqrt(x.size)
    return norm, se_sq / (2.0 * norm)


class _Evaluator:
    """Couplings of one checkpoint under one law, with orders 1 and 2 computed once in full."""

    def __init__(self, params: RBMParams, law: str, J: NDArray[np.float64] | None = None) -> None:
        self.params, self.law, self.J = params, law, J
        self._fields: NDArray[np.float64] | None = None
        self._pairwise: NDArray[np.float64] | None = None

    def fields(self) -> NDArray[np.float64]:
        if self._fields is None:
            if self.J is not None:
                self._fields = self.J[1 << np.arange(self.params.n_visible)]
            else:
                self._fields = np.asarray(
                    _theory_rbm().rbm_fields(self.params, law=self.law), dtype=np.float64
                )
        return self._fields

    def pairwise(self) -> NDArray[np.float64]:
        if self._pairwise is None:
            if self.J is not None:
                N = self.params.n_visible
                b = np.int64(1) << np.arange(N)
                P = self.J[b[:, None] | b[None, :]]
                np.fill_diagonal(P, 0.0)
                self._pairwise = P
            else:
                self._pairwise = np.asarray(
                    _theory_rbm().rbm_pairwise(self.params, law=self.law), dtype=np.float64
                )
        return self._pairwise

    def values(self, idx: NDArray[np.int64]) -> NDArray[np.float64]:
        """Couplings of the subsets in the rows of ``idx`` (all of one order)."""
        k = idx.shape[1]
        if self.J is not None:
            return self.J[_bitmasks(idx)]
        if k == 1:
            return self.fields()[idx[:, 0]]
        if k == 2:
            return self.pairwise()[idx[:, 0], idx[:, 1]]
        return np.asarray(_theory_rbm().rbm_couplings(self.params, idx, law=self.law), dtype=np.float64)


def _order_plan(N: int, K: int, request: Request) -> list[tuple[NDArray[np.int64], bool, int]]:
    """Per order ``k = 1..K``: the subsets evaluated, whether that is all of them, and ``C(N, k)``."""
    plan = []
    samples, seed = request.samples, request.seed
    for k in range(1, K + 1):
        total = comb(N, k)
        if k <= 2 or total <= request.exhaustive_limit:
            plan.append((_all_subsets(N, k), True, total))
        else:
            plan.append((_sampled_subsets(N, k, samples, seed), False, total))
    return plan


def compute(
    source: RBMCheckpoints, request: Request, *, progress: Callable[[str], None] | None = None
) -> EffectiveResult:
    """Per-order norms (and the couplings to write) of every checkpoint of ``source``.

    Raises
    ------
    InputError
        A ``--max-order`` outside ``[1, N]``, ``--method enumerate`` beyond the
        memory available, or a refusal of the theory routines (memory, weights),
        named with the file and checkpoint.
    ValueError
        ``source`` not an :class:`RBMCheckpoints` (from :func:`load_rbm`), ``request`` not a
        :class:`Request`, or ``progress`` not callable (checked before anything is computed).
    """
    if not isinstance(source, RBMCheckpoints):
        raise ValueError(f"source must be an RBMCheckpoints (from load_rbm), got {type(source).__name__}")
    if not isinstance(request, Request):
        raise ValueError(f"request must be an effective_request.Request, got {type(request).__name__}")
    if progress is not None and not callable(progress):
        raise ValueError(f"progress must be None or a callable taking one str, got {type(progress).__name__}")
    N, T = source.n_visible, len(source.params)
    check_parameter_scale(source)
    method, K = resolve(source, request)
    plan = _order_plan(N, K, request) if (method != "enumerate" or request.compare_gaussian) else []
    law = "gaussian" if method == "gaussian" else "exact"
    compare = request.compare_gaussian and method != "gaussian"
    norms, stderr = np.zeros((T, K)), np.zeros((T, K))
    gn, gse, grel, gmax = (np.zeros((T, K)) for _ in range(4))
    J_empty = np.zeros(T) if method == "enumerate" else None
    kept: list[Kept] = []
    chosen_idx = request.subsets
    for t, params in enumerate(source.params):
        at = where(source, t)
        try:
            J = enumerate_couplings(params) if method == "enumerate" else None
            exact = _Evaluator(params, law, J)
            if J is not None:
                assert J_empty is not None
                J_empty[t] = J[0]
                norms[t] = order_norms_streamed(J)[1 : K + 1]
            else:
                for k, (idx, full, total) in enumerate(plan, start=1):
                    norms[t, k - 1], stderr[t, k - 1] = _estimate(exact.values(idx), total, full)
            gauss = _Evaluator(params, "gaussian") if compare else None
            JG = None
            if gauss is not None:
                if J is not None:
                    JG = np.full(J.shape, np.nan)
                for k, (idx, full, total) in enumerate(plan, start=1):
                    g, e = gauss.values(idx), exact.values(idx)
                    gn[t, k - 1], gse[t, k - 1] = _estimate(g, total, full)
                    d = g - e
                    den = float(np.sum(e * e))
                    grel[t, k - 1] = np.sqrt(float(np.sum(d * d)) / den) if den > 0 else np.inf
                    gmax[t, k - 1] = float(np.max(np.abs(d)))
                    if JG is not None and full:
                        JG[_bitmasks(idx)] = g
            if request.keep:
                kept.append(_kept(exact, gauss, JG, K, chosen_idx))
        except InputError:
            raise
        except (ValueError, OverflowError, FloatingPointError, MemoryError) as exc:
            raise InputError(f"{at}: {' '.join(str(exc).split()) or type(exc).__name__}") from None
        if progress is not None and T > 1 and ((t + 1) % max(1, T // 10) == 0 or t + 1 == T):
            progress(f"checkpoint {source.checkpoints[t]} ({t + 1}/{T})")
    if method == "enumerate":
        exhaustive = np.ones(K, dtype=bool)
        n_evaluated = tuple(comb(N, k) for k in range(1, K + 1))
    else:
        exhaustive = np.array([p[1] for p in plan], dtype=bool)
        n_evaluated = tuple(len(p[0]) for p in plan)
    return EffectiveResult(
        source=source,
        method=method,
        request=request,
        norms=norms,
        stderr=stderr,
        exhaustive=exhaustive,
        n_subsets=tuple(comb(N, k) for k in range(1, K + 1)),
        n_evaluated=n_evaluated,
        J_empty=J_empty,
        gaussian_norms=gn if compare else None,
        gaussian_stderr=gse if compare else None,
        gaussian_rel_error=grel if compare else None,
        gaussian_max_abs_error=gmax if compare else None,
        kept=tuple(kept),
    )


def _kept(
    exact: _Evaluator,
    gauss: _Evaluator | None,
    JG: NDArray[np.float64] | None,
    K: int,
    chosen: Sequence[tuple[int, ...]],
) -> Kept:
    """The couplings the tables write for one checkpoint (rows of orders <= K, and ``--subsets``)."""

    def pick(ev: _Evaluator) -> NDArray[np.float64]:
        if ev.J is not None:
            return ev.J[[sum(1 << i for i in s) for s in chosen]]
        return np.asarray(_theory_rbm().rbm_couplings(ev.params, list(chosen), law=ev.law), dtype=np.float64)

    ch = pick(exact) if chosen else None
    chg = pick(gauss) if (chosen and gauss is not None) else None
    if exact.J is not None:
        return Kept(J=exact.J, J_gaussian=JG, chosen=ch, chosen_gaussian=chg)
    f = exact.fields()
    p = exact.pairwise() if K >= 2 else None
    gf = gauss.fields() if gauss is not None else None
    gp = gauss.pairwise() if (gauss is not None and K >= 2) else None
    return Kept(
        fields=f, pairwise=p, gaussian_fields=gf, gaussian_pairwise=gp, chosen=ch, chosen_gaussian=chg
    )
