r"""Settle times and pair rows of Claim C5 (docs/theory.md §7; rules in ``docs/theory.md``).

:func:`settle_task` gives each (run, reading) its settle times :math:`t_k` for every
``tau`` (right-censored: ``+inf`` when the order had not settled when the flow ended;
reading (c) only for ``N <= MAX_N_READING_C``). :func:`pair_rows` turns them into one
row per (source, family, N, sigma, reading, tau, pair of consecutive structured and
representable orders) — ``source`` ``"generated"`` (the plan's populations) or ``"user"``
(the ``--data`` target, kept apart) — with
the counts, interval, outcome and effect size of :mod:`.stats` and the prediction of
:mod:`.mechanism`; :func:`discriminating` reads the reversed-kernel control's rows.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np
from dsb_verifier.checks.claims._common import seeded_rng
from dsb_verifier.checks.claims.c5.mechanism import predict
from dsb_verifier.checks.claims.c5.plan import SMALL_INIT_MAX, FlowRun
from dsb_verifier.checks.claims.c5.stats import compare, log_ratio_effect, min_decidable_runs, pair_outcome
from dsb_verifier.theory.dynamics.hierarchy import READINGS, order_curves, settle_times
from dsb_verifier.theory.maxent import MaxEntConvergenceError
from numpy.typing import NDArray

__all__ = [
    "MAX_N_READING_C",
    "SMALL_INIT_MAX",
    "BOOTSTRAP_RESAMPLES",
    "discriminating",
    "pair_rows",
    "readings_for",
    "settle_all",
    "settle_task",
]

#: Reading (c) needs N max-ent projections per recorded time: computed up to this N.
MAX_N_READING_C = 6

#: Bootstrap resamples of the effect size.
BOOTSTRAP_RESAMPLES = 1000

#: Pair keys: source, family, N, sigma, reading, tau, k, k'.
_Key = tuple[str, str, int, float, str, float, int, int]

#: Fewest runs with which a pair can be decided (95 %); fewer: the row is ``underpowered``.
MIN_DECIDABLE_RUNS = min_decidable_runs()


# ---- settle times --------------------------------------------------------------------------
def readings_for(N: int) -> tuple[str, ...]:
    """The readings computed at ``N`` (reading (c) only up to MAX_N_READING_C)."""
    return READINGS if N <= MAX_N_READING_C else tuple(r for r in READINGS if r != "c")


def settle_task(task: tuple[FlowRun, str, tuple[float, ...]]) -> tuple[NDArray[np.float64], str | None]:
    """Settle times ``(len(taus), N + 1)`` of one (run, reading) and the error that prevented them.

    Every order gets a time (no structure floor here: unstructured orders are
    simply never paired); ``+inf`` when not settled by the end of the flow; all
    NaN with the reason for a failed flow or an uncomputable reading.
    """
    run, reading, taus = task
    blank = np.full((len(taus), run.N + 1), np.nan)
    tr = run.trajectory
    if tr.status == "failed":
        return blank, f"flow failed: {tr.message}"
    try:
        curves = order_curves(tr, run.q, reading)
    except MaxEntConvergenceError as err:
        return blank, f"reading {reading}: {err}"
    return np.stack([settle_times(tr.t, curves, tau, structure=None, floor_rel=0.0) for tau in taus]), None


def settle_all(
    runs: Sequence[FlowRun], taus: tuple[float, ...], executor: Executor | None
) -> tuple[dict[tuple[int, str], NDArray[np.float64]], list[dict[str, Any]]]:
    keys = [(i, rd) for i, r in enumerate(runs) for rd in readings_for(r.N)]
    tasks = [(runs[i], rd, taus) for i, rd in keys]
    mapper = executor.map if executor is not None else map
    settle: dict[tuple[int, str], NDArray[np.float64]] = {}
    problems: list[dict[str, Any]] = []
    for (i, rd), (times, err) in zip(keys, mapper(settle_task, tasks), strict=True):
        settle[(i, rd)] = times
        if err is not None:
            r = runs[i]
            problems.append(
                {
                    "family": r.family,
                    "N": r.N,
                    "init_scale": r.init_scale,
                    "population": r.population,
                    "target": r.target,
                    "init": r.init,
                    "reading": rd,
                    "error": err,
                }
            )
    return settle, problems


# ---- pairs ---------------------------------------------------------------------------------
def pair_rows(
    runs: Sequence[FlowRun],
    settle: Mapping[tuple[int, str], NDArray[np.float64]],
    *,
    taus: Sequence[float],
    rho: float,
    seed: int,
    kernels: Mapping[tuple[str, int, float], NDArray[np.float64]],
    exponents: Mapping[tuple[str, int], NDArray[np.float64]],
    representable: Mapping[tuple[str, int], tuple[int, ...]],
) -> list[dict[str, Any]]:
    """One row per (source, family, N, sigma, reading, tau, consecutive structured pair) (module docstring).

    The orders of a run are its target's structured orders that its family can
    represent (``representable[(family, N)]``; all of them when absent). A run that
    may not represent its target (``FlowRun.realisable`` False) compares with
    ``censor_decides=False`` and its one-censored pairs leave the effect size.
    A row with fewer than :data:`MIN_DECIDABLE_RUNS` runs is ``underpowered``.
    """
    t_lo: dict[_Key, list[float]] = defaultdict(list)
    t_hi: dict[_Key, list[float]] = defaultdict(list)
    real: dict[_Key, list[bool]] = defaultdict(list)
    for i, r in enumerate(runs):
        source = "user" if r.population == "user" else "generated"
        orders = [k for k in r.structured if k in representable.get((r.family, r.N), r.structured)]
        pairs = list(itertools.pairwise(orders))
        for rd in readings_for(r.N):
            st = settle[(i, rd)]
            for it, tau in enumerate(taus):
                for k, k2 in pairs:
                    key = (source, r.family, r.N, r.init_scale, rd, float(tau), int(k), int(k2))
                    t_lo[key].append(float(st[it, k]))
                    t_hi[key].append(float(st[it, k2]))
                    real[key].append(bool(r.realisable))
    rows = []
    for key in sorted(t_lo, key=lambda x: (x[0] != "generated", x[1], x[2], x[3], x[4], -x[5], x[6])):
        source, family, N, sigma, rd, tau, k, k2 = key
        lo, hi = np.array(t_lo[key]), np.array(t_hi[key])
        comparisons = [
            compare(a, b, rho, censor_decides=c) for a, b, c in zip(lo, hi, real[key], strict=True)
        ]
        out = pair_outcome(comparisons)
        # a censored order of a run that may not represent its target says nothing about timing
        drop = np.array([c == "censored-unrealisable" for c in comparisons])
        lo_e, hi_e = np.where(drop, np.inf, lo), np.where(drop, np.inf, hi)
        parts = ("c5-boot", family, N, f"{sigma:g}", rd, f"{tau:g}", k, k2)
        rng = seeded_rng(seed, *(parts if source == "generated" else (*parts, source)))
        med, elo, ehi, n_eff = log_ratio_effect(lo_e, hi_e, rng=rng, n_boot=BOOTSTRAP_RESAMPLES)
        kappa = kernels.get((family, N, sigma))
        predicted, direction, ratio = (
            predict(kappa, k, k2) if kappa is not None else ("tie", None, float("nan"))
        )
        s = exponents.get((family, N))
        rows.append(
            {
                "source": source,
                "family": family,
                "N": N,
                "init_scale": sigma,
                "reading": rd,
                "tau": tau,
                "k_low": k,
                "k_high": k2,
                "n_runs": len(t_lo[key]),
                "n_lower_first": out.n_lower_first,
                "n_higher_first": out.n_higher_first,
                "n_tied": out.n_tied,
                "n_both_censored": out.n_both_censored,
                "n_failed": out.n_failed,
                "n_censored_unrealisable": out.n_censored_unrealisable,
                "underpowered": len(t_lo[key]) < MIN_DECIDABLE_RUNS,
                "ci_low": out.ci_low,
                "ci_high": out.ci_high,
                "outcome": out.outcome,
                "median_log_ratio": med,
                "median_log_ratio_ci": [elo, ehi],
                "n_effect": n_eff,
                "predicted": predicted,
                "predicted_direction": direction,
                "kernel_ratio": ratio,
                "s_low": float(s[k]) if s is not None else None,
                "s_high": float(s[k2]) if s is not None else None,
                "small_init": sigma <= SMALL_INIT_MAX,
            }
        )
    return rows


def discriminating(reference_rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per reading: the reversed-kernel runs' small-sigma outcomes, and whether the reading discriminates.

    A reading discriminates when it *shows* the reversal the control was built to
    have. Over the control's pairs at ``sigma <= SMALL_INIT_MAX`` whose kernel
    predicts a separation: no pair supports, and in a strict majority of the
    run-level comparisons (lower-first + higher-first + tied) the reading reports
    the higher order first. Ties count against: a reading that turns a reversal
    built in by a factor ``g^2`` per order into ties has a bias towards lower
    orders that would pass for the hierarchy on the real models. The count is
    over comparisons, not pair outcomes, so that a pair left undecided only for
    lack of runs does not hide a reading that reverses every run it decides.
    """
    out: dict[str, dict[str, Any]] = {}
    for rd in READINGS:
        mine = [
            r
            for r in reference_rows
            if r["reading"] == rd and r["small_init"] and r["predicted"] == "separation"
        ]
        counts = {o: sum(r["outcome"] == o for r in mine) for o in ("supports", "contradicts", "undecided")}
        runs = {k: int(sum(r[f"n_{k}"] for r in mine)) for k in ("lower_first", "higher_first", "tied")}
        out[rd] = {
            "discriminating": bool(counts["supports"] == 0 and 2 * runs["higher_first"] > sum(runs.values())),
            "reference_pairs": counts,
            "reference_comparisons": runs,
            "computed_up_to_N": None if rd != "c" else MAX_N_READING_C,
        }
    return out
