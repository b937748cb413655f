r"""Claim C3 — two kinds of fixed points.

Statement tested (docs/theory.md §5, C3): a stationary ``theta`` (:math:`A^\top r = 0`)
is data-consistent when ``r = 0`` (equivalently :math:`KL(q\|p_\theta) = 0`) and
spurious otherwise, and then ``r`` is a nonzero vector of :math:`\ker A^\top`, so ``A``
has lost row rank; a stationary point where ``A`` has full row rank ``2^N - 1`` must be
data-consistent. Under sufficient expressivity data-consistent points exist; spurious
points exist and can be exhibited (constructions (i)–(iii) of :mod:`dsb_verifier.theory.dynamics.fixed_points`).

Stationary points examined (:class:`Candidate`):

* flow end points — for each (family, target) pair of :func:`flow_plan`, gradient flows
  (:func:`theory.integrate_flow`, LSODA with the exact Hessian as Jacobian, stopped at
  ``|grad| < flow_gtol``) from ``n_inits`` seeded initialisations at the profile's scales,
  each end point polished by :func:`dsb_verifier.theory.dynamics.fixed_points.polish` (the flow only needs to
  reach the Newton basin, so its tolerances ``flow_rtol``/``flow_atol`` are moderate).
  Targets: teacher–student (an RBM teacher of the same size for ``rbm-spin``/``rbm-bit``,
  a tanh teacher for ``tanh-1``, a pairwise Ising teacher for ``truncated-2``) and
  generic targets (random generalised Ising models with planted three-body couplings).
  A pair is *declared* sufficiently expressive for teacher–student targets, for the
  direct model, and for RBMs of the universal width ``M = 2^N`` (Le Roux & Bengio 2008);
  ``truncated-2`` on a three-body target is not, and ``tanh-1`` on generic targets is
  undeclared (reported, not required);
* the teachers themselves (data-consistent by construction, rank reported);
* constructions (i) ``W = 0`` fields-matching RBMs, (ii) RBMs with two coinciding hidden
  units polished in the tied subspace, (iii) truncated max-ent fits (``K = 1, 2``), each on
  a two-unit RBM teacher's target, with their predicted lowest inconsistent order.

A candidate is *stationary* when :math:`\|\nabla L\| \le` ``stationary_gtol`` after
polishing; the others (flows still on a plateau or escaping to infinity at ``t_max``)
are *unresolved*, counted and reported, as are stationary points whose residual
decisions (data-consistent or not, lowest order) clear their thresholds by less than
``classification_margin_min`` (:attr:`dsb_verifier.theory.dynamics.fixed_points.FixedPoint.residual_margin`).
Each stationary point is classified (:func:`dsb_verifier.theory.dynamics.fixed_points.classify`) and tested:

1. ``kernel`` — :math:`\|A^\top r\|` computed with the model's Jacobian must be
   ``<= kernel_atol`` (the statement's route to stationarity agrees with
   :math:`\nabla L = G(q - p)`; at a spurious point this says ``r`` is in :math:`\ker A^\top`);
2. ``full-rank implication`` — a spurious point (``|r| > residual_atol``) where ``A``
   has numerical rank ``2^N - 1`` is a counterexample;
3. ``kl`` — data-consistent points have :math:`KL \le` ``kl_consistent_atol``; spurious
   points satisfy Pinsker's bound :math:`KL \ge \tfrac12 \|r\|_\infty^2 \ge \|r\|^2 / (2(2^N-1))`;
4. ``construction`` — each construction is stationary, spurious, rank deficient, with
   its lowest inconsistent order in the predicted range (i: 2; ii: >= 2; iii: ``K + 1``).

Existence: a family whose declared-sufficient flows include a data-consistent end point
is ``found``; ``failed`` if all its declared-sufficient flows ended at resolved spurious
stationary points; ``unresolved`` otherwise.

Status logic (in this order):

* ``fails`` — some point violates 1–3, some construction violates 4, or existence
  ``failed`` for every family with a declared-sufficient pair;
* ``holds-under-conditions`` — only existence failures, for some families but not all
  (the failing families are the counterexamples);
* ``inconclusive`` — no counterexample, but some family's existence is ``unresolved``,
  a construction type was not obtained as a stationary point, or no point was stationary;
* ``holds`` — otherwise.

Negative controls (must come out ``fails``): ``under-expressive-as-sufficient`` —
``TruncatedIsing(3, 2)`` declared sufficient on a two-unit RBM teacher's target (which
has three-body structure): its flows all end at the max-ent fit, spurious, so existence
fails; ``wrong-jacobian`` — constructions (i) and (ii) re-examined through
:class:`dsb_verifier.checks.claims.controls.WrongJacobian`, whose bit-reversed ``A`` gives
:math:`A^\top r \ne 0` where :math:`\nabla L = 0` (the tied points of (ii) expose it; the
bit reversal preserves orders, so order-1-only Jacobians such as (i)'s cannot).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import replace
from typing import Any

import numpy as np
from dsb_verifier.checks.claims._args import check_run_arguments
from dsb_verifier.checks.claims._common import seeded_rng
from dsb_verifier.checks.claims.c3_candidates import (
    _TEACHER_SCALE,
    _TEACHER_UNITS,
    _TS_T_MAX,
    STATEMENT,
    TOLERANCES,
    Candidate,
    FlowCase,
)
from dsb_verifier.checks.claims.c3_constructions import (  # noqa: F401  (re-exported: the check's public names)
    _CONSTRUCTION_TEACHER_SCALE,
    _construction_teacher,
    construction_candidates,
    construction_Ns,
    construction_task,
)
from dsb_verifier.checks.claims.c3_figures import figures
from dsb_verifier.checks.claims.c3_flows import (  # noqa: F401
    _POLISH_MAX_ITER,
    MAX_N_USER,
    _flow_end,
    flow_candidates,
    flow_plan,
    flow_sweep,
    generic_target,
    user_flow_cases,
)
from dsb_verifier.checks.claims.c3_points import _point_failures, classified, point_row  # noqa: F401
from dsb_verifier.checks.claims.c3_verdict import _evidence, evaluate  # noqa: F401
from dsb_verifier.checks.claims.cases import ORDER_PROFILES  # noqa: F401
from dsb_verifier.checks.claims.controls import WrongJacobian
from dsb_verifier.checks.claims.progress import ProgressFn, Tally
from dsb_verifier.checks.profiles import Profile
from dsb_verifier.checks.verdict import ClaimReport, ControlResult
from dsb_verifier.theory.dynamics.fixed_points import TiedRBM, structure_at_order  # noqa: F401
from dsb_verifier.theory.models import TruncatedIsing, rbm_teacher
from numpy.typing import NDArray

__all__ = [
    "STATEMENT",
    "TOLERANCES",
    "Candidate",
    "FlowCase",
    "construction_candidates",
    "construction_task",
    "evaluate",
    "figures",
    "flow_candidates",
    "flow_plan",
    "flow_sweep",
    "classified",
    "point_row",
    "run",
]


# ---- run ----------------------------------------------------------------------------------
def run(
    profile: Profile,
    seed: int,
    *,
    target: NDArray[np.float64] | None = None,
    executor: Executor | None = None,
    progress: ProgressFn | None = None,
) -> ClaimReport:
    """Run C3 under ``profile`` with ``seed``; returns the verdict and its controls.

    A user ``target`` (``dsb-verify run --data``) adds the flow cases of
    :func:`user_flow_cases`. The flows run through ``executor.map`` (any
    :class:`concurrent.futures.Executor`; None: serially); the report does not depend on it.
    ``progress(done, total)`` follows the flows and the constructions (one per N) as they complete.
    """
    seed = check_run_arguments(profile, seed, target=target, executor=executor, progress=progress)
    t0 = time.perf_counter()
    plan = flow_plan(profile, seed)
    user_note = None
    if target is not None:
        user = np.asarray(target, dtype=np.float64)
        extra = user_flow_cases(profile, seed, user)
        plan += extra
        n_user = int(user.size).bit_length() - 1
        user_note = (
            f"N = {n_user}: {len(extra)} flow pairs on the target 'user-data'"
            if extra
            else f"not used: N = {n_user} > {MAX_N_USER}"
        )
    Ns = construction_Ns(profile)
    t_max = max(profile.t_max, _TS_T_MAX)
    tasks = [(N, seed, ("spin", "bit") if N <= 6 else ("spin",), t_max) for N in Ns]
    built = (executor.map if executor is not None else map)(construction_task, tasks)  # submitted first
    tally = Tally(sum(len(c.inits) for c in plan) + len(Ns), progress)
    candidates = flow_sweep(plan, executor, tally)
    for cs in built:
        candidates += cs
        tally.step()
    conditions = {
        "flow_pairs": [
            f"{c.family} N={c.N} {c.target}{'' if c.sufficient else ' (not declared sufficient)'}"
            for c in plan
        ],
        "n_inits": profile.n_inits,
        "init_scales": sorted({s for c in plan for s, _ in c.inits}),
        "t_max": profile.t_max,
        "solver": "LSODA with the exact Hessian, then Levenberg-Marquardt polish",
        "construction_N": Ns,
        "construction_teacher": f"RBM spin, M={_TEACHER_UNITS}, scale {_CONSTRUCTION_TEACHER_SCALE}",
        "seed": seed,
    }
    if user_note is not None:
        conditions["user_data"] = user_note
    verdict = evaluate(candidates, seed=seed, conditions=conditions)
    controls = (
        _control_under_expressive(profile, seed, conditions, executor),
        _control_wrong_jacobian(candidates, seed, conditions),
    )
    return ClaimReport(verdict=verdict, controls=controls, seconds=time.perf_counter() - t0)


def _control_under_expressive(
    profile: Profile, seed: int, conditions: Mapping[str, Any], executor: Executor | None = None
) -> ControlResult:
    N = 3
    _, _, q = rbm_teacher(N, _TEACHER_UNITS, seeded_rng(seed, "c3-teacher", N), _TEACHER_SCALE, "spin")
    model = TruncatedIsing(N, 2)
    rng = seeded_rng(seed, "c3-control-trunc")
    inits = tuple((s, model.init(rng, s)) for s in (0.1, 1.0)[: max(1, min(2, profile.n_inits))])
    case = FlowCase("truncated-2", N, "rbm-teacher", True, model, q, inits, profile.t_max)
    verdict = evaluate(
        flow_sweep([case], executor),  # = flow_candidates(case, executor), via this module's name as run's
        seed=seed,
        conditions={**conditions, "control": "under-expressive-as-sufficient"},
    )
    return ControlResult(
        claim="C3",
        name="under-expressive-as-sufficient",
        description=(
            "TruncatedIsing(3, 2) declared sufficient on a two-unit RBM teacher's target "
            "(which has three-body structure)"
        ),
        verdict=verdict,
    )


def _control_wrong_jacobian(
    candidates: Sequence[Candidate], seed: int, conditions: Mapping[str, Any]
) -> ControlResult:
    spurious = [
        replace(c, model=WrongJacobian(c.model), family=f"{c.family} [WrongJacobian]")
        for c in candidates
        if c.origin in ("construction-ii", "construction-i")
    ]
    verdict = evaluate(spurious, seed=seed, conditions={**conditions, "control": "wrong-jacobian"})
    return ControlResult(
        claim="C3",
        name="wrong-jacobian",
        description="constructions (i), (ii) re-examined with a Jacobian transformed in reversed bit order",
        verdict=verdict,
    )
