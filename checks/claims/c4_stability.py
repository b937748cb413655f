r"""Claim C4 — stability around data-consistent points.

Statement tested (docs/theory.md §5, C4): at a data-consistent point the Hessian of
``L`` in ``theta`` equals :math:`-A^\top F A` exactly, so every direction is stable
(eigenvalue < 0) or neutral (= 0); the neutral subspace is ``ker A``, and along it
:math:`|J(\theta^*+\varepsilon v) - J^*| = O(\varepsilon^2)` and
:math:`KL(q\|p) = O(\varepsilon^4)`, against :math:`O(\varepsilon)` and
:math:`O(\varepsilon^2)` along stable directions.

Points (all data-consistent by construction, ``q = p_theta*``):

* teacher–student: a random teacher of each family is its own data-consistent point —
  over-parameterised RBMs (hidden spins and bits, ``N = 3..``, ``M in {N, N+1}``, so
  ``P > 2^N - 1`` and ``ker A`` is nontrivial), tanh networks with one and two layers,
  and the direct and pairwise truncated models (``A`` injective, ``ker A = {0}``), at the
  profile's initialisation scales within ``[0.03, 3]`` used as teacher scales;
* flow end points: a student of the same family trained by gradient flow on a teacher's
  target; kept when the flow converged to :math:`KL \le` ``flow_kl_max``, then moved onto
  the data-consistent set by minimum-norm Gauss–Newton steps on ``J(theta) = J(q)``
  (the displacement, ~1e-4 for a flow ending at KL ~ 1e-12, is recorded), so that ``p = q``
  to rounding.

The SAME :func:`evaluate` runs on the points and on the negative controls. Per point
(:func:`dsb_verifier.theory.dynamics.stability.spectrum`, :func:`dsb_verifier.theory.dynamics.stability.invariance_slopes`):

1. ``identity`` — :math:`|H + A^\top F A|` by the covariance route (relative to
   :math:`\max|\lambda|`) and, for ``N <= 8``, by the dense-Fisher route (relative to
   :math:`\max(\max|\lambda|, \sigma_{\max}(A)^2)`, the rounding scale of ``F``'s entries;
   :attr:`HessianSpectrum.identity_error_rel`) must be ``<= hessian_identity_rel``.
2. ``no_unstable`` — no eigenvalue above the neutral band ``tol`` (named in
   :mod:`dsb_verifier.theory.dynamics.stability`).
3. ``neutral_is_ker`` — number of neutral eigenvalues ``== dim ker A`` and the largest
   principal angle between the neutral eigenspace and ``ker A`` ``<= principal_angle_max``.
4. ``slopes_neutral`` — along ``n_neutral_directions`` seeded random unit vectors of
   ``ker A``: slopes of ``|dJ|`` and ``KL`` inside their named windows (about 2 and 4).
5. ``slopes_stable`` — along the most stable and the median stable eigenvector: slopes in
   their windows (about 1 and 2).

Slopes are fitted on the :data:`FIT_POINTS` smallest step sizes of :data:`EPS_GRID` whose
value is above its rounding floor (:func:`dsb_verifier.theory.dynamics.stability.invariance_slopes`).

Status logic. Each criterion at each point is ``pass``, ``fail`` or ``undetermined``;
``M`` is ``classification_margin_min``:

* ``identity`` passes or fails.
* ``no_unstable`` passes if the largest eigenvalue is ``<= tol``, is undetermined if it
  lies in ``(tol, M tol]`` (rounding-compatible), fails above ``M tol``.
* ``neutral_is_ker`` is undetermined if a singular value of ``A`` lies within a factor
  ``M`` of the rank tolerance. Otherwise, with equal counts it passes if the largest
  principal angle is ``<= principal_angle_max``, is undetermined if it is larger but
  within the Davis–Kahan resolution ``tol / gap`` of the computed neutral eigenspace
  (``gap`` the smallest non-neutral ``|lambda|``), and fails above both. With fewer
  neutral eigenvalues than ``dim ker A`` it fails unless the ``dim ker A``-th smallest
  ``|lambda|`` is within ``M tol`` (then undetermined). With more, it fails when
  :meth:`HessianSpectrum.resolves_kernel` (``lambda_min(F) sigma_rank(A)^2 > M tol``: every
  direction that ``A`` resolves must give a stable eigenvalue beyond the band), and is
  undetermined otherwise (float64 cannot resolve such a weakly stable direction in ``H``).
* a slope criterion is undetermined when a fit window has fewer than 3 points above its
  rounding floor, or when a local slope inside the window deviates from the fitted one by
  more than ``slope_bend_max`` (the window straddles a crossover, e.g. a weakly stable
  direction whose KL turns from :math:`\tfrac12|\lambda|\varepsilon^2` to
  :math:`O(\varepsilon^4)` at :math:`\varepsilon^* \sim \sqrt{|\lambda|}` below the rounding
  floor); it fails when a slope is outside its window, and passes otherwise.

A point fails if any criterion fails, is undetermined if none fails and some is
undetermined, and passes otherwise. A family (the condition reported in
``evidence.rows``) fails if any of its points fails, is inconclusive if every one of its
points is undetermined, and holds otherwise; undetermined points of a holding family are
counted in its row and in the headline, as C2 counts its unfinished flows. Overall:
``holds`` if every family holds; ``inconclusive`` if no family fails and some is
inconclusive; if some family fails, ``fails`` when every family with a decisive outcome
fails and ``holds-under-conditions`` when some decisive family holds (inconclusive
families are listed, not counted). Data-consistency itself (``KL`` and ``max |r|`` at the
point) is reported, not tested: a point wrongly passed off as data-consistent must be
caught by the claim's consequences, which is what negative control (a) checks.

Negative controls (must come out ``fails``): (a) ``perturbed-teacher`` — an RBM teacher
moved by 0.05 in a random direction but still paired with the teacher's target, where
the residual term of the Hessian no longer vanishes; (a') ``spurious-fields-matching`` —
:meth:`RBM.fields_matching` of a target with pairwise structure, a spurious stationary
point (a saddle); (b) ``wrong-jacobian`` — :class:`dsb_verifier.checks.claims.controls.WrongJacobian`, whose
``A`` has its subsets bit-reversed, so :math:`-A^\top F A \ne H`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from dsb_verifier import theory as T
from dsb_verifier.checks.claims._common import seeded_rng
from dsb_verifier.checks.claims.controls import WrongJacobian
from dsb_verifier.checks.profiles import Profile
from dsb_verifier.checks.verdict import (
    ClaimReport,
    ControlResult,
    Counterexample,
    Status,
    Verdict,
    decide,
    jsonable,
)
from dsb_verifier.theory.dynamics.flow import integrate_flow
from dsb_verifier.theory.dynamics.stability import (
    NEUTRAL_FACTOR,
    RANK_FACTOR,
    SLOPE_FLOOR_FACTOR,
    HessianSpectrum,
    InvarianceSlopes,
    invariance_slopes,
    spectrum,
)
from dsb_verifier.theory.models import RBM, DirectModel, EnergyModel, TanhNetwork, TruncatedIsing

__all__ = ["EPS_GRID", "FIT_POINTS", "STATEMENT", "TOLERANCES", "Point", "evaluate", "figures", "run"]

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
_TEACHER_SCALE_RANGE = (0.03, 3.0)

#: Horizon of the flows whose end points are tested (LSODA is stiff-stable: ~0.5 s each).
_FLOW_T_MAX = 1e5

#: Scale of the perturbation that makes negative control (a).
_PERTURBATION = 0.05

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
    if not (np.isfinite(s.slope_dJ) and np.isfinite(s.slope_kl)):
        return _UNDET
    if max(s.dJ_bend, s.kl_bend) > TOLERANCES["slope_bend_max"]:
        return _UNDET  # not one power law over the window: a crossover, not an order
    return _PASS if _in(s.slope_dJ, f"{kind}_dJ_slope") and _in(s.slope_kl, f"{kind}_kl_slope") else _FAIL


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
            kind: [{"dJ": s.slope_dJ, "kl": s.slope_kl, "bend": max(s.dJ_bend, s.kl_bend)} for s in ss]
            for kind, ss in slopes.items()
        },
        "windows": {kind: [{"dJ": s.dJ_range, "kl": s.kl_range} for s in ss] for kind, ss in slopes.items()},
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
                "kl": s.kl.tolist(),
                "dJ_floor": s.dJ_floor,
                "kl_floor": s.kl_floor,
                "dJ_window": s.dJ_window.tolist(),
                "kl_window": s.kl_window.tolist(),
                "slope_dJ": s.slope_dJ,
                "slope_kl": s.slope_kl,
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
    """
    if not points:
        raise ValueError("evaluate needs at least one point")
    rows = []
    for pt in points:
        c = pt.case
        rng = seeded_rng(seed, "c4-directions", str(c["family"]), int(c["N"]), int(c["index"]))
        rows.append(_evaluate_point(pt, rng, eps_grid, n_neutral_directions))
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


