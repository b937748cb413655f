r"""Claim C6, verdict: criteria per distinct point, status per regime, the overall status.

The rules (regimes, material orders, distinct points) are those of
:mod:`dsb_verifier.checks.claims.c6_points`; the experiment is
:mod:`dsb_verifier.checks.claims.c6_saddles`. Under a reading ``k_low`` ("low" means
orders ``<= k_low``; primary ``K_LOW = 2``, alternative ``N``), each distinct *spurious*
point falls in exactly one category:

* ``near-consistent`` — no materially inconsistent order;
* ``high-order`` — lowest material order ``k > k_low``;
* ``not-represented`` — ``k <= k_low`` but the family cannot move order ``k``
  (:func:`dsb_verifier.theory.dynamics.fixed_points.represented_orders`);
* ``saddle`` — ``k <= k_low`` and every representative has an unstable Hessian direction
  (a flow end point of this kind is a plateau the flow would leave);
* ``undetermined`` — ``k <= k_low``, not every representative is a saddle, and a
  non-saddle one has Hessian margin below ``hessian_margin_min``;
* ``counterexample`` — ``k <= k_low``, not every representative is a saddle, the margin is
  clear, and either the target has structure at ``k`` (criterion (a): such points are
  saddles) or a flow from a generic start ended there (criterion (b): flows end at points
  whose residual, if any, sits at high orders);
* ``no-structure`` — the rest: low-order, not a saddle, no structure at ``k``, reached by
  no flow (the claim says nothing about it).

Status of a regime: ``fails`` if it has a counterexample; else ``inconclusive`` if no
point is in scope for (a) (low-order, represented, structured), no flow ended resolved,
some point is undetermined, or more than half its flows ended unresolved (not stationary
after polishing, or classified within the margin of a threshold); else ``holds``.

Overall (the C6 status is decided by ``E1``): ``fails`` / ``inconclusive`` when ``E1``
fails / is inconclusive; when ``E1`` holds, ``holds-under-conditions`` if ``E2`` fails or
the alternative reading fails in ``E1`` (each listed in the evidence), else ``holds``.
Counterexamples are distinct points (``E1`` first), never initialisations × criteria.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from dsb_verifier.checks.claims._common import seeded_rng
from dsb_verifier.checks.claims.c3_fixed_points import classified, point_row
from dsb_verifier.checks.claims.c6_points import (
    MATERIAL_FRACTION,
    MERGE_RTOL,
    REGIMES,
    DistinctPoint,
    Item,
    distinct_points,
    target_structure,
)
from dsb_verifier.checks.claims.c6_probe import ascent_probe
from dsb_verifier.checks.verdict import Counterexample, Status, Verdict
from dsb_verifier.theory.dynamics.fixed_points import FixedPoint, HessianFn, represented_orders
from dsb_verifier.theory.likelihood import exact_hessian
from dsb_verifier.theory.models import EnergyModel

__all__ = ["CATEGORIES", "categorise", "evaluate", "regime_status"]

CATEGORIES = (
    "near-consistent",
    "high-order",
    "not-represented",
    "saddle",
    "undetermined",
    "counterexample",
    "no-structure",
)


def categorise(
    dp: DistinctPoint,
    k_low: int,
    represented: Callable[[int], bool],
    hessian_margin_min: float,
) -> str:
    """The category of a distinct spurious point under ``k_low`` (module docstring)."""
    if dp.kind != "spurious":
        raise ValueError(f"only spurious points are categorised, got a {dp.kind} point")
    k = dp.material_order()
    if k is None:
        return "near-consistent"
    if k > k_low:
        return "high-order"
    if not represented(k):
        return "not-represented"
    if dp.saddle == "yes":
        return "saddle"
    if dp.min_margin_non_saddle < hessian_margin_min:
        return "undetermined"
    if dp.structured[k] or dp.n_flows > 0:
        return "counterexample"
    return "no-structure"


def regime_status(
    *, n_counterexamples: int, n_in_scope: int, n_flows_resolved: int, n_unresolved: int, n_undetermined: int
) -> Status:
    """Status of one regime from its tallies (module docstring)."""
    if n_counterexamples:
        return Status.FAILS
    if n_in_scope == 0 or n_flows_resolved == 0 or n_undetermined or n_unresolved > n_flows_resolved:
        return Status.INCONCLUSIVE
    return Status.HOLDS


class _Represented:
    """Orders each model can move at a generic parameter (cached per model object)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._cache: dict[int, np.ndarray] = {}

    def __call__(self, model: EnergyModel, k: int) -> bool:
        if id(model) not in self._cache:
            theta = model.init(seeded_rng(self.seed, "c6-generic-theta", model.family, model.n_visible), 1.0)
            self._cache[id(model)] = represented_orders(model, theta)
        return bool(self._cache[id(model)][k])


