r"""How C5 is decided: settle times -> pairs -> discriminating readings -> verdict.

Claim C5 (shared/THEORY.md §5; rules of §7, written out in ``docs/theory.md``,
"How C5 is decided", before any outcome was looked at). :func:`evaluate` is the
one evaluation of the real run *and* of the negative control:

1. settle times :math:`t_k` of every run under readings (a), (b), (c) for every
   ``tau`` (right-censored: ``+inf`` when the order had not settled when the
   flow ended); reading (c) only for ``N <= MAX_N_READING_C``;
2. per (family, N, sigma, reading, tau) and each pair of consecutive structured
   orders of each run's target, the comparisons of :mod:`.stats` aggregated into
   counts, the exact 95 % interval of the lower-first fraction, the outcome
   (``supports`` / ``contradicts`` / ``undecided``) and the effect size;
3. per pair the mechanism's prediction (:mod:`.mechanism`: ``separation`` with a
   direction, or ``tie``), reported beside the observed outcome;
4. a reading is *discriminating* when, on the ``reference`` runs (the
   reversed-kernel control, same targets, this same evaluation), no pair at
   ``sigma <= small_init_max`` supports and at least one contradicts;
5. *decisive* pairs: ``sigma <= small_init_max``, discriminating reading,
   ``predicted == "separation"``. Per family: ``fails`` when a decisive pair
   contradicts, ``holds`` when every decisive pair supports (at least one),
   else ``inconclusive``. Overall over the decided families: all hold ->
   ``holds``; all fail -> ``fails``; both -> ``holds-under-conditions``; none
   decided, or a family undecided while none fails -> ``inconclusive``.

The kernel never enters the status except through step 5's selection, and the
control gets no entry the real run does not get. :func:`seed_stability` turns
two seeds' disagreeing statuses into ``inconclusive`` with the reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np
from dsb_verifier.checks.claims._common import seeded_rng
from dsb_verifier.checks.claims.c5.mechanism import SEPARATION_RATIO, predict
from dsb_verifier.checks.claims.c5.plan import FlowRun
from dsb_verifier.checks.claims.c5.stats import compare, log_ratio_effect, pair_outcome
from dsb_verifier.checks.verdict import Counterexample, Status, Verdict, jsonable
from dsb_verifier.theory.dynamics.hierarchy import READINGS, order_curves, settle_times
from dsb_verifier.theory.maxent import MaxEntConvergenceError
from dsb_verifier.theory.walsh import order_norms
from numpy.typing import NDArray

__all__ = [
    "MAX_N_READING_C",
    "STATEMENT",
    "TOLERANCES",
    "evaluate",
    "family_status",
    "overall_status",
    "seed_stability",
]

STATEMENT = (
    "Under gradient flow from small initialisation, lower-order interactions are learned before "
    "higher-order ones: for consecutive orders k < k' where the target has interaction structure, "
    "the order-k part settles first (moment residual (a), coupling error (b), connected-information "
    "gap (c); decided per pair by a sign test, on discriminating readings, where the tangent kernel "
    "predicts a separation)."
)

#: Decision thresholds (docs/theory.md, "How C5 is decided"); fixed before any outcome.
TOLERANCES: dict[str, float] = {
    "structure_floor": 0.1,
    "confidence": 0.95,
    "small_init_max": 0.1,
    "separation_ratio": SEPARATION_RATIO,
    "bootstrap_resamples": 1000,
}

#: Reading (c) needs N max-ent projections per recorded time: computed up to this N.
MAX_N_READING_C = 6

#: Pair keys: family, N, sigma, reading, tau, k, k'.
_Key = tuple[str, int, float, str, float, int, int]


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


def _settle_all(
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
) -> list[dict[str, Any]]:
    """One row per (family, N, sigma, reading, tau, consecutive structured pair) (module docstring)."""
    t_lo: dict[_Key, list[float]] = defaultdict(list)
    t_hi: dict[_Key, list[float]] = defaultdict(list)
    for i, r in enumerate(runs):
        pairs = list(zip(r.structured[:-1], r.structured[1:], strict=True))
        for rd in readings_for(r.N):
            st = settle[(i, rd)]
            for it, tau in enumerate(taus):
                for k, k2 in pairs:
                    key = (r.family, r.N, r.init_scale, rd, float(tau), int(k), int(k2))
                    t_lo[key].append(float(st[it, k]))
                    t_hi[key].append(float(st[it, k2]))
    rows = []
    for key in sorted(t_lo, key=lambda x: (x[0], x[1], x[2], x[3], -x[4], x[5])):
        family, N, sigma, rd, tau, k, k2 = key
        out = pair_outcome([compare(a, b, rho) for a, b in zip(t_lo[key], t_hi[key], strict=True)])
        rng = seeded_rng(seed, "c5-boot", family, N, f"{sigma:g}", rd, f"{tau:g}", k, k2)
        med, elo, ehi, n_eff = log_ratio_effect(
            t_lo[key], t_hi[key], rng=rng, n_boot=int(TOLERANCES["bootstrap_resamples"])
        )
        kappa = kernels.get((family, N, sigma))
        predicted, direction, ratio = (
            predict(kappa, k, k2) if kappa is not None else ("tie", None, float("nan"))
        )
        s = exponents.get((family, N))
        rows.append(
            {
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
                "small_init": sigma <= TOLERANCES["small_init_max"],
            }
        )
    return rows


def discriminating(reference_rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per reading: the reversed-kernel runs' small-sigma outcomes, and whether the reading discriminates."""
    out: dict[str, dict[str, Any]] = {}
    for rd in READINGS:
        mine = [r for r in reference_rows if r["reading"] == rd and r["small_init"]]
        counts = {o: sum(r["outcome"] == o for r in mine) for o in ("supports", "contradicts", "undecided")}
        out[rd] = {
            "discriminating": bool(counts["contradicts"] > 0 and counts["supports"] == 0),
            "reference_pairs": counts,
            "computed_up_to_N": None if rd != "c" else MAX_N_READING_C,
        }
    return out


