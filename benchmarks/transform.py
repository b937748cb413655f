r"""Benchmark section ``transform``: :func:`theory.wht` against three references.

Routes compared on the same float64 vector ``x`` of length ``n = 2^N``:

* ``wht`` — :func:`theory.wht`, blocked Kronecker products of small Hadamard
  blocks applied as matrix products (``theory/walsh.py``).
* ``butterfly`` — :func:`butterfly_wht` below, the textbook numpy radix-2
  transform: one add/subtract pass over the whole array per bit.
* ``sympy`` — :func:`sympy.discrete.transforms.fwht` on a Python list (pure
  Python, symbolic numbers); only for small ``N``. Same Sylvester (natural)
  ordering and no normalisation, so its output equals ``wht`` exactly.
* ``copy`` — ``x.copy()``, one read and one write of the array: a floor that
  no transform of a fresh output can beat.

Every route is checked to agree with :func:`theory.wht` (``numpy.allclose``
with :func:`dsb_verifier.theory.tolerances.transform_atol`) before it is timed; a
disagreement raises instead of reporting a meaningless time.

Glossary: ``N`` number of spins, ``n = 2^N`` length, ``B`` batch size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from dsb_verifier import theory
from dsb_verifier.theory.tolerances import transform_atol
from numpy.typing import NDArray

from benchmarks._harness import (
    Config,
    SectionResult,
    fmt_bytes,
    fmt_ratio,
    fmt_time,
    growth_exponent,
    nlogn_exponent,
    peak_memory,
    ratio,
    time_calls,
)

__all__ = ["BATCH", "FIT_WINDOW", "SYMPY_MAX_N", "butterfly_wht", "run"]

#: Sizes timed for ``wht``, ``butterfly`` and ``copy`` (capped by ``--max-n``).
N_VALUES: tuple[int, ...] = tuple(range(4, 21, 2))
#: sympy's pure-Python fwht is only timed up to this N (it is ~1000x slower).
SYMPY_MAX_N = 10
#: The batched case: ``B`` vectors of ``2^N`` entries, transformed along the last axis.
BATCH: tuple[int, int] = (64, 14)
#: Window of N for the growth-exponent fit of ``wht`` time against ``2^N``.
FIT_WINDOW: tuple[int, int] = (12, 20)
#: Sizes of the headline ratios (the issue's targets).
HEADLINE_BUTTERFLY_N, HEADLINE_BUTTERFLY_TARGET = 20, 4.0
HEADLINE_SYMPY_N, HEADLINE_SYMPY_TARGET = 10, 1000.0


def butterfly_wht(x: NDArray[np.float64]) -> NDArray[np.float64]:
    r"""Unnormalised Walsh–Hadamard transform by the plain radix-2 butterfly.

    For bit ``h`` the last axis is viewed as ``(2^(N-h-1), 2, 2^h)``; with
    ``a``/``b`` the halves whose bit ``h`` is 0/1, the pass writes ``a + b`` to
    bit 0 and ``a - b`` to bit 1, i.e. multiplies by :math:`H_2` on that bit.
    ``N`` passes give the Sylvester-ordered transform of :func:`theory.wht`.
    """
    lead = x.shape[:-1]
    n = x.shape[-1]
    N = n.bit_length() - 1
    for h in range(N):
        y = x.reshape(*lead, n >> (h + 1), 2, 1 << h)
        a, b = y[..., 0, :], y[..., 1, :]
        x = np.stack((a + b, a - b), axis=-2).reshape(*lead, n)
    return x


def _agree(N: int, x: NDArray[np.float64], got: NDArray[np.float64], want: NDArray[np.float64]) -> bool:
    atol = transform_atol(N, float(np.max(np.abs(x))))
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=0.0, atol=atol))


def _check_routes(x: NDArray[np.float64], N: int, what: str) -> None:
    """Raise if the butterfly reference disagrees with theory.wht on ``x``."""
    if not _agree(N, x, butterfly_wht(x), theory.wht(x)):
        raise RuntimeError(f"butterfly_wht disagrees with theory.wht for {what}; refusing to time it")


def _check_sympy_ordering(fwht: Callable[[list[Any]], list[Any]]) -> None:
    """sympy's fwht must equal theory.wht on a small integer vector (exact arithmetic)."""
    v = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3]
    exact = np.array([int(c) for c in fwht(v)], dtype=np.int64)
    ours = theory.wht(np.array(v, dtype=np.float64))
    # sympy works in exact integers; theory.wht must match them within the transform tolerance
    if not _agree(4, np.array(v, dtype=np.float64), ours, exact.astype(np.float64)):
        raise RuntimeError(
            f"sympy fwht {exact.tolist()} disagrees with theory.wht {ours.tolist()}: "
            "ordering or normalisation conventions differ"
        )


