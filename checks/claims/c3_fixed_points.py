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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from dsb_verifier import theory as T
from dsb_verifier.checks.claims._args import check_run_arguments
from dsb_verifier.checks.claims._common import seeded_rng
from dsb_verifier.checks.claims.cases import ORDER_PROFILES
from dsb_verifier.checks.claims.controls import WrongJacobian
from dsb_verifier.checks.claims.progress import ProgressFn, Tally
from dsb_verifier.checks.profiles import Profile
from dsb_verifier.checks.verdict import ClaimReport, ControlResult, Counterexample, Status, Verdict
from dsb_verifier.theory.dynamics.fixed_points import (
    HESSIAN_RTOL,
    POLISH_GTOL,
    RANK_RTOL,
    RESIDUAL_ATOL,
    FixedPoint,
    HessianFn,
    TiedRBM,
    classify,
    independent_point,
    maxent_point,
    polish,
    structure_at_order,
    tied_point,
)
from dsb_verifier.theory.dynamics.flow import integrate_flow
from dsb_verifier.theory.likelihood import exact_hessian
from dsb_verifier.theory.models import RBM, DirectModel, EnergyModel, TanhNetwork, TruncatedIsing, rbm_teacher
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

STATEMENT = (
    "A stationary theta (A^T r = 0) is data-consistent when r = 0 (KL(q||p) = 0) and spurious "
    "otherwise, with r a nonzero vector of ker A^T so that A has lost row rank; a stationary point "
    "where A has full row rank 2^N - 1 is data-consistent. Under sufficient expressivity "
    "data-consistent points exist; spurious points exist: W = 0 fields-matching RBMs, RBMs with "
    "coinciding hidden units, truncated max-ent fits."
)

#: Named tolerances of this check (module docstring says how each is used).
TOLERANCES: dict[str, float] = {
    "stationary_gtol": 1e-10,
    "kernel_atol": 1e-9,
    "residual_atol": RESIDUAL_ATOL,
    "rank_rtol": RANK_RTOL,
    "hessian_rtol": HESSIAN_RTOL,
    "kl_consistent_atol": 1e-10,
    "kl_rounding_atol": 1e-14,
    "structure_atol": 1e-6,
    "classification_margin_min": 10.0,
    "polish_gtol": POLISH_GTOL,
    "flow_gtol": 1e-6,
    "flow_rtol": 1e-4,
    "flow_atol": 1e-7,
}

#: Scale of the two-unit RBM teachers of the constructions: weak enough that the
#: one-unit (tied) fit is attained at finite parameters.
_CONSTRUCTION_TEACHER_SCALE = 0.5
#: Scale of the flow teachers and of the tied-flow start.
_TEACHER_SCALE = 1.0
_TIED_INIT_SCALE = 0.1
_TEACHER_UNITS = 2
_POLISH_MAX_ITER = 40
#: Seeded teachers tried for construction (ii) before reporting it unresolved.
_TIED_ATTEMPTS = 3
#: Smallest horizon of teacher–student flows and of the tied flows of construction (ii).
_TS_T_MAX = 1e5