# ---- verdict -------------------------------------------------------------------------------
def _label(r: Mapping[str, Any]) -> str:
    return (
        f"{r['family']} N={r['N']} sigma={r['init_scale']:g} pair=({r['k_low']},{r['k_high']}) "
        f"reading={r['reading']} tau={r['tau']:g}"
    )


def family_status(decisive_outcomes: Sequence[str]) -> Status:
    """``fails`` if any decisive pair contradicts; ``holds`` if all (>= 1) support; else inconclusive."""
    if "contradicts" in decisive_outcomes:
        return Status.FAILS
    if decisive_outcomes and all(o == "supports" for o in decisive_outcomes):
        return Status.HOLDS
    return Status.INCONCLUSIVE


def overall_status(families: Mapping[str, tuple[Status, int]]) -> Status:
    """Combine ``family -> (status, n_decisive)`` (see the module docstring, step 5)."""
    decided = [s for s, _ in families.values() if s in (Status.HOLDS, Status.FAILS)]
    open_ = [s for s, n in families.values() if s is Status.INCONCLUSIVE and n > 0]
    if not decided or (open_ and Status.FAILS not in decided):
        return Status.INCONCLUSIVE
    if all(s is Status.HOLDS for s in decided):
        return Status.HOLDS
    if all(s is Status.FAILS for s in decided):
        return Status.FAILS
    return Status.HOLDS_UNDER_CONDITIONS


def seed_stability(status_a: Status, status_b: Status, seeds: tuple[int, int]) -> tuple[Status, str | None]:
    """The status two seeds of one profile agree on, else ``inconclusive`` with the reason (§7)."""
    if status_a is status_b:
        return status_a, None
    return Status.INCONCLUSIVE, (
        f"seed {seeds[0]} gives {status_a.value} but seed {seeds[1]} gives {status_b.value}: "
        "the profile is too small to decide C5"
    )


