r"""Benchmark section ``batchflow``: many gradient flows at once vs one-at-a-time LSODA (issue 14 item 11).

C5 workloads: ``RBM(N, M = 16)`` with hidden spins, :data:`N_FLOWS` starts from
initialisation scale 0.01 (each its own seeded direction) towards one Ising target
with couplings at orders 1–3 (scale 0.4), integrated to ``t_max = 1e4`` with C5's
recording (56 log-spaced checkpoints from 1e-2) and ``gtol = 1e-7``:

* ``LSODA``: :func:`dsb_verifier.theory.dynamics.flow.integrate_flow` once per flow, at
  C5's LSODA tolerances (``checks.claims.c5.plan.LSODA_TOL``: rtol 1e-6, atol 1e-9; the
  route C5 took for every flow before 0.4.0);
* ``batched``: :func:`dsb_verifier.theory.dynamics.batch_flow.integrate_flows_batched`
  at the same tolerances, in C5's batches of ``BATCH_SIZE`` flows;
* ``batched, C5``: the same batches at C5's own tolerances (``FLOW``: a tenth of LSODA's;
  at equal tolerances the batched BDF's global error is about 10 times LSODA's, checked
  against ``rtol = 1e-11`` references in docs/notes/batchflow.md), i.e. what C5 runs now,
  at about LSODA's accuracy.

Both are timed in the same run, one after the other, as wall time
(``time.perf_counter``) and as CPU time of this process (``time.process_time``,
less sensitive to other processes on a shared machine), once each: a run takes
seconds to a minute, so it is not repeated. Both routes run with one BLAS thread
(:func:`dsb_verifier.theory._blas.one_blas_thread`), as inside a C5 run: with
several threads, LSODA's small dense solves get slower and its CPU time counts the
idle threads' spinning, which would flatter the ratio.

**Ceiling.** During the ``batched, C5`` run the CPU time spent inside the batch's
numerical kernels is accounted separately: the vector field
(:meth:`~dsb_verifier.theory.dynamics.batch_kernels.BatchField.field`) and the
Jacobians (:meth:`~dsb_verifier.theory.dynamics.batch_kernels.BatchField.eigen`:
exact Hessians and their eigendecompositions). ``ceiling`` is LSODA's CPU time over
that kernel time: the speed-up the batched BDF would reach if everything else (the
lock-step driver's bookkeeping and its linear solves) cost nothing, with the same
number of field evaluations and Jacobians per flow. Printed alongside: flows per second of
each route, their ratio, the statuses, and the largest end-point difference
between the routes relative to the tolerance of ``tests/test_batch_flow.py``
(``n_steps * (rtol * max|theta| + atol)``; below 1 means the routes agree).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
from dsb_verifier import theory
from dsb_verifier.checks.claims.c5.plan import BATCH_SIZE, FLOW, LSODA_TOL
from dsb_verifier.theory._blas import one_blas_thread
from dsb_verifier.theory.dynamics.batch_flow import integrate_flows_batched
from dsb_verifier.theory.dynamics.batch_kernels import BatchField
from dsb_verifier.theory.dynamics.flow import integrate_flow
from dsb_verifier.theory.models import RBM

from benchmarks._harness import Config, SectionResult, fmt_time

__all__ = ["M", "N_FLOWS", "N_VALUES", "run"]

#: Sizes (capped by ``--max-n``), hidden units, and number of flows per size.
N_VALUES: tuple[int, ...] = (5, 8)
M = 16
N_FLOWS = 64
#: C5's flow settings (checks.claims.c5.plan.FLOW without the tolerances; quick t_max).
OPTIONS: dict[str, float] = {
    "t_max": 1e4,
    "t_min": FLOW["t_min"],
    "n_checkpoints": FLOW["n_checkpoints"],
    "gtol": FLOW["gtol"],
}
RTOL, ATOL = LSODA_TOL["rtol"], LSODA_TOL["atol"]


def _in_batches(model: Any, th0: Any, q: Any, **kw: Any) -> list[Any]:
    """integrate_flows_batched over consecutive batches of BATCH_SIZE flows, as C5 cuts them."""
    out: list[Any] = []
    for lo in range(0, th0.shape[0], BATCH_SIZE):
        out += integrate_flows_batched(model, th0[lo : lo + BATCH_SIZE], q, **kw)
    return out


@contextlib.contextmanager
def _kernel_clock() -> Iterator[dict[str, float]]:
    """CPU seconds spent in ``BatchField.field`` and ``BatchField.eigen`` while active (patched, then restored)."""
    spent = {"field": 0.0, "jacobian": 0.0}
    originals = {"field": BatchField.field, "eigen": BatchField.eigen}

    def clocked(name: str, key: str) -> Any:
        inner = originals[name]

        def method(self: BatchField, *args: Any) -> Any:
            c0 = time.process_time()
            try:
                return inner(self, *args)
            finally:
                spent[key] += time.process_time() - c0

        return method

    BatchField.field = clocked("field", "field")
    BatchField.eigen = clocked("eigen", "jacobian")
    try:
        yield spent
    finally:
        BatchField.field = originals["field"]
        BatchField.eigen = originals["eigen"]


def _one_at_a_time(model: Any, th0: Any, q: Any, **kw: Any) -> list[Any]:
    """integrate_flow once per start (LSODA)."""
    return [integrate_flow(model, x, q, **kw) for x in th0]


def _timed(fn: Any) -> tuple[Any, float, float]:
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def run(config: Config) -> SectionResult:
    """Batched vs one-at-a-time flows for each N in N_VALUES (N_FLOWS flows each)."""
    rows: list[tuple[str, ...]] = []
    records: list[dict[str, Any]] = []
    for N in (n for n in N_VALUES if n <= config.max_n):
        rng = np.random.default_rng(config.seed + 500 + N)
        model = RBM(N, M)
        q = theory.ising_target(N, {1: 0.4, 2: 0.4, 3: 0.4}, rng)
        th0 = np.stack([model.init(rng, 0.01) for _ in range(N_FLOWS)])
        kw = {**OPTIONS, "rtol": RTOL, "atol": ATOL}
        # C5's route: equal accuracy at a tenth of LSODA's tolerances (docs/notes/batchflow.md)
        kw10 = {**OPTIONS, "rtol": FLOW["rtol"], "atol": FLOW["atol"]}
        with one_blas_thread():  # both routes as inside a C5 run
            batched, wall_b, cpu_b = _timed(functools.partial(_in_batches, model, th0, q, **kw))
            single, wall_s, cpu_s = _timed(functools.partial(_one_at_a_time, model, th0, q, **kw))
            with _kernel_clock() as spent:
                _, wall_t, cpu_t = _timed(functools.partial(_in_batches, model, th0, q, **kw10))
        kernels = spent["field"] + spent["jacobian"]
        worst = 0.0
        for a, b in zip(batched, single, strict=True):
            scale = max(float(np.abs(a.theta).max()), float(np.abs(b.theta).max()))
            tol = max(a.n_steps, b.n_steps, 1) * (RTOL * scale + ATOL)
            worst = max(worst, float(np.abs(a.theta[-1] - b.theta[-1]).max()) / tol)
        same = sum(a.status == b.status for a, b in zip(batched, single, strict=True))
        rec = {
            "N": N,
            "M": M,
            "P": model.n_params,
            "flows": N_FLOWS,
            "batched_wall_s": wall_b,
            "batched_cpu_s": cpu_b,
            "lsoda_wall_s": wall_s,
            "lsoda_cpu_s": cpu_s,
            "ratio_wall": wall_s / wall_b,
            "ratio_cpu": cpu_s / cpu_b,
            "batched_tight_wall_s": wall_t,
            "batched_tight_cpu_s": cpu_t,
            "ratio_tight_cpu": cpu_s / cpu_t,
            "batched_tight_field_cpu_s": spent["field"],
            "batched_tight_jacobian_cpu_s": spent["jacobian"],
            "ceiling_cpu": cpu_s / kernels,
            "same_status": same,
            "statuses": sorted({a.status for a in batched}),
            "worst_end_over_tol": worst,
            "batched_nfev_mean": float(np.mean([a.nfev for a in batched])),
            "lsoda_nfev_mean": float(np.mean([b.nfev for b in single])),
        }
        records.append(rec)
        rows.append(
            (
                str(N),
                str(model.n_params),
                str(N_FLOWS),
                fmt_time(wall_b),
                f"{N_FLOWS / wall_b:.1f}",
                fmt_time(wall_s),
                f"{N_FLOWS / wall_s:.1f}",
                f"{wall_s / wall_b:.1f}x",
                f"{cpu_s / cpu_b:.1f}x",
                f"{cpu_s / cpu_t:.1f}x",
                f"{100 * spent['field'] / cpu_t:.0f} %",
                f"{100 * spent['jacobian'] / cpu_t:.0f} %",
                f"{cpu_s / kernels:.1f}x",
                f"{same}/{N_FLOWS}",
                f"{worst:.2g}",
            )
        )
    summary = [
        f"RBM(N, {M}) spin, {N_FLOWS} flows from scale 0.01, Ising target (orders 1-3, 0.4), "
        f"t_max {OPTIONS['t_max']:g}, gtol {OPTIONS['gtol']:g}, rtol {RTOL:g}, atol {ATOL:g} (C5's LSODA)",
        "end/tol: largest end-point difference over n_steps * (rtol * max|theta| + atol) (< 1: agree)",
        f"CPU, C5: LSODA's CPU time over the batches' at C5's rtol {FLOW['rtol']:g}, atol {FLOW['atol']:g} "
        "(about LSODA's accuracy: what C5 runs)",
        "field, Jacobians: share of the C5 batches' CPU time in the vector field and in the exact "
        "Hessians with their eigendecompositions",
        "ceiling: LSODA's CPU time over that kernel time, the speed-up if the rest of the batched "
        "driver cost nothing",
        f"batches of {BATCH_SIZE} flows (C5's); both routes with one BLAS thread; aim of issue 14: >= 10x",
    ]
    return SectionResult(
        name="batchflow",
        title=f"{N_FLOWS} gradient flows: batched BDF vs one-at-a-time LSODA",
        columns=(
            "N",
            "P",
            "flows",
            "batched",
            "flows/s",
            "LSODA",
            "flows/s",
            "speed-up (wall)",
            "speed-up (CPU)",
            "CPU, C5",
            "field",
            "Jacobians",
            "ceiling",
            "same status",
            "end/tol",
        ),
        rows=tuple(rows),
        summary=tuple(summary),
        data={"records": records},
    )