# ---- candidates ---------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """A candidate stationary point with its provenance (Claims C3, C6).

    Attributes
    ----------
    origin
        ``"flow"``, ``"teacher"``, ``"construction-i"``, ``"construction-ii"`` or ``"construction-iii"``.
    family
        Model family label (``model.family``, or ``truncated-K``).
    N
        Number of spins.
    target
        Target label (``"generic"``, ``"rbm-teacher"``, ...).
    sufficient
        The family is declared sufficiently expressive for this target.
    model, q, theta
        The model, target and polished point.
    grad_norm
        :math:`\\|\\nabla L\\|` after polishing.
    info
        Plain-JSON provenance (init index and scale, flow status, displacement, ...).
    expected_lowest
        ``(lo, hi)``: predicted range of the lowest inconsistent order (constructions), else None.
    """

    origin: str
    family: str
    N: int
    target: str
    sufficient: bool
    model: EnergyModel
    q: NDArray[np.float64]
    theta: NDArray[np.float64]
    grad_norm: float
    info: Mapping[str, Any] = field(default_factory=dict)
    expected_lowest: tuple[int, int] | None = None

    def case(self) -> dict[str, Any]:
        """Plain-JSON coordinates that identify (and with the seed, replay) this candidate."""
        return {
            "origin": self.origin,
            "family": self.family,
            "N": self.N,
            "P": self.model.n_params,
            "target": self.target,
            "sufficient": self.sufficient,
            **{k: v for k, v in self.info.items() if k in ("init", "init_scale", "K", "teacher_draw", "c")},
        }


@dataclass(frozen=True)
class FlowCase:
    """One (family, target) pair of the flow sweep, with its seeded initialisations."""

    family: str
    N: int
    target: str
    sufficient: bool
    model: EnergyModel
    q: NDArray[np.float64]
    inits: tuple[tuple[float, NDArray[np.float64]], ...]
    t_max: float


def _family(model: EnergyModel) -> str:
    return f"truncated-{model.max_order}" if isinstance(model, TruncatedIsing) else model.family


def generic_target(N: int, seed: int, index: int) -> NDArray[np.float64]:
    """Random generalised Ising target with planted three-body couplings (seeded)."""
    return T.ising_target(N, ORDER_PROFILES["planted-3"], seeded_rng(seed, "c3-generic", N, index))


def flow_plan(profile: Profile, seed: int) -> list[FlowCase]:
    """(family, target) pairs and initialisations of the flow sweep.

    ``quick`` (``max_n_rbm <= 4``): RBM teacher–student at ``N = 3, 4``, tanh
    teacher–student at ``N = 3``, generic targets at ``N = 4``. Larger profiles: RBM
    teacher–student at ``N`` in 3, 4, 5, 6, 8 (up to ``max_n_rbm``), tanh at 3..5,
    generic targets at ``N = 4, 5``. Universal-width RBMs (``M = 2^N``) only on generic
    targets with ``N <= 4`` (their cost grows like ``4^N``). ``n_inits`` starts per pair
    (halved above ``N = 5``) at scales cycling through ``profile.init_scales``
    restricted to ``[0.1, 1]``. Horizon ``profile.t_max``, except teacher–student
    pairs: ``max(t_max, 1e5)``, since same-size students approach their end points
    slowly (power laws along nearly flat directions).
    """
    large = profile.max_n_rbm > 4
    rbm_ts_N = sorted({3, 4, 5, 6, 8} & set(range(3, profile.max_n_rbm + 1))) if large else [3, 4]
    tanh_ts_N = [3, 4, 5] if large else [3]
    gen_N = [4, 5] if large and profile.max_n_generic >= 5 else [4]
    scales = [s for s in profile.init_scales if 0.1 <= s <= 1.0] or [0.1, 1.0]
    plan: list[FlowCase] = []

    def add(model: EnergyModel, q: NDArray[np.float64], target: str, sufficient: bool) -> None:
        fam, N = _family(model), model.n_visible
        rng = seeded_rng(seed, "c3-init", fam, N, target)
        n = profile.n_inits if N <= 5 else max(1, profile.n_inits // 2)
        inits = tuple((s, model.init(rng, s)) for s in (scales[j % len(scales)] for j in range(n)))
        t_max = max(profile.t_max, _TS_T_MAX) if target.endswith("teacher") else profile.t_max
        plan.append(FlowCase(fam, N, target, sufficient, model, q, inits, t_max))

    for N in sorted(set(rbm_ts_N) | set(tanh_ts_N)):
        rng = seeded_rng(seed, "c3-teacher", N)
        for hidden in ("spin", "bit"):
            _, _, q = rbm_teacher(N, _TEACHER_UNITS, rng, _TEACHER_SCALE, hidden)
            if N in rbm_ts_N:
                add(RBM(N, _TEACHER_UNITS, hidden), q, "rbm-teacher", True)
        tanh = TanhNetwork(N, (2 * N,))
        q_tanh = tanh.prob(tanh.init(rng, _TEACHER_SCALE))
        if N in tanh_ts_N:
            add(tanh, q_tanh, "tanh-teacher", True)
    for N in gen_N:
        q = generic_target(N, seed, 0)
        pairwise = T.ising_target(N, ORDER_PROFILES["pairwise"], seeded_rng(seed, "c3-pairwise", N))
        add(DirectModel(N), q, "generic", True)
        add(TruncatedIsing(N, 2), pairwise, "pairwise-teacher", True)
        add(TruncatedIsing(N, 2), q, "generic", False)
        if N <= 4:
            add(RBM(N, 2**N, "spin"), q, "generic", True)
            add(RBM(N, 2**N, "bit"), q, "generic", True)
        add(TanhNetwork(N, (2 * N,)), q, "generic", False)
    return plan


def flow_candidates(case: FlowCase, executor: Executor | None = None) -> list[Candidate]:
    """Integrate the flow from each start of ``case``, polish the end points, return candidates."""
    return flow_sweep([case], executor)


def flow_sweep(
    cases: Sequence[FlowCase], executor: Executor | None = None, tally: Tally | None = None
) -> list[Candidate]:
    """:func:`flow_candidates` of every case, in order, the flows mapped through ``executor``.

    Each (case, start) is one independent task (:func:`_flow_end`); None runs
    them serially. The candidates do not depend on the executor. ``tally`` (if
    given) steps as each flow's end point arrives.
    """
    tasks = [(c.model, theta0, c.q, c.t_max) for c in cases for _, theta0 in c.inits]
    ends = iter((executor.map if executor is not None else map)(_flow_end, tasks))
    out = []
    for case in cases:
        for j, (scale, _) in enumerate(case.inits):
            theta, g, info = next(ends)
            if tally is not None:
                tally.step()
            out.append(
                Candidate(
                    "flow",
                    case.family,
                    case.N,
                    case.target,
                    case.sufficient,
                    case.model,
                    case.q,
                    theta,
                    g,
                    {"init": j, "init_scale": scale, **info},
                )
            )
    return out


def _flow_end(
    task: tuple[EnergyModel, NDArray[np.float64], NDArray[np.float64], float],
) -> tuple[NDArray[np.float64], float, dict[str, Any]]:
    """One flow from ``theta0`` and its polished end point: ``(theta, |grad L|, info)``.

    Module level and plain in/out so that worker processes of an executor can run it.
    """
    model, theta0, q, t_max = task
    tr = integrate_flow(
        model,
        theta0,
        q,
        t_max=t_max,
        gtol=TOLERANCES["flow_gtol"],
        rtol=TOLERANCES["flow_rtol"],
        atol=TOLERANCES["flow_atol"],
        n_checkpoints=1,
    )
    theta, g = polish(model, tr.theta_end, q, gtol=TOLERANCES["polish_gtol"], max_iter=_POLISH_MAX_ITER)
    info = {
        "flow_status": tr.status,
        "t_end": float(tr.t[-1]),
        "flow_grad_norm": float(tr.grad_norm[-1]),
        "polish_displacement": float(np.linalg.norm(theta - tr.theta_end)),
        "theta_norm": float(np.linalg.norm(theta)),
    }
    return theta, g, info


def construction_candidates(
    N: int,
    seed: int,
    *,
    hidden: Sequence[str] = ("spin", "bit"),
    orders: Sequence[int] = (1, 2),
    t_max: float = 1e4,
) -> list[Candidate]:
    """Constructions (i)–(iii) of :mod:`dsb_verifier.theory.dynamics.fixed_points` on two-unit RBM teachers' targets.

    The teacher (hidden spins, scale 0.5) needs two distinct hidden units and has
    structure at every order, so (i) is inconsistent from order 2, (ii) from some
    order >= 2 (order 1 is always matched by the free fields), (iii) from order ``K + 1``.
    The teacher itself is returned too (data-consistent, ``origin="teacher"``).
    For (ii), whose tied fit can lie at infinity, up to :data:`_TIED_ATTEMPTS` seeded
    teachers are tried in turn (``info["teacher_draw"]``); the last attempt is
    returned even if not stationary (then reported unresolved).
    """
    teacher, theta_t, q = _construction_teacher(N, seed, 0)
    out = [
        Candidate(
            "teacher",
            teacher.family,
            N,
            "rbm-teacher",
            True,
            teacher,
            q,
            theta_t,
            _grad_norm(teacher, theta_t, q),
        )
    ]
    pair = (2, 2) if structure_at_order(q, 2) > TOLERANCES["structure_atol"] else None
    for h in hidden:
        model, theta = independent_point(q, _TEACHER_UNITS, h)
        out.append(
            Candidate(
                "construction-i", model.family, N, "rbm-teacher", True, model, q, theta,
                _grad_norm(model, theta, q), {"c": 0.0}, pair,
            )
        )  # fmt: skip
    for h in hidden:
        for draw in range(_TIED_ATTEMPTS):
            _, _, q_d = _construction_teacher(N, seed, draw)
            theta0 = TiedRBM(N, _TEACHER_UNITS, h).init(
                seeded_rng(seed, "c3-tied", N, h, draw), _TIED_INIT_SCALE
            )
            model, theta = tied_point(
                q_d, theta0, n_copies=_TEACHER_UNITS, hidden=h, t_max=t_max, gtol=TOLERANCES["polish_gtol"]
            )
            g = _grad_norm(model, theta, q_d)
            if g <= TOLERANCES["stationary_gtol"]:
                break
        out.append(
            Candidate(
                "construction-ii", model.family, N, "rbm-teacher", True, model, q_d, theta, g,
                {"tied_units": _TEACHER_UNITS, "teacher_draw": draw}, (2, N),
            )
        )  # fmt: skip
    for K in orders:
        if K >= N:
            continue
        model_t, theta = maxent_point(q, K)
        expected = (K + 1, K + 1) if structure_at_order(q, K + 1) > TOLERANCES["structure_atol"] else None
        out.append(
            Candidate(
                "construction-iii", f"truncated-{K}", N, "rbm-teacher", False, model_t, q, theta,
                _grad_norm(model_t, theta, q), {"K": K}, expected,
            )
        )  # fmt: skip
    return out


def construction_task(task: tuple[int, int, tuple[str, ...], float]) -> list[Candidate]:
    """:func:`construction_candidates` of one ``(N, seed, hidden, t_max)`` (a task for an executor)."""
    N, seed, hidden, t_max = task
    return construction_candidates(N, seed, hidden=hidden, t_max=t_max)


def _construction_teacher(
    N: int, seed: int, draw: int
) -> tuple[RBM, NDArray[np.float64], NDArray[np.float64]]:
    return rbm_teacher(
        N, _TEACHER_UNITS, seeded_rng(seed, "c3-construction", N, draw), _CONSTRUCTION_TEACHER_SCALE
    )


def _grad_norm(model: EnergyModel, theta: NDArray[np.float64], q: NDArray[np.float64]) -> float:
    return float(np.linalg.norm(T.grad_loglik(model, theta, q)))


# ---- evaluation -----------------------------------------------------------------------
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


# ---- run ----------------------------------------------------------------------------------
def construction_Ns(profile: Profile) -> list[int]:
    """N of the constructions: 4 for ``quick``; up to ``max_n_rbm`` (sampled) for larger profiles."""
    if profile.max_n_rbm <= 4:
        return [4]
    return sorted({4, 5, 6, 8, profile.max_n_rbm} & set(range(4, profile.max_n_rbm + 1)))


#: Largest N of a user target (``--data``) whose flows join the sweep.
MAX_N_USER = 6


def user_flow_cases(profile: Profile, seed: int, q: NDArray[np.float64]) -> list[FlowCase]:
    """Flow cases on the user's empirical distribution ``q`` (target ``"user-data"``), ``N <= MAX_N_USER``.

    The direct model and (``N <= 4``) the universal-width RBM, both declared sufficiently
    expressive; a one-layer tanh network of width ``2N`` (not declared). ``n_inits``
    starts each at the profile's scales within ``[0.1, 1]``.
    """
    N = int(q.size).bit_length() - 1
    if N > MAX_N_USER:
        return []
    scales = [s for s in profile.init_scales if 0.1 <= s <= 1.0] or [0.1, 1.0]
    models: list[tuple[EnergyModel, bool]] = [(DirectModel(N), True)]
    if N <= 4:
        models.append((RBM(N, 2**N, "spin"), True))
    models.append((TanhNetwork(N, (2 * N,)), False))
    out = []
    for model, sufficient in models:
        rng = seeded_rng(seed, "c3-user-init", _family(model), N)
        inits = tuple(
            (s, model.init(rng, s)) for s in (scales[j % len(scales)] for j in range(profile.n_inits))
        )
        out.append(FlowCase(_family(model), N, "user-data", sufficient, model, q, inits, profile.t_max))
    return out


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
        flow_candidates(case, executor),
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


# ---- figures ------------------------------------------------------------------------------
def figures(report: ClaimReport, fig_dir: Path) -> list[str]:  # pragma: no mutate block
    """Residual order profiles of the spurious points, and |r| against the rank of A."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    rows = [r for r in report.verdict.evidence["points"] if r["kind"] != "unresolved"]
    paths = []
    fig, ax = plt.subplots(figsize=(9, 4.5))
    styles = {"construction-i": "o-", "construction-ii": "s-", "construction-iii": "^-", "flow": "x:"}
    seen: set[str] = set()
    for r in rows:
        if r["kind"] != "spurious":
            continue
        orders = np.arange(len(r["residual_order_norms"]))[1:]
        vals = np.maximum(np.asarray(r["residual_order_norms"][1:]), 1e-17)
        label = f"{r['origin']} ({r['family']})"
        ax.semilogy(
            orders, vals, styles.get(r["origin"], "x:"), alpha=0.7, label=None if label in seen else label
        )
        seen.add(label)
    ax.axhline(TOLERANCES["residual_atol"], color="grey", lw=0.8, ls="--", label="residual_atol")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("order k (|S|)")
    ax.set_ylabel(r"$\|r_k\|$ (moment residual, dimensionless)")
    ax.set_title("C3: residual order profile at spurious stationary points")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    p = fig_dir / "c3_residual_profiles.png"
    fig.savefig(p, dpi=120)
    plt.close(fig)
    paths.append(str(p))

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for kind, marker in (("data-consistent", "o"), ("spurious", "x")):
        sel = [r for r in rows if r["kind"] == kind]
        if sel:
            ax.scatter(
                [r["rank"] / r["n_rows"] for r in sel],
                [max(r["residual_norm"], 1e-17) for r in sel],
                marker=marker,
                label=f"{kind} ({len(sel)})",
            )
    ax.set_yscale("log")
    ax.axvline(1.0, color="grey", lw=0.8, ls="--", label="full row rank")
    ax.axhline(TOLERANCES["residual_atol"], color="grey", lw=0.8, ls=":", label="residual_atol")
    ax.set_xlabel(r"rank of $A$ / $(2^N - 1)$")
    ax.set_ylabel(r"$\|r\|$ (dimensionless)")
    ax.set_title("C3: full row rank only at data-consistent points")
    ax.legend(fontsize=8)
    fig.tight_layout()
    p = fig_dir / "c3_rank_vs_residual.png"
    fig.savefig(p, dpi=120)
    plt.close(fig)
    paths.append(str(p))
    return paths