def evaluate(
    runs: Sequence[FlowRun],
    *,
    reference: Sequence[FlowRun],
    taus: Sequence[float],
    seed: int,
    rho: float,
    kernels: Mapping[tuple[str, int, float], NDArray[np.float64]],
    exponents: Mapping[tuple[str, int], NDArray[np.float64]],
    conditions: Mapping[str, Any],
    extra_evidence: Mapping[str, Any] | None = None,
    executor: Executor | None = None,
) -> Verdict:
    """Decide C5 on recorded flows; the real run and the reversed-kernel control both use it.

    Parameters
    ----------
    runs
        Flows with trajectories (:func:`~dsb_verifier.checks.claims.c5.plan.flow_cases`).
    reference
        The reversed-kernel control's flows, which decide which readings discriminate
        (for the control itself: its own flows, the same object).
    taus, rho
        Settle fractions; tie ratio of the readings' time resolution.
    seed
        Run seed (bootstrap streams, counterexamples).
    kernels, exponents
        Kernel scales per (family, N, sigma) and block exponents per (family, N)
        (:mod:`~dsb_verifier.checks.claims.c5.mechanism`).
    conditions, extra_evidence
        Copied into the verdict (plain JSON).
    executor
        Where the settle times are computed (``executor.map``); the verdict does not depend on it.
    """
    if not runs:
        raise ValueError("evaluate needs at least one flow run")
    if not reference:
        raise ValueError("evaluate needs the reversed-kernel reference runs")
    taus_ = tuple(float(t) for t in taus)
    settle, problems = _settle_all(runs, taus_, executor)
    opts: dict[str, Any] = {
        "taus": taus_,
        "rho": rho,
        "seed": seed,
        "kernels": kernels,
        "exponents": exponents,
    }
    rows = pair_rows(runs, settle, **opts)
    ref_rows = (
        rows
        if reference is runs
        else pair_rows(reference, _settle_all(reference, taus_, executor)[0], **opts)
    )
    readings = discriminating(ref_rows)
    for r in rows:
        r["decisive"] = bool(
            r["small_init"] and readings[r["reading"]]["discriminating"] and r["predicted"] == "separation"
        )
        exp = {"lower-first": "supports", "higher-first": "contradicts"}.get(r["predicted_direction"] or "")
        r["matches_prediction"] = None if exp is None else r["outcome"] == exp
    families: dict[str, dict[str, Any]] = {}
    for family in dict.fromkeys(r.family for r in runs):
        dec = [r for r in rows if r["family"] == family and r["decisive"]]
        st = family_status([r["outcome"] for r in dec])
        families[family] = {
            "status": st.value,
            "n_decisive": len(dec),
            **{
                f"n_{o}": sum(r["outcome"] == o for r in dec)
                for o in ("supports", "contradicts", "undecided")
            },
        }
    status = overall_status({f: (Status(v["status"]), v["n_decisive"]) for f, v in families.items()})
    decisive = [r for r in rows if r["decisive"]]
    counterexamples = [
        Counterexample(
            description=(
                f"higher order first for {_label(r)}: lower-first in {r['n_lower_first']} of "
                f"{r['n_lower_first'] + r['n_higher_first']} decided runs, 95 % interval "
                f"[{r['ci_low']:.2f}, {r['ci_high']:.2f}] below 1/2"
            ),
            case={k: r[k] for k in ("family", "N", "init_scale", "reading", "tau", "k_low", "k_high")},
            value=float(r["ci_high"]),
            seed=seed,
        )
        for r in decisive
        if r["outcome"] == "contradicts"
    ]
    counterexamples.sort(key=lambda c: (c.value, c.description))
    evidence: dict[str, Any] = {
        "headline": _headline(families, readings, rows),
        "families": families,
        "readings": readings,
        "supports_for": [_label(r) for r in decisive if r["outcome"] == "supports"],
        "contradicts_for": [_label(r) for r in decisive if r["outcome"] == "contradicts"],
        "undecided_for": [_label(r) for r in decisive if r["outcome"] == "undecided"],
        "pairs": rows,
        "tie_ratio": rho,
        "baseline": _baseline(rows),
        "evidence_size": _size(runs, settle),
        "excluded_orders": _excluded(runs),
        "unranked_runs": problems[:20],
        "n_unranked_run_readings": len(problems),
        "curves": _curves(runs),
        **dict(extra_evidence or {}),
    }
    return Verdict(
        claim="C5",
        statement=STATEMENT,
        status=status,
        conditions=jsonable(dict(conditions)),
        evidence=jsonable(evidence),
        tolerances=TOLERANCES,
        counterexamples=tuple(counterexamples[:20]),
    )