def _measure(N: int, x: NDArray[np.float64], config: Config, with_sympy: bool) -> dict[str, Any]:
    _check_routes(x, N, f"N={N}, shape {x.shape}")
    rec: dict[str, Any] = {"N": N, "shape": list(x.shape), "nbytes": int(x.nbytes)}
    fns: dict[str, Callable[[], object]] = {
        "wht": lambda: theory.wht(x),
        "butterfly": lambda: butterfly_wht(x),
        "copy": x.copy,
    }
    if with_sympy:
        from sympy.discrete.transforms import fwht

        xs = x.tolist()
        out = np.array(fwht(xs), dtype=np.float64)
        if not _agree(N, x, out, theory.wht(x)):
            raise RuntimeError(f"sympy fwht disagrees with theory.wht at N={N}; refusing to time it")
        fns["sympy"] = lambda: fwht(xs)
    timings = time_calls(fns, config)
    rec["time"] = {k: v.as_dict() for k, v in timings.items()}
    rec["best_s"] = {k: v.best for k, v in timings.items()}
    # memory: separate untimed runs under tracemalloc
    rec["peak_bytes"] = {
        "wht": peak_memory(lambda: theory.wht(x)),
        "butterfly": peak_memory(lambda: butterfly_wht(x)),
    }
    return rec


def _row(label: str, rec: dict[str, Any]) -> tuple[str, ...]:
    t = rec["best_s"]
    wht, bf, sp, cp = t["wht"], t["butterfly"], t.get("sympy"), t["copy"]
    peak = rec["peak_bytes"]["wht"]
    return (
        label,
        fmt_time(wht),
        fmt_time(bf),
        fmt_ratio(ratio(bf, wht)),
        fmt_time(sp),
        fmt_ratio(ratio(sp, wht)),
        fmt_time(cp),
        fmt_ratio(ratio(wht, cp)),
        fmt_bytes(peak),
        fmt_ratio(ratio(peak, rec["nbytes"])),
    )


COLUMNS = (
    "N",
    "wht",
    "butterfly",
    "bfly/wht",
    "sympy",
    "sympy/wht",
    "copy",
    "wht/copy",
    "wht peak mem",
    "peak/input",
)


def run(config: Config) -> SectionResult:
    """Time and compare the transform routes at every ``N <= config.max_n``."""
    rng = np.random.default_rng(config.seed)
    Ns = [N for N in N_VALUES if N <= config.max_n]
    sympy_Ns = [N for N in Ns if N <= SYMPY_MAX_N]
    if sympy_Ns:
        from sympy.discrete.transforms import fwht

        _check_sympy_ordering(fwht)

    records: list[dict[str, Any]] = []
    rows: list[tuple[str, ...]] = []
    for N in Ns:
        x = rng.standard_normal(2**N)
        rec = _measure(N, x, config, with_sympy=N in sympy_Ns)
        records.append(rec)
        rows.append(_row(str(N), rec))

    batched: dict[str, Any] | None = None
    B, NB = BATCH
    if NB <= config.max_n:
        xb = rng.standard_normal((B, 2**NB))
        batched = _measure(NB, xb, config, with_sympy=False)
        rows.append(_row(f"{NB} (x{B})", batched))

    by_N = {r["N"]: r["best_s"] for r in records}
    summary: list[str] = []
    headlines: dict[str, Any] = {}

    def headline(key: str, other: str, N: int, target: float, label: str) -> None:
        r = ratio(by_N.get(N, {}).get(other), by_N.get(N, {}).get("wht"))
        headlines[key] = {"N": N, "ratio": r, "target": target}
        if r is None:
            summary.append(f"wht vs {label} at N={N}: not measured (needs --max-n >= {N})")
        else:
            summary.append(f"wht vs {label} at N={N}: {r:.1f}x faster (target >= {target:g}x)")

    headline("butterfly", "butterfly", HEADLINE_BUTTERFLY_N, HEADLINE_BUTTERFLY_TARGET, "butterfly")
    headline("sympy", "sympy", HEADLINE_SYMPY_N, HEADLINE_SYMPY_TARGET, "sympy fwht")

    fits: dict[str, Any] = {}
    lo, hi = FIT_WINDOW
    in_window = [N for N in by_N if lo <= N <= hi]
    if len(in_window) >= 2:
        ref = nlogn_exponent(in_window)
        for route in ("wht", "butterfly", "copy"):
            fit = growth_exponent(list(by_N), [by_N[N][route] for N in by_N], FIT_WINDOW)
            fits[route] = fit.as_dict()
        summary.append(
            f"growth exponent of wht time vs 2^N over N in [{lo}, {hi}]: {fits['wht']['exponent']:.2f} "
            f"(expected about 1; exactly n log n gives {ref:.2f}; "
            f"butterfly {fits['butterfly']['exponent']:.2f}, copy {fits['copy']['exponent']:.2f})"
        )
        fits["nlogn_reference"] = ref
    else:
        summary.append(f"growth exponent: not fitted (needs >= 2 sizes with N in [{lo}, {hi}])")
    if batched is not None and NB + 6 in by_N:
        per_elem = batched["best_s"]["wht"] / by_N[NB + 6]["wht"]
        summary.append(
            f"batched ({B}, 2^{NB}) vs one 2^{NB + 6} vector (same element count): "
            f"wht time ratio {per_elem:.2f}"
        )

    return SectionResult(
        name="transform",
        title=(
            f"Walsh-Hadamard transform of float64 vectors, best of {config.repeat} "
            f"(sympy only for N <= {SYMPY_MAX_N})"
        ),
        columns=COLUMNS,
        rows=tuple(rows),
        summary=tuple(summary),
        data={"records": records, "batched": batched, "headlines": headlines, "fits": fits},
    )
