"""Claim C4 status logic, evidence and counterexamples, on hand-built spectra and slopes.

What this pins, beyond the end-to-end runs of tests/test_c4.py and tests/test_claim_evidence.py:

* the per-criterion outcome of one point (module docstring of :mod:`dsb_verifier.checks.claims.c4_stability`), on both
  sides of every boundary: the identity tolerance, the neutral band ``tol`` and ``M tol``, the rank
  margin ``M``, the principal-angle bound and the Davis–Kahan resolution, the ``dim ker A``-th
  smallest ``|lambda|``, ``resolves_kernel(M)``, the closed slope windows and ``slope_bend_max``;
* the complete per-point row, family row, headline, fit-window summary and evidence of
  :func:`~dsb_verifier.checks.claims.c4_stability.evaluate`, the order and cap of its counterexamples, the overall status
  (holds, inconclusive, fails, holds-under-conditions) and the seeded neutral directions;
* the counterexample sentences of each criterion, the sizes, families, teacher scales and teacher
  points of a profile, the polishing onto ``J(theta) = J(q)``, the points of the negative controls and
  of the flows, and the conditions :func:`~dsb_verifier.checks.claims.c4_stability.run` records.

``dsb_verifier.theory.dynamics.stability.spectrum`` and ``invariance_slopes`` are replaced by hand-built
:class:`~dsb_verifier.theory.dynamics.stability.HessianSpectrum` objects and slope records where the numerics are not the
point, so that each boundary can be placed exactly.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks.claims import c4_point, c4_sweep
from dsb_verifier.checks.claims import c4_stability as c4
from dsb_verifier.checks.claims._common import seeded_rng
from dsb_verifier.checks.claims.controls import WrongJacobian
from dsb_verifier.checks.claims.progress import Tally
from dsb_verifier.checks.profiles import get_profile
from dsb_verifier.checks.verdict import ClaimReport, Counterexample, Status, Verdict
from dsb_verifier.theory.dynamics.stability import HessianSpectrum
from dsb_verifier.theory.models import RBM, DirectModel, TanhNetwork, TruncatedIsing

TOL = 1e-6  # neutral band of the hand-built spectra
M = c4.TOLERANCES["classification_margin_min"]
NAN = float("nan")


# ---- hand-built spectra and slopes ----------------------------------------------------------------
def _spec(lam, *, sv=None, rank_tol=1e-9, tol=TOL, ker=None, angles=None, fisher=None, ierr=0.0, dense=None):
    """A consistent HessianSpectrum with eigenvectors e_i; ker A spanned by the e_i listed in ``ker``."""
    lam = np.asarray(lam, dtype=np.float64)
    P = lam.size
    neutral = np.flatnonzero(np.abs(lam) <= tol)
    if sv is None:
        dim = neutral.size if ker is None else len(ker)
        sv = [1.0] * (P - dim) + [0.0] * dim
    sv = np.asarray(sv, dtype=np.float64)
    rank = int(np.sum(sv > rank_tol))
    if ker is None:
        ker = list(neutral[: P - rank]) + [i for i in range(P) if i not in neutral][: P - rank - neutral.size]
    kernel = np.eye(P)[:, sorted(ker)]
    n_angles = min(neutral.size, P - rank)
    return HessianSpectrum(
        eigenvalues=lam,
        eigenvectors=np.eye(P),
        scale=float(np.max(np.abs(lam), initial=0.0)),
        tol=tol,
        n_stable=int(np.sum(lam < -tol)),
        n_neutral=int(neutral.size),
        n_unstable=int(np.sum(lam > tol)),
        identity_error=ierr,
        identity_error_dense=dense,
        fisher_min_eigenvalue=fisher,
        singular_values=sv,
        rank_tol=rank_tol,
        rank=rank,
        kernel=kernel,
        principal_angles=np.zeros(n_angles) if angles is None else np.asarray(angles, dtype=np.float64),
        kl=1e-20,
        residual_max=3e-17,
    )


def _slopes(dJ, kl, dJ_bend=0.0, kl_bend=0.0, dJ_range=(1e-8, 1e-6), kl_range=(1e-6, 1e-4), kl_direct=None):
    """An invariance-slopes record (the attributes the C4 check reads).

    ``kl`` is the cancellation-free (decided) KL slope; ``kl_direct`` the second route's
    (the same by default), with the direct KL's window starting one grid point later.
    """
    eps = c4.EPS_GRID.copy()
    window = np.arange(eps.size) < c4.FIT_POINTS
    direct = kl if kl_direct is None else kl_direct
    return SimpleNamespace(
        eps=eps,
        dJ=eps ** (dJ if np.isfinite(dJ) else 1.0),
        kl_var=eps ** (kl if np.isfinite(kl) else 2.0),
        kl=eps ** (direct if np.isfinite(direct) else 2.0),
        kl_base=0.0,
        dJ_floor=1e-300,
        kl_var_floor=1e-300,
        kl_floor=1e-300,
        dJ_window=window,
        kl_var_window=window,
        kl_window=np.roll(window, 1),
        slope_dJ=dJ,
        slope_kl_var=kl,
        slope_kl=direct,
        dJ_bend=dJ_bend,
        kl_var_bend=kl_bend,
        kl_bend=0.0,
        dJ_range=dJ_range,
        kl_var_range=kl_range,
        kl_range=(eps[1], eps[c4.FIT_POINTS]),
    )


GOOD = {"neutral": [_slopes(2.0, 4.0)], "stable": [_slopes(1.0, 2.0)]}


def _point(sp, slopes=None, *, family="fam", N=1, index=0, **case):
    """A point whose (fake) model carries its spectrum and its slopes per kind of direction."""
    model = SimpleNamespace(n_params=sp.n_params, n_visible=N, sp=sp, slopes=slopes or GOOD)
    case = {"family": family, "N": N, "P": sp.n_params, "index": index, **case}
    return c4.Point(model, np.zeros(sp.n_params), np.full(2**N, 2.0**-N), case)


@pytest.fixture
def fake(monkeypatch):
    """Replace spectrum/invariance_slopes; records every (kind, direction, eps grid, max_points) used."""
    calls: list[Any] = []

    def spectrum(model, theta, q):
        return model.sp

    def invariance_slopes(model, theta, q, v, eps_grid, *, max_points):
        K = model.sp.kernel
        kind = "neutral" if K.shape[1] and np.allclose(K @ (K.T @ v), v) else "stable"
        seen = sum(c[0] == kind and c[4] is model for c in calls)
        calls.append((kind, np.asarray(v), np.asarray(eps_grid), max_points, model))
        table = model.slopes[kind]
        return table[seen % len(table)]

    monkeypatch.setattr(c4_point, "spectrum", spectrum)
    monkeypatch.setattr(c4_point, "invariance_slopes", invariance_slopes)
    return calls


def _outcome(pt, n_neutral=2):
    return c4._evaluate_point(pt, np.random.default_rng(0), c4.EPS_GRID, n_neutral)["outcome"]


# ---- slope outcome, gap resolution, directions ----------------------------------------------------
WINDOWS = {"neutral": ((1.8, 2.2), (3.6, 4.4)), "stable": ((0.9, 1.1), (1.8, 2.2))}


@pytest.mark.parametrize("kind", ["neutral", "stable"])
def test_c4_slope_windows_are_closed_and_a_bend_above_its_maximum_is_undetermined(kind):
    (dlo, dhi), (klo, khi) = WINDOWS[kind]
    mid_d, mid_k = (dlo + dhi) / 2, (klo + khi) / 2
    for d in (dlo, dhi):
        assert c4._slope_outcome(_slopes(d, mid_k), kind) == "pass"
    for k in (klo, khi):
        assert c4._slope_outcome(_slopes(mid_d, k), kind) == "pass"
    for d in (np.nextafter(dlo, 0), np.nextafter(dhi, 9)):
        assert c4._slope_outcome(_slopes(d, mid_k), kind) == "fail"
    for k in (np.nextafter(klo, 0), np.nextafter(khi, 9)):
        assert c4._slope_outcome(_slopes(mid_d, k), kind) == "fail"
    bend = c4.TOLERANCES["slope_bend_max"]
    assert c4._slope_outcome(_slopes(mid_d, mid_k, dJ_bend=bend, kl_bend=bend), kind) == "pass"
    assert c4._slope_outcome(_slopes(mid_d, mid_k, dJ_bend=np.nextafter(bend, 1)), kind) == "undetermined"
    assert c4._slope_outcome(_slopes(mid_d, mid_k, kl_bend=np.nextafter(bend, 1)), kind) == "undetermined"
    # a crossover is undetermined even when the fitted slope is outside its window
    assert c4._slope_outcome(_slopes(9.0, 9.0, kl_bend=0.5), kind) == "undetermined"
    assert c4._slope_outcome(_slopes(NAN, mid_k), kind) == "undetermined"
    assert c4._slope_outcome(_slopes(mid_d, NAN), kind) == "undetermined"
    assert c4._in(dlo, f"{kind}_dJ_slope") and c4._in(dhi, f"{kind}_dJ_slope")
    assert c4._in(klo, f"{kind}_kl_slope") and c4._in(khi, f"{kind}_kl_slope")


def test_c4_gap_resolution_is_tol_over_the_smallest_non_neutral_eigenvalue():
    sp = _spec([-4.0, -0.25, -TOL, 0.0, TOL])  # +-tol are neutral (|lambda| <= tol)
    assert c4._gap_resolution(sp) == TOL / 0.25
    assert c4._gap_resolution(_spec([-4.0, 0.0, 0.5])) == TOL / 0.5  # an unstable one counts too
    assert c4._gap_resolution(_spec([0.0, 0.0])) == 0.0  # nothing outside the band


@pytest.mark.parametrize(("n_stable", "picked"), [(0, []), (1, [0]), (2, [0, 1]), (5, [0, 2])])
def test_c4_directions_are_seeded_kernel_vectors_and_the_most_and_median_stable(n_stable, picked):
    lam = [-float(10 - i) for i in range(n_stable)] + [0.0, 0.0, 0.0]
    sp = _spec(lam)
    dirs = c4._directions(sp, np.random.default_rng(4), 3)
    rng = np.random.default_rng(4)
    assert set(dirs) == {"neutral", "stable"}
    assert len(dirs["neutral"]) == 3
    for v in dirs["neutral"]:
        w = sp.kernel @ rng.standard_normal(3)
        np.testing.assert_allclose(v, w / np.linalg.norm(w), rtol=0, atol=1e-15)
    assert len(dirs["stable"]) == len(picked)
    for v, j in zip(dirs["stable"], picked, strict=True):
        np.testing.assert_array_equal(v, np.eye(n_stable + 3)[:, j])
    injective = c4._directions(_spec([-2.0, -1.0]), np.random.default_rng(4), 3)
    assert injective["neutral"] == [] and len(injective["stable"]) == 2


# ---- one point: the status logic -----------------------------------------------------------------
BASE = [-2.0, -1.0, 0.0, 0.0]  # two stable directions, ker A = span(e_2, e_3)


def test_c4_point_identity_tolerance_is_inclusive(fake):
    rel = c4.TOLERANCES["hessian_identity_rel"]
    assert _outcome(_point(_spec(BASE, ierr=2.0 * rel)))["identity"] == "pass"  # relative to max|lambda| = 2
    assert _outcome(_point(_spec(BASE, ierr=np.nextafter(2.0 * rel, 1))))["identity"] == "fail"


def test_c4_point_unstable_eigenvalue_is_excused_only_within_m_tol(fake):
    for top, expected in ((TOL, "pass"), (M * TOL, "undetermined"), (np.nextafter(M * TOL, 1), "fail")):
        assert _outcome(_point(_spec([*BASE, top], ker=[2, 3])))["no_unstable"] == expected, top
    assert _outcome(_point(_spec([*BASE, 1.0], ker=[2, 3])))["no_unstable"] == "fail"
    assert _outcome(_point(_spec(BASE)))["no_unstable"] == "pass"


def test_c4_point_neutral_is_ker_undetermined_when_a_singular_value_sits_at_the_rank_tolerance(fake):
    decided = _spec(BASE, sv=[1.0, M * 1e-9, 0.0, 0.0], rank_tol=1e-9)
    assert decided.rank_margin == pytest.approx(M) and decided.rank_margin >= M
    assert _outcome(_point(decided))["neutral_is_ker"] == "pass"
    close = _spec(BASE, sv=[1.0, 0.99 * M * 1e-9, 0.0, 0.0], rank_tol=1e-9)
    assert _outcome(_point(close))["neutral_is_ker"] == "undetermined"


def test_c4_point_principal_angle_passes_then_is_excused_by_the_davis_kahan_resolution(fake):
    lam = [-2.0, -0.01, 0.0, 0.0]
    res = TOL / 0.01
    amax = c4.TOLERANCES["principal_angle_max"]
    for angle, expected in (
        (amax, "pass"),
        (np.nextafter(amax, 1), "undetermined"),
        (res, "undetermined"),
        (np.nextafter(res, 1), "fail"),
    ):
        out = _outcome(_point(_spec(lam, angles=[0.0, angle])))
        assert out["neutral_is_ker"] == expected, angle
    # with a wide gap the resolution is below the angle bound: above it, fail
    assert _outcome(_point(_spec(BASE, angles=[0.0, 2 * amax])))["neutral_is_ker"] == "fail"


def test_c4_point_fewer_neutral_eigenvalues_than_dim_ker_fail_unless_at_the_band_edge(fake):
    sv = [1.0, 0.5, 0.0, 0.0]  # dim ker A = 2
    for lam3, expected in ((M * TOL, "undetermined"), (np.nextafter(M * TOL, 1), "fail"), (0.5, "fail")):
        sp = _spec([-2.0, -1.0, -lam3, 0.0], sv=sv, ker=[2, 3])
        assert (sp.n_neutral, sp.dim_kernel) == (1, 2)
        assert _outcome(_point(sp))["neutral_is_ker"] == expected, lam3


def test_c4_point_more_neutral_eigenvalues_than_dim_ker_fail_only_if_a_resolves_the_kernel(fake):
    sv = [1.0, 0.5, 0.0, 0.0]  # rank 2, sigma_rank^2 = 0.25
    for fisher, expected in ((8e-5, "fail"), (2e-5, "undetermined"), (None, "undetermined")):
        sp = _spec([-2.0, 0.0, 0.0, 0.0], sv=sv, ker=[2, 3], fisher=fisher)
        assert (sp.n_neutral, sp.dim_kernel) == (3, 2)
        assert sp.resolves_kernel(M) is (expected == "fail")
        assert _outcome(_point(sp))["neutral_is_ker"] == expected, fisher


@pytest.mark.parametrize(
    ("neutral", "stable", "expected"),
    [
        ([(2.0, 4.0)], [(1.0, 2.0)], ("pass", "pass")),
        ([(2.0, 4.0), (1.0, 2.0)], [(1.0, 2.0), (2.0, 4.0)], ("fail", "fail")),
        ([(2.0, 4.0), (NAN, 4.0)], [(1.0, NAN), (1.0, 2.0)], ("undetermined", "undetermined")),
        ([(1.0, 2.0), (NAN, 4.0)], [(NAN, 2.0), (1.0, 4.0)], ("fail", "fail")),
    ],
)
def test_c4_point_slope_criteria_fail_on_any_direction_and_are_undetermined_otherwise(
    fake, neutral, stable, expected
):
    slopes = {"neutral": [_slopes(*s) for s in neutral], "stable": [_slopes(*s) for s in stable]}
    out = _outcome(_point(_spec(BASE), slopes))
    assert (out["slopes_neutral"], out["slopes_stable"]) == expected


def test_c4_point_status_is_fail_then_undetermined_then_pass(fake):
    assert (
        c4._evaluate_point(_point(_spec(BASE)), np.random.default_rng(0), c4.EPS_GRID, 2)["status"] == "pass"
    )
    undet = _point(_spec([*BASE, M * TOL], ker=[2, 3]))
    assert c4._evaluate_point(undet, np.random.default_rng(0), c4.EPS_GRID, 2)["status"] == "undetermined"
    both = _point(
        _spec([*BASE, M * TOL], ker=[2, 3]), {"neutral": [_slopes(1.0, 2.0)], "stable": GOOD["stable"]}
    )
    assert c4._evaluate_point(both, np.random.default_rng(0), c4.EPS_GRID, 2)["status"] == "fail"


def test_c4_point_row_holds_every_measurement(fake):
    sp = _spec(
        [-4.0, -1.0, 0.0, 0.0, 2e-6], ker=[2, 3], angles=[1e-9, 3e-9], ierr=4e-12, dense=1e-12, fisher=0.1
    )
    slopes = {
        "neutral": [_slopes(2.0, 4.0, dJ_bend=0.01, kl_bend=0.03), _slopes(2.1, 3.9, kl_range=None)],
        "stable": [_slopes(1.0, 2.0, dJ_bend=0.02, kl_bend=0.001), _slopes(0.95, 2.05, dJ_range=None)],
    }
    pt = _point(sp, slopes, family="rbm-spin", N=1, index=3, origin="flow")
    row = c4._evaluate_point(pt, np.random.default_rng(0), c4.EPS_GRID, 2)
    assert set(row) == {
        "case", "status", "outcome", "identity_rel", "identity_dense_computed", "n_stable", "n_neutral",
        "n_unstable", "dim_ker", "rank_A", "max_eigenvalue_rel", "tol_rel", "max_angle", "angle_resolution",
        "margin", "rank_margin", "kl", "residual_max", "slopes", "windows", "_spectrum", "_curves",
    }  # fmt: skip
    assert row["case"] == {"family": "rbm-spin", "N": 1, "P": 5, "index": 3, "origin": "flow"}
    assert row["outcome"] == {
        "identity": "pass",
        "no_unstable": "undetermined",
        "neutral_is_ker": "pass",
        "slopes_neutral": "pass",
        "slopes_stable": "pass",
    }
    assert row["status"] == "undetermined"
    assert row["identity_rel"] == max(4e-12 / 4.0, 1e-12 / 4.0) and row["identity_dense_computed"] is True
    assert (row["n_stable"], row["n_neutral"], row["n_unstable"], row["dim_ker"], row["rank_A"]) == (
        2,
        2,
        1,
        2,
        3,
    )
    assert row["max_eigenvalue_rel"] == 2e-6 / 4.0 and row["tol_rel"] == TOL / 4.0
    assert row["max_angle"] == 3e-9 and row["angle_resolution"] == TOL / 2e-6
    assert row["margin"] == sp.margin and row["rank_margin"] == sp.rank_margin
    assert row["kl"] == 1e-20 and row["residual_max"] == 3e-17
    assert row["slopes"] == {
        "neutral": [
            {"dJ": 2.0, "kl": 4.0, "kl_direct": 4.0, "bend": 0.03},
            {"dJ": 2.1, "kl": 3.9, "kl_direct": 3.9, "bend": 0.0},
        ],
        "stable": [
            {"dJ": 1.0, "kl": 2.0, "kl_direct": 2.0, "bend": 0.02},
            {"dJ": 0.95, "kl": 2.05, "kl_direct": 2.05, "bend": 0.0},
        ],
    }
    direct = (c4.EPS_GRID[1], c4.EPS_GRID[c4.FIT_POINTS])
    assert row["windows"] == {
        "neutral": [
            {"dJ": (1e-8, 1e-6), "kl": (1e-6, 1e-4), "kl_direct": direct},
            {"dJ": (1e-8, 1e-6), "kl": None, "kl_direct": direct},
        ],
        "stable": [
            {"dJ": (1e-8, 1e-6), "kl": (1e-6, 1e-4), "kl_direct": direct},
            {"dJ": None, "kl": (1e-6, 1e-4), "kl_direct": direct},
        ],
    }
    assert row["_spectrum"] is sp
    assert row["_curves"] == {"neutral": slopes["neutral"], "stable": slopes["stable"]}
    # a zero Hessian has no scale: its relative eigenvalue and band are reported as 0
    flat = c4._evaluate_point(_point(_spec([0.0, 0.0], tol=0.0)), np.random.default_rng(0), c4.EPS_GRID, 1)
    assert flat["max_eigenvalue_rel"] == 0.0 and flat["tol_rel"] == 0.0
    assert flat["identity_dense_computed"] is False


# ---- counterexample sentences ---------------------------------------------------------------------
def _described_row(**kw):
    row = {
        "identity_rel": 2.5e-10,
        "n_unstable": 2,
        "max_eigenvalue_rel": 0.125,
        "n_neutral": 3,
        "dim_ker": 2,
        "max_angle": 0.25,
        "slopes": {
            "neutral": [{"dJ": 2.0, "kl": 4.0}, {"dJ": 2.0, "kl": 3.0}, {"dJ": 1.0, "kl": 2.0}],
            "stable": [{"dJ": 1.0, "kl": 2.0}, {"dJ": 1.5, "kl": 2.0}],
        },
    }
    return {**row, **kw}


def test_c4_describe_names_each_failed_criterion_and_its_value():
    row = _described_row()
    assert c4._describe(row, "identity") == (
        "|H + A^T F A| relative to its rounding scale = 2.5e-10 exceeds 1e-11",
        2.5e-10,
    )
    assert c4._describe(row, "no_unstable") == (
        "2 unstable direction(s); largest eigenvalue / max|lambda| = 0.125",
        0.125,
    )
    assert c4._describe(row, "neutral_is_ker") == (
        "neutral eigenspace (dim 3) is not ker A (dim 2); largest principal angle 0.25 rad",
        1.0,
    )
    # with equal dimensions the offending value is the angle
    equal = c4._describe(_described_row(n_neutral=2), "neutral_is_ker")
    assert equal == (
        "neutral eigenspace (dim 2) is not ker A (dim 2); largest principal angle 0.25 rad",
        0.25,
    )
    # the first direction outside its windows is the one described (here only its KL is outside)
    assert c4._describe(row, "slopes_neutral") == (
        "neutral slopes |dJ| ~ eps^2, KL ~ eps^3 outside [1.8, 2.2] / [3.6, 4.4]",
        3.0,
    )
    assert c4._describe(row, "slopes_stable") == (
        "stable slopes |dJ| ~ eps^1.5, KL ~ eps^2 outside [0.9, 1.1] / [1.8, 2.2]",
        2.0,
    )
    # none outside (a failure by another direction's bend cannot occur, but the sentence still reads)
    inside = _described_row(slopes={"neutral": [{"dJ": 2.2, "kl": 3.6}], "stable": []})
    assert c4._describe(inside, "slopes_neutral")[1] == 3.6


# ---- family rows, headline, fit windows -----------------------------------------------------------
def _row(status, *, neutral_is_ker="pass", origin="teacher", scale=None, N=3, P=15, **kw):
    case = {"family": "rbm-spin", "N": N, "P": P, "index": 0, "origin": origin}
    if scale is not None:
        case["teacher_scale"] = scale
    row = {
        "case": case,
        "status": status,
        "outcome": {"neutral_is_ker": neutral_is_ker},
        "identity_rel": 1e-14,
        "tol_rel": 1e-13,
        "n_stable": 7,
        "n_neutral": 8,
        "n_unstable": 0,
        "dim_ker": 8,
        "max_angle": 1e-15,
        "margin": 100.0,
        "kl": 0.0,
        "slopes": {"neutral": [{"dJ": 2.0, "kl": 4.0}], "stable": [{"dJ": 1.0, "kl": 2.0}]},
        "windows": {"neutral": [{"dJ": (1e-8, 1e-6), "kl": (1e-6, 1e-4)}], "stable": []},
    }
    return {**row, **kw}


FAMILY_ROWS = [
    _row("pass", scale=0.3, identity_rel=3e-14, tol_rel=2e-13, margin=50.0, kl=1e-25),
    _row(
        "undetermined",
        scale=1.0,
        N=4,
        P=29,
        n_stable=10,
        n_neutral=17,
        n_unstable=2,
        dim_ker=18,
        max_angle=0.5,
        margin=1.5,
        kl=2e-22,
        slopes={
            "neutral": [{"dJ": NAN, "kl": 4.1}, {"dJ": 1.9, "kl": 3.8}],
            "stable": [{"dJ": 0.95, "kl": 1.9}],
        },
    ),
    _row("fail", origin="flow", identity_rel=2e-9, tol_rel=5e-14, slopes={"neutral": [], "stable": []}),
    _row("pass", scale=1.0, n_neutral=9, dim_ker=9, max_angle=1e-12),
]


def test_c4_family_row_counts_points_by_origin_status_and_teacher_scale():
    rows = [
        _row("pass", scale=0.1),
        _row("undetermined", scale=0.1),
        _row("undetermined", scale=1.0, N=4, P=29),
        _row("undetermined", scale=1.0),
        _row("pass", origin="flow"),
    ]
    fr = c4._family_row("rbm-spin", rows)
    assert fr["status"] == "holds"  # undetermined points of a holding family are counted, not decisive
    assert fr["n_points"] == 5 and fr["n_flow_points"] == 1
    assert fr["N"] == [3, 4] and fr["P"] == [15, 29] and fr["teacher_scales"] == [0.1, 1.0]
    assert fr["n_undetermined_points"] == 3 and fr["n_failed_points"] == 0
    assert fr["undetermined_by_teacher_scale"] == {"0.1": 1, "1.0": 2}
    assert fr["n_neutral"] == 5 * 8 and fr["dim_ker"] == 5 * 8 and fr["neutral_equals_ker_points"] == 5
    assert c4._family_row("rbm-spin", rows[1:4])["status"] == "inconclusive"
    assert c4._family_row("rbm-spin", [*rows, _row("fail", origin="flow")])["status"] == "fails"


def test_c4_family_row_holds_every_tally():
    fr = c4._family_row("rbm-spin", FAMILY_ROWS)
    assert fr == {
        "family": "rbm-spin",
        "status": "fails",
        "n_points": 4,
        "n_flow_points": 1,
        "N": [3, 4],
        "P": [15, 29],
        "teacher_scales": [0.3, 1.0],
        "max_identity_rel": 2e-9,
        "neutral_tol_rel": [5e-14, 2e-13],
        "n_stable": 7 + 10 + 7 + 7,
        "n_neutral": 8 + 17 + 8 + 9,
        "n_unstable": 2,
        "dim_ker": 8 + 18 + 8 + 9,
        "neutral_equals_ker_points": 3,
        "max_principal_angle": 0.5,
        "min_margin": 1.5,
        "max_kl_at_point": 2e-22,
        "slope_neutral_dJ": [1.9, 2.0],
        "slope_neutral_kl": [3.8, 4.1],
        "slope_stable_dJ": [0.95, 1.0],
        "slope_stable_kl": [1.9, 2.0],
        "n_failed_points": 1,
        "n_undetermined_points": 1,
        "undetermined_by_teacher_scale": {"0.3": 0, "1.0": 1},
    }
    assert c4._family_row("rbm-spin", FAMILY_ROWS[:2])["status"] == "holds"
    assert c4._family_row("rbm-spin", FAMILY_ROWS[1:2])["status"] == "inconclusive"
    flow_only = c4._family_row("tanh-1", FAMILY_ROWS[2:3])
    assert flow_only["teacher_scales"] == [] and flow_only["undetermined_by_teacher_scale"] == {}
    assert flow_only["slope_neutral_dJ"] is None and flow_only["slope_stable_kl"] is None
    assert flow_only["family"] == "tanh-1" and flow_only["n_flow_points"] == 1


def test_c4_span_skips_non_finite_values():
    assert c4._span([2.0, NAN, 1.5, float("inf"), 1.75]) == [1.5, 2.0]
    assert c4._span([NAN]) is None and c4._span([]) is None


def test_c4_headline_counts_points_unstable_directions_and_decided_kernels():
    rows = [
        _row("pass", identity_rel=3e-14, max_angle=2e-15),
        _row(
            "undetermined",
            neutral_is_ker="undetermined",
            identity_rel=5e-13,
            n_unstable=1,
            n_neutral=7,
            max_angle=0.5,
            slopes={"neutral": [{"dJ": NAN, "kl": 4.1}], "stable": [{"dJ": 0.95, "kl": 1.9}]},
        ),
        _row(
            "fail",
            neutral_is_ker="fail",
            identity_rel=1e-15,
            n_unstable=2,
            n_neutral=3,
            dim_ker=2,
            max_angle=1e-9,
            slopes={"neutral": [{"dJ": 2.001, "kl": 3.999}], "stable": []},
        ),
    ]
    assert c4._headline(rows) == (
        "3 points (1 undetermined); |H+AᵀFA|/|H| ≤ 5e-13; 3 unstable; "
        "#neutral = dim ker A at 1/2, angle ≤ 1e-09; "
        "slopes ker A: ΔJ 2.00, KL 4.00–4.10; stable: ΔJ 0.95–1.00, KL 1.90–2.00"
    )
    undecided = _row(
        "undetermined", neutral_is_ker="undetermined", max_angle=0.5, slopes={"neutral": [], "stable": []}
    )
    assert c4._headline([undecided]) == (
        "1 points (1 undetermined); |H+AᵀFA|/|H| ≤ 1e-14; 0 unstable; "
        "#neutral = dim ker A at 0/0, angle ≤ 0e+00; "
        "slopes ker A: ΔJ n/a, KL n/a; stable: ΔJ n/a, KL n/a"
    )


def test_c4_window_summary_spans_every_fit_window_per_kind_and_quantity():
    rows = [
        _row("pass"),
        _row(
            "pass",
            windows={
                "neutral": [{"dJ": (1e-7, 1e-5), "kl": None}, {"dJ": (3e-9, 1e-7), "kl": (1e-5, 1e-3)}],
                "stable": [{"dJ": None, "kl": (1e-6, 1e-4)}],
            },
        ),
    ]
    assert c4._window_summary(rows) == {
        "neutral_dJ": [3e-9, 1e-5],
        "neutral_kl": [1e-6, 1e-3],
        "stable_dJ": None,
        "stable_kl": [1e-6, 1e-4],
    }


# ---- evaluate: overall status, evidence, counterexamples, seeded directions ------------------------
def _points():
    """Family a: a passing and an undetermined point; b: two failing points; c: an undetermined point."""
    edge = [*BASE, M * TOL]  # an unstable eigenvalue within M tol: no_unstable undetermined
    return {
        "a0": _point(_spec(BASE), family="a", index=0, teacher_scale=np.float64(0.3)),
        "a1": _point(_spec(edge, ker=[2, 3], angles=[0.0, 2e-7]), family="a", index=1),
        "b2": _point(_spec([*BASE, 1.0], ker=[2, 3], ierr=2e-9), family="b", index=2, origin="flow"),
        "b3": _point(_spec(BASE, ierr=6e-9), family="b", index=3),
        "c4": _point(_spec(edge, ker=[2, 3]), family="c", index=4),
    }


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ("a0", Status.HOLDS),
        ("a0 a1", Status.HOLDS),
        ("a1", Status.INCONCLUSIVE),
        ("a0 c4", Status.INCONCLUSIVE),
        ("b2", Status.FAILS),
        ("b2 c4", Status.FAILS),
        ("a0 b2", Status.HOLDS_UNDER_CONDITIONS),
        ("a0 a1 b2 b3 c4", Status.HOLDS_UNDER_CONDITIONS),
    ],
)
def test_c4_overall_status_from_family_outcomes(fake, names, expected):
    pts = _points()
    v = c4.evaluate([pts[n] for n in names.split()], seed=0, conditions={})
    assert v.status is expected
    assert bool(v.counterexamples) is (expected in (Status.FAILS, Status.HOLDS_UNDER_CONDITIONS))


@pytest.fixture
def mixed(fake):
    pts = _points()
    return c4.evaluate(list(pts.values()), seed=7, conditions={"x": np.int64(1), "label": "mixed"})


def test_c4_evaluate_evidence_holds_every_summary(mixed):
    v = mixed
    assert isinstance(v, Verdict) and v.claim == "C4" and v.statement == c4.STATEMENT
    assert v.status is Status.HOLDS_UNDER_CONDITIONS
    assert v.conditions == {"x": 1, "label": "mixed"}
    assert v.tolerances == c4.TOLERANCES
    ev = v.evidence
    assert set(ev) == {
        "headline", "rows", "criteria", "max_identity_rel", "counts", "max_principal_angle",
        "max_kl_at_points", "max_residual_at_points", "eps_grid", "fit_windows", "kl_routes", "figure_data",
    }  # fmt: skip
    assert [(r["family"], r["status"], r["n_points"]) for r in ev["rows"]] == [
        ("a", "holds", 2),
        ("b", "fails", 2),
        ("c", "inconclusive", 1),
    ]
    assert ev["rows"][0]["n_undetermined_points"] == 1 and ev["rows"][1]["n_flow_points"] == 1
    assert ev["criteria"] == {
        "identity": {"pass": 3, "fail": 2, "undetermined": 0},
        "no_unstable": {"pass": 2, "fail": 1, "undetermined": 2},
        "neutral_is_ker": {"pass": 5, "fail": 0, "undetermined": 0},
        "slopes_neutral": {"pass": 5, "fail": 0, "undetermined": 0},
        "slopes_stable": {"pass": 5, "fail": 0, "undetermined": 0},
    }
    assert ev["max_identity_rel"] == 3e-9
    assert ev["counts"] == {"n_stable": 10, "n_neutral": 10, "n_unstable": 3, "dim_ker": 10}
    assert ev["max_principal_angle"] == 2e-7
    assert ev["max_kl_at_points"] == 1e-20 and ev["max_residual_at_points"] == 3e-17
    assert ev["eps_grid"] == pytest.approx([1e-8, 1e-1, 15], rel=1e-15)  # logspace: last ulp varies by numpy
    assert ev["fit_windows"] == {
        "neutral_dJ": [1e-8, 1e-6],
        "neutral_kl": [1e-6, 1e-4],
        "stable_dJ": [1e-8, 1e-6],
        "stable_kl": [1e-6, 1e-4],
    }
    assert ev["headline"] == (
        "5 points (2 undetermined); |H+AᵀFA|/|H| ≤ 3e-09; 3 unstable; #neutral = dim ker A at 5/5, "
        "angle ≤ 2e-07; slopes ker A: ΔJ 2.00, KL 4.00; stable: ΔJ 1.00, KL 2.00"
    )
    assert [s["label"] for s in ev["figure_data"]["spectra"]] == [
        "a (N=1, P=4, dim ker A=2)",
        "b (N=1, P=5, dim ker A=2)",
        "c (N=1, P=5, dim ker A=2)",
    ]


def test_c4_evaluate_counterexamples_go_criterion_by_criterion(mixed):
    xs = mixed.counterexamples
    assert [x.description for x in xs] == [
        "identity: |H + A^T F A| relative to its rounding scale = 1e-09 exceeds 1e-11",
        "identity: |H + A^T F A| relative to its rounding scale = 3e-09 exceeds 1e-11",
        "no_unstable: 1 unstable direction(s); largest eigenvalue / max|lambda| = 0.5",
    ]
    assert [x.value for x in xs] == [1e-9, 3e-9, 0.5]
    assert [x.case for x in xs] == [
        {"family": "b", "N": 1, "P": 5, "index": 2, "origin": "flow"},
        {"family": "b", "N": 1, "P": 4, "index": 3},
        {"family": "b", "N": 1, "P": 5, "index": 2, "origin": "flow"},
    ]
    assert all(x.seed == 7 for x in xs)


def test_c4_evaluate_keeps_the_first_ten_counterexamples(fake):
    pts = [_point(_spec(BASE, ierr=1e-6 * (k + 1)), family="b", index=k) for k in range(12)]
    v = c4.evaluate(pts, seed=1, conditions={})
    assert v.status is Status.FAILS
    assert [x.case["index"] for x in v.counterexamples] == list(range(10))
    assert v.evidence["criteria"]["identity"] == {"pass": 0, "fail": 12, "undetermined": 0}


def test_c4_evaluate_seeds_the_neutral_directions_per_case_and_forwards_the_grid(fake):
    pt = _point(_spec([-3.0, -2.0, -1.0, 0.0, 0.0]), family="rbm-spin", N=2, index=5)
    grid = np.logspace(-6.0, -2.0, 9)
    v = c4.evaluate([pt], seed=11, conditions={}, eps_grid=grid, n_neutral_directions=3)
    assert v.evidence["eps_grid"] == [1e-6, 1e-2, 9]
    neutral = [c for c in fake if c[0] == "neutral"]
    stable = [c for c in fake if c[0] == "stable"]
    assert len(neutral) == 3 and len(stable) == 2  # the most stable (-3) and the median stable (-2)
    rng = seeded_rng(11, "c4-directions", "rbm-spin", 2, 5)
    K = pt.model.sp.kernel
    for _, v_used, *_ in neutral:
        w = K @ rng.standard_normal(2)
        np.testing.assert_allclose(v_used, w / np.linalg.norm(w), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(stable[0][1], np.eye(5)[:, 0])
    np.testing.assert_array_equal(stable[1][1], np.eye(5)[:, 1])
    for _, _, eps, max_points, _ in fake:
        np.testing.assert_array_equal(eps, grid)
        assert max_points == c4.FIT_POINTS
    fake.clear()
    c4.evaluate([pt], seed=11, conditions={})
    assert sum(c[0] == "neutral" for c in fake) == 2  # two neutral directions by default
    np.testing.assert_array_equal(fake[0][2], c4.EPS_GRID)


# ---- the points of the real run -------------------------------------------------------------------
def test_c4_sizes_of_each_profile():
    quick = c4._sizes(get_profile("quick"))  # max_n_rbm = 4, max_n_generic = 6
    assert quick == {
        "rbm-spin": [(3, (3,)), (3, (4,)), (4, (4,)), (4, (5,))],
        "rbm-bit": [(3, (3,)), (3, (4,)), (4, (4,)), (4, (5,))],
        "tanh-1": [(3, (4,)), (4, (5,))],
        "tanh-2": [(3, (3, 3)), (4, (4, 4))],
        "direct": [(3, ()), (4, ()), (5, ()), (6, ())],
        "truncated-2": [(3, ()), (4, ()), (5, ()), (6, ())],
    }
    thorough = c4._sizes(get_profile("thorough"))  # capped at N = 5 (neural) and N = 6 (linear)
    assert [N for N, _ in thorough["rbm-bit"]] == [3, 3, 4, 4, 5, 5]
    assert thorough["tanh-1"] == [(3, (4,)), (4, (5,)), (5, (6,))]
    assert thorough["tanh-2"] == [(3, (3, 3)), (4, (4, 4))]
    assert [N for N, _ in thorough["direct"]] == [3, 4, 5, 6]
    small = dataclasses.replace(get_profile("quick"), max_n_rbm=3, max_n_generic=3)
    assert c4._sizes(small)["rbm-spin"] == [(3, (3,)), (3, (4,))]
    assert c4._sizes(small)["truncated-2"] == [(3, ())]


def test_c4_build_makes_the_model_of_each_family():
    assert repr(c4._build("rbm-spin", 3, (4,))) == repr(RBM(3, 4, hidden="spin"))
    assert repr(c4._build("rbm-bit", 4, (5,))) == repr(RBM(4, 5, hidden="bit"))
    assert repr(c4._build("tanh-1", 3, (4,))) == repr(TanhNetwork(3, (4,)))
    assert repr(c4._build("tanh-2", 3, (3, 3))) == repr(TanhNetwork(3, (3, 3)))
    assert repr(c4._build("direct", 5, ())) == repr(DirectModel(5))
    truncated = c4._build("truncated-2", 4, ())
    assert isinstance(truncated, TruncatedIsing) and truncated.max_order == 2 and truncated.n_visible == 4
    with pytest.raises(ValueError, match=r"^unknown family 'boltzmann'$"):
        c4._build("boltzmann", 3, ())


def test_c4_teacher_scales_are_the_profile_scales_within_the_closed_range():
    def scales(*s):
        return c4._teacher_scales(dataclasses.replace(get_profile("quick"), init_scales=s))

    assert scales(3.0, 0.03, 0.01, 3.1) == [0.03, 3.0]
    assert scales(0.001, 0.029, 3.01) + scales(3.01, 301.0) == [1.0, 1.0]  # none in range: scale 1
    assert c4._teacher_scales(get_profile("thorough")) == [0.03, 0.1, 0.3, 1.0, 3.0]


def test_c4_teacher_points_are_seeded_teachers_paired_with_their_own_target():
    profile = dataclasses.replace(
        get_profile("quick"), n_cases=13, max_n_rbm=3, max_n_generic=3, init_scales=(0.01, 0.3, 1.0)
    )
    points = c4._teacher_points(profile, 9)
    expected = [
        (family, N, widths, scale, j)
        for family, sizes in c4._sizes(profile).items()
        for N, widths in sizes
        for scale in (0.3, 1.0)
        for j in range(2)  # n_cases // 6
    ]
    assert len(points) == len(expected) == 8 * 2 * 2  # 8 sizes at N = 3, 2 scales, 2 teachers
    for k, (pt, (family, N, widths, scale, j)) in enumerate(zip(points, expected, strict=True)):
        model = c4._build(family, N, widths)
        assert repr(pt.model) == repr(model)
        assert pt.case == {
            "family": family,
            "N": N,
            "P": model.n_params,
            "widths": list(widths),
            "teacher_scale": scale,
            "origin": "teacher",
            "index": k,
        }
        theta = model.init(seeded_rng(9, "c4-teacher", family, N, *widths, str(scale), j), scale)
        np.testing.assert_array_equal(pt.theta, theta)
        np.testing.assert_array_equal(pt.q, model.prob(theta))
    one = c4._teacher_points(dataclasses.replace(profile, n_cases=5), 9)  # at least one teacher
    assert len(one) == 8 * 2


def test_c4_polish_reaches_the_data_consistent_set_or_gives_up():
    model = RBM(3, 3)
    teacher = model.init(np.random.default_rng(2), 1.0)
    q = model.prob(teacher)
    xi = np.random.default_rng(3).standard_normal(model.n_params)
    start = teacher + 1e-4 * xi
    theta = c4._polish(model, start, q)
    assert theta is not None
    dJ = T.couplings(q)[1:] - model.couplings(theta)[1:]
    assert np.max(np.abs(dJ)) <= c4.TOLERANCES["polish_J_abs"]
    # a minimum-norm step: the displacement is about the distance to the set, not larger
    assert 0.0 < np.linalg.norm(theta - start) <= 1e-4 * np.linalg.norm(xi)
    assert c4._polish(model, theta, q, max_iter=1) is theta  # already there: returned unchanged
    assert c4._polish(model, start, q, max_iter=1) is None  # one step from 1e-4 away is not enough
    assert c4._polish(model, start, q, max_iter=0) is None


# ---- negative controls, flow points, run ----------------------------------------------------------
def _stub_verdict(status=Status.FAILS):
    xs = () if status is Status.HOLDS else (Counterexample(description="stub", case={}, value=1.0, seed=0),)
    return Verdict(
        claim="C4",
        statement="stub",
        status=status,
        conditions={},
        evidence={},
        tolerances={},
        counterexamples=xs,
    )


def test_c4_control_points_are_the_documented_non_consistent_points(monkeypatch):
    seen = []

    def evaluate(points, **kw):
        seen.append((points, kw))
        return _stub_verdict()

    monkeypatch.setattr(c4, "evaluate", evaluate)
    controls = c4._controls(5, {"seed": 5, "run": "r"})
    rng = seeded_rng(5, "c4-controls")
    model = RBM(3, 3, hidden="spin")
    teacher = model.init(rng, 1.0)
    q = model.prob(teacher)
    xi = rng.standard_normal(model.n_params)
    base = {"family": "rbm-spin", "N": 3, "P": 15, "widths": [3], "index": 0}
    names = ["perturbed-teacher", "spurious-fields-matching", "wrong-jacobian"]
    assert [c.name for c in controls] == names
    assert [c.description for c in controls] == [
        "RBM teacher moved by 0.05 in a random direction, still paired with the teacher's target: "
        "not data-consistent, the residual term of the Hessian is nonzero",
        "RBM.fields_matching(q) on an RBM teacher's target (pairwise structure): a spurious stationary "
        "point (W = 0) offered as data-consistent",
        "WrongJacobian(RBM) at the teacher: A with subsets bit-reversed, so -A^T F A != Hessian",
    ]
    assert all(c.claim == "C4" and c.expected is Status.FAILS and c.caught for c in controls)
    assert [kw for _, kw in seen] == [
        {"seed": 5, "conditions": {"seed": 5, "run": "r", "control": n}} for n in names
    ]
    assert [len(points) for points, _ in seen] == [1, 1, 1]
    perturbed, spurious, wrong = (points[0] for points, _ in seen)
    assert perturbed.case == {**base, "origin": "perturbed"}
    assert repr(perturbed.model) == repr(model)
    np.testing.assert_allclose(perturbed.theta, teacher + 0.05 * xi / np.linalg.norm(xi), rtol=0, atol=1e-15)
    assert spurious.case == {**base, "origin": "fields_matching"}
    np.testing.assert_array_equal(spurious.theta, model.fields_matching(q))
    assert wrong.case == {**base, "family": "rbm-spin [WrongJacobian]", "origin": "teacher"}
    assert isinstance(wrong.model, WrongJacobian) and repr(wrong.model.inner) == repr(model)
    np.testing.assert_array_equal(wrong.theta, teacher)
    for pt in (perturbed, spurious, wrong):
        np.testing.assert_array_equal(pt.q, q)


def test_c4_flow_points_log_every_flow_and_keep_the_polished_converged_ones(monkeypatch):
    profile = dataclasses.replace(get_profile("quick"), n_inits=2)  # two flows per family
    starts, calls = {}, []
    for family, widths in (("rbm-spin", (3,)), ("rbm-bit", (3,)), ("tanh-1", (4,))):
        model = c4._build(family, 3, widths)
        for j in range(2):
            rng = seeded_rng(4, "c4-flow", family, j)
            teacher = model.init(rng, 1.0)
            starts[family, j] = (teacher, model.init(rng, 0.5), model.prob(teacher))

    def integrate_flow(model, theta0, q, **kw):
        (key,) = [
            k for k, (_, init, _) in starts.items() if k[0] == model.family and np.array_equal(init, theta0)
        ]
        calls.append((key, kw))
        teacher, init, q_teacher = starts[key]
        np.testing.assert_array_equal(q, q_teacher)
        nudge = np.full(model.n_params, 1e-7 / np.sqrt(model.n_params))
        theta_end = teacher + nudge if key[1] == 0 else init  # flow 0 converges, flow 1 stops far away
        return SimpleNamespace(theta_end=theta_end, status=f"status-{key[1]}")

    polish = c4_sweep._polish
    monkeypatch.setattr(c4_sweep, "integrate_flow", integrate_flow)
    monkeypatch.setattr(
        c4_sweep, "_polish", lambda m, th, q: None if m.family == "tanh-1" else polish(m, th, q)
    )
    seen: list[tuple[int, int]] = []
    tally = Tally(2 * 6, lambda done, total: seen.append((done, total)))  # six flows and their points
    points, log = c4._flow_points(profile, 4, start=20, tally=tally)
    # each flow, and at once the point of each of the four flows not kept: two points left to evaluate
    assert seen == [(d, 12) for d in range(1, 11)]
    order = [(f, j) for f in ("rbm-spin", "rbm-bit", "tanh-1") for j in range(2)]
    assert [key for key, _ in calls] == order
    assert all(kw == {"t_max": 1e5, "gtol": 1e-9, "n_checkpoints": 4} for _, kw in calls)
    assert set(log) == {"run", "converged", "used", "t_max", "cases"}
    assert (log["run"], log["converged"], log["used"], log["t_max"]) == (6, 3, 2, 1e5)
    assert [{k: e[k] for k in ("family", "flow", "status", "used")} for e in log["cases"]] == [
        {"family": f, "flow": j, "status": f"status-{j}", "used": j == 0 and f != "tanh-1"} for f, j in order
    ]
    for e, (f, j) in zip(log["cases"], order, strict=True):
        teacher, init, q = starts[f, j]
        model = c4._build(f, 3, (4,) if f == "tanh-1" else (3,))
        end = teacher + np.full(model.n_params, 1e-7 / np.sqrt(model.n_params)) if j == 0 else init
        assert e["kl_end"] == float(T.kl(q, model.prob(end)))
        assert (e["kl_end"] <= c4.TOLERANCES["flow_kl_max"]) is (j == 0)
        assert ("polish_displacement" in e) is e["used"]
        assert set(e) == {"family", "flow", "status", "kl_end", "used"} | (
            {"polish_displacement"} if e["used"] else set()
        )
    assert len(points) == 2
    for k, (pt, f) in enumerate(zip(points, ("rbm-spin", "rbm-bit"), strict=True)):
        teacher, _, q = starts[f, 0]
        model = RBM(3, 3, hidden=f.split("-")[1])
        assert repr(pt.model) == repr(model)
        e = log["cases"][2 * k]
        kl_end = e["kl_end"]
        where = {"family": f, "N": 3, "P": 15, "widths": [3], "origin": "flow"}
        assert pt.case == {**where, "flow_kl_end": kl_end, "index": 20 + k}
        np.testing.assert_array_equal(pt.q, q)
        end = teacher + np.full(15, 1e-7 / np.sqrt(15))
        assert e["polish_displacement"] == float(np.linalg.norm(pt.theta - end)) > 0
        dJ = T.couplings(q)[1:] - model.couplings(pt.theta)[1:]
        assert np.max(np.abs(dJ)) <= c4.TOLERANCES["polish_J_abs"]


def test_c4_run_evaluates_the_teacher_and_flow_points_and_records_its_conditions(monkeypatch):
    profile = dataclasses.replace(
        get_profile("quick"), n_cases=7, max_n_rbm=3, max_n_generic=4, init_scales=(0.01, 0.3, 1.0)
    )
    teachers = c4._teacher_points(profile, 6)
    flow_model = RBM(3, 3)
    flow_theta = flow_model.init(np.random.default_rng(0), 1.0)
    flow_case = {"family": "rbm-spin", "N": 3, "P": 15, "origin": "flow", "index": len(teachers)}
    flow_point = c4.Point(flow_model, flow_theta, flow_model.prob(flow_theta), flow_case)
    flow_log = {"run": 3, "converged": 1, "used": 1, "t_max": 1e5, "cases": []}
    seen: dict[str, Any] = {}

    def flow_points(prof, seed, *, start, executor=None, tally=None):
        seen["flows"] = (prof, seed, start)
        seen["executor"] = executor
        seen["tally"] = tally
        return [flow_point], flow_log

    def evaluate(points, **kw):
        seen["evaluate"] = ([p.case for p in points], kw)
        return _stub_verdict(Status.HOLDS)

    def controls(seed, conditions):
        seen["controls"] = (seed, conditions)
        return (c4.ControlResult(claim="C4", name="stub", description="stub", verdict=_stub_verdict()),)

    monkeypatch.setattr(c4, "_flow_points", flow_points)
    monkeypatch.setattr(c4, "evaluate", evaluate)
    monkeypatch.setattr(c4, "_controls", controls)
    report = c4.run(profile, 6)
    assert isinstance(report, ClaimReport) and report.seconds >= 0
    assert report.verdict.status is Status.HOLDS and [c.name for c in report.controls] == ["stub"]
    assert seen["flows"] == (profile, 6, len(teachers)) and seen["executor"] is None
    assert seen["controls"] == (6, {"seed": 6})
    cases, kw = seen["evaluate"]
    assert cases == [p.case for p in teachers] + [flow_case]
    assert kw["seed"] == 6
    assert kw["conditions"] == {
        "families": ["rbm-spin", "rbm-bit", "tanh-1", "tanh-2", "direct", "truncated-2"],
        "sizes": {
            "rbm-spin": [[3, [3]], [3, [4]]],
            "rbm-bit": [[3, [3]], [3, [4]]],
            "tanh-1": [[3, [4]]],
            "tanh-2": [[3, [3, 3]]],
            "direct": [[3, []], [4, []]],
            "truncated-2": [[3, []], [4, []]],
        },
        "teacher_scales": [0.3, 1.0],
        "teachers_per_size_and_scale": 1,
        "n_points": 10 * 2 + 1,
        "flows": flow_log,
        "eps_grid": "logspace(-8, -1, 15)",
        "fit_points": 5,
        "n_neutral_directions": 2,
        "stable_directions": "most stable and median stable eigenvectors",
        "kl_slope": "cancellation-free Var_q(u - u*)/2; direct KL(q||p) as a second route, fitted only "
        ">= 100 x its base-point value",
        "seed": 6,
    }
    assert set(kw) == {"seed", "conditions", "tally"}  # the default grid and two neutral directions
    assert kw["tally"] is seen["tally"] and kw["tally"].total == len(teachers) + 2 * 3 * profile.n_inits
