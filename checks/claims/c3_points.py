r"""Claim C3, one candidate: its classification, its report row, and tests 1–4 at it.

:func:`classified` applies :func:`dsb_verifier.theory.dynamics.fixed_points.classify` with
the check's tolerances (None: not stationary, or a residual decision too close to its
threshold: unresolved); :func:`point_row` is the plain-JSON row of the evidence; the tests
(kernel, full-rank implication, KL, construction) are those of the module docstring of
:mod:`dsb_verifier.checks.claims.c3_fixed_points`. C6 classifies its points the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from dsb_verifier.checks.claims.c3_candidates import TOLERANCES, Candidate
from dsb_verifier.checks.verdict import Counterexample
from dsb_verifier.theory.dynamics.fixed_points import FixedPoint, HessianFn, classify
from dsb_verifier.theory.likelihood import exact_hessian

__all__ = ["classified", "point_row"]


def point_row(c: Candidate, fp: FixedPoint | None) -> dict[str, Any]:
    """Plain-JSON summary of a classified candidate (``fp`` None: unresolved)."""
    row: dict[str, Any] = {**c.case(), "grad_norm": c.grad_norm, **dict(c.info)}
    if fp is None:
        return {**row, "kind": "unresolved"}
    sv = fp.singular_values
    return {
        **row,
        "kind": fp.kind,
        "kl": fp.kl,
        "residual_norm": fp.residual_norm,
        "residual_order_norms": fp.residual_order_norms.tolist(),
        "lowest_order": fp.lowest_order,
        "rank": fp.rank,
        "n_rows": fp.n_rows,
        "sigma_ratio": float(sv[-1] / sv[0]) if sv.size == fp.n_rows and sv[0] > 0 else 0.0,
        "rank_margin": fp.rank_margin,
        "jacobian_grad_norm": fp.jacobian_grad_norm,
        "n_unstable": fp.n_unstable,
        "n_neutral": fp.n_neutral,
        "n_stable": fp.n_stable,
        "hessian_margin": fp.hessian_margin,
        "hessian_eigenvalues": fp.hessian_eigenvalues.tolist(),
    }


def classified(c: Candidate, hessian: HessianFn = exact_hessian) -> FixedPoint | None:
    """:func:`dsb_verifier.theory.dynamics.fixed_points.classify` with this check's tolerances; None if not decidable.

    None when the candidate is not stationary (``grad_norm > stationary_gtol``) or its
    residual decisions are within ``classification_margin_min`` of their thresholds
    (:attr:`FixedPoint.residual_margin`): such points are reported as unresolved.
    """
    if not np.isfinite(c.grad_norm) or c.grad_norm > TOLERANCES["stationary_gtol"]:
        return None
    fp = classify(
        c.model,
        c.theta,
        c.q,
        residual_atol=TOLERANCES["residual_atol"],
        rank_rtol=TOLERANCES["rank_rtol"],
        hessian_rtol=TOLERANCES["hessian_rtol"],
        hessian=hessian,
    )
    return fp if fp.residual_margin >= TOLERANCES["classification_margin_min"] else None


def _point_failures(c: Candidate, fp: FixedPoint, seed: int) -> list[Counterexample]:
    """Tests 1–4 of the module docstring on one stationary point."""
    case = c.case()
    bad: list[Counterexample] = []

    def fail(description: str, value: float) -> None:
        bad.append(Counterexample(description=description, case=case, value=float(value), seed=seed))

    if fp.jacobian_grad_norm > TOLERANCES["kernel_atol"]:
        fail(
            f"|A^T r| = {fp.jacobian_grad_norm:.3g} with the model's Jacobian at a point where "
            f"|grad L| = {fp.grad_norm:.1g}: r is not in ker A^T",
            fp.jacobian_grad_norm,
        )
    if fp.kind == "spurious" and fp.full_row_rank:
        fail(
            f"spurious stationary point (|r| = {fp.residual_norm:.3g}) where A has full row rank {fp.n_rows}",
            fp.residual_norm,
        )
    if fp.kind == "data-consistent" and fp.kl > TOLERANCES["kl_consistent_atol"]:
        fail(f"data-consistent point (r = 0) with KL = {fp.kl:.3g} > 0", fp.kl)
    pinsker = 0.5 * fp.residual_norm**2 / fp.n_rows
    if fp.kind == "spurious" and fp.kl < pinsker - TOLERANCES["kl_rounding_atol"]:
        fail(f"spurious point with KL = {fp.kl:.3g} below Pinsker's bound {pinsker:.3g}", pinsker - fp.kl)
    if c.origin.startswith("construction"):
        if fp.kind != "spurious" or fp.full_row_rank:
            fail(
                f"{c.origin} is not spurious with rank-deficient A (|r| = {fp.residual_norm:.3g})",
                fp.residual_norm,
            )
        elif c.expected_lowest is not None:
            lo, hi = c.expected_lowest
            if not lo <= (fp.lowest_order or 0) <= hi:
                fail(
                    f"{c.origin}: lowest inconsistent order {fp.lowest_order}, predicted {lo}..{hi}",
                    float(fp.lowest_order or 0),
                )
    return bad
