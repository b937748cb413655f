r"""Claim C4, the points of the real run: teachers, converged flow end points, the user's data.

Every point is offered to :func:`~.c4_verdict.evaluate` as data-consistent (``q = p_theta*``):
:func:`_teacher_points` (a seeded teacher of each family and size is its own data-consistent
point), :func:`_flow_points` (students trained by gradient flow on a teacher's target, kept
when converged to ``KL <= flow_kl_max`` and moved onto ``J(theta) = J(q)`` by
:func:`_polish`), and :func:`_user_points` (``dsb-verify run --data``). The sizes and why
they are chosen are documented in :mod:`dsb_verifier.checks.claims.c4_stability`.
"""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any

import numpy as np
from dsb_verifier import theory as T
from dsb_verifier.checks.claims._common import seeded_rng
from dsb_verifier.checks.claims.c4_point import TOLERANCES, Point
from dsb_verifier.checks.claims.progress import Tally
from dsb_verifier.checks.profiles import Profile
from dsb_verifier.theory.dynamics.flow import integrate_flow
from dsb_verifier.theory.models import RBM, DirectModel, EnergyModel, TanhNetwork, TruncatedIsing

__all__ = ["MAX_N_USER", "MAX_N_USER_FLOW"]

#: Teacher scales are the profile's initialisation scales inside this range.
_TEACHER_SCALE_RANGE = (0.03, 3.0)

#: Horizon of the flows whose end points are tested (LSODA is stiff-stable: ~0.5 s each).
_FLOW_T_MAX = 1e5

#: (family, widths) of the N = 3 students of :func:`_flow_points`, ``n_inits`` flows each.
_FLOW_STUDENTS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("rbm-spin", (3,)),
    ("rbm-bit", (3,)),
    ("tanh-1", (4,)),
)


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


def _flow_task(task: tuple[EnergyModel, np.ndarray, np.ndarray, float]) -> Any:
    """One flow of :func:`_flow_points` (module level, so an executor's workers can run it)."""
    model, theta0, q, t_max = task
    return integrate_flow(model, theta0, q, t_max=t_max, gtol=1e-9, n_checkpoints=4)


def _n_flows(profile: Profile) -> int:
    """Number of teacher–student flows of :func:`_flow_points` (three families, ``n_inits`` each)."""
    return len(_FLOW_STUDENTS) * profile.n_inits


def _flow_points(
    profile: Profile, seed: int, start: int, executor: Executor | None = None, tally: Tally | None = None
) -> tuple[list[Point], dict]:
    """Flow end points (N = 3 students of the teacher's family) that converged to KL ~ 0.

    The flows run through ``executor.map`` (None: serially); the points do not depend on it.
    ``tally`` (if given) steps as each flow's end arrives, and once more for a flow whose end
    point is not kept (its point will not be evaluated; :func:`.c4_stability.run`).
    """
    out: list[Point] = []
    log: dict[str, Any] = {"run": 0, "converged": 0, "used": 0, "t_max": _FLOW_T_MAX, "cases": []}
    cases = []
    for family, widths in _FLOW_STUDENTS:
        model = _build(family, 3, widths)
        for j in range(profile.n_inits):
            rng = seeded_rng(seed, "c4-flow", family, j)
            teacher = model.init(rng, 1.0)
            cases.append((family, widths, j, model, model.prob(teacher), model.init(rng, 0.5)))
    tasks = [(model, theta0, q, log["t_max"]) for _, _, _, model, q, theta0 in cases]
    trajectories = (executor.map if executor is not None else map)(_flow_task, tasks)
    for (family, widths, j, model, q, _), tr in zip(cases, trajectories, strict=True):
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
        if tally is not None:
            tally.step()  # the flow
            if not entry["used"]:
                tally.step()  # its point, never evaluated
    return out, log


#: Largest N of a user target (``--data``) for the direct-model point, and for the flows.
MAX_N_USER, MAX_N_USER_FLOW = 8, 5


def _user_units(N: int) -> int:
    """Progress units of :func:`_user_points` on a target of ``N`` bits: its flows and its points."""
    if N > MAX_N_USER:
        return 0
    n_flows = 2 if N <= MAX_N_USER_FLOW else 0
    return 1 + 2 * n_flows


def _user_points(
    q: np.ndarray, seed: int, start: int, tally: Tally | None = None
) -> tuple[list[Point], dict[str, Any]]:
    """Data-consistent points on the user's empirical distribution ``q`` (``dsb-verify run --data``).

    The direct model at ``theta = J(q)`` (exactly data-consistent, ``ker A = {0}``) when
    ``N <= MAX_N_USER``; and, when ``N <= MAX_N_USER_FLOW``, the end points of flows of an
    over-parameterised RBM (``M = 2^N``, hidden spins) and of a one-layer tanh network
    (width ``2N``) from scale 0.5, kept exactly as the teacher–student flow points are
    (converged to ``KL <= flow_kl_max``, then polished onto ``J(theta) = J(q)``). ``tally``
    (if given) steps as each flow ends, and once more for a flow whose point is not kept.
    """
    N = int(q.size).bit_length() - 1
    log: dict[str, Any] = {"N": N, "points": 0, "flows": []}
    if N > MAX_N_USER:
        log["skipped"] = f"N = {N} > {MAX_N_USER}: no point on the user's data"
        return [], log
    base = {"N": N, "target": "user-data"}
    direct = DirectModel(N)
    out = [
        Point(
            direct,
            T.couplings(q)[1:],
            q,
            {
                **base,
                "family": "direct",
                "P": direct.n_params,
                "widths": [],
                "origin": "user-data",
                "index": start,
            },
        )
    ]
    if N <= MAX_N_USER_FLOW:
        for family, widths in (("rbm-spin", (2**N,)), ("tanh-1", (2 * N,))):
            model = _build(family, N, widths)
            rng = seeded_rng(seed, "c4-user-flow", family, N)
            tr = integrate_flow(model, model.init(rng, 0.5), q, t_max=_FLOW_T_MAX, gtol=1e-9, n_checkpoints=4)
            kl_end = float(T.kl(q, model.prob(tr.theta_end)))
            theta = _polish(model, tr.theta_end, q) if kl_end <= TOLERANCES["flow_kl_max"] else None
            log["flows"].append(
                {"family": family, "status": tr.status, "kl_end": kl_end, "used": theta is not None}
            )
            if tally is not None:
                tally.step()  # the flow
                if theta is None:
                    tally.step()  # its point, never evaluated
            if theta is not None:
                case = {
                    **base,
                    "family": family,
                    "P": model.n_params,
                    "widths": list(widths),
                    "origin": "user-data flow",
                    "flow_kl_end": kl_end,
                    "index": start + len(out),
                }
                out.append(Point(model, theta, q, case))
    log["points"] = len(out)
    return out, log
