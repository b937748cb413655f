r"""Claim C3, the verdict: existence per family, the status, and the evidence (see :mod:`.c3_fixed_points`).

:func:`evaluate` serves the real run and the negative controls alike; the status logic
is documented in :mod:`dsb_verifier.checks.claims.c3_fixed_points`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from dsb_verifier.checks.claims.c3_candidates import STATEMENT, TOLERANCES, Candidate
from dsb_verifier.checks.claims.c3_points import _point_failures, classified, point_row
from dsb_verifier.checks.verdict import Counterexample, Status, Verdict
from dsb_verifier.theory.dynamics.fixed_points import FixedPoint, HessianFn
from dsb_verifier.theory.likelihood import exact_hessian

__all__ = ["evaluate"]


def evaluate(
    candidates: Sequence[Candidate],
    *,
    seed: int,
    conditions: Mapping[str, Any],
    hessian: HessianFn = exact_hessian,
) -> Verdict:
    """Evaluate C3 on candidate stationary points (status logic: module docstring).

    The same routine serves the real run and the negative controls.
    """
    failures: list[Counterexample] = []
    rows: list[dict[str, Any]] = []
    points: list[tuple[Candidate, FixedPoint]] = []
    for c in candidates:
        fp = classified(c, hessian)
        rows.append(point_row(c, fp))
        if fp is not None:
            points.append((c, fp))
            failures += _point_failures(c, fp, seed)
    constructions_missing = sorted(
        {c.origin for c in candidates if c.origin.startswith("construction")}
        - {c.origin for c, _ in points if c.origin.startswith("construction")}
    )
    existence = _existence(candidates, rows)
    existence_failures = [
        Counterexample(
            description=(
                f"no data-consistent point reached by {e['n_flows']} flows of {fam}, declared sufficiently "
                "expressive; all ended at spurious stationary points"
            ),
            case={"family": fam, "targets": e["targets"]},
            value=float(e["min_residual"]),
            seed=seed,
        )
        for fam, e in existence.items()
        if e["outcome"] == "failed"
    ]
    outcomes = [e["outcome"] for e in existence.values()]
    if failures or (outcomes and all(o == "failed" for o in outcomes)):
        status = Status.FAILS
    elif existence_failures:
        status = Status.HOLDS_UNDER_CONDITIONS
    elif "unresolved" in outcomes or constructions_missing or not points:
        status = Status.INCONCLUSIVE
    else:
        status = Status.HOLDS
    evidence = _evidence(rows, points, existence, constructions_missing)
    return Verdict(
        claim="C3",
        statement=STATEMENT,
        status=status,
        conditions=dict(conditions),
        evidence=evidence,
        tolerances=TOLERANCES,
        counterexamples=tuple((failures + existence_failures)[:20]),
    )


def _existence(
    candidates: Sequence[Candidate], rows: Sequence[Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Per family: did a declared-sufficient flow reach a data-consistent point?"""
    out: dict[str, dict[str, Any]] = {}
    for c, row in zip(candidates, rows, strict=True):
        if c.origin != "flow" or not c.sufficient:
            continue
        e = out.setdefault(
            c.family, {"n_flows": 0, "consistent": 0, "unresolved": 0, "targets": [], "min_residual": np.inf}
        )
        e["n_flows"] += 1
        e["consistent"] += row["kind"] == "data-consistent"
        e["unresolved"] += row["kind"] == "unresolved"
        if row["kind"] == "spurious":
            e["min_residual"] = min(e["min_residual"], row["residual_norm"])
        label = f"{c.target} N={c.N}"
        if label not in e["targets"]:
            e["targets"].append(label)
    for e in out.values():
        e["outcome"] = "found" if e["consistent"] else ("unresolved" if e["unresolved"] else "failed")
        if not np.isfinite(e["min_residual"]):
            e["min_residual"] = 0.0
    return out


def _evidence(
    rows: Sequence[Mapping[str, Any]],
    points: Sequence[tuple[Candidate, FixedPoint]],
    existence: Mapping[str, Mapping[str, Any]],
    constructions_missing: Sequence[str],
) -> dict[str, Any]:
    per_family: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["origin"] != "flow":
            continue
        f = per_family.setdefault(
            row["family"],
            {"data-consistent": 0, "spurious": 0, "unresolved": 0, "lowest_orders": {}, "ranks": {}},
        )
        f[row["kind"]] += 1
        if row["kind"] == "unresolved":
            continue
        f["ranks"].setdefault(row["kind"], []).append(f"{row['rank']}/{row['n_rows']}")
        for key, val in (("kl", row["kl"]), ("residual_norm", row["residual_norm"])):
            f.setdefault(f"max_{key}_{row['kind']}", 0.0)
            f[f"max_{key}_{row['kind']}"] = max(f[f"max_{key}_{row['kind']}"], val)
        if row["lowest_order"] is not None:
            k = str(row["lowest_order"])
            f["lowest_orders"][k] = f["lowest_orders"].get(k, 0) + 1
    for f in per_family.values():
        f["ranks"] = {k: sorted(set(v)) for k, v in f["ranks"].items()}
    constructions = [
        {
            k: row[k]
            for k in (
                "origin",
                "family",
                "N",
                "P",
                "kind",
                "lowest_order",
                "rank",
                "n_rows",
                "residual_order_norms",
            )
            if k in row
        }
        | {"grad_norm": row["grad_norm"], "n_unstable": row.get("n_unstable")}
        for row in rows
        if row["origin"].startswith("construction")
    ]
    full = [fp for _, fp in points if fp.full_row_rank]
    spurious = [fp for _, fp in points if fp.kind == "spurious"]
    n_cons = sum(fp.kind == "data-consistent" for _, fp in points)
    implication = {
        "n_stationary": len(points),
        "n_full_row_rank": len(full),
        "n_full_row_rank_spurious": sum(fp.kind == "spurious" for fp in full),
        "max_residual_at_full_rank": max((fp.residual_norm for fp in full), default=0.0),
        "min_residual_spurious": min((fp.residual_norm for fp in spurious), default=None),
        "max_sigma_ratio_spurious": max(
            (
                float(fp.singular_values[-1] / fp.singular_values[0])
                if fp.singular_values.size == fp.n_rows
                else 0.0
            )
            for fp in spurious
        )
        if spurious
        else None,
        "min_rank_margin": min((fp.rank_margin for _, fp in points), default=None),
        "max_kernel_norm": max((fp.jacobian_grad_norm for _, fp in points), default=None),
    }
    n_found = sum(e["outcome"] == "found" for e in existence.values())
    confirmed = sorted({r["origin"].split("-")[1] for r in constructions if r.get("kind") == "spurious"})
    headline = (
        f"{len(points)} stationary points: {n_cons} data-consistent, {len(spurious)} spurious "
        f"({implication['n_full_row_rank_spurious']} with full-rank A); "
        f"existence in {n_found}/{len(existence)} families; "
        f"constructions {'/'.join(confirmed) or 'none'} confirmed; "
        f"{sum(r['kind'] == 'unresolved' for r in rows)} unresolved"
    )
    return {
        "headline": headline,
        "per_family": per_family,
        "existence": dict(existence),
        "implication_full_rank": implication,
        "constructions": constructions,
        "constructions_missing": list(constructions_missing),
        "points": [{k: v for k, v in r.items() if k != "hessian_eigenvalues"} for r in rows],
    }
