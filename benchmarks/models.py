r"""Benchmark section ``models``: RBM gradient, exact Hessian and a full flow (issue 3).

Times, for RBMs with hidden spins: the likelihood gradient
(:func:`theory.grad_loglik`, the flow's vector field), the full ``du/dtheta`` array
(:meth:`~dsb_verifier.theory.models.EnergyModel.grad_neg_energy`), the exact Hessian
(:func:`theory.exact_hessian`, ``O(2^N P^2)``), and, at ``N = 12, M = 16``, one flow
to convergence from small initialisation. Peak memory of each is measured in a
separate traced call. No step forms a ``2^N x 2^N`` array.

Glossary: ``N`` visible spins, ``M`` hidden units, ``P`` parameters.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from dsb_verifier import theory
from dsb_verifier.theory.dynamics.flow import integrate_flow
from dsb_verifier.theory.likelihood import exact_hessian, grad_loglik
from dsb_verifier.theory.models import RBM

from benchmarks._harness import Config, SectionResult, fmt_bytes, fmt_time, peak_memory, time_calls

__all__ = ["CASES", "run"]

#: (N, M) sizes timed; the flow runs at the first.
CASES: tuple[tuple[int, int], ...] = ((12, 16), (16, 32))


def run(config: Config) -> SectionResult:
    """Time gradient, du/dtheta and exact Hessian per case, and one full flow."""
    rng = np.random.default_rng(config.seed + 2)
    rows: list[tuple[str, ...]] = []
    records: list[dict[str, Any]] = []
    summary: list[str] = []
    for N, M in (c for c in CASES if c[0] <= config.max_n):
        model = RBM(N, M)
        theta = model.init(rng, 0.1)
        q = theory.ising_target(N, {1: 0.2, 2: 0.2, 3: 0.2}, rng)
        fns: dict[str, Callable[[], Any]] = {
            "gradient": functools.partial(grad_loglik, model, theta, q),
            "du/dtheta": functools.partial(model.grad_neg_energy, theta),
            "exact Hessian": functools.partial(exact_hessian, model, theta, q),
        }
        cfg = Config(max_n=config.max_n, repeat=min(config.repeat, 3), min_time=1e-3, seed=config.seed)
        timings = time_calls(fns, cfg)
        mem = {k: peak_memory(f) for k, f in fns.items()}
        rec: dict[str, Any] = {"N": N, "M": M, "P": model.n_params}
        for k in fns:
            rec[k] = {"best_s": timings[k].best, "peak_bytes": mem[k]}
            rows.append(
                (str(N), str(M), str(model.n_params), k, fmt_time(timings[k].best), fmt_bytes(mem[k]))
            )
        if (N, M) == CASES[0]:
            theta0 = model.init(np.random.default_rng(config.seed), 0.01)
            t0 = time.perf_counter()
            tr = integrate_flow(model, theta0, q, t_max=1e4, gtol=1e-6, n_checkpoints=50)
            wall = time.perf_counter() - t0
            flow_kw = {"t_max": 1e4, "gtol": 1e-6, "n_checkpoints": 50}
            flow_mem = peak_memory(functools.partial(integrate_flow, model, theta0, q, **flow_kw))
            rec["flow"] = {
                "wall_s": wall,
                "status": tr.status,
                "n_steps": tr.n_steps,
                "nfev": tr.nfev,
                "t_end": float(tr.t[-1]),
                "peak_bytes": flow_mem,
            }
            rows.append(
                (
                    str(N),
                    str(M),
                    str(model.n_params),
                    "flow to |grad| < 1e-6 (LSODA)",
                    fmt_time(wall),
                    fmt_bytes(flow_mem),
                )
            )
            summary.append(
                f"flow N={N}, M={M} from scale 0.01: {tr.status} at t={tr.t[-1]:.3g} after "
                f"{tr.n_steps} steps ({tr.nfev} field evaluations) in {wall:.2f} s"
            )
        records.append(rec)
        summary.append(
            f"N={N}, M={M}: gradient {fmt_time(timings['gradient'].best)}, exact Hessian "
            f"{fmt_time(timings['exact Hessian'].best)} (peak {fmt_bytes(mem['exact Hessian'])})"
        )
    return SectionResult(
        name="models",
        title="RBM (hidden spins): gradient, du/dtheta, exact Hessian, one flow",
        columns=("N", "M", "P", "step", "time", "peak memory"),
        rows=tuple(rows),
        summary=tuple(summary),
        data={"records": records},
    )