def _window_summary(rows: list[dict]) -> dict:
    """Smallest and largest eps used by the fits, per kind of direction and quantity."""
    out: dict[str, list[float] | None] = {}
    for kind in ("neutral", "stable"):
        for q in ("dJ", "kl"):
            spans = [w[q] for r in rows for w in r["windows"][kind] if w[q] is not None]
            out[f"{kind}_{q}"] = [min(s[0] for s in spans), max(s[1] for s in spans)] if spans else None
    return out


# ---- the points of the real run ---------------------------------------------------------------
def _sizes(profile: Profile) -> dict[str, list[tuple[int, tuple[int, ...]]]]:
    """(N, widths) per family; RBMs with M in {N, N+1} are over-parameterised for N <= 5."""
    n_nn = range(3, min(profile.max_n_rbm, 5) + 1)
    n_lin = range(3, min(profile.max_n_generic, 6) + 1)
    return {
        "rbm-spin": [(N, (M,)) for N in n_nn for M in (N, N + 1)],
        "rbm-bit": [(N, (M,)) for N in n_nn for M in (N, N + 1)],
        "tanh-1": [(N, (N + 1,)) for N in n_nn],
        "tanh-2": [(N, (N, N)) for N in n_nn if N <= 4],
        "direct": [(N, ()) for N in n_lin],
        "truncated-2": [(N, ()) for N in n_lin],
    }


