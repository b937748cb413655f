r"""Benchmark section ``checks``: every claim check and the ``quick``/``thorough`` profiles.

(The module is ``claim_checks`` so as not to shadow the ``checks`` package.)

Runs :func:`dsb_verifier.checks.runner.run_checks` (the work of ``dsb-verify run`` without writing
figures) once per configuration and reads each claim's own wall time (its negative
controls included) from the report:

* ``quick``, serial — the profile of the README's main command (target: at most 60 s);
* ``thorough``, serial (target: at most 15 min);
* ``thorough`` with a process pool of 2 workers (:func:`dsb_verifier.checks.runner.process_executor`;
  target: at least 1.6x faster than serial). Skipped on a machine with one core.

The claim checks are deterministic for a seed, so each configuration runs once (a
repeat would measure the same work); the verdicts are printed with the times so a
change of speed cannot hide a change of result, and the parallel run's verdicts must
equal the serial ones (a mismatch raises instead of reporting a speed-up).

This section dominates ``python -m benchmarks`` (about 3 minutes on an idle 2-core
machine); leave it out with ``--only``.
"""

from __future__ import annotations

import os
import time
from typing import Any

from dsb_verifier.checks.profiles import get_profile
from dsb_verifier.checks.runner import CLAIM_IDS, process_executor, run_checks

from benchmarks._harness import Config, SectionResult, fmt_ratio, fmt_time, ratio

__all__ = ["CONFIGURATIONS", "WORKERS", "run"]

#: Workers of the parallel thorough run.
WORKERS = 2
#: (profile, workers) configurations timed, in order; workers 1 means serial.
CONFIGURATIONS: tuple[tuple[str, int], ...] = (("quick", 1), ("thorough", 1), ("thorough", WORKERS))
#: Targets of the issue (seconds; speed-up), printed next to the measurements.
TARGETS = {"quick": 60.0, "thorough": 15 * 60.0, "speedup": 1.6}


def _one(profile: str, workers: int, seed: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    if workers == 1:
        report = run_checks(get_profile(profile), seed)
    else:
        with process_executor(workers) as pool:
            report = run_checks(get_profile(profile), seed, executor=pool)
    wall = time.perf_counter() - t0
    return {
        "profile": profile,
        "workers": workers,
        "wall_s": wall,
        "claims": {
            c.verdict.claim: {"seconds": c.seconds, "status": str(c.verdict.status)} for c in report.claims
        },
    }


def run(config: Config) -> SectionResult:
    """Time each claim check under quick and thorough, serially and with 2 workers."""
    cores = os.cpu_count() or 1
    records: list[dict[str, Any]] = []
    for profile, workers in CONFIGURATIONS:
        if workers > 1 and cores < workers:
            continue
        records.append(_one(profile, workers, config.seed))
    serial = {r["profile"]: r for r in records if r["workers"] == 1}
    for r in records:
        ref = serial[r["profile"]]
        if r is not ref and {k: v["status"] for k, v in r["claims"].items()} != {
            k: v["status"] for k, v in ref["claims"].items()
        }:
            raise RuntimeError(
                f"{r['profile']} with {r['workers']} workers gave other verdicts than the serial run; "
                "refusing to report a speed-up"
            )
    columns = ("claim", *(f"{r['profile']} x{r['workers']}" for r in records), "verdict (thorough)")
    rows: list[tuple[str, ...]] = []
    for claim in CLAIM_IDS:
        cells = [fmt_time(r["claims"][claim]["seconds"]) for r in records]
        status = next(
            (r["claims"][claim]["status"] for r in records if r["profile"] == "thorough"),
            records[0]["claims"][claim]["status"],
        )
        rows.append((claim, *cells, status))
    rows.append(("whole run", *(fmt_time(r["wall_s"]) for r in records), ""))
    summary = [
        f"{r['profile']} with {r['workers']} worker(s): {r['wall_s']:.1f} s"
        + (f" (target at most {TARGETS[r['profile']]:.0f} s)" if r["workers"] == 1 else "")
        for r in records
    ]
    par = [r for r in records if r["workers"] > 1]
    if par and "thorough" in serial:
        speedup = ratio(serial["thorough"]["wall_s"], par[0]["wall_s"])
        summary.append(
            f"thorough, 1 vs {par[0]['workers']} workers: {fmt_ratio(speedup)} faster "
            f"(target at least {TARGETS['speedup']}x); verdicts identical"
        )
    summary.append(
        f"seed {config.seed}; claim times include each claim's negative controls; no figures written"
    )
    return SectionResult(
        name="checks",
        title="claim checks C1-C6 under the quick and thorough profiles (one run each, wall time)",
        columns=columns,
        rows=tuple(rows),
        summary=tuple(summary),
        data={"records": records, "targets": TARGETS},
    )