def _headline(
    families: Mapping[str, Mapping[str, Any]], readings: Mapping[str, Any], rows: Sequence[Mapping]
) -> str:
    disc = [rd for rd, v in readings.items() if v["discriminating"]]
    parts = [
        f"{f}: {v['status']} ({v['n_supports']} support, {v['n_contradicts']} contradict, "
        f"{v['n_undecided']} undecided of {v['n_decisive']} decisive pairs)"
        for f, v in families.items()
    ]
    return f"discriminating readings: {','.join(disc) or 'none'}; " + "; ".join(parts)


def _baseline(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The direct model (A = I): its small-sigma pair outcomes per reading, reported, never decided."""
    mine = [r for r in rows if r["family"] == "direct" and r["small_init"]]
    return {
        rd: {
            o: sum(r["outcome"] == o for r in mine if r["reading"] == rd)
            for o in ("supports", "contradicts", "undecided")
        }
        for rd in READINGS
    }


def _size(runs: Sequence[FlowRun], settle: Mapping[tuple[int, str], NDArray[np.float64]]) -> dict[str, Any]:
    targets: dict[str, set] = defaultdict(set)
    for r in runs:
        targets[f"N={r.N} {r.family}"].add((r.population, r.target))
    n_cens = 0
    for (i, _), st in settle.items():
        ks = list(runs[i].structured)
        n_cens += int(np.sum(np.isinf(st[:, ks]))) if ks else 0
    return {
        "n_targets": {k: len(v) for k, v in targets.items()},
        "n_inits": max((r.init for r in runs), default=-1) + 1,
        "n_flows": len(runs),
        "n_flows_at_t_max": sum(r.trajectory.status == "t_max" for r in runs),
        "n_failed_flows": sum(r.trajectory.status == "failed" for r in runs),
        "n_censored_settle_times": n_cens,
    }


def _excluded(runs: Sequence[FlowRun]) -> dict[str, Any]:
    """Per population and N: targets, and per order how many targets had no structure there."""
    seen: dict[tuple[str, int, str], tuple[int, ...]] = {}
    for r in runs:
        seen[(r.population, r.N, f"{r.family if r.population == 'teacher' else ''}{r.target}")] = r.structured
    out: dict[str, Any] = {}
    for (pop, N, _), structured in seen.items():
        entry = out.setdefault(pop, {}).setdefault(f"N={N}", {"n_targets": 0, "excluded": {}})
        entry["n_targets"] += 1
        for k in range(1, N + 1):
            if k not in structured:
                entry["excluded"][str(k)] = entry["excluded"].get(str(k), 0) + 1
    return out


def _curves(runs: Sequence[FlowRun]) -> list[dict[str, Any]]:
    """Fig. 1 analogue: per-order coupling error over time, per family and N (first planted target, seed 0, smallest sigma)."""
    out = []
    for family, N in dict.fromkeys((r.family, r.N) for r in runs):
        mine = [
            r
            for r in runs
            if r.family == family and r.N == N and r.population == "planted" and r.target == 0 and r.init == 0
        ]
        if not mine:
            continue
        r = min(mine, key=lambda x: x.init_scale)
        tr = r.trajectory
        out.append(
            {
                "family": family,
                "N": N,
                "init_scale": r.init_scale,
                "status": tr.status,
                "t": tr.t,
                "coupling_error": tr.coupling_error_order_norms[:, 1:].T,
                "J_star_norms": order_norms(_couplings(r.q))[1:],
                "structured": list(r.structured),
            }
        )
    return out


def _couplings(q: NDArray[np.float64]) -> NDArray[np.float64]:
    from dsb_verifier.theory.effective import couplings

    return couplings(q)
