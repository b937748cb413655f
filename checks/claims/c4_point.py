r"""Claim C4, one point: the criteria at a point offered as data-consistent (see :mod:`.c4_stability`).

What is measured at each point (:func:`dsb_verifier.theory.dynamics.stability.spectrum`,
:func:`dsb_verifier.theory.dynamics.stability.invariance_slopes`) and how each criterion
comes out ``pass``, ``fail`` or ``undetermined``; the status logic and the points of the
real run are documented in :mod:`dsb_verifier.checks.claims.c4_stability`. KL slopes are
those of the cancellation-free :math:`\tfrac12\mathrm{Var}_q(\Delta u)` (docs/theory.md §7,
"Slopes and floors"); the direct KL's slope is reported as a second route.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from dsb_verifier.theory.dynamics.stability import (
    BASE_FACTOR,
    NEUTRAL_FACTOR,
    RANK_FACTOR,
    SLOPE_FLOOR_FACTOR,
    HessianSpectrum,
    InvarianceSlopes,
    invariance_slopes,
    spectrum,
)
from dsb_verifier.theory.models import EnergyModel

__all__ = ["EPS_GRID", "FIT_POINTS", "STATEMENT", "TOLERANCES", "Point"]

STATEMENT = (
    "At a data-consistent point the Hessian of L in theta equals -A^T F A (the residual term "
    "vanishes): no direction is unstable, the neutral subspace is ker A, and along it "
    "|J(theta*+eps v) - J*| = O(eps^2) and KL(q||p) = O(eps^4), versus O(eps) and O(eps^2) "
    "along stable directions."
)

#: Named tolerances of this check (see the module docstring for how each is used).
TOLERANCES: dict[str, float] = {
    "hessian_identity_rel": 1e-11,
    "neutral_factor": NEUTRAL_FACTOR,
    "rank_factor": RANK_FACTOR,
    "classification_margin_min": 10.0,
    "principal_angle_max": 1e-6,
    "slope_floor_factor": SLOPE_FLOOR_FACTOR,
    "kl_base_factor": BASE_FACTOR,
    "neutral_dJ_slope_lo": 1.8,
    "neutral_dJ_slope_hi": 2.2,
    "neutral_kl_slope_lo": 3.6,
    "neutral_kl_slope_hi": 4.4,
    "stable_dJ_slope_lo": 0.9,
    "stable_dJ_slope_hi": 1.1,
    "stable_kl_slope_lo": 1.8,
    "stable_kl_slope_hi": 2.2,
    "slope_bend_max": 0.1,
    "flow_kl_max": 1e-10,
    "polish_J_abs": 1e-13,
}

#: Step sizes of the invariance test (half decades).
EPS_GRID: np.ndarray = np.logspace(-8.0, -1.0, 15)

#: Each slope is fitted on the FIT_POINTS smallest step sizes above its rounding floor
#: (two decades): the claim is about eps -> 0, and a weakly stable direction leaves the
#: linear regime at eps ~ |A v| / |d^2 J[v, v]|.
FIT_POINTS = 5

#: Teacher scales are the profile's initialisation scales inside this range.
_CRITERIA = ("identity", "no_unstable", "neutral_is_ker", "slopes_neutral", "slopes_stable")
_PASS, _FAIL, _UNDET = "pass", "fail", "undetermined"


@dataclass(frozen=True)
class Point:
    """A (model, theta, target) triple offered to :func:`evaluate` as a data-consistent point."""

    model: EnergyModel
    theta: np.ndarray
    q: np.ndarray
    case: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.theta.shape != (self.model.n_params,) or self.q.shape != (2**self.model.n_visible,):
            raise ValueError(f"point {self.case} has theta or q of the wrong shape for {self.model!r}")


# ---- one point -----------------------------------------------------------------------------
def _in(x: float, name: str) -> bool:
    return TOLERANCES[f"{name}_lo"] <= x <= TOLERANCES[f"{name}_hi"]


def _slope_outcome(s: InvarianceSlopes, kind: str) -> str:
    if not (np.isfinite(s.slope_dJ) and np.isfinite(s.slope_kl_var)):
        return _UNDET
    if max(s.dJ_bend, s.kl_var_bend) > TOLERANCES["slope_bend_max"]:
        return _UNDET  # not one power law over the window: a crossover, not an order
    ok = _in(s.slope_dJ, f"{kind}_dJ_slope") and _in(s.slope_kl_var, f"{kind}_kl_slope")
    return _PASS if ok else _FAIL


def _directions(sp: HessianSpectrum, rng: np.random.Generator, n_neutral: int) -> dict[str, list[np.ndarray]]:
    """Seeded unit vectors of ker A, and the most stable and median stable eigenvectors."""
    out: dict[str, list[np.ndarray]] = {"neutral": [], "stable": []}
    if sp.dim_kernel > 0:
        for _ in range(n_neutral):
            v = sp.kernel @ rng.standard_normal(sp.dim_kernel)
            out["neutral"].append(v / np.linalg.norm(v))
    stable = sp.stable_vectors
    for j in sorted({0, stable.shape[1] // 2}) if stable.shape[1] else []:
        out["stable"].append(stable[:, j])
    return out


def _gap_resolution(sp: HessianSpectrum) -> float:
    """Davis–Kahan resolution ``tol / gap`` of the neutral eigenspace's principal angles."""
    outside = np.abs(sp.eigenvalues[np.abs(sp.eigenvalues) > sp.tol])
    return float(sp.tol / outside.min()) if outside.size else 0.0


