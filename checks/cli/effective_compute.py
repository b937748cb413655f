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

Each norm comes with its **floor** (``EffectiveResult.floor``), below which it is not
resolved and is not drawn as data. The integral routes give every order its own floor,
:attr:`dsb_verifier.theory.rbm.OrderNorms.floor` (discretisation bound times
:math:`\sqrt{\binom Nk}` plus the couplings' rounding estimates; ``floor_source`` ``"integral"``).
Enumeration has no per-order rounding estimate: its floor is the fallback
:func:`fallback_floor`, ``FALLBACK_FLOOR_FACTOR * eps * max(|J_0|, max_k ||J_k||)`` per
checkpoint, the same for every order (``floor_source`` ``"fallback"``). The Gaussian
mapping is always computed by the integral and has its own per-order floor.

The coupling table holds every coupling of the orders in ``table_orders``: all orders
``1..K`` with enumeration; with the integral routes the orders computed exhaustively
(``k <= 2`` and :math:`\binom Nk \le` ``exhaustive_limit``). A sampled order is in the
norms only (``sampled_orders``).

``--compare-gaussian`` evaluates the Gaussian mapping on the same subsets and
reports, per order, its norm, :math:`\|J^G_k - J_k\| / \|J_k\|` (ratio of the
two sums over the evaluated subsets; exact where all subsets are evaluated) and
the largest :math:`|J^G_S - J_S|` over the evaluated subsets.

Glossary: ``T`` checkpoints, ``K`` largest order, ``N``/``M`` visible/hidden units,
``S`` subset (sorted variable indices or bitmask), ``G`` Gaussian.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
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
from dsb_verifier.theory.tolerances import EPS
from numpy.typing import NDArray

__all__ = [
    "FALLBACK_FLOOR_FACTOR",
    "FLOOR_SOURCES",
    "EffectiveResult",
    "Kept",
    "compute",
    "fallback_floor",
]

#: Multiple of machine epsilon (relative to the largest coupling block) of the fallback floor.
FALLBACK_FLOOR_FACTOR = 100.0

#: What ``EffectiveResult.floor_source`` means (written beside the floors in every output).
FLOOR_SOURCES = {
    "integral": (
        "per-order floor of the integral route (dsb_verifier.theory.rbm OrderNorms.floor): "
        "discretisation bound x sqrt(C(N, k)) plus the couplings' rounding estimates"
    ),
    "fallback": (
        "enumeration has no per-order rounding estimate; fallback: 100 eps x max(|J_0|, max_k ||J_k||) "
        "per checkpoint, the same for every order"
    ),
}


def fallback_floor(norms: NDArray[np.float64], J_empty: NDArray[np.float64] | None) -> NDArray[np.float64]:
    """``FALLBACK_FLOOR_FACTOR * eps * max(|J_0|, max_k ||J_k||)`` per checkpoint, shape ``(T,)``."""
    top = norms.max(axis=1)
    if J_empty is not None:
        top = np.maximum(top, np.abs(J_empty))
    return np.asarray(FALLBACK_FLOOR_FACTOR * EPS * top, dtype=np.float64)


@dataclass(frozen=True)
class Kept:
    """Couplings kept for the tables of one checkpoint.

    ``J`` (``2^N``, enumeration, ``J[0] = -log Z``) or ``fields`` (N,) and ``pairwise``
    (N, N) (integral routes); ``J_gaussian`` / ``gaussian_fields`` / ``gaussian_pairwise``
    alike (``NaN`` where not evaluated); ``higher`` / ``higher_gaussian`` the couplings of
    ``EffectiveResult.table_subsets`` (integral routes: the exhaustive orders ``>= 3``, one
    array per order, rows in bitmask order); ``chosen`` and ``chosen_gaussian`` the couplings
    of ``--subsets``.
    """

    J: NDArray[np.float64] | None = None
    fields: NDArray[np.float64] | None = None
    pairwise: NDArray[np.float64] | None = None
    J_gaussian: NDArray[np.float64] | None = None
    gaussian_fields: NDArray[np.float64] | None = None
    gaussian_pairwise: NDArray[np.float64] | None = None
    chosen: NDArray[np.float64] | None = None
    chosen_gaussian: NDArray[np.float64] | None = None
    higher: tuple[NDArray[np.float64], ...] = ()
    higher_gaussian: tuple[NDArray[np.float64], ...] = ()


@dataclass(frozen=True)
class EffectiveResult:
    """Per-order norms of every checkpoint (shape ``(T, K)``; order ``k`` in column ``k - 1``).

    ``stderr`` is 0 for orders evaluated exhaustively (``exhaustive[k - 1]``);
    ``n_evaluated`` counts the subsets evaluated per order and checkpoint. The
    ``gaussian_*`` arrays are ``None`` without ``--compare-gaussian`` (and with
    ``method == "gaussian"``, whose ``norms`` already are the Gaussian mapping's).
    ``floor`` (and ``gaussian_floor``) is each norm's floor from the integral route, ``None``
    with enumeration: :attr:`floors` then gives the fallback (:data:`FLOOR_SOURCES`, module
    docstring). ``table_subsets`` are the subsets of the orders ``>= 3`` in the table
    (:attr:`table_orders`; integral routes), rows in bitmask order.
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
    floor: NDArray[np.float64] | None = None
    gaussian_floor: NDArray[np.float64] | None = None
    table_subsets: tuple[NDArray[np.int64], ...] = ()

    def __post_init__(self) -> None:
        T, K = len(self.source.params), len(self.n_subsets)
        for name in (
            "norms",
            "stderr",
            "gaussian_norms",
            "gaussian_stderr",
            "gaussian_rel_error",
            "floor",
            "gaussian_floor",
        ):
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
    def floors(self) -> NDArray[np.float64]:
        """Each norm's floor, shape ``(T, K)``: :attr:`floor`, else the fallback (:func:`fallback_floor`)."""
        if self.floor is not None:
            return self.floor
        return np.repeat(fallback_floor(self.norms, self.J_empty)[:, None], len(self.n_subsets), axis=1)

    @property
    def floor_source(self) -> str:
        """``"integral"`` (per-order floors given) or ``"fallback"`` (:data:`FLOOR_SOURCES`)."""
        return "integral" if self.floor is not None else "fallback"

    @property
    def table_orders(self) -> tuple[int, ...]:
        """Orders whose every coupling was computed (and is kept for the table): the exhaustive ones."""
        return tuple(k for k in self.orders if self.exhaustive[k - 1])

    @property
    def sampled_orders(self) -> tuple[int, ...]:
        """Orders estimated from sampled subsets: in the norms only, not in the coupling table."""
        return tuple(k for k in self.orders if not self.exhaustive[k - 1])

    @property
    def law(self) -> str:
        """``"gaussian"`` for the Gaussian method, else ``"exact"``."""
        return "gaussian" if self.method == "gaussian" else "exact"


#: Seconds of one checkpoint's computation before its first progress line, and between lines.
PROGRESS_EVERY = 10.0


class _PassProgress:
    """Throttled progress lines of the quadrature passes of one checkpoint (``reporting_progress``)."""

    def __init__(self, where: str, emit: Callable[[str], None], clock: Callable[[], float]) -> None:
        self.where, self.emit, self.clock = where, emit, clock
        self.start = self.last = clock()

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if now - self.last < PROGRESS_EVERY or done >= total:
            return
        self.last = now
        frac = done / total
        left = (now - self.start) * (1.0 - frac) / frac  # of this pass; a checkpoint may make two
        self.emit(
            f"{self.where}: couplings, quadrature pass {100 * frac:.0f} % "
            f"({now - self.start:.0f} s, about {left:.0f} s left in this pass)"
        )


@contextlib.contextmanager
def _pass_progress(where: str, progress: Callable[[str], None] | None) -> Iterator[None]:
    """Progress lines for a long checkpoint: the first after PROGRESS_EVERY seconds (quick ones print none)."""
    if progress is None:
        yield
        return
    with _theory_rbm().reporting_progress(_PassProgress(where, progress, time.monotonic)):
        yield


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
    """Couplings of one checkpoint under one law: from enumeration's ``J``, or every planned order in one pass.

    With ``J`` (enumeration) any subset is looked up; otherwise
    :func:`dsb_verifier.theory.rbm.rbm_order_couplings` evaluates the subsets of ``plan``
    (orders ``1..K``) once, with each order's norm floor.
    """

    def __init__(
        self,
        params: RBMParams,
        law: str,
        J: NDArray[np.float64] | None = None,
        plan: Sequence[tuple[NDArray[np.int64], bool, int]] = (),
    ) -> None:
        self.params, self.law, self.J = params, law, J
        self.floor: NDArray[np.float64] | None = None
        self._values: tuple[NDArray[np.float64], ...] = ()
        self._pairwise: NDArray[np.float64] | None = None
        if J is None and plan:
            oc = _theory_rbm().rbm_order_couplings(
                params,
                [None if k <= 2 else idx for k, (idx, _, _) in enumerate(plan, start=1)],
                [full for _, full, _ in plan],
                law=law,
            )
            self._values, self._pairwise, self.floor = oc.values, oc.pairwise, oc.floor

    def fields(self) -> NDArray[np.float64]:
        if self.J is not None:
            return self.J[1 << np.arange(self.params.n_visible)]
        return self._values[0]

    def pairwise(self) -> NDArray[np.float64]:
        if self.J is not None:
            N = self.params.n_visible
            b = np.int64(1) << np.arange(N)
            P = self.J[b[:, None] | b[None, :]]
            np.fill_diagonal(P, 0.0)
            return P
        assert self._pairwise is not None
        return self._pairwise

    def block(self, k: int) -> NDArray[np.float64]:
        """Integral routes: the order-``k`` couplings of the plan's subsets, in the plan's row order."""
        return self._values[k - 1]

    def values(self, k: int, idx: NDArray[np.int64]) -> NDArray[np.float64]:
        """Couplings of order ``k``: the rows of ``idx`` (for the integral, ``idx`` must be the plan's)."""
        if self.J is not None:
            return self.J[_bitmasks(idx)]
        return self._values[k - 1]


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


def _table_subsets(
    plan: Sequence[tuple[NDArray[np.int64], bool, int]],
) -> tuple[tuple[int, ...], tuple[NDArray[np.int64], ...], tuple[NDArray[np.int64], ...]]:
    """Integral routes: the orders in the table, and for orders ``>= 3`` their subsets and the bitmask sort."""
    orders = tuple(k for k, (_, full, _) in enumerate(plan, start=1) if full)
    subsets, perms = [], []
    for k in orders:
        if k >= 3:
            idx = plan[k - 1][0]
            perm = np.lexsort(idx.T)  # by the largest index first: bitmask order
            subsets.append(idx[perm])
            perms.append(perm)
    return orders, tuple(subsets), tuple(perms)


def compute(
    source: RBMCheckpoints, request: Request, *, progress: Callable[[str], None] | None = None
) -> EffectiveResult:
    """Per-order norms, their floors (and the couplings to write) of every checkpoint of ``source``.

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
    norms, stderr, floor = np.zeros((T, K)), np.zeros((T, K)), np.zeros((T, K))
    gn, gse, grel, gmax, gfloor = (np.zeros((T, K)) for _ in range(5))
    J_empty = np.zeros(T) if method == "enumerate" else None
    table_orders, table_subsets, perms = _table_subsets(plan if method != "enumerate" else [])
    kept: list[Kept] = []
    chosen_idx = request.subsets
    for t, params in enumerate(source.params):
        at = where(source, t)
        try:
            with _pass_progress(at, progress):
                J = enumerate_couplings(params) if method == "enumerate" else None
                exact = _Evaluator(params, law, J, plan if J is None else ())
                if J is not None:
                    assert J_empty is not None
                    J_empty[t] = J[0]
                    norms[t] = order_norms_streamed(J)[1 : K + 1]
                else:
                    assert exact.floor is not None
                    floor[t] = exact.floor
                    for k, (idx, full, total) in enumerate(plan, start=1):
                        norms[t, k - 1], stderr[t, k - 1] = _estimate(exact.values(k, idx), total, full)
                gauss = _Evaluator(params, "gaussian", None, plan) if compare else None
                JG = None
                if gauss is not None:
                    assert gauss.floor is not None
                    gfloor[t] = gauss.floor
                    if J is not None:
                        JG = np.full(J.shape, np.nan)
                    for k, (idx, full, total) in enumerate(plan, start=1):
                        g, e = gauss.values(k, idx), exact.values(k, idx)
                        gn[t, k - 1], gse[t, k - 1] = _estimate(g, total, full)
                        d = g - e
                        den = float(np.sum(e * e))
                        grel[t, k - 1] = np.sqrt(float(np.sum(d * d)) / den) if den > 0 else np.inf
                        gmax[t, k - 1] = float(np.max(np.abs(d)))
                        if JG is not None and full:
                            JG[_bitmasks(idx)] = g
                if request.keep:
                    kept.append(_kept(exact, gauss, JG, K, chosen_idx, table_orders, perms))
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
        floor=None if method == "enumerate" else floor,
        gaussian_floor=gfloor if compare else None,
        table_subsets=table_subsets,
    )


def _kept(
    exact: _Evaluator,
    gauss: _Evaluator | None,
    JG: NDArray[np.float64] | None,
    K: int,
    chosen: Sequence[tuple[int, ...]],
    table_orders: tuple[int, ...] = (),
    perms: tuple[NDArray[np.int64], ...] = (),
) -> Kept:
    """The couplings the tables write for one checkpoint (every order in ``table_orders``, and ``--subsets``).

    ``perms`` sorts the plan's subsets of each table order ``>= 3`` into bitmask order.
    """

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
    high = [k for k in table_orders if k >= 3]
    hi = tuple(exact.block(k)[perm] for k, perm in zip(high, perms, strict=True))
    hig = () if gauss is None else tuple(gauss.block(k)[perm] for k, perm in zip(high, perms, strict=True))
    return Kept(
        fields=f,
        pairwise=p,
        gaussian_fields=gf,
        gaussian_pairwise=gp,
        chosen=ch,
        chosen_gaussian=chg,
        higher=hi,
        higher_gaussian=hig,
    )
