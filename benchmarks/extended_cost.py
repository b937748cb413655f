r"""Benchmark section ``extended``: the measured cost of C5 under the ``extended`` profile.

The ``extended`` profile (C5 up to N = 12) is meant for many cores or a cluster;
running it whole to time it would take hours. This section measures its cost from
a sample instead, and says so:

* the plan's flows (real run and reversed-kernel control, at the seed and at the
  replicate seed: rule R doubles everything) are grouped by (family, N);
* groups whose model runs the batched integrator
  (:func:`dsb_verifier.checks.claims.c5.plan.flow_method`): one batch of
  ``BATCH_SIZE`` flows (fewer if the group is smaller), evenly spaced in the plan's own
  order (so spread over populations, targets, initialisations and scales), is
  integrated as the check integrates a batch
  (:func:`dsb_verifier.checks.claims.c5.plan.integrate_batch`, single-threaded BLAS)
  and its CPU time (``time.process_time``) divided by its size is the cost per flow
  (a batch is timed whole, so there is no per-flow spread: no standard error);
* groups that run LSODA: ``SAMPLES_PER_GROUP`` flows, evenly spaced likewise, each
  timed alone; the standard error of their mean is scaled with the estimate;
* the group's cost is (number of flows) x (CPU per flow); the total is the sum.

Settle times, kernel measurements and figures are not included in the estimate
(not measured here); one kernel measurement at N = 12 is timed and printed on its
own summary line. Groups with N above ``--max-n`` are skipped and listed.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import Any

import numpy as np
from dsb_verifier.checks.claims.c5.mechanism import kernel_scale
from dsb_verifier.checks.claims.c5.plan import (
    BATCH_SIZE,
    build_model,
    flow_cases,
    flow_method,
    integrate_batch,
    integrate_case,
    plan_for,
)
from dsb_verifier.checks.claims.replicate import replicate_seed
from dsb_verifier.checks.profiles import get_profile
from dsb_verifier.theory.dynamics.flow import BATCH_METHOD
from threadpoolctl import threadpool_limits

from benchmarks._harness import Config, SectionResult, fmt_time

__all__ = ["SAMPLES_PER_GROUP", "run"]

#: Flows timed one by one per (family, N) group that runs LSODA.
SAMPLES_PER_GROUP = 3


def _groups(seed: int) -> dict[tuple[str, int], list[Any]]:
    plan = plan_for(get_profile("extended"))
    groups: dict[tuple[str, int], list[Any]] = defaultdict(list)
    for s in (seed, replicate_seed(seed)):
        for control in (False, True):
            runs, cases = flow_cases(plan, s, control=control)
            for r, c in zip(runs, cases, strict=True):
                groups[(r.family, r.N)].append(c)
    return dict(groups)


def _cpu(fn: Any, *args: Any) -> float:
    t0 = time.process_time()
    fn(*args)
    return time.process_time() - t0


def run(config: Config) -> SectionResult:
    """Time a sample of the extended profile's C5 flows per (family, N) and extrapolate."""
    groups = _groups(config.seed)
    rows: list[tuple[str, ...]] = []
    data: list[dict[str, Any]] = []
    total = total_var = 0.0
    skipped: list[str] = []
    with threadpool_limits(limits=1, user_api="blas"):
        for (family, N), cases in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            if N > config.max_n:
                skipped.append(f"{family} N={N} ({len(cases)} flows)")
                continue
            batched = flow_method(cases[0][0]) == BATCH_METHOD
            k = min(BATCH_SIZE if batched else SAMPLES_PER_GROUP, len(cases))
            picks = np.unique(np.linspace(0, len(cases) - 1, k).round().astype(int))
            k = picks.size
            if batched:
                m0 = cases[0][
                    0
                ]  # the group's flows come from several plans (seeds, control): one model object
                times = np.full(k, _cpu(integrate_batch, [(m0, *cases[i][1:]) for i in picks]) / k)
                se = float("nan")
            else:
                times = np.array([_cpu(integrate_case, cases[i]) for i in picks])
                se = float(times.std(ddof=1) / math.sqrt(k)) if k > 1 else float("nan")
            mean = float(times.mean())
            est, est_se = len(cases) * mean, len(cases) * se
            total += est
            total_var += est_se**2 if math.isfinite(est_se) else 0.0
            rows.append(
                (family, str(N), str(len(cases)), f"{k} ({'one batch' if batched else 'one by one'})",
                 fmt_time(mean), fmt_time(float(times.max())), f"{est / 3600:.2f} h",
                 f"{est_se / 3600:.2f} h" if math.isfinite(est_se) else "-")
            )  # fmt: skip
            data.append({"family": family, "N": N, "n_flows": len(cases), "method": BATCH_METHOD if batched
                         else "LSODA", "sample_cpu_s": times.tolist(), "estimate_cpu_s": est,
                         "estimate_se_cpu_s": est_se if math.isfinite(est_se) else None})  # fmt: skip
        kernel_s = None
        if config.max_n >= 12:
            kernel_s = _cpu(kernel_scale, build_model("rbm-spin", 12), 0.003, config.seed)
    summary = [
        f"extended C5 (both seeds of rule R, real run and control): estimated {total / 3600:.2f} "
        f"core-hours of flows (s.e. {math.sqrt(total_var) / 3600:.2f} h, LSODA groups only) from "
        f"{sum(len(d['sample_cpu_s']) for d in data)} timed flows"
        + (" — the timed groups only, see 'skipped'" if skipped else ""),
        "wall time on c cores is about the estimate / c, but never below the longest single task "
        "(a batch, or one LSODA flow)",
    ]
    if kernel_s is not None:
        summary.append(f"one kernel measurement of rbm-spin N=12 at sigma 0.003: {kernel_s:.1f} s CPU")
    if skipped:
        summary.append("skipped (N > --max-n): " + "; ".join(skipped))
    return SectionResult(
        name="extended",
        title="C5 under the extended profile: CPU time per flow sampled per (family, N), extrapolated",
        columns=("family", "N", "flows", "timed", "CPU/flow", "max", "estimate", "s.e."),
        rows=tuple(rows),
        summary=tuple(summary),
        data={
            "groups": data,
            "total_cpu_s": total,
            "total_se_cpu_s": math.sqrt(total_var),
            "kernel_N12_s": kernel_s,
        },
    )
