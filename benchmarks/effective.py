r"""Benchmark section ``effective``: the public effective-model routines.

Times :func:`theory.moments` (``H p``), :func:`theory.log_partition`
(a transform plus log-sum-exp) and :func:`theory.couplings` (``H log p / 2^N``)
on one strictly positive normalised distribution ``p`` (and one coupling vector
``J``) per ``N``, next to :func:`theory.wht` on a vector of the same length, so the
ratio columns show the cost of validation, logarithms and log-sum-exp on top of
the transform itself.

Glossary: ``N`` number of spins, ``p`` distribution over ``2^N`` states,
``J`` couplings indexed by subsets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from dsb_verifier import theory

from benchmarks._harness import (
    Config,
    SectionResult,
    fmt_ratio,
    fmt_time,
    growth_exponent,
    nlogn_exponent,
    ratio,
    time_calls,
)

__all__ = ["FIT_WINDOW", "N_VALUES", "run"]

#: Sizes timed (capped by ``--max-n``).
N_VALUES: tuple[int, ...] = tuple(range(4, 21, 2))
#: Window of N for the growth-exponent fits.
FIT_WINDOW: tuple[int, int] = (12, 20)
ROUTES: tuple[str, ...] = ("moments", "log_partition", "couplings")


def run(config: Config) -> SectionResult:
    """Time moments, log_partition and couplings at every ``N <= config.max_n``."""
    rng = np.random.default_rng(config.seed + 1)
    records: list[dict[str, Any]] = []
    rows: list[tuple[str, ...]] = []
    for N in (N for N in N_VALUES if N <= config.max_n):
        n = 2**N
        w = rng.uniform(0.5, 1.5, n)
        p = w / w.sum()
        J = rng.standard_normal(n) / np.sqrt(N)
        fns = {
            "wht": lambda p=p: theory.wht(p),
            "moments": lambda p=p: theory.moments(p),
            "log_partition": lambda J=J: theory.log_partition(J),
            "couplings": lambda p=p: theory.couplings(p),
        }
        timings = time_calls(fns, config)
        best = {k: v.best for k, v in timings.items()}
        records.append({"N": N, "best_s": best, "time": {k: v.as_dict() for k, v in timings.items()}})
        row: list[str] = [str(N), fmt_time(best["wht"])]
        for k in ROUTES:
            row += [fmt_time(best[k]), fmt_ratio(ratio(best[k], best["wht"]))]
        rows.append(tuple(row))

    summary: list[str] = []
    fits: dict[str, Any] = {}
    lo, hi = FIT_WINDOW
    Ns = [r["N"] for r in records]
    in_window = [N for N in Ns if lo <= N <= hi]
    if len(in_window) >= 2:
        parts = []
        for k in ("wht", *ROUTES):
            fit = growth_exponent(Ns, [r["best_s"][k] for r in records], FIT_WINDOW)
            fits[k] = fit.as_dict()
            parts.append(f"{k} {fit.exponent:.2f}")
        fits["nlogn_reference"] = nlogn_exponent(in_window)
        summary.append(
            f"growth exponents of time vs 2^N over N in [{lo}, {hi}]: "
            + ", ".join(parts)
            + f" (n log n gives {fits['nlogn_reference']:.2f})"
        )
    else:
        summary.append(f"growth exponents: not fitted (needs >= 2 sizes with N in [{lo}, {hi}])")

    columns = ("N", "wht", *(c for k in ROUTES for c in (k, f"{k}/wht")))
    return SectionResult(
        name="effective",
        title=f"effective-model routines on one distribution, best of {config.repeat}",
        columns=columns,
        rows=tuple(rows),
        summary=tuple(summary),
        data={"records": records, "fits": fits},
    )