def _regime(
    regime: str,
    items: Sequence[Item],
    fps: Sequence[FixedPoint | None],
    dps: Sequence[DistinctPoint],
    k_low: int,
    represented: _Represented,
    margin_min: float,
) -> dict[str, Any]:
    """Tallies, categories and counterexample points of one regime under ``k_low``."""
    idx = [i for i, it in enumerate(items) if it.regime == regime]
    flows = [i for i in idx if items[i].candidate.origin == "flow"]
    unresolved = [i for i in flows if fps[i] is None]
    mine = [dp for dp in dps if dp.regime == regime]
    cats: dict[str, int] = dict.fromkeys(CATEGORIES, 0)
    bad: list[tuple[DistinctPoint, str]] = []
    flow_ends: dict[str, int] = {"data-consistent": 0, "unresolved": len(unresolved)}
    n_in_scope = 0
    for dp in mine:
        if dp.kind == "data-consistent":
            flow_ends["data-consistent"] += dp.n_flows
            continue
        model = items[dp.members[0]].candidate.model
        cat = categorise(dp, k_low, functools.partial(represented, model), margin_min)
        cats[cat] += 1
        k = dp.material_order()
        if cat in ("saddle", "undetermined", "counterexample") and k is not None and dp.structured[k]:
            n_in_scope += 1
        if cat == "counterexample":
            bad.append((dp, cat))
        end = "saddle-plateau" if cat == "saddle" else cat
        flow_ends[end] = flow_ends.get(end, 0) + dp.n_flows
    n_resolved = len(flows) - len(unresolved)
    status = regime_status(
        n_counterexamples=len(bad),
        n_in_scope=n_in_scope,
        n_flows_resolved=n_resolved,
        n_unresolved=len(unresolved),
        n_undetermined=cats["undetermined"],
    )
    spurious = [dp for dp in mine if dp.kind == "spurious"]
    by_model: dict[str, dict[str, int]] = {}
    for i in flows:
        c = items[i].candidate
        fp = fps[i]
        kind = "unresolved" if fp is None else fp.kind
        row = by_model.setdefault(f"{items[i].model_label} N={c.N}", {})
        row[kind] = row.get(kind, 0) + 1
    out: dict[str, Any] = {
        "status": status.value if regime != "other" else "not judged",
        "k_low": k_low,
        "n_points_distinct": len(mine),
        "n_spurious_distinct": len(spurious),
        "n_flows": len(flows),
        "n_flows_resolved": n_resolved,
        "n_unresolved": len(unresolved),
        "n_in_scope": n_in_scope,
        "n_counterexamples": len(bad),
        "categories": {k: v for k, v in cats.items() if v},
        "flow_ends": {k: v for k, v in flow_ends.items() if v},
        "models": sorted({items[i].model_label + f" N={items[i].candidate.N}" for i in idx}),
        "flows_by_model": dict(sorted(by_model.items())),
        "targets": sorted({items[i].target_key for i in idx}),
        "_bad": bad,
    }
    if regime == "E2":
        near = [dp for dp in spurious if dp.material_order() is None]
        out["near_consistent"] = {
            "n_distinct": len(near),
            "n_strict_maxima": sum(dp.strict_max for dp in near),
            "n_full_column_rank": sum(dp.full_column_rank for dp in near),
            "n_reached_by_flows": sum(dp.n_flows > 0 for dp in near),
            "n_flows": sum(dp.n_flows for dp in near),
        }
    return out


