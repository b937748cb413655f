r"""Benchmark section ``spectrum``: Fisher eigenvalues without the dense matrix.

Times :func:`dsb_verifier.theory.fisher_spectrum.fisher_eigenvalues` (secular equation,
``O(4^N)`` time, ``O(2^N)`` memory per chunk) on one strictly positive normalised
distribution ``p`` per ``N``, next to the dense route
``numpy.linalg.eigvalsh(theory.fisher(p))`` (``O(8^N)`` time, ``O(4^N)`` memory)
where ``N <= DENSE_MAX_N``. Before timing, the two routes are checked to agree
(largest difference relative to ``max(lambda_max, 1)``, reported in the table).

Glossary: ``N`` number of spins, ``p`` distribution over ``2^N`` states,
``F`` Fisher matrix of size ``2^N - 1``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from dsb_verifier import theory
from dsb_verifier.theory.fisher_spectrum import fisher_eigenvalues

from benchmarks._harness import (
    Config,
    SectionResult,
    fmt_bytes,
    fmt_ratio,
    fmt_time,
    growth_exponent,
    peak_memory,
    ratio,
    time_calls,
)

__all__ = ["DENSE_MAX_N", "FIT_WINDOW", "N_VALUES", "TARGET_N", "TARGET_S", "run"]

#: Sizes timed (capped by ``--max-n``).
N_VALUES: tuple[int, ...] = tuple(range(8, 15))
#: Largest N for the dense route (``2^N - 1`` square matrix, cubic eigensolver).
DENSE_MAX_N = 11
#: Window of N for the growth-exponent fit of the secular route (O(4^N) gives 2).
FIT_WINDOW: tuple[int, int] = (10, 14)
#: Headline target: the secular route at this N in under this many seconds.
TARGET_N, TARGET_S = 14, 5.0


def run(config: Config) -> SectionResult:
    """Time the secular and dense routes at every ``N <= config.max_n``."""
    rng = np.random.default_rng(config.seed + 3)
    records: list[dict[str, Any]] = []
    rows: list[tuple[str, ...]] = []
    for N in (N for N in N_VALUES if N <= config.max_n):
        w = rng.uniform(0.5, 1.5, 2**N)
        p = w / w.sum()
        fns: dict[str, Any] = {"secular": lambda p=p: fisher_eigenvalues(p)}
        agree = None
        if N <= DENSE_MAX_N:
            fns["dense"] = lambda p=p: np.linalg.eigvalsh(theory.fisher(p))
            ref = fns["dense"]()
            agree = float(np.max(np.abs(fns["secular"]() - ref)) / max(ref[-1], 1.0))
        timings = time_calls(fns, config)
        best = {k: v.best for k, v in timings.items()}
        mem = peak_memory(fns["secular"])
        records.append(
            {
                "N": N,
                "best_s": best,
                "time": {k: v.as_dict() for k, v in timings.items()},
                "secular_peak_bytes": mem,
                "max_rel_diff": agree,
            }
        )
        rows.append(
            (
                str(N),
                fmt_time(best["secular"]),
                fmt_time(best.get("dense")),
                fmt_ratio(ratio(best.get("dense"), best["secular"])),
                fmt_bytes(mem),
                "-" if agree is None else f"{agree:.1e}",
            )
        )

    summary: list[str] = []
    fits: dict[str, Any] = {}
    Ns = [r["N"] for r in records]
    lo, hi = FIT_WINDOW
    if sum(lo <= N <= hi for N in Ns) >= 2:
        fit = growth_exponent(Ns, [r["best_s"]["secular"] for r in records], FIT_WINDOW)
        fits["secular"] = fit.as_dict()
        summary.append(
            f"growth exponent of secular time vs 2^N over N in [{lo}, {hi}]: {fit.exponent:.2f} "
            "(O(4^N) gives 2; the dense route is O(8^N), exponent 3)"
        )
    else:
        summary.append(f"growth exponent: not fitted (needs >= 2 sizes with N in [{lo}, {hi}])")
    top = [r for r in records if r["N"] == TARGET_N]
    if top:
        t = top[0]["best_s"]["secular"]
        verdict = "met" if t < TARGET_S else "NOT met"
        summary.append(f"target: N = {TARGET_N} in under {TARGET_S:g} s -> {fmt_time(t)} ({verdict})")

    return SectionResult(
        name="spectrum",
        title=f"Fisher eigenvalues, secular equation vs dense eigvalsh, best of {config.repeat}",
        columns=("N", "secular", "dense", "dense/secular", "secular peak mem", "max |diff|/max(lam,1)"),
        rows=tuple(rows),
        summary=tuple(summary),
        data={"records": records, "fits": fits},
    )
