r"""Benchmark section ``flows``: one full gradient flow per N, and its cost per field evaluation.

For ``RBM(N, M = 4)`` (hidden spins) from a small initialisation (scale 0.01) towards
an Ising target with fields and pairwise couplings, :func:`dsb_verifier.theory.dynamics.flow.integrate_flow`
runs LSODA with the exact Hessian as Jacobian to ``t_max = 1e3`` (or to
``|grad| < 1e-6``). The wall time of a flow is the cost of one vector-field evaluation
times the number of evaluations, and only the first factor is fixed by ``N``: the
number of steps follows the dynamics (plateaus, stiffness) of the particular target.
So two growth exponents are printed: of the time per field evaluation (expected about
1: each evaluation is ``O(2^N N M)`` plus the occasional ``O(2^N P^2)`` Jacobian) and of
the whole flow (reported, not predicted).

Glossary: ``N`` visible spins, ``M`` hidden units, ``P`` parameters.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import numpy as np
from dsb_verifier import theory
from dsb_verifier.theory.dynamics.flow import integrate_flow
from dsb_verifier.theory.models import RBM

from benchmarks._harness import Config, SectionResult, fmt_bytes, fmt_time, growth_exponent, peak_memory

__all__ = ["FIT_WINDOW", "M", "N_VALUES", "T_MAX", "run"]

#: Sizes of the flows (capped by ``--max-n``).
N_VALUES: tuple[int, ...] = (4, 6, 8, 10, 12, 14)
#: Hidden units of every flow.
M = 4
#: Final time and stopping gradient norm of every flow.
T_MAX, GTOL = 1e3, 1e-6
#: Window of N for the growth-exponent fits.
FIT_WINDOW: tuple[int, int] = (8, 14)


def run(config: Config) -> SectionResult:
    """One flow per N in N_VALUES; wall time, evaluations, time per evaluation, peak memory."""
    rows: list[tuple[str, ...]] = []
    records: list[dict[str, Any]] = []
    for N in (n for n in N_VALUES if n <= config.max_n):
        rng = np.random.default_rng(config.seed + 100 + N)
        model = RBM(N, M)
        q = theory.ising_target(N, {1: 0.3, 2: 0.3}, rng)
        theta0 = model.init(rng, 0.01)
        kw = {"t_max": T_MAX, "gtol": GTOL, "n_checkpoints": 20}
        t0 = time.perf_counter()
        tr = integrate_flow(model, theta0, q, **kw)
        wall = time.perf_counter() - t0
        mem = peak_memory(functools.partial(integrate_flow, model, theta0, q, **kw))
        per_eval = wall / max(tr.nfev, 1)
        records.append(
            {
                "N": N,
                "P": model.n_params,
                "wall_s": wall,
                "status": tr.status,
                "t_end": float(tr.t[-1]),
                "n_steps": tr.n_steps,
                "nfev": tr.nfev,
                "per_eval_s": per_eval,
                "peak_bytes": mem,
            }
        )
        rows.append(
            (
                str(N),
                str(model.n_params),
                tr.status,
                f"{tr.t[-1]:.3g}",
                str(tr.nfev),
                fmt_time(wall),
                fmt_time(per_eval),
                fmt_bytes(mem),
            )
        )
    summary: list[str] = []
    Ns = [r["N"] for r in records]
    if sum(FIT_WINDOW[0] <= n <= FIT_WINDOW[1] for n in Ns) >= 2:
        per = growth_exponent(Ns, [r["per_eval_s"] for r in records], FIT_WINDOW)
        whole = growth_exponent(Ns, [r["wall_s"] for r in records], FIT_WINDOW)
        summary.append(
            f"growth exponents vs 2^N over N in {list(FIT_WINDOW)}: time per field evaluation "
            f"{per.exponent:.2f} (expected about 1), whole flow {whole.exponent:.2f} "
            "(includes the number of steps, set by the dynamics)"
        )
    summary.append(
        f"RBM(N, {M}) from scale 0.01, Ising target (orders 1, 2), LSODA, t_max {T_MAX:g}, gtol {GTOL:g}"
    )
    return SectionResult(
        name="flows",
        title=f"one full gradient flow per N: RBM(N, M={M}) with the exact Hessian as Jacobian",
        columns=("N", "P", "status", "t end", "field evals", "wall", "per eval", "peak memory"),
        rows=tuple(rows),
        summary=tuple(summary),
        data={"records": records},
    )
