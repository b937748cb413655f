"""Evidence summaries of the C5 verdict: headline, baseline, evidence size, excluded orders, curves."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from dsb_verifier.checks.claims.c5.plan import FlowRun
from dsb_verifier.theory.dynamics.hierarchy import READINGS
from dsb_verifier.theory.effective import couplings
from dsb_verifier.theory.walsh import order_norms
from numpy.typing import NDArray

__all__ = ["baseline", "curves", "evidence_size", "excluded_orders", "headline", "mechanism_match"]


def headline(
    families: Mapping[str, Mapping[str, Any]], readings: Mapping[str, Any], rows: Sequence[Mapping]
) -> str:
    disc = [rd for rd, v in readings.items() if v["discriminating"]]
    parts = [
        f"{f}: {v['status']} ({v['n_supports']} support, {v['n_contradicts']} contradict, "
        f"{v['n_undecided']} undecided of {v['n_decisive']} decisive pairs"
        + (f"; {v['n_underpowered']} underpowered left out" if v.get("n_underpowered") else "")
        + ")"
        for f, v in families.items()
    ]
    return f"discriminating readings: {','.join(disc) or 'none'}; " + "; ".join(parts)


def baseline(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The direct model (A = I): its small-sigma pair outcomes per reading, reported, never decided."""
    mine = [r for r in rows if r["family"] == "direct" and r["small_init"] and not r["underpowered"]]
    return {
        rd: {
            o: sum(r["outcome"] == o for r in mine if r["reading"] == rd)
            for o in ("supports", "contradicts", "undecided")
        }
        for rd in READINGS
    }


def mechanism_match(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Observed against predicted (``matches_prediction``) per family and prediction, small sigma, powered pairs.

    Reported as evidence about the mechanism; it never enters the status.
    """
    out: dict[str, Any] = {}
    for r in rows:
        if not r["small_init"] or r["matches_prediction"] is None:
            continue
        entry = out.setdefault(r["family"], {}).setdefault(
            r["predicted"], {"n_pairs": 0, "n_match": 0, "n_mismatch": 0}
        )
        entry["n_pairs"] += 1
        entry["n_match" if r["matches_prediction"] else "n_mismatch"] += 1
    return out


def evidence_size(
    runs: Sequence[FlowRun], settle: Mapping[tuple[int, str], NDArray[np.float64]]
) -> dict[str, Any]:
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


def excluded_orders(runs: Sequence[FlowRun]) -> dict[str, Any]:
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


def curves(runs: Sequence[FlowRun]) -> list[dict[str, Any]]:
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
                "J_star_norms": order_norms(couplings(r.q))[1:],
                "structured": list(r.structured),
            }
        )
    return out
