r"""Claim C2 — effective convexity.

Statement tested (docs/theory.md §5, C2): in the coordinates ``J``, ``L`` is
strictly concave (the Fisher matrix ``F`` is positive definite), its unique
maximiser is ``J(q)``, and the flow ``dJ/dt = r`` converges to it from any start.

The evaluation is written for a *coordinate system* given by a model, so the
same code both verifies the claim (``DirectModel``, ``theta = J``) and fails on
the negative control (RBM coordinates, where ``L`` is not concave):

* Hessian: ``-exact_hessian(model, theta, q)`` at sampled points must be
  positive definite; for the direct model it must also equal ``theory.fisher``
  (two routes). Smallest eigenvalue reported.
* Strict concavity from function values: midpoint gaps
  ``L((x+y)/2) - (L(x)+L(y))/2 > 0`` on sampled pairs.
* Flows from random starts (several scales) end at ``J(q)``.

Negative controls: RBM coordinates (concavity must fail) and a Fisher matrix
computed with ``S or T`` in place of ``S xor T`` (two-route check must fail).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor

import numpy as np
from dsb_verifier import theory as T
from dsb_verifier.checks.claims._args import check_run_arguments
from dsb_verifier.checks.claims._common import Worst, seeded_rng
from dsb_verifier.checks.claims.cases import distribution, draw_cases
from dsb_verifier.checks.claims.progress import ProgressFn, Tally
from dsb_verifier.checks.profiles import Profile
from dsb_verifier.checks.verdict import ClaimReport, ControlResult, Counterexample, Status, Verdict
from dsb_verifier.theory.dynamics.flow import Trajectory, integrate_flow
from dsb_verifier.theory.likelihood import exact_hessian, loglik
from dsb_verifier.theory.models import RBM, DirectModel, EnergyModel

__all__ = ["STATEMENT", "TOLERANCES", "evaluate", "run", "fisher_or"]

STATEMENT = (
    "In the effective coordinates J the average log-likelihood is strictly concave (Fisher "
    "positive definite), has the unique maximiser J(q), and the flow dJ/dt = r converges to it "
    "from any start."
)

TOLERANCES: dict[str, float] = {
    "fisher_two_routes_abs": 1e-10,
    # |lambda_min| / lambda_max below this is not resolved by float64 (no evidence either way)
    "pd_relative_floor": 1e-13,
    "midpoint_gap_floor": 0.0,
    "flow_endpoint_abs": 1e-6,
    "flow_gtol": 1e-9,
}


def fisher_or(p: np.ndarray) -> np.ndarray:
    """A deliberately wrong Fisher matrix (``S | T`` instead of ``S ^ T``): control only."""
    N = int(p.size).bit_length() - 1
    m = T.moments(p)
    S = np.arange(1, 2**N)
    return m[S[:, None] | S[None, :]] - np.outer(m[1:], m[1:])


def evaluate(
    model: EnergyModel,
    targets: Sequence[np.ndarray],
    flow_targets: Sequence[np.ndarray],
    *,
    seed: int,
    conditions: dict,
    point_scales: Sequence[float],
    flow_scales: Sequence[float],
    t_max: float,
    fisher_fn: Callable[[np.ndarray], np.ndarray] = T.fisher,
    executor: Executor | None = None,
    tally: Tally | None = None,
) -> Verdict:
    """Evaluate C2 in the coordinates of ``model``.

    Concavity (Hessian and midpoint tests) is probed at two points per scale in
    ``point_scales`` for each target in ``targets``; flows start once from each
    scale in ``flow_scales`` for each target in ``flow_targets``. A flow that
    reaches ``t_max`` still improving is counted as inconclusive, not as a
    counterexample; one that ends away from ``J(q)`` or fails is a counterexample.
    The flows run through ``executor.map`` (None: serially), with the same result.
    ``tally`` (if given) steps once per target's concavity probes and once per flow,
    as they complete.
    """
    step = tally.step if tally is not None else (lambda n=1: None)
    pd = Worst(0.0, "relative negative eigenvalue of -Hess L beyond the rounding floor", seed)
    two = Worst(TOLERANCES["fisher_two_routes_abs"], "|-Hess L(J) - fisher(p)|", seed)
    mid = Worst(0.0, "negative midpoint gap L((x+y)/2) - (L(x)+L(y))/2, per |x-y|^2", seed)
    flow = Worst(TOLERANCES["flow_endpoint_abs"], "|J(t_end) - J(q)| of a converged flow", seed)
    lam_min: list[float] = []
    lam_rel: list[float] = []
    n_unfinished = 0
    n_unresolved = 0  # points whose smallest eigenvalue is inside the rounding band
    direct = isinstance(model, DirectModel)
    N = model.n_visible
    for i, q in enumerate(targets):
        case = {"family": model.family, "N": N, "target": i}
        rng = seeded_rng(seed, "c2", model.family, N, i)
        points = [model.init(rng, s) for s in point_scales for _ in range(2)]
        for j, theta in enumerate(points):
            negH = -exact_hessian(model, theta, q)
            lam = np.linalg.eigvalsh(negH)
            lam_min.append(float(lam[0]))
            lam_rel.append(float(lam[0] / max(lam[-1], 1e-300)))
            # PD means lam_min > 0; eigenvalues below the rounding floor are not resolved
            rel = lam[0] / max(lam[-1], 1e-300)
            if abs(rel) <= TOLERANCES["pd_relative_floor"]:
                n_unresolved += 1  # float64 cannot tell this eigenvalue from 0: no evidence either way
            else:
                pd.add(-rel, point=j, **case)
            if direct:
                two.add(float(np.max(np.abs(negH - fisher_fn(model.prob(theta))))), point=j, **case)
        for j in range(0, len(points) - 1, 2):
            x, y = points[j], points[j + 1]
            gap = float(loglik(model, (x + y) / 2, q)) - 0.5 * float(
                loglik(model, x, q) + loglik(model, y, q)
            )
            mid.add(-gap / max(float(np.sum((x - y) ** 2)), 1e-300), pair=j, **case)
        step()
    starts = []  # drawn here, in order; the flows are independent tasks
    for i, q in enumerate(flow_targets):
        rng = seeded_rng(seed, "c2-flow", model.family, N, i)
        starts += [(i, s, (model, model.init(rng, s), q, t_max)) for s in flow_scales]
    trajectories = (executor.map if executor is not None else map)(_flow, [task for *_, task in starts])
    for (i, s, _), tr in zip(starts, trajectories, strict=True):
        J_star = T.couplings(flow_targets[i])
        case = {"family": model.family, "N": N, "flow_target": i, "init_scale": s, "status": tr.status}
        step()
        if tr.status == "t_max" and np.all(np.diff(tr.L) >= -1e-12):
            n_unfinished += 1
            continue
        err = float(np.max(np.abs(tr.J[-1][1:] - J_star[1:]))) if tr.status != "failed" else np.inf
        flow.add(err, **case)
    parts = {"hessian_pd": pd, "midpoint_concavity": mid, "flow_to_J_q": flow}
    if direct:
        parts["fisher_two_routes"] = two
    failures: list[Counterexample] = [c for w in parts.values() for c in w.failures]
    evidence: dict = {name: w.summary() for name, w in parts.items()}
    evidence["smallest_eigenvalue_of_minus_hessian"] = min(lam_min) if lam_min else None
    evidence["smallest_relative_eigenvalue"] = min(lam_rel) if lam_rel else None
    evidence["flows_unfinished_at_t_max"] = n_unfinished
    evidence["points_with_unresolved_smallest_eigenvalue"] = n_unresolved
    if failures:
        status = Status.FAILS
    elif flow.n == 0 and flow_targets:
        status = Status.INCONCLUSIVE
    else:
        status = Status.HOLDS
    return Verdict(
        claim="C2",
        statement=STATEMENT,
        status=status,
        conditions=conditions,
        evidence=evidence,
        tolerances=TOLERANCES,
        counterexamples=tuple(failures[:10]),
    )


def _flow(task: tuple[EnergyModel, np.ndarray, np.ndarray, float]) -> Trajectory:
    """One flow of :func:`evaluate` from ``(model, theta0, q, t_max)`` (a task for an executor)."""
    model, theta0, q, t_max = task
    return integrate_flow(model, theta0, q, t_max=t_max, gtol=TOLERANCES["flow_gtol"], n_checkpoints=20)


#: Largest N of a user target for the concavity probes and for the flows of C2.
_MAX_N_USER_CONCAVITY, _MAX_N_USER_FLOW = 10, 8


def run(
    profile: Profile,
    seed: int,
    target: np.ndarray | None = None,
    *,
    executor: Executor | None = None,
    progress: ProgressFn | None = None,
) -> ClaimReport:
    """Run C2 under ``profile`` with ``seed``; the flows run through ``executor.map`` (None: serially).

    A user ``target`` (``dsb-verify run --data``) joins the concavity probes when
    N <= 10 and the flows when N <= 8 (exact Hessians cost ``O(4^N)``).
    ``progress(done, total)`` follows the targets probed and the flows completed
    (of the real run, not the controls).
    """
    seed = check_run_arguments(profile, seed, target=target, executor=executor, progress=progress)
    t0 = time.perf_counter()
    n_max = min(profile.max_n_generic, 6)
    targets = draw_cases(
        lambda rng: distribution(rng, max_n=n_max, min_log10=-12), profile.n_cases, seed, "C2", "concavity"
    )
    flow_targets = draw_cases(
        lambda rng: distribution(rng, max_n=min(n_max, 5), min_log10=-3),
        max(3, profile.n_cases // 4),
        seed,
        "C2",
        "flows",
    )
    if target is not None:
        user = np.asarray(target, dtype=np.float64)
        if _n(user) <= _MAX_N_USER_CONCAVITY:
            targets.append(user)
        if _n(user) <= _MAX_N_USER_FLOW:
            flow_targets.append(user)
    point_scales, flow_scales = (0.1, 1.0), (0.1, 1.0, 3.0)
    conditions = {
        "coordinates": "direct (theta = J)",
        "N": sorted({_n(q) for q in targets + flow_targets}),
        "n_targets_concavity": len(targets),
        "n_targets_flow": len(flow_targets),
        "point_scales": list(point_scales),
        "flow_init_scales": list(flow_scales),
        "t_max": profile.t_max,
        "seed": seed,
        "target_strategy": "dsb_verifier.checks.claims.cases.distribution (min_log10=-12 concavity, -3 flows)",
    }
    tally = Tally(max(1, len(targets) + len(flow_targets) * len(flow_scales)), progress)
    verdicts = []
    for N in sorted({_n(q) for q in targets + flow_targets}):
        verdicts.append(
            evaluate(
                DirectModel(N),
                [q for q in targets if _n(q) == N],
                [q for q in flow_targets if _n(q) == N],
                seed=seed,
                conditions=conditions,
                point_scales=point_scales,
                flow_scales=flow_scales,
                t_max=profile.t_max,
                executor=executor,
                tally=tally,
            )
        )
    tally.finish()
    verdict = _merge(verdicts, conditions)
    q3 = T.dirichlet_target(3, seeded_rng(seed, "c2-controls"))
    controls = (
        ControlResult(
            claim="C2",
            name="rbm-coordinates",
            description="the same concavity test in RBM coordinates (N=3, M=2), where L is not concave",
            verdict=evaluate(
                RBM(3, 2),
                [q3],
                [],
                seed=seed,
                conditions={**conditions, "control": "rbm-coordinates"},
                point_scales=(1.0, 2.0),
                flow_scales=(),
                t_max=profile.t_max,
            ),
        ),
        ControlResult(
            claim="C2",
            name="fisher-or-not-xor",
            description="Fisher matrix built with S | T instead of S ^ T",
            verdict=evaluate(
                DirectModel(3),
                [q3],
                [],
                seed=seed,
                conditions={**conditions, "control": "fisher-or-not-xor"},
                point_scales=(0.5,),
                flow_scales=(),
                t_max=profile.t_max,
                fisher_fn=fisher_or,
            ),
        ),
    )
    return ClaimReport(verdict=verdict, controls=controls, seconds=time.perf_counter() - t0)


def _n(q: np.ndarray) -> int:
    return int(q.size).bit_length() - 1


def _merge(verdicts: Sequence[Verdict], conditions: dict) -> Verdict:
    """Combine per-N verdicts of the same claim into one (any failure fails it)."""
    failures = tuple(c for v in verdicts for c in v.counterexamples)
    evidence: dict = {"per_N": [dict(v.evidence) for v in verdicts]}
    for key in ("smallest_eigenvalue_of_minus_hessian", "smallest_relative_eigenvalue"):
        vals = [v.evidence[key] for v in verdicts if v.evidence[key] is not None]
        evidence[key] = min(vals) if vals else None
    evidence["flows_unfinished_at_t_max"] = sum(v.evidence["flows_unfinished_at_t_max"] for v in verdicts)
    evidence["points_with_unresolved_smallest_eigenvalue"] = sum(
        v.evidence["points_with_unresolved_smallest_eigenvalue"] for v in verdicts
    )
    n_pd = sum(e["hessian_pd"]["n_cases"] for e in evidence["per_N"])
    n_flows = sum(e["flow_to_J_q"]["n_cases"] for e in evidence["per_N"])
    worst_flow = max(e["flow_to_J_q"]["worst"] for e in evidence["per_N"])
    evidence["headline"] = (
        f"-Hess L positive definite at {n_pd} points "
        f"({evidence['points_with_unresolved_smallest_eigenvalue']} more unresolved in float64); "
        f"{n_flows} flows end at J(q) within {worst_flow:.0e}; "
        f"{evidence['flows_unfinished_at_t_max']} unfinished"
    )
    if failures:
        status = Status.FAILS
    elif any(v.status is Status.INCONCLUSIVE for v in verdicts):
        status = Status.INCONCLUSIVE
    else:
        status = Status.HOLDS
    return Verdict(
        claim="C2",
        statement=STATEMENT,
        status=status,
        conditions=conditions,
        evidence=evidence,
        tolerances=TOLERANCES,
        counterexamples=failures[:10],
    )
