r"""The choices of ``dsb-verify effective``, validated against the model before anything is computed.

:class:`Request` holds the options; :func:`parse_subsets` reads ``--subsets``;
:func:`resolve` decides the method (``auto``: enumeration where
:func:`~dsb_verifier.checks.cli.effective_enumerate.enumeration_bytes` fits in the
memory available now, else the integral of docs/theory.md §8) and the largest
order; :func:`check_parameter_scale` refuses parameters no training produces.
Every refusal is an :class:`InputError` naming the option or the file and key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from math import comb

import numpy as np
from dsb_verifier.checks.cli.effective_enumerate import enumeration_bytes
from dsb_verifier.checks.cli.io import InputError, RBMCheckpoints
from dsb_verifier.theory._validation import _available_bytes, _fmt_bytes

__all__ = [
    "EXHAUSTIVE_LIMIT",
    "MAX_PARAMETER",
    "METHODS",
    "Request",
    "check_parameter_scale",
    "kept_bytes",
    "parse_subsets",
    "resolve",
    "resolve_method",
    "table_orders",
    "where",
]


#: Methods of ``--method``.
METHODS = ("auto", "enumerate", "integral", "gaussian")

#: Largest number of subsets of one order evaluated exhaustively by the integral route.
EXHAUSTIVE_LIMIT = 200_000

#: Orders the integral routes always evaluate over all subsets (fields and pairwise couplings).
ROW_ORDER_INTEGRAL = 2

#: Largest |entry| of weight_matrix, vbias, hbias accepted. Files store float32 (7 significant
#: digits): an entry of 1e6 has no fractional digit left, the sign of a diverged training, not
#: of a model to analyse; below it neither route can overflow (|log p| <= 1e6 (N + 1)(M + 1)).
MAX_PARAMETER = 1e6


@dataclass(frozen=True)
class Request:
    """The user's choices, validated against the model by :func:`validate_request`."""

    method: str = "auto"
    max_order: int | None = None
    samples: int = 2000
    seed: int = 0
    subsets: tuple[tuple[int, ...], ...] = ()
    compare_gaussian: bool = False
    keep: bool = True
    exhaustive_limit: int = EXHAUSTIVE_LIMIT

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InputError(f"--method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if isinstance(self.samples, bool) or not isinstance(self.samples, int) or self.samples < 2:
            raise InputError(
                f"--samples must be an integer >= 2 (a standard error needs two), got {self.samples}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"--seed must be a non-negative integer, got {self.seed}")
        if (
            isinstance(self.exhaustive_limit, bool)
            or not isinstance(self.exhaustive_limit, int)
            or self.exhaustive_limit < 0
        ):
            raise InputError(f"exhaustive_limit must be a non-negative integer, got {self.exhaustive_limit}")


def parse_subsets(spec: str, N: int) -> tuple[tuple[int, ...], ...]:
    """``"0,1;2,5,7"`` -> ``((0, 1), (2, 5, 7))``, each validated against ``N`` visible units.

    Raises
    ------
    InputError
        Naming ``--subsets`` for a non-integer, an empty subset, an order above ``N``,
        an index outside ``[0, N)`` or a repeated index.
    """
    out: list[tuple[int, ...]] = []
    for part in str(spec).split(";"):
        items = [x.strip() for x in part.split(",")] if part.strip() else []
        if not items:
            raise InputError(f"--subsets: empty subset in {spec!r}; write subsets as 0,1;2,5,7")
        if any(not re.fullmatch(r"-?[0-9]+", x) for x in items):
            raise InputError(f"--subsets: {part.strip()!r} is not a comma-separated list of integers")
        idx = tuple(int(x) for x in items)
        if len(idx) > N:
            raise InputError(f"--subsets: subset {part.strip()!r} has order {len(idx)}, above N = {N}")
        bad = [i for i in idx if not 0 <= i < N]
        if bad:
            raise InputError(f"--subsets: index {bad[0]} is outside [0, {N}) in subset {part.strip()!r}")
        dup = sorted({i for i in idx if idx.count(i) > 1})
        if dup:
            raise InputError(f"--subsets: index {dup[0]} is repeated in subset {part.strip()!r}")
        out.append(tuple(sorted(idx)))
    return tuple(out)


def resolve_method(method: str, N: int, M: int, kept: int = 1) -> str:
    """``auto`` -> ``enumerate`` if :func:`enumeration_bytes` fits in available memory, else ``integral``.

    An explicit ``enumerate`` that does not fit is refused with the memory it would need.
    """
    need = enumeration_bytes(N, M, kept=kept) if N <= 60 else float("inf")
    avail = _available_bytes()
    if method == "auto":
        return "enumerate" if need <= avail else "integral"
    if method == "enumerate" and need > avail:
        shown = _fmt_bytes(need) if np.isfinite(need) else f"more than 2^{N} x 8 bytes"
        raise InputError(
            f"--method enumerate: N = {N} visible units needs {shown} of memory for the 2^{N} states "
            f"but {_fmt_bytes(avail)} is available; use --method integral"
        )
    return method


def check_parameter_scale(source: RBMCheckpoints) -> None:
    """Refuse entries above :data:`MAX_PARAMETER`, naming the file, checkpoint, key and entry."""
    for t, p in enumerate(source.params):
        for key in ("weight_matrix", "vbias", "hbias"):
            arr = getattr(p, key)
            i = int(np.argmax(np.abs(arr)))
            v = float(np.abs(arr).flat[i])
            if v > MAX_PARAMETER:
                at = np.unravel_index(i, arr.shape)
                raise InputError(
                    f"{where(source, t)}: {key}{list(map(int, at))} = {arr[at]:.3g}, beyond the "
                    f"|entry| <= {MAX_PARAMETER:g} of a trainable RBM (a diverged training?)"
                )


def table_orders(N: int, K: int, method: str, exhaustive_limit: int = EXHAUSTIVE_LIMIT) -> tuple[int, ...]:
    """Orders whose every coupling is in the table: ``1..K`` by enumeration; else the exhaustive ones.

    The integral routes evaluate orders ``k <= 2`` and those with ``C(N, k) <= exhaustive_limit``
    over all subsets (kept for the table); the other orders are sampled (norms only).
    """
    if method == "enumerate":
        return tuple(range(1, K + 1))
    return tuple(k for k in range(1, K + 1) if k <= ROW_ORDER_INTEGRAL or comb(N, k) <= exhaustive_limit)


def kept_bytes(
    source: RBMCheckpoints, method: str, compare: bool, K: int = 2, exhaustive_limit: int = EXHAUSTIVE_LIMIT
) -> float:
    """Memory of the couplings kept for the tables, per checkpoint and law.

    ``J`` by enumeration; else fields, the pairwise matrix and the exhaustive orders ``3..K``
    (:func:`table_orders`).
    """
    N, T = source.n_visible, len(source.params)
    if method == "enumerate":
        per = 8.0 * 2.0**N
    else:
        higher = sum(
            comb(N, k) for k in table_orders(N, K, method, exhaustive_limit) if k > ROW_ORDER_INTEGRAL
        )
        per = 8.0 * (N * N + N + higher)
    return per * T * (2 if compare else 1)


def resolve(source: RBMCheckpoints, request: Request) -> tuple[str, int]:
    """``(method, K)``: the method :func:`compute` will use and its largest order.

    ``K`` is ``--max-order`` or, by default, ``N`` with enumeration and ``min(N, 3)`` otherwise.
    """
    N, M, T = source.n_visible, source.n_hidden, len(source.params)
    method = resolve_method(request.method, N, M, kept=(T + 1) if request.keep else 2)
    K = request.max_order if request.max_order is not None else (N if method == "enumerate" else min(N, 3))
    if not 1 <= K <= N:
        raise InputError(f"--max-order must be between 1 and N = {N}, got {K}")
    if request.keep and method != "enumerate":
        need = kept_bytes(source, method, request.compare_gaussian, K, request.exhaustive_limit)
        if need > _available_bytes():
            raise InputError(
                f"{source.path}: keeping the couplings of orders {', '.join(map(str, table_orders(N, K, method, request.exhaustive_limit)))} of {T} checkpoint(s) at N = {N} "
                f"needs {_fmt_bytes(need)} of memory but {_fmt_bytes(_available_bytes())} is available; "
                "write a series as .json or .csv (norms only), or use --max-order 1"
            )
    return method, K


def where(source: RBMCheckpoints, t: int) -> str:
    """``file`` or ``file [update_n]``: how messages name checkpoint ``t``."""
    n = source.checkpoints[t]
    return source.path if n is None else f"{source.path} [update_{n}]"
