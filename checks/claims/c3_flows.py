r"""Claim C3, the flow sweep: which (family, target) pairs flow, and their polished end points.

:func:`flow_plan` draws the pairs and their seeded initialisations (teacher–student and
generic targets; :func:`user_flow_cases` adds the user's ``--data`` target);
:func:`flow_sweep` integrates every flow (LSODA with the exact Hessian, stopped at
``|grad| < flow_gtol``) and polishes each end point (Levenberg–Marquardt) into a
:class:`~.c3_candidates.Candidate`. Which pairs are declared sufficiently expressive, and
why, is documented in :mod:`dsb_verifier.checks.claims.c3_fixed_points`.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np
from dsb_verifier import theory as T
from dsb_verifier.checks.claims._common import seeded_rng
from dsb_verifier.checks.claims.c3_candidates import (
    _TEACHER_SCALE,
    _TEACHER_UNITS,
    _TS_T_MAX,
    TOLERANCES,
    Candidate,
    FlowCase,
    _family,
)
from dsb_verifier.checks.claims.cases import ORDER_PROFILES
from dsb_verifier.checks.claims.progress import Tally
from dsb_verifier.checks.profiles import Profile
from dsb_verifier.theory.dynamics.fixed_points import polish
from dsb_verifier.theory.dynamics.flow import integrate_flow
from dsb_verifier.theory.models import RBM, DirectModel, EnergyModel, TanhNetwork, TruncatedIsing, rbm_teacher
from numpy.typing import NDArray

__all__ = [
    "MAX_N_USER",
    "flow_candidates",
    "flow_plan",
    "flow_sweep",
    "generic_target",
    "user_flow_cases",
]

#: Iterations of the polish of each flow's end point.
_POLISH_MAX_ITER = 40


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