def _point_row(dp: DistinctPoint, items: Sequence[Item], fps: Sequence[FixedPoint | None]) -> dict[str, Any]:
    ref = items[dp.members[0]]
    fp = fps[dp.members[0]]
    assert fp is not None
    k = dp.material_order()
    return {
        "regime": dp.regime,
        "model": dp.model_label,
        "family": ref.candidate.family,
        "N": dp.N,
        "P": dp.P,
        "target": dp.target_key,
        "kind": dp.kind,
        "n_members": len(dp.members),
        "n_flows": dp.n_flows,
        "origins": list(dp.origins),
        "lowest_material_order": k,
        "lowest_order": fp.lowest_order,
        "material_ratios": list(dp.ratios[1:]),
        "residual_order_norms": fp.residual_order_norms[1:].tolist(),
        "kl": fp.kl,
        "saddle": dp.saddle,
        "n_unstable": fp.n_unstable,
        "n_neutral": fp.n_neutral,
        "largest_eigenvalue": float(fp.hessian_eigenvalues[-1]),
        "hessian_tol": fp.hessian_tol,
        "strict_max": dp.strict_max,
        "rank": fp.rank,
        "full_column_rank": dp.full_column_rank,
        "spread": dp.spread,
        "case": ref.candidate.case(),
        "hessian_eigenvalues": fp.hessian_eigenvalues.tolist(),
    }


def _counterexample(dp: DistinctPoint, row: Mapping[str, Any], k_low: int, seed: int) -> Counterexample:
    k = dp.material_order()
    assert k is not None
    crit = " and ".join(
        c for c, on in (("(a)", dp.structured[k]), ("(b) reached by a flow", dp.n_flows > 0)) if on
    )
    return Counterexample(
        description=(
            f"{dp.regime} {crit}: distinct spurious point ({len(dp.members)} representative(s), "
            f"{dp.n_flows} flow end(s)) materially inconsistent from order {k} <= {k_low} "
            f"(|r_{k}| / ref_{k} = {dp.ratios[k]:.3g} >= {MATERIAL_FRACTION}) with no unstable Hessian "
            f"direction at {'every' if dp.saddle == 'no' else 'some'} representative (largest eigenvalue "
            f"{row['largest_eigenvalue']:.3g}, band {row['hessian_tol']:.1g})"
        ),
        case={**row["case"], "regime": dp.regime, "target": dp.target_key, "k_low": k_low},
        value=float(dp.ratios[k]),
        seed=seed,
    )


