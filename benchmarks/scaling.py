r"""Benchmark section ``scaling``: cost growth with N of the RBM gradient and exact Hessian.

At fixed width (``M = 16`` hidden spins, so ``P = 17 N + 16`` grows only linearly) the
likelihood gradient costs ``O(2^N N M)`` and the exact Hessian ``O(2^N P^2)``: both should
grow about like ``2^N`` (exponent ~1, a little more for the Hessian through ``P^2``). The
fitted exponents of time against ``2^N`` are printed with their window.

Glossary: ``N`` visible spins, ``M`` hidden units, ``P`` parameters.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from dsb_verifier import theory
from dsb_verifier.theory.likelihood import exact_hessian, grad_loglik
from dsb_verifier.theory.models import RBM

from benchmarks._harness import (
    Config,
    SectionResult,
    fmt_bytes,
    fmt_time,
    growth_exponent,
    peak_memory,
    time_calls,
)

__all__ = ["FIT_WINDOW", "M", "N_VALUES", "run"]

#: Sizes timed (capped by ``--max-n``).
N_VALUES: tuple[int, ...] = (4, 6, 8, 10, 12, 14, 16, 18)
#: Hidden units (fixed, so the growth isolates the 2^N factor).
M = 16
#: Window of N for the growth-exponent fits.
FIT_WINDOW: tuple[int, int] = (10, 18)


def run(config: Config) -> SectionResult:
    """Time gradient and exact Hessian of RBM(N, 16) for N in N_VALUES; fit exponents."""
    rng = np.random.default_rng(config.seed + 3)
    rows: list[tuple[str, ...]] = []
    records: list[dict[str, Any]] = []
    for N in (n for n in N_VALUES if n <= config.max_n):
        model = RBM(N, M)
        theta = model.init(rng, 0.1)
        q = theory.ising_target(N, {1: 0.2, 2: 0.2}, rng)
        fns = {
            "gradient": lambda m=model, th=theta, q=q: grad_loglik(m, th, q),
            "exact Hessian": lambda m=model, th=theta, q=q: exact_hessian(m, th, q),
        }
        cfg = Config(max_n=config.max_n, repeat=min(config.repeat, 3), min_time=1e-2, seed=config.seed)
        t = time_calls(fns, cfg)
        mem = {k: peak_memory(f) for k, f in fns.items()}
        records.append({"N": N, "P": model.n_params, **{k: t[k].best for k in fns}, "peak": mem})
        rows.append(
            (
                str(N),
                str(model.n_params),
                fmt_time(t["gradient"].best),
                fmt_bytes(mem["gradient"]),
                fmt_time(t["exact Hessian"].best),
                fmt_bytes(mem["exact Hessian"]),
            )
        )
    summary: list[str] = []
    Ns = [r["N"] for r in records]
    if sum(FIT_WINDOW[0] <= n <= FIT_WINDOW[1] for n in Ns) >= 2:
        parts = []
        for k in ("gradient", "exact Hessian"):
            fit = growth_exponent(Ns, [r[k] for r in records], FIT_WINDOW)
            parts.append(f"{k} {fit.exponent:.2f}")
        summary.append(
            f"growth exponents of time vs 2^N over N in {list(FIT_WINDOW)} at M = {M}: "
            + ", ".join(parts)
            + " (expected about 1: O(2^N N M) and O(2^N P^2) with P linear in N)"
        )
    return SectionResult(
        name="scaling",
        title=f"RBM(N, M={M}) gradient and exact Hessian against N, best of {min(config.repeat, 3)}",
        columns=("N", "P", "gradient", "gradient peak", "exact Hessian", "Hessian peak"),
        rows=tuple(rows),
        summary=tuple(summary),
        data={"records": records},
    )
