r"""Run Claim C5: the plan's flows, the kernel predictions, the verdict and its control.

Claim C5 (docs/theory.md §5, decided as in §7 / ``docs/theory.md``). :func:`run`
integrates every flow of the plan (:mod:`.plan`) and of the reversed-kernel
control through one ``executor.map`` call (None: serially; the report does not
depend on it), measures the tangent-kernel scales while they run, and decides
both through the same :func:`~dsb_verifier.checks.claims.c5.verdict.evaluate`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import numpy as np
from dsb_verifier.checks.claims._args import check_run_arguments
from dsb_verifier.checks.claims.c5.mechanism import (
    KERNEL_SEEDS,
    KERNEL_WINDOW,
    SEPARATION_RATIO,
    exponents,
    kernel_scale,
    representable_orders,
)
from dsb_verifier.checks.claims.c5.pairs import MAX_N_READING_C
from dsb_verifier.checks.claims.c5.plan import (
    BATCH_MAX_PARAMS,
    BATCH_SIZE,
    CONTROL_FAMILY,
    CONTROL_GAIN,
    FLOW,
    LSODA_TOL,
    MAX_N_USER,
    PLANTED_NORM,
    STRUCTURE_FLOOR,
    TEACHER_SCALE,
    FlowRun,
    Plan,
    build_model,
    flow_batches,
    flow_cases,
    integrate_batch,
    plan_for,
    tie_ratio,
)
from dsb_verifier.checks.claims.c5.verdict import evaluate
from dsb_verifier.checks.claims.replicate import combine, combine_controls, replicate_seed
from dsb_verifier.checks.profiles import Profile
from dsb_verifier.checks.verdict import ClaimReport, ControlResult, Verdict
from dsb_verifier.theory._validation import distribution
from dsb_verifier.theory.dynamics.flow import BATCH_METHOD
from numpy.typing import NDArray

__all__ = ["run"]


def _user(target: Any) -> tuple[NDArray[np.float64] | None, dict[str, Any] | None]:
    if target is None:
        return None, None
    q, N = distribution(target, "target")
    if q.ndim != 1:
        raise ValueError(f"target must be one distribution of shape (2^N,), got shape {q.shape}")
    if N < 2:
        return None, {"N": N, "used": False, "reason": "N < 2: no pair of orders to compare"}
    if N > MAX_N_USER:
        return None, {
            "N": N,
            "used": False,
            "reason": f"N > {MAX_N_USER}: flows too costly; generated targets only",
        }
    return np.asarray(q, dtype=np.float64), {"N": N, "used": True}


def run(
    profile: Profile,
    seed: int,
    target: NDArray[np.float64] | None = None,
    *,
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
    plan: Plan | None = None,
) -> ClaimReport:
    """Run C5 under ``profile`` with ``seed``: the verdict and the reversed-kernel control.

    The whole experiment runs at ``seed`` and at its replicate seed
    (:mod:`~dsb_verifier.checks.claims.replicate`): the status is the one both give,
    else ``inconclusive``; the control is caught only if it fails at both.

    Parameters
    ----------
    profile, seed
        Sizes (:func:`~dsb_verifier.checks.claims.c5.plan.plan_for`) and the seed of every draw.
    target
        A user target (``dsb-verify run --data``); joins as population ``user`` when ``N <= 8``.
    executor
        Where flows and settle times run (``executor.map``); None: serially.
    progress
        Called as ``progress(done, total)`` as flows complete.
    plan
        Overrides the profile's plan (tests, notebooks).
    """
    seed = check_run_arguments(profile, seed, target=target, executor=executor, progress=progress)
    t0 = time.perf_counter()
    plan = plan if plan is not None else plan_for(profile)
    user, user_note = _user(target)
    seeds = (seed, replicate_seed(seed))
    drawn = [
        (flow_cases(plan, s, control=False, user=user), flow_cases(plan, s, control=True, user=user))
        for s in seeds
    ]
    order = [
        (s, part, r, c)
        for s, d in zip(seeds, drawn, strict=True)
        for part, (rs, cs) in zip(("real", "control"), d, strict=True)
        for r, c in zip(rs, cs, strict=True)
    ]
    mapper = executor.map if executor is not None else map
    cases = [c for *_, c in order]
    batches = flow_batches(cases)
    pending = mapper(integrate_batch, [[cases[i] for i in b] for b in batches])  # both seeds, at once
    mech = {s: _mechanism([r for _, part, r, _ in order], s) for s in seeds}  # measured while flows run
    done: dict[tuple[int, str], list[FlowRun]] = {
        (s, part): [] for s in seeds for part in ("real", "control")
    }
    k = 0
    for batch, trs in zip(batches, pending, strict=True):
        for i, tr in zip(batch, trs, strict=True):
            s, part, r, _ = order[i]
            done[(s, part)].append(FlowRun(**{**r.__dict__, "trajectory": tr}))
        k += len(batch)
        if progress is not None:
            progress(k, len(order))
    results = [
        _decide(plan, s, done[(s, "real")], done[(s, "control")], mech[s], user_note, executor) for s in seeds
    ]
    verdict = combine(results[0][0], results[1][0], seeds)
    controls = combine_controls((results[0][1],), (results[1][1],), seeds)
    return ClaimReport(verdict=verdict, controls=controls, seconds=time.perf_counter() - t0)


_Mechanism = tuple[
    dict[tuple[str, int, float], NDArray[np.float64]],
    dict[tuple[str, int], NDArray[np.float64]],
    dict[tuple[str, int], tuple[int, ...]],
]


def _mechanism(runs: list[FlowRun], seed: int) -> _Mechanism:
    """Kernel scales per (family, N, sigma), block exponents and representable orders per (family, N)."""
    kernels: dict[tuple[str, int, float], NDArray[np.float64]] = {}
    expo: dict[tuple[str, int], NDArray[np.float64]] = {}
    representable: dict[tuple[str, int], tuple[int, ...]] = {}
    for r in runs:
        if (r.family, r.N) not in expo:
            expo[(r.family, r.N)] = exponents(build_model(r.family, r.N), seed)
            representable[(r.family, r.N)] = representable_orders(build_model(r.family, r.N), seed)
        if (r.family, r.N, r.init_scale) not in kernels:
            kernels[(r.family, r.N, r.init_scale)] = kernel_scale(
                build_model(r.family, r.N), r.init_scale, seed
            )
    return kernels, expo, representable


def _decide(
    plan: Plan,
    seed: int,
    runs: list[FlowRun],
    control_runs: list[FlowRun],
    mech: _Mechanism,
    user_note: dict[str, Any] | None,
    executor: Executor | None,
) -> tuple[Verdict, ControlResult]:
    """The verdict and the reversed-kernel control of one seed's flows (one :func:`evaluate` for both)."""
    kernels, expo, representable = mech
    rho = tie_ratio(plan.t_max)
    conditions = {
        "stages": [
            {
                "N": s.N,
                "families": list(s.families),
                "n_targets_per_population": s.n_targets,
                "n_inits": s.n_inits,
                "init_scales": list(s.scales),
            }
            for s in plan.stages
        ],
        "populations": {
            "planted": f"couplings of order k ~ N(0, c^2/C(N,k)), c = {PLANTED_NORM:g}: comparable structure at every order",
            "k-body": f"fields plus couplings of one order k >= 2 only (k cycles through 2..N), norm c = {PLANTED_NORM:g} each",
            "teacher": f"a random model of the family, parameters N(0, {TEACHER_SCALE:g}^2) (direct: planted)",
        },
        "user_target": user_note,
        "structure_floor": STRUCTURE_FLOOR,
        "taus": list(plan.taus),
        "tie_ratio": rho,
        "readings": {
            "a": "moment residual |r_k(t)|",
            "b": "coupling error |J_k(t) - J*_k|",
            "c": f"connected-information gap |I_k(q) - I_k(p_t)| (computed for N <= {MAX_N_READING_C})",
        },
        "flow": {
            "method": f"{BATCH_METHOD} (batches of at most {BATCH_SIZE} flows) for models with at most "
            f"{BATCH_MAX_PARAMS} parameters; LSODA (rtol {LSODA_TOL['rtol']:g}, atol {LSODA_TOL['atol']:g}) above",
            "t_max": plan.t_max,
            **FLOW,
        },
        "kernel": {
            "seeds": KERNEL_SEEDS,
            "exponent_window": list(KERNEL_WINDOW),
            "separation_ratio": SEPARATION_RATIO,
        },
        "control": f"{CONTROL_FAMILY}: J_S = g^|S| theta_S, g = {CONTROL_GAIN:g}, on the planted, k-body and every family's teacher targets",
        "seed": seed,
    }
    common = {
        "taus": plan.taus,
        "seed": seed,
        "rho": rho,
        "kernels": kernels,
        "exponents": expo,
        "representable": representable,
        "executor": executor,
    }
    mechanism = {
        f"{f} N={N}": {"exponents": {str(k): float(v) for k, v in enumerate(s) if k > 0}}
        for (f, N), s in expo.items()
    }
    verdict = evaluate(
        runs, reference=control_runs, conditions=conditions, extra_evidence={"mechanism": mechanism}, **common
    )
    control = ControlResult(
        claim="C5",
        name="reversed-kernel",
        description=(
            f"J_S = g^|S| theta_S with g = {CONTROL_GAIN:g} (tangent kernel diag(g^(2|S|)): each order "
            f"{CONTROL_GAIN**2:g} times faster than the one below), same targets and starts, same evaluate"
        ),
        verdict=evaluate(
            control_runs,
            reference=control_runs,
            conditions={**conditions, "families": [CONTROL_FAMILY]},
            **common,
        ),
    )
    return verdict, control