def evaluate(
    items: Sequence[Item],
    *,
    seed: int,
    conditions: Mapping[str, Any],
    k_low: int,
    alt_k_low: int | None = None,
    hessian: HessianFn = exact_hessian,
    margin_min: float,
    statement: str,
    tolerances: Mapping[str, float],
) -> Verdict:
    """Evaluate C6 on ``items`` (the real run and the negative controls alike; module docstring).

    Parameters
    ----------
    items
        The candidates with their regimes and target keys.
    seed
        Run seed (probe directions, counterexample provenance).
    conditions
        Recorded in the verdict.
    k_low, alt_k_low
        The primary reading and, optionally, the alternative one (evaluated in ``E1``).
    hessian
        Hessian used to classify (a negative control substitutes a wrong one).
    margin_min
        ``hessian_margin_min``.
    statement, tolerances
        The claim's statement and named tolerances, recorded in the verdict.
    """
    if not items:
        raise ValueError("evaluate needs at least one item")
    fps = [classified(it.candidate, hessian) for it in items]
    structure: dict[tuple[int, str], np.ndarray] = {}
    for it in items:
        key = (it.candidate.N, it.target_key)
        if key not in structure:
            structure[key] = target_structure(it.candidate.q)
    dps, separation = distinct_points(items, fps, structure)
    represented = _Represented(seed)
    regimes = {r: _regime(r, items, fps, dps, k_low, represented, margin_min) for r in REGIMES}
    alt = (
        _regime("E1", items, fps, dps, alt_k_low, represented, margin_min) if alt_k_low is not None else None
    )
    rows = {id(dp): _point_row(dp, items, fps) for dp in dps}
    counterexamples = [
        _counterexample(dp, rows[id(dp)], k_low, seed) for r in ("E1", "E2") for dp, _ in regimes[r]["_bad"]
    ]
    if alt is not None:
        counterexamples += [_counterexample(dp, rows[id(dp)], alt_k_low, seed) for dp, _ in alt["_bad"]]  # type: ignore[arg-type]
    e1 = Status(regimes["E1"]["status"])
    conds: list[str] = []
    if regimes["E2"]["status"] == Status.FAILS.value:
        conds.append("E2 (same-size teacher-student) fails")
    if alt is not None and alt["status"] == Status.FAILS.value:
        conds.append(f"E1 under the reading k_low = {alt_k_low} fails")
    if e1 is Status.HOLDS and conds:
        status = Status.HOLDS_UNDER_CONDITIONS
    else:
        status = e1
    for r in list(regimes.values()) + ([alt] if alt is not None else []):
        r.pop("_bad")
    for dp in dps:
        fp = fps[dp.members[0]]
        assert fp is not None
        if dp.kind == "spurious" and dp.saddle != "yes" and fp.n_neutral > 0:
            rows[id(dp)]["higher_order_probe"] = ascent_probe(items[dp.members[0]], fp, seed)
    evidence = {
        "headline": _headline(regimes, alt, alt_k_low, conds),
        "regimes": regimes,
        "reading_alternative": alt,
        "conditions_failing": conds,
        "points": [rows[id(dp)] for dp in dps],
        "materiality": {
            "fraction": MATERIAL_FRACTION,
            "rule": "|r_k| >= fraction * s_k (s_k: structure_at_order(q, k); max_j s_j where s_k has none)",
        },
        "merge": {
            "rule": "same model and target, |J1 - J2|_inf <= rtol * max(1, |J1|_inf)",
            "rtol": MERGE_RTOL,
        }
        | separation,
        "flow_points": [
            point_row(it.candidate, fp) | {"regime": it.regime}
            for it, fp in zip(items, fps, strict=True)
            if it.candidate.origin == "flow"
        ],
    }
    for fr in evidence["flow_points"]:
        fr.pop("hessian_eigenvalues", None)
    return Verdict(
        claim="C6",
        statement=statement,
        status=status,
        conditions=dict(conditions),
        evidence=evidence,
        tolerances=dict(tolerances),
        counterexamples=tuple(counterexamples[:20]),
    )


def _mostly_unresolved(regime: Mapping[str, Any]) -> str:
    """The models of a regime with more than half their flows unresolved (the status pools them)."""
    worst = [
        f"{m} {row.get('unresolved', 0)}/{sum(row.values())}"
        for m, row in regime.get("flows_by_model", {}).items()
        if 2 * row.get("unresolved", 0) > sum(row.values())
    ]
    return f" (more than half unresolved: {', '.join(worst)})" if worst else ""


def _headline(
    regimes: Mapping[str, Mapping[str, Any]],
    alt: Mapping[str, Any] | None,
    alt_k_low: int | None,
    conds: list[str],
) -> str:
    def one(name: str, r: Mapping[str, Any]) -> str:
        cats = r["categories"]
        return (
            f"{name} {r['status']}: {r['n_spurious_distinct']} distinct spurious point(s) "
            f"({cats.get('saddle', 0)} low-order saddle(s), {r['n_counterexamples']} counterexample(s), "
            f"{cats.get('near-consistent', 0)} near-consistent, {cats.get('high-order', 0)} high-order); "
            f"{r['n_flows']} flows, {r['n_unresolved']} unresolved{_mostly_unresolved(r)}"
        )

    text = "; ".join(one(n, regimes[n]) for n in ("E1", "E2"))
    near = regimes["E2"].get("near_consistent", {})
    if near.get("n_distinct"):
        text += f" (E2 near-consistent strict maxima: {near['n_strict_maxima']}/{near['n_distinct']})"
    if alt is not None:
        text += f"; E1 with k_low={alt_k_low}: {alt['status']} ({alt['n_counterexamples']} counterexample(s))"
    return text
