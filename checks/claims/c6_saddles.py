r"""Claim C6 — spurious points inconsistent at low orders are saddles, and are not met in practice.

Statement (docs/theory.md §5, C6; scope §7): spurious points that are
inconsistent at low orders are not met in practice: such points are saddles (at least one
unstable direction) when the target has structure at that order, and flows from generic
initialisations end at points whose residual, if any, sits at high orders.

How C6 is decided (rules fixed before any run; ``docs/theory.md`` "How C6 is decided"):

* **Regimes** (:mod:`.c6_points`). ``E1``: :math:`P \ge 2^N - 1` and ``A`` of full row
  rank at a generic parameter — the paper's regime and the verdict. ``E2``: teacher–student
  of the teacher's own size with :math:`P < 2^N - 1` — realisable, but every near-consistent
  point of full column rank is a strict maximum; reported as a separate condition, never
  as a failure of ``E1``. ``other``: reported only.
* **Distinct points** (:mod:`.c6_points`): stationary points of the same model on the same
  target are one point when their couplings ``J`` agree to ``MERGE_RTOL`` (``J`` is
  invariant under hidden-unit permutations, sign flips and every other symmetry); counts
  and counterexamples are over distinct points, never initialisations × criteria.
* **Material inconsistency** (:mod:`.c6_points`): a point is inconsistent at order ``k``
  only when :math:`\|r_k\| \ge 0.1\, s_k` (``s_k`` the target's structure at ``k``); a
  spurious point with no such order is near-consistent.
* **Criteria, status** (:mod:`.c6_verdict`): under the reading ``k_low = 2`` (orders 1–2 are
  "low"), every distinct spurious point materially inconsistent from an order ``k <= 2``
  that the family represents must be a saddle (an unstable eigenvalue of the exact Hessian,
  beyond :data:`dsb_verifier.theory.dynamics.fixed_points.HESSIAN_RTOL` of its scale) when
  the target has structure at ``k`` (a) or when a flow ended there (b). Each regime
  ``fails`` on a counterexample; is ``inconclusive`` without an in-scope point, without a
  resolved flow, with an undetermined point (Hessian margin below ``hessian_margin_min``),
  or when more than half its flows end unresolved; ``holds`` otherwise. The C6 status is
  ``E1``'s, turned into ``holds-under-conditions`` when ``E1`` holds but ``E2`` fails or the
  alternative reading ``k_low = N`` (every order "low") fails in ``E1``. Unresolved flows
  (not stationary after polishing, or classified within a margin of a threshold) are
  counted per regime in the headline.

The experiment (:mod:`.c6_plan`): target populations (RBM teachers, planted generalised
Ising models, the pure three-body target, tanh teachers, and the user's data with
``--data``) × ``n_inits`` starts for every ``E1`` model (direct, smallest over-parameterised
and universal RBMs, tanh networks), the same-size ``E2`` students, a truncated model
(``other``), and the constructions of C3 for two-unit and over-parameterised RBMs.
Stationarity and classification are C3's (:func:`dsb_verifier.checks.claims.c3_fixed_points.classified`).

Negative controls (through the same :func:`evaluate`; must come out ``fails``):
``gauss-newton-hessian`` — the constructions classified with the Gauss–Newton matrix in
place of the exact Hessian (the residual term dropped, so no direction can be unstable);
``pure-three-body-all-orders`` — the ``W = 0`` points on the pure three-body target under
the reading ``k_low = 3``, where they are Hessian-degenerate with no unstable direction.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np
from dsb_verifier.checks.claims._args import check_run_arguments
from dsb_verifier.checks.claims.c3_fixed_points import TOLERANCES as C3_TOLERANCES
from dsb_verifier.checks.claims.c6_figures import figures
from dsb_verifier.checks.claims.c6_plan import (
    MAX_N_USER,
    PlannedFlow,
    construction_items,
    flow_items,
    flow_plan,
    n_construction_tasks,
    plan_Ns,
    three_body_candidates,
)
from dsb_verifier.checks.claims.c6_points import MATERIAL_FRACTION, MERGE_RTOL, Item, regime_of
from dsb_verifier.checks.claims.c6_verdict import evaluate as _evaluate
from dsb_verifier.checks.claims.progress import ProgressFn, Tally
from dsb_verifier.checks.claims.replicate import combine, combine_controls, replicate_seed
from dsb_verifier.checks.profiles import Profile
from dsb_verifier.checks.verdict import ClaimReport, ControlResult, Verdict
from dsb_verifier.theory.dynamics.fixed_points import HessianFn
from dsb_verifier.theory.likelihood import exact_hessian, gauss_newton
from dsb_verifier.theory.models import EnergyModel
from numpy.typing import NDArray

__all__ = [
    "K_LOW",
    "STATEMENT",
    "TOLERANCES",
    "evaluate",
    "figures",
    "regime_of",
    "run",
    "three_body_candidates",
]

#: Orders ``<= K_LOW`` are "low" in the primary reading (fields and pairwise couplings).
K_LOW = 2

STATEMENT = (
    "In the over-parameterised regime E1 (P >= 2^N - 1, A of full row rank at generic parameters), "
    "distinct spurious stationary points whose residual is material (>= 10% of the target's structure) "
    "from a low order k <= 2 that the family represents are saddles (an unstable direction of the exact "
    "Hessian) when the target has structure at k, and flows from generic initialisations end at "
    "data-consistent points, saddles, or points whose material residual starts above order 2. "
    "Same-size teacher-student students (E2, P < 2^N - 1) are reported as a separate condition."
)

#: Named tolerances (the stationarity and classification ones are C3's).
TOLERANCES: dict[str, float] = {
    **{k: C3_TOLERANCES[k] for k in ("stationary_gtol", "residual_atol", "rank_rtol", "hessian_rtol")},
    "structure_atol": C3_TOLERANCES["structure_atol"],
    "classification_margin_min": C3_TOLERANCES["classification_margin_min"],
    "hessian_margin_min": 10.0,
    "material_fraction": MATERIAL_FRACTION,
    "merge_rtol": MERGE_RTOL,
}


def evaluate(
    items: Sequence[Item],
    *,
    seed: int,
    conditions: Mapping[str, Any],
    k_low: int = K_LOW,
    alt_k_low: int | None = None,
    hessian: HessianFn = exact_hessian,
) -> Verdict:
    """Evaluate C6 under the reading ``k_low`` (and report ``alt_k_low`` in ``E1``); module docstring.

    The same routine serves the real run and the negative controls.
    """
    return _evaluate(
        items,
        seed=seed,
        conditions=conditions,
        k_low=k_low,
        alt_k_low=alt_k_low,
        hessian=hessian,
        margin_min=TOLERANCES["hessian_margin_min"],
        statement=STATEMENT,
        tolerances=TOLERANCES,
    )


def run(
    profile: Profile,
    seed: int,
    *,
    target: NDArray[np.float64] | None = None,
    executor: Executor | None = None,
    progress: ProgressFn | None = None,
) -> ClaimReport:
    """Run C6 under ``profile`` with ``seed``.

    The whole experiment runs at ``seed`` and at its replicate seed
    (:mod:`~dsb_verifier.checks.claims.replicate`): the status is the one both give, else
    ``inconclusive``; a control is caught only if it fails at both.

    Parameters
    ----------
    profile, seed
        Sizes of the sweep (:mod:`.c6_plan`) and the seed of every draw.
    target
        A user target (``dsb-verify run --data``); joins the ``E1`` flows as the target
        ``user-data`` when its ``N <= MAX_N_USER``.
    executor
        Where the constructions and flows run (``executor.map``; any
        :class:`concurrent.futures.Executor`); None: serially. The report does not depend on it.
    progress
        Called as ``progress(done, total)`` as cases complete, ``done`` rising by one to
        ``total``: at each seed in turn, every construction task
        (:func:`~dsb_verifier.checks.claims.c6_plan.n_construction_tasks`), then every flow.
        The evaluations of the verdict and the controls (under a second per seed in the
        thorough profile) are not counted. The report does not depend on it.
    """
    seed = check_run_arguments(profile, seed, target=target, executor=executor, progress=progress)
    t0 = time.perf_counter()
    user = None if target is None else np.asarray(target, dtype=np.float64)
    seeds = (seed, replicate_seed(seed))
    plans = [flow_plan(profile, s, user) for s in seeds]  # both up front: the total is known
    tally = Tally(sum(n_construction_tasks(profile) + _n_flows(plan) for plan in plans), progress)
    (v0, c0), (v1, c1) = (
        _one_seed(profile, s, user, plan, executor, tally) for s, plan in zip(seeds, plans, strict=True)
    )
    return ClaimReport(
        verdict=combine(v0, v1, seeds),
        controls=combine_controls(c0, c1, seeds),
        seconds=time.perf_counter() - t0,
    )


def _n_flows(plan: Sequence[PlannedFlow]) -> int:
    """Number of flows of ``plan`` (one per start of each planned case)."""
    return sum(len(p.case.inits) for p in plan)


def _one_seed(
    profile: Profile,
    seed: int,
    user: NDArray[np.float64] | None,
    plan: Sequence[PlannedFlow],
    executor: Executor | None,
    tally: Tally | None = None,
) -> tuple[Verdict, tuple[ControlResult, ...]]:
    """The verdict and the controls of the whole C6 experiment at one seed.

    ``plan`` is :func:`~dsb_verifier.checks.claims.c6_plan.flow_plan` at ``seed``; ``tally``
    (if given) steps as each construction task and each flow completes.
    """
    constructions = construction_items(profile, seed, executor, tally)
    flows = flow_items(plan, executor, tally)
    n_user = None if user is None else int(user.size).bit_length() - 1
    conditions: dict[str, Any] = {
        "k_low": K_LOW,
        "alternative_k_low": "N (every order), evaluated in E1",
        "N": sorted({*plan_Ns(profile), *(p.case.N for p in plan)}),  # with the user's N, if it ran
        "regime_rule": "E1: P >= 2^N - 1 and rank A = 2^N - 1 at a generic theta; E2: same-size "
        "teacher-student with P < 2^N - 1; other: neither",
        "material_rule": f"|r_k| >= {MATERIAL_FRACTION} s_k (s_k = structure_at_order(q, k))",
        "merge_rule": f"same model and target, |J1 - J2|_inf <= {MERGE_RTOL:g} max(1, |J1|_inf)",
        "flow_cases": [
            f"{p.regime} {p.case.family} P={p.case.model.n_params} N={p.case.N} {p.target_key}" for p in plan
        ],
        "n_flows": len(flows),
        "n_inits": profile.n_inits,
        "init_scales": sorted({s for p in plan for s, _ in p.case.inits}),
        "t_max": profile.t_max,
        "t_max_by_regime": {
            r: sorted({p.case.t_max for p in plan if p.regime == r})
            for r in dict.fromkeys(p.regime for p in plan)
        },
        "seed": seed,
    }
    if user is not None:
        conditions["user_data"] = (
            f"N = {n_user}: E1 flows on the target 'user-data'"
            if n_user is not None and n_user <= MAX_N_USER
            else f"not used: N = {n_user} > {MAX_N_USER}"
        )
    items = [it for it in constructions] + flows
    max_N = max(it.candidate.N for it in items)
    verdict = evaluate(items, seed=seed, conditions=conditions, alt_k_low=max_N)
    construction_only = [it for it in constructions if it.candidate.origin.startswith("construction")]
    three_body = [it for it in constructions if it.target_key == "three-body"]
    controls = (
        ControlResult(
            claim="C6",
            name="gauss-newton-hessian",
            description="the constructions classified with the Gauss-Newton matrix (residual term dropped)",
            verdict=evaluate(
                construction_only,
                seed=seed,
                conditions={**conditions, "control": "gauss-newton-hessian"},
                hessian=_gauss_newton_hessian,
            ),
        ),
        ControlResult(
            claim="C6",
            name="pure-three-body-all-orders",
            description="W = 0 points on the pure three-body target, with 'low' widened to orders <= 3",
            verdict=evaluate(
                three_body,
                seed=seed,
                conditions={**conditions, "control": "pure-three-body-all-orders", "k_low": 3},
                k_low=3,
            ),
        ),
    )
    return verdict, controls


def _gauss_newton_hessian(
    model: EnergyModel, theta: NDArray[np.float64], q: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The deliberately wrong Hessian of the control: ``-A^T F A`` without the residual term."""
    return gauss_newton(model, theta)
