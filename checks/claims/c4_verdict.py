r"""Claim C4, aggregation: family rows, overall status, evidence and counterexamples (see :mod:`.c4_stability`).

:func:`evaluate` serves the real run and the negative controls alike; the status logic
is documented in :mod:`dsb_verifier.checks.claims.c4_stability`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from dsb_verifier.checks.claims._common import seeded_rng
from dsb_verifier.checks.claims.c4_point import (
    _CRITERIA,
    _FAIL,
    _PASS,
    _UNDET,
    EPS_GRID,
    STATEMENT,
    TOLERANCES,
    Point,
    _describe,
    _evaluate_point,
)
from dsb_verifier.checks.claims.progress import Tally
from dsb_verifier.checks.verdict import Counterexample, Status, Verdict, decide, jsonable
from dsb_verifier.theory.dynamics.stability import HessianSpectrum, InvarianceSlopes

__all__ = ["evaluate"]


# ---- aggregation -----------------------------------------------------------------------------
def _span(values: list[float]) -> list[float] | None:
    vals = [v for v in values if np.isfinite(v)]
    return [min(vals), max(vals)] if vals else None


def _family_row(family: str, rows: list[dict]) -> dict:
    def slopes(kind: str, q: str) -> list[float]:
        return [s[q] for r in rows for s in r["slopes"][kind]]

    statuses = [r["status"] for r in rows]
    if _FAIL in statuses:
        status = "fails"
    elif all(st == _UNDET for st in statuses):
        status = "inconclusive"
    else:
        status = "holds"
    return {
        "family": family,
        "status": status,
        "n_points": len(rows),
        "n_flow_points": sum(r["case"].get("origin") == "flow" for r in rows),
        "N": sorted({r["case"]["N"] for r in rows}),
        "P": sorted({r["case"]["P"] for r in rows}),
        "teacher_scales": sorted({r["case"]["teacher_scale"] for r in rows if "teacher_scale" in r["case"]}),
        "max_identity_rel": max(r["identity_rel"] for r in rows),
        "neutral_tol_rel": _span([r["tol_rel"] for r in rows]),
        "n_stable": sum(r["n_stable"] for r in rows),
        "n_neutral": sum(r["n_neutral"] for r in rows),
        "n_unstable": sum(r["n_unstable"] for r in rows),
        "dim_ker": sum(r["dim_ker"] for r in rows),
        "neutral_equals_ker_points": sum(r["n_neutral"] == r["dim_ker"] for r in rows),
        "max_principal_angle": max(r["max_angle"] for r in rows),
        "min_margin": min(r["margin"] for r in rows),
        "max_kl_at_point": max(r["kl"] for r in rows),
        "slope_neutral_dJ": _span(slopes("neutral", "dJ")),
        "slope_neutral_kl": _span(slopes("neutral", "kl")),
        "slope_stable_dJ": _span(slopes("stable", "dJ")),
        "slope_stable_kl": _span(slopes("stable", "kl")),
        "n_failed_points": statuses.count(_FAIL),
        "n_undetermined_points": statuses.count(_UNDET),
        "undetermined_by_teacher_scale": {
            str(sc): sum(r["status"] == _UNDET and r["case"].get("teacher_scale") == sc for r in rows)
            for sc in sorted({r["case"]["teacher_scale"] for r in rows if "teacher_scale" in r["case"]})
        },
    }


def _figure_data(rows: list[dict]) -> dict:
    """Spectra of one point per family and the invariance curves of one point with ker A != 0."""
    spectra, seen = [], set()
    for r in rows:
        fam = r["case"]["family"]
        if fam in seen:
            continue
        seen.add(fam)
        sp: HessianSpectrum = r["_spectrum"]
        scale = sp.scale if sp.scale > 0 else 1.0
        spectra.append(
            {
                "label": f"{fam} (N={r['case']['N']}, P={r['case']['P']}, dim ker A={sp.dim_kernel})",
                "eigenvalues_rel": (sp.eigenvalues / scale).tolist(),
                "tol_rel": sp.tol / scale,
            }
        )
    curves: dict[str, Any] = {}
    pick = next((r for r in rows if r["_curves"]["neutral"] and r["_curves"]["stable"]), None)
    if pick is not None:
        c = pick["case"]
        curves["label"] = f"{c['family']} N={c['N']} P={c['P']} ({c.get('origin', 'teacher')})"
        for kind in ("neutral", "stable"):
            s: InvarianceSlopes = pick["_curves"][kind][0]
            curves[kind] = {
                "eps": s.eps.tolist(),
                "dJ": s.dJ.tolist(),
                "kl": s.kl_var.tolist(),
                "kl_direct": s.kl.tolist(),
                "kl_base": s.kl_base,
                "kl_direct_window": s.kl_window.tolist(),
                "slope_kl_direct": s.slope_kl,
                "dJ_floor": s.dJ_floor,
                "kl_floor": s.kl_var_floor,
                "dJ_window": s.dJ_window.tolist(),
                "kl_window": s.kl_var_window.tolist(),
                "slope_dJ": s.slope_dJ,
                "slope_kl": s.slope_kl_var,
            }
    return {"spectra": spectra, "curves": curves}


def _headline(rows: list[dict]) -> str:
    def fmt(span: list[float] | None) -> str:
        if span is None:
            return "n/a"
        lo, hi = f"{span[0]:.2f}", f"{span[1]:.2f}"
        return lo if lo == hi else f"{lo}–{hi}"

    def slopes(kind: str, q: str) -> str:
        return fmt(_span([s[q] for r in rows for s in r["slopes"][kind]]))

    n_undet = sum(r["status"] == _UNDET for r in rows)
    decided = [r for r in rows if r["outcome"]["neutral_is_ker"] != _UNDET]
    return (
        f"{len(rows)} points ({n_undet} undetermined); "
        f"|H+AᵀFA|/|H| ≤ {max(r['identity_rel'] for r in rows):.0e}; "
        f"{sum(r['n_unstable'] for r in rows)} unstable; "
        f"#neutral = dim ker A at {sum(r['n_neutral'] == r['dim_ker'] for r in decided)}/{len(decided)}, "
        f"angle ≤ {max((r['max_angle'] for r in decided), default=0.0):.0e}; "
        f"slopes ker A: ΔJ {slopes('neutral', 'dJ')}, KL {slopes('neutral', 'kl')}; "
        f"stable: ΔJ {slopes('stable', 'dJ')}, KL {slopes('stable', 'kl')}"
    )


def evaluate(
    points: Sequence[Point],
    *,
    seed: int,
    conditions: Mapping[str, Any],
    eps_grid: np.ndarray = EPS_GRID,
    n_neutral_directions: int = 2,
    tally: Tally | None = None,
) -> Verdict:
    """Evaluate C4 at ``points`` offered as data-consistent (the real run and the controls).

    Parameters
    ----------
    points
        The points; each ``case`` must hold ``family``, ``N``, ``P`` and ``index``
        (``index`` seeds the random neutral directions).
    seed
        Run seed (replays the directions and names the counterexamples).
    conditions
        Recorded in the verdict.
    eps_grid
        Step sizes of the invariance test.
    n_neutral_directions
        Random unit vectors of ``ker A`` tested per point.
    tally
        Steps once as each point's evaluation completes (progress only; the verdict does not
        depend on it); None: no counting.
    """
    if not points:
        raise ValueError("evaluate needs at least one point")
    rows = []
    for pt in points:
        c = pt.case
        rng = seeded_rng(seed, "c4-directions", str(c["family"]), int(c["N"]), int(c["index"]))
        rows.append(_evaluate_point(pt, rng, eps_grid, n_neutral_directions))
        if tally is not None:
            tally.step()
    failures: list[Counterexample] = []
    for crit in _CRITERIA:  # one pass per criterion, so the first counterexamples cover each kind
        for r in rows:
            if r["outcome"][crit] == _FAIL:
                desc, value = _describe(r, crit)
                failures.append(
                    Counterexample(
                        description=f"{crit}: {desc}", case=jsonable(r["case"]), value=value, seed=seed
                    )
                )
    families = list(dict.fromkeys(r["case"]["family"] for r in rows))
    fam_rows = [_family_row(f, [r for r in rows if r["case"]["family"] == f]) for f in families]
    decisive = {fr["family"]: fr["status"] == "holds" for fr in fam_rows if fr["status"] != "inconclusive"}
    if not failures:
        inconclusive = any(fr["status"] == "inconclusive" for fr in fam_rows)
        status = Status.INCONCLUSIVE if inconclusive else Status.HOLDS
    else:
        status = decide(decisive)
    evidence = {
        "headline": _headline(rows),
        "rows": fam_rows,
        "criteria": {
            crit: {o: sum(r["outcome"][crit] == o for r in rows) for o in (_PASS, _FAIL, _UNDET)}
            for crit in _CRITERIA
        },
        "max_identity_rel": max(r["identity_rel"] for r in rows),
        "counts": {k: sum(r[k] for r in rows) for k in ("n_stable", "n_neutral", "n_unstable", "dim_ker")},
        "max_principal_angle": max(r["max_angle"] for r in rows),
        "max_kl_at_points": max(r["kl"] for r in rows),
        "max_residual_at_points": max(r["residual_max"] for r in rows),
        "eps_grid": [float(eps_grid[0]), float(eps_grid[-1]), len(eps_grid)],
        "fit_windows": _window_summary(rows),
        "kl_routes": _kl_routes(rows),
        "figure_data": _figure_data(rows),
    }
    return Verdict(
        claim="C4",
        statement=STATEMENT,
        status=status,
        conditions=jsonable(dict(conditions)),
        evidence=jsonable(evidence),
        tolerances=TOLERANCES,
        counterexamples=tuple(failures[:10]),
    )


def _kl_routes(rows: list[dict]) -> dict:
    """Second route: the direct KL's slope against the cancellation-free one, where both are resolved."""
    pairs = [
        (s["kl"], s["kl_direct"])
        for r in rows
        for kind in ("neutral", "stable")
        for s in r["slopes"][kind]
        if np.isfinite(s["kl"]) and np.isfinite(s["kl_direct"])
    ]
    n_dirs = sum(len(r["slopes"][k]) for r in rows for k in ("neutral", "stable"))
    return {
        "n_directions": n_dirs,
        "n_direct_resolved": len(pairs),
        "max_abs_slope_difference": max((abs(a - b) for a, b in pairs), default=None),
    }


def _window_summary(rows: list[dict]) -> dict:
    """Smallest and largest eps used by the fits, per kind of direction and quantity."""
    out: dict[str, list[float] | None] = {}
    for kind in ("neutral", "stable"):
        for q in ("dJ", "kl"):
            spans = [w[q] for r in rows for w in r["windows"][kind] if w[q] is not None]
            out[f"{kind}_{q}"] = [min(s[0] for s in spans), max(s[1] for s in spans)] if spans else None
    return out