def _build(family: str, N: int, widths: tuple[int, ...]) -> EnergyModel:
    if family in ("rbm-spin", "rbm-bit"):
        return RBM(N, widths[0], hidden=family.split("-")[1])
    if family.startswith("tanh"):
        return TanhNetwork(N, widths)
    if family == "direct":
        return DirectModel(N)
    if family == "truncated-2":
        return TruncatedIsing(N, 2)
    raise ValueError(f"unknown family {family!r}")


def _teacher_scales(profile: Profile) -> list[float]:
    lo, hi = _TEACHER_SCALE_RANGE
    return sorted(s for s in profile.init_scales if lo <= s <= hi) or [1.0]


def _teacher_points(profile: Profile, seed: int) -> list[Point]:
    per = max(1, profile.n_cases // 6)
    points: list[Point] = []
    for family, sizes in _sizes(profile).items():
        for N, widths in sizes:
            model = _build(family, N, widths)
            for scale in _teacher_scales(profile):
                for j in range(per):
                    rng = seeded_rng(seed, "c4-teacher", family, N, *widths, str(scale), j)
                    theta = model.init(rng, scale)
                    case = {
                        "family": family,
                        "N": N,
                        "P": model.n_params,
                        "widths": list(widths),
                        "teacher_scale": scale,
                        "origin": "teacher",
                        "index": len(points),
                    }
                    points.append(Point(model, theta, model.prob(theta), case))
    return points


def _polish(model: EnergyModel, theta: np.ndarray, q: np.ndarray, max_iter: int = 20) -> np.ndarray | None:
    """Minimum-norm Gauss–Newton steps on ``J(theta) = J(q)``; None if it does not reach ``polish_J_abs``."""
    J_q = T.couplings(q)[1:]
    for _ in range(max_iter):
        dJ = J_q - model.couplings(theta)[1:]
        if np.max(np.abs(dJ)) <= TOLERANCES["polish_J_abs"]:
            return theta
        theta = theta + np.linalg.lstsq(model.jacobian(theta), dJ, rcond=None)[0]
    return None


def _flow_points(profile: Profile, seed: int, start: int) -> tuple[list[Point], dict]:
    """Flow end points (N = 3 students of the teacher's family) that converged to KL ~ 0."""
    out: list[Point] = []
    log: dict[str, Any] = {"run": 0, "converged": 0, "used": 0, "t_max": _FLOW_T_MAX, "cases": []}
    for family, widths in (("rbm-spin", (3,)), ("rbm-bit", (3,)), ("tanh-1", (4,))):
        model = _build(family, 3, widths)
        for j in range(max(1, profile.n_inits // 3)):
            rng = seeded_rng(seed, "c4-flow", family, j)
            teacher = model.init(rng, 1.0)
            q = model.prob(teacher)
            tr = integrate_flow(
                model, model.init(rng, 0.5), q, t_max=log["t_max"], gtol=1e-9, n_checkpoints=4
            )
            kl_end = float(T.kl(q, model.prob(tr.theta_end)))
            entry = {"family": family, "flow": j, "status": tr.status, "kl_end": kl_end, "used": False}
            log["run"] += 1
            if kl_end <= TOLERANCES["flow_kl_max"]:
                log["converged"] += 1
                theta = _polish(model, tr.theta_end, q)
                if theta is not None:
                    entry["used"] = True
                    entry["polish_displacement"] = float(np.linalg.norm(theta - tr.theta_end))
                    case = {
                        "family": family,
                        "N": 3,
                        "P": model.n_params,
                        "widths": list(widths),
                        "origin": "flow",
                        "flow_kl_end": kl_end,
                        "index": start + len(out),
                    }
                    out.append(Point(model, theta, q, case))
                    log["used"] += 1
            log["cases"].append(entry)
    return out, log


# ---- negative controls -----------------------------------------------------------------------
def _controls(seed: int, conditions: dict) -> tuple[ControlResult, ...]:
    rng = seeded_rng(seed, "c4-controls")
    model = RBM(3, 3, hidden="spin")
    teacher = model.init(rng, 1.0)
    q = model.prob(teacher)
    xi = rng.standard_normal(model.n_params)
    base = {"family": model.family, "N": 3, "P": model.n_params, "widths": [3], "index": 0}
    specs = (
        (
            "perturbed-teacher",
            f"RBM teacher moved by {_PERTURBATION} in a random direction, still paired with the "
            "teacher's target: not data-consistent, the residual term of the Hessian is nonzero",
            Point(
                model, teacher + _PERTURBATION * xi / np.linalg.norm(xi), q, {**base, "origin": "perturbed"}
            ),
        ),
        (
            "spurious-fields-matching",
            "RBM.fields_matching(q) on an RBM teacher's target (pairwise structure): a spurious "
            "stationary point (W = 0) offered as data-consistent",
            Point(model, model.fields_matching(q), q, {**base, "origin": "fields_matching"}),
        ),
        (
            "wrong-jacobian",
            "WrongJacobian(RBM) at the teacher: A with subsets bit-reversed, so -A^T F A != Hessian",
            Point(
                WrongJacobian(model),
                teacher,
                q,
                {**base, "family": "rbm-spin [WrongJacobian]", "origin": "teacher"},
            ),
        ),
    )
    return tuple(
        ControlResult(
            claim="C4",
            name=name,
            description=desc,
            verdict=evaluate([pt], seed=seed, conditions={**conditions, "control": name}),
        )
        for name, desc, pt in specs
    )


def run(profile: Profile, seed: int) -> ClaimReport:
    """Run C4 under ``profile`` with ``seed``."""
    t0 = time.perf_counter()
    points = _teacher_points(profile, seed)
    flow_points, flow_log = _flow_points(profile, seed, start=len(points))
    points += flow_points
    conditions = {
        "families": list(_sizes(profile)),
        "sizes": {f: [[N, list(w)] for N, w in s] for f, s in _sizes(profile).items()},
        "teacher_scales": _teacher_scales(profile),
        "teachers_per_size_and_scale": max(1, profile.n_cases // 6),
        "n_points": len(points),
        "flows": flow_log,
        "eps_grid": "logspace(-8, -1, 15)",
        "fit_points": FIT_POINTS,
        "n_neutral_directions": 2,
        "stable_directions": "most stable and median stable eigenvectors",
        "seed": seed,
    }
    verdict = evaluate(points, seed=seed, conditions=conditions)
    controls = _controls(seed, {"seed": seed})
    return ClaimReport(verdict=verdict, controls=controls, seconds=time.perf_counter() - t0)


# ---- figures ---------------------------------------------------------------------------------
def figures(report: ClaimReport, fig_dir: Path) -> list[str]:  # pragma: no mutate block
    """Hessian spectra at the data-consistent points and the eps-slopes plot (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = report.verdict.evidence.get("figure_data", {})
    paths: list[str] = []
    spectra = data.get("spectra", [])
    if spectra:
        fig, ax = plt.subplots(figsize=(7.5, 4.5))
        tol = max(s["tol_rel"] for s in spectra)
        for s in spectra:
            lam = np.asarray(s["eigenvalues_rel"], dtype=float)
            ax.plot(np.arange(1, lam.size + 1), lam, marker="o", ms=3, lw=1, label=s["label"])
        ax.set_yscale("symlog", linthresh=1e-16)
        ax.axhspan(-tol, tol, color="0.85", zorder=0, label=f"neutral band ±tol (≤ {tol:.1e})")
        ax.axhline(0.0, color="k", lw=0.5)
        ax.set_xlabel("eigenvalue index (ascending)")
        ax.set_ylabel(r"$\lambda_i / \max|\lambda|$ of Hess $L$ (symlog)")
        ax.set_title("C4: Hessian spectra at data-consistent points")
        ax.legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        path = Path(fig_dir) / "c4_hessian_spectra.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(str(path))
    curves = data.get("curves", {})
    if curves.get("neutral") and curves.get("stable"):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
        for ax, q, name in (
            (axes[0], "dJ", r"$|J(\theta^*+\varepsilon v)-J^*|$"),
            (axes[1], "kl", r"KL$(q\|p)$"),
        ):
            for kind, color in (("neutral", "C0"), ("stable", "C3")):
                c = curves[kind]
                eps, y = np.asarray(c["eps"]), np.asarray(c[q])
                w = np.asarray(c[f"{q}_window"], dtype=bool)
                floor = c[f"{q}_floor"]
                ax.loglog(
                    eps[w], y[w], "o-", color=color, label=f"{kind}: fitted slope {c[f'slope_{q}']:.3f}"
                )
                below = ~w & (y > 0) & (y < floor)
                beyond = ~w & (y >= floor)
                if np.any(below):
                    ax.loglog(eps[below], y[below], "x", color=color, alpha=0.5, label=f"{kind}: below floor")
                if np.any(beyond):
                    ax.loglog(
                        eps[beyond],
                        y[beyond],
                        "o",
                        mfc="none",
                        color=color,
                        alpha=0.6,
                        label=f"{kind}: beyond the {FIT_POINTS}-point fit window",
                    )
                ax.axhline(floor, color=color, ls=":", lw=0.8, label=f"{kind}: rounding floor")
            ax.set_xlabel(r"$\varepsilon$")
            ax.set_ylabel(name)
            ax.legend(fontsize=6.5, loc="lower right")
        fig.suptitle(f"C4: invariance along ker A vs stable directions — {curves.get('label', '')}")
        fig.tight_layout()
        path = Path(fig_dir) / "c4_eps_slopes.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(str(path))
    return paths