def _evaluate_point(point: Point, rng: np.random.Generator, eps_grid: np.ndarray, n_neutral: int) -> dict:
    """Measurements and per-criterion outcomes at one point (plain Python values)."""
    sp = spectrum(point.model, point.theta, point.q)
    M = TOLERANCES["classification_margin_min"]
    tol = sp.tol
    top = float(sp.eigenvalues[-1])
    abs_sorted = np.sort(np.abs(sp.eigenvalues))
    outcome: dict[str, str] = {}
    outcome["identity"] = _PASS if sp.identity_error_rel <= TOLERANCES["hessian_identity_rel"] else _FAIL
    outcome["no_unstable"] = _PASS if top <= tol else _UNDET if top <= M * tol else _FAIL
    resolution = _gap_resolution(sp)
    if sp.rank_margin < M:
        outcome["neutral_is_ker"] = _UNDET  # a singular value of A sits at the rank tolerance
    elif sp.n_neutral == sp.dim_kernel:
        if sp.max_angle <= TOLERANCES["principal_angle_max"]:
            outcome["neutral_is_ker"] = _PASS
        else:
            outcome["neutral_is_ker"] = _UNDET if sp.max_angle <= resolution else _FAIL
    elif sp.n_neutral < sp.dim_kernel:
        # a direction of ker A shows a non-neutral eigenvalue: only rounding at the band edge excuses it
        outcome["neutral_is_ker"] = _UNDET if abs_sorted[sp.dim_kernel - 1] <= M * tol else _FAIL
    else:
        # extra neutral eigenvalues: excused if F and A allow a stable eigenvalue inside the band
        outcome["neutral_is_ker"] = _FAIL if sp.resolves_kernel(M) else _UNDET
    dirs = _directions(sp, rng, n_neutral)
    slopes: dict[str, list[InvarianceSlopes]] = {
        kind: [
            invariance_slopes(point.model, point.theta, point.q, v, eps_grid, max_points=FIT_POINTS)
            for v in vs
        ]
        for kind, vs in dirs.items()
    }
    for kind in ("neutral", "stable"):
        res = [_slope_outcome(s, kind) for s in slopes[kind]]
        outcome[f"slopes_{kind}"] = _FAIL if _FAIL in res else _UNDET if _UNDET in res else _PASS
    values = outcome.values()
    status = _FAIL if _FAIL in values else _UNDET if _UNDET in values else _PASS
    return {
        "case": point.case,
        "status": status,
        "outcome": outcome,
        "identity_rel": sp.identity_error_rel,
        "identity_dense_computed": sp.identity_error_dense is not None,
        "n_stable": sp.n_stable,
        "n_neutral": sp.n_neutral,
        "n_unstable": sp.n_unstable,
        "dim_ker": sp.dim_kernel,
        "rank_A": sp.rank,
        "max_eigenvalue_rel": top / sp.scale if sp.scale > 0 else 0.0,
        "tol_rel": sp.tol / sp.scale if sp.scale > 0 else 0.0,
        "max_angle": sp.max_angle,
        "angle_resolution": resolution,
        "margin": sp.margin,
        "rank_margin": sp.rank_margin,
        "kl": sp.kl,
        "residual_max": sp.residual_max,
        "slopes": {
            kind: [
                {
                    "dJ": s.slope_dJ,
                    "kl": s.slope_kl_var,
                    "kl_direct": s.slope_kl,
                    "bend": max(s.dJ_bend, s.kl_var_bend),
                }
                for s in ss
            ]
            for kind, ss in slopes.items()
        },
        "windows": {
            kind: [{"dJ": s.dJ_range, "kl": s.kl_var_range, "kl_direct": s.kl_range} for s in ss]
            for kind, ss in slopes.items()
        },
        "_spectrum": sp,
        "_curves": slopes,
    }


def _describe(row: dict, criterion: str) -> tuple[str, float]:
    """One-sentence description and the offending value of a failed criterion."""
    if criterion == "identity":
        return (
            f"|H + A^T F A| relative to its rounding scale = {row['identity_rel']:.3g} exceeds "
            f"{TOLERANCES['hessian_identity_rel']:.0e}",
            row["identity_rel"],
        )
    if criterion == "no_unstable":
        return (
            f"{row['n_unstable']} unstable direction(s); largest eigenvalue / max|lambda| = "
            f"{row['max_eigenvalue_rel']:.3g}",
            row["max_eigenvalue_rel"],
        )
    if criterion == "neutral_is_ker":
        return (
            f"neutral eigenspace (dim {row['n_neutral']}) is not ker A (dim {row['dim_ker']}); "
            f"largest principal angle {row['max_angle']:.3g} rad",
            float(abs(row["n_neutral"] - row["dim_ker"]) or row["max_angle"]),
        )
    kind = criterion.split("_")[1]
    bad = [
        s
        for s in row["slopes"][kind]
        if not (_in(s["dJ"], f"{kind}_dJ_slope") and _in(s["kl"], f"{kind}_kl_slope"))
    ]
    s = bad[0] if bad else row["slopes"][kind][0]
    return (
        f"{kind} slopes |dJ| ~ eps^{s['dJ']:.3g}, KL ~ eps^{s['kl']:.3g} outside "
        f"[{TOLERANCES[f'{kind}_dJ_slope_lo']}, {TOLERANCES[f'{kind}_dJ_slope_hi']}] / "
        f"[{TOLERANCES[f'{kind}_kl_slope_lo']}, {TOLERANCES[f'{kind}_kl_slope_hi']}]",
        float(s["kl"]),
    )
