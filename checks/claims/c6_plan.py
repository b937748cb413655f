r"""Claim C6, experiment plan: target populations, flows per regime, constructions.

Targets at each ``N`` (docs/theory.md §7, "Targets come from populations"):
``rbm-teacher#i`` (marginals of two-unit RBM teachers, hidden spins, scale 1),
``planted-3#i`` and ``planted-4#i`` (random generalised Ising models with planted
three-/four-body couplings, comparable structure at every order up to 3 or 4),
``three-body`` (the pure three-body :func:`theory.k_body_target`, no structure at orders 1–2),
``tanh-teacher#i`` (one-layer tanh teachers of width 2, for ``E2``), and ``user-data`` (the
empirical distribution of ``dsb-verify run --data``, when ``N <=`` :data:`MAX_N_USER`).
``i < 2`` per population.

Flows (``min(n_inits, 4)`` starts per (model, target) at the profile's scales within ``[0.1, 1]``,
horizon ``t_max``; same-size teacher–student ``max(t_max, 1e5)``; :func:`flow_sweep` of C3,
through the executor):

* ``E1`` — the direct model; RBMs (hidden spins and bits) of the smallest width with
  ``P >= 2^N - 1`` (``M = 3, 5, 9`` at ``N = 4, 5, 6``); the universal width ``M = 2^N``
  (hidden spins) up to :data:`_UNIVERSAL_MAX_N`; one-layer tanh networks of width ``2N``;
  on every target except the tanh teachers. Each model's regime is computed
  (:func:`dsb_verifier.checks.claims.c6_points.regime_of`), not assumed.
* ``E2`` — two-unit RBM students (spins and bits) of the two-unit RBM teachers and
  width-2 tanh students of the tanh teachers, for ``N >= 4`` (where ``P < 2^N - 1``).
* ``other`` — the pairwise truncated model on the planted-3 targets (its max-ent fit is
  inconsistent at order 3, which it cannot represent).

Constructions: C3's (i) ``W = 0`` and (ii) tied-unit points of two-unit RBMs and (iii)
max-ent fits on a two-unit teacher's target (``E2`` for (i), (ii) at ``N >= 4``; ``other``
for (iii)); the same (i) and (ii) for the ``E1`` RBMs (smallest over-parameterised and
universal width) on the same target; and the ``W = 0`` points (hidden biases 0 and 1) of
``RBM(4, 16)`` on the pure three-body target.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
from dsb_verifier import theory as T
from dsb_verifier.checks.claims._common import seeded_rng
from dsb_verifier.checks.claims.c3_fixed_points import (
    Candidate,
    FlowCase,
    _construction_teacher,
    construction_candidates,
    flow_sweep,
)
from dsb_verifier.checks.claims.c6_points import Item, regime_of, same_size
from dsb_verifier.checks.claims.cases import ORDER_PROFILES
from dsb_verifier.checks.claims.progress import Tally
from dsb_verifier.checks.profiles import Profile
from dsb_verifier.theory.dynamics.fixed_points import POLISH_GTOL, TiedRBM, independent_point, tied_point
from dsb_verifier.theory.models import RBM, DirectModel, EnergyModel, TanhNetwork, TruncatedIsing, rbm_teacher
from numpy.typing import NDArray

__all__ = [
    "MAX_N_USER",
    "PlannedFlow",
    "Target",
    "construction_Ns",
    "construction_items",
    "n_construction_tasks",
    "flow_items",
    "flow_plan",
    "minimal_width",
    "plan_Ns",
    "targets",
    "three_body_candidates",
]

#: Largest N of a user target (``--data``) taking part in C6 (E1 flows cost ``O(P^2 2^N)`` per step).
MAX_N_USER = 6
#: Universal-width RBMs (``M = 2^N``) up to this N.
_UNIVERSAL_MAX_N = {"quick": 4}
_UNIVERSAL_MAX_N_DEFAULT = 5
_TEACHER_UNITS = 2
_TANH_TEACHER_WIDTH = 2
_TS_T_MAX = 1e5
_THREE_BODY = (0b0111, 1.0)  # subset, beta of the pure three-body target
_TIED_INIT_SCALE = 0.1
_MAX_STARTS = 4


@dataclass(frozen=True)
class Target:
    """A target of the population with its key and, for teachers, the teacher's family and size."""

    key: str
    N: int
    q: NDArray[np.float64]
    teacher_family: str | None = None
    teacher_n_params: int | None = None


@dataclass(frozen=True)
class PlannedFlow:
    """A flow case of C3's sweep with the C6 regime and target key of its end points."""

    case: FlowCase
    regime: str
    target_key: str


def plan_Ns(profile: Profile) -> list[int]:
    """N of the C6 sweep: 4 for ``quick``; 4, 5, 6 (up to ``max_n_rbm``) for larger profiles."""
    return [4] if profile.max_n_rbm <= 4 else sorted({4, 5, 6} & set(range(4, profile.max_n_rbm + 1)))


def minimal_width(N: int) -> int:
    """Smallest ``M`` with ``P = N + M + N M >= 2^N - 1`` (an over-parameterised RBM)."""
    return -(-(2**N - 1 - N) // (N + 1))


def _n_targets(profile: Profile) -> int:
    return 2


def n_starts(profile: Profile) -> int:
    """Starts per (model, target): ``n_inits``, at most :data:`_MAX_STARTS` (the cost grows like ``4^N``)."""
    return min(profile.n_inits, _MAX_STARTS)


def targets(profile: Profile, seed: int, N: int, user: NDArray[np.float64] | None = None) -> list[Target]:
    """The target populations at ``N`` (module docstring), seeded per population and index."""
    out: list[Target] = []
    for i in range(_n_targets(profile)):
        model, _, q = rbm_teacher(N, _TEACHER_UNITS, seeded_rng(seed, "c6-rbm-teacher", N, i), 1.0, "spin")
        out.append(Target(f"rbm-teacher#{i}", N, q, model.family, model.n_params))
    for name in ("planted-3", "planted-4"):
        for i in range(_n_targets(profile)):
            q = T.ising_target(N, ORDER_PROFILES[name], seeded_rng(seed, "c6-" + name, N, i))
            out.append(Target(f"{name}#{i}", N, q))
    out.append(Target("three-body", N, T.k_body_target(N, _THREE_BODY[0], _THREE_BODY[1])))
    for i in range(_n_targets(profile)):
        tanh = TanhNetwork(N, (_TANH_TEACHER_WIDTH,))
        q = tanh.prob(tanh.init(seeded_rng(seed, "c6-tanh-teacher", N, i), 1.0))
        out.append(Target(f"tanh-teacher#{i}", N, q, tanh.family, tanh.n_params))
    if user is not None and int(user.size).bit_length() - 1 == N:
        out.append(Target("user-data", N, np.asarray(user, dtype=np.float64)))
    return out


def _e1_models(profile: Profile, N: int) -> list[EnergyModel]:
    M = minimal_width(N)
    models: list[EnergyModel] = [DirectModel(N), RBM(N, M, "spin"), RBM(N, M, "bit")]
    if N <= _UNIVERSAL_MAX_N.get(profile.name, _UNIVERSAL_MAX_N_DEFAULT):
        models.append(RBM(N, 2**N, "spin"))
    models.append(TanhNetwork(N, (2 * N,)))
    return models


def flow_plan(profile: Profile, seed: int, user: NDArray[np.float64] | None = None) -> list[PlannedFlow]:
    """Every flow case of the sweep with its regime (module docstring)."""
    scales = [s for s in profile.init_scales if 0.1 <= s <= 1.0] or [0.1, 1.0]
    plan: list[PlannedFlow] = []

    def add(model: EnergyModel, tg: Target, *, teacher: bool) -> None:
        same = (
            teacher
            and tg.teacher_family is not None
            and same_size(model, tg.teacher_family, int(tg.teacher_n_params or 0))
        )
        regime = regime_of(model, same_size_teacher=same, seed=seed)
        fam = f"truncated-{model.max_order}" if isinstance(model, TruncatedIsing) else model.family
        rng = seeded_rng(seed, "c6-init", fam, model.n_params, tg.N, tg.key)
        inits = tuple(
            (s, model.init(rng, s)) for s in (scales[j % len(scales)] for j in range(n_starts(profile)))
        )
        t_max = max(profile.t_max, _TS_T_MAX) if same else profile.t_max
        plan.append(
            PlannedFlow(
                FlowCase(fam, tg.N, tg.key, regime != "other", model, tg.q, inits, t_max), regime, tg.key
            )
        )

    user_N = {int(user.size).bit_length() - 1} if user is not None and _user_ok(user) else set()
    Ns = sorted(set(plan_Ns(profile)) | user_N)
    for N in Ns:
        if N in plan_Ns(profile):
            tgs = targets(profile, seed, N, user if _user_ok(user) else None)
        else:  # a user target at an N the sweep does not cover: the E1 models on it alone
            assert user is not None
            tgs = [Target("user-data", N, np.asarray(user, dtype=np.float64))]
        if N in plan_Ns(profile):
            for tg in tgs:
                if tg.key.startswith("rbm-teacher"):
                    for h in ("spin", "bit"):
                        add(RBM(N, _TEACHER_UNITS, h), tg, teacher=True)
                if tg.key.startswith("tanh-teacher"):
                    add(TanhNetwork(N, (_TANH_TEACHER_WIDTH,)), tg, teacher=True)
                if tg.key == "planted-3#0":
                    add(TruncatedIsing(N, 2), tg, teacher=False)
        for model in _e1_models(profile, N):
            for tg in tgs:
                if tg.key.startswith("tanh-teacher") or (N not in plan_Ns(profile) and tg.key != "user-data"):
                    continue
                add(model, tg, teacher=False)
    return plan


def _user_ok(user: NDArray[np.float64] | None) -> bool:
    return user is not None and int(user.size).bit_length() - 1 <= MAX_N_USER


def flow_items(
    plan: Sequence[PlannedFlow], executor: Executor | None = None, tally: Tally | None = None
) -> list[Item]:
    """Integrate and polish every planned flow (C3's :func:`flow_sweep`) and attach regimes.

    ``tally`` (if given) steps as each flow's polished end point arrives.
    """
    cands = flow_sweep([p.case for p in plan], executor, tally)
    regimes = [(p.regime, p.target_key) for p in plan for _ in p.case.inits]
    return [Item(c, r, k) for c, (r, k) in zip(cands, regimes, strict=True)]


def three_body_candidates() -> list[Candidate]:
    """``W = 0`` points of ``RBM(4, 16)`` on the pure three-body target (no structure at orders 1, 2).

    With ``W = 0`` every hidden bias ``c`` gives a stationary point with the same
    ``p`` (:meth:`dsb_verifier.theory.models.RBM.fields_matching`); ``c = 0`` and ``c = 1`` are
    examined. Both are inconsistent from order 3 only, and the Hessian sees no
    unstable direction (the order-2 residual that drives the instability of
    construction (i) vanishes); the higher-order probe tells them apart.
    """
    N = 4
    q = T.k_body_target(N, _THREE_BODY[0], _THREE_BODY[1])
    model = RBM(N, 2**N, hidden="spin")
    out = []
    for c0 in (0.0, 1.0):
        theta = model.fields_matching(q, c=np.full(model.n_hidden, c0))
        g = float(np.linalg.norm(T.grad_loglik(model, theta, q)))
        out.append(
            Candidate("construction-i", model.family, N, "three-body", True, model, q, theta, g, {"c": c0})
        )
    return out


def e1_construction_task(task: tuple[int, int, tuple[int, ...], float]) -> list[Candidate]:
    """Constructions (i) and (ii) for over-parameterised RBMs of widths ``Ms`` on C3's construction target.

    A task for an executor: ``(N, seed, Ms, t_max)``. The target is the draw-0 two-unit
    teacher of C3's constructions (:func:`construction_candidates`), so the ``E1`` and
    ``E2`` constructions share it.
    """
    N, seed, Ms, t_max = task
    _, _, q = _construction_teacher(N, seed, 0)
    out = []
    for M in Ms:
        for h in ("spin", "bit"):
            model, theta = independent_point(q, M, h)
            g = float(np.linalg.norm(T.grad_loglik(model, theta, q)))
            out.append(
                Candidate(
                    "construction-i",
                    model.family,
                    N,
                    "construction-teacher#0",
                    True,
                    model,
                    q,
                    theta,
                    g,
                    {"c": 0.0},
                )
            )
            theta0 = TiedRBM(N, M, h).init(seeded_rng(seed, "c6-tied", N, M, h), _TIED_INIT_SCALE)
            model, theta = tied_point(q, theta0, n_copies=M, hidden=h, t_max=t_max, gtol=POLISH_GTOL)
            g = float(np.linalg.norm(T.grad_loglik(model, theta, q)))
            out.append(
                Candidate(
                    "construction-ii",
                    model.family,
                    N,
                    "construction-teacher#0",
                    True,
                    model,
                    q,
                    theta,
                    g,
                    {"tied_units": M},
                )
            )
    return out


def _c3_construction_task(task: tuple[int, int, float]) -> list[Candidate]:
    N, seed, t_max = task
    return construction_candidates(N, seed, hidden=("spin", "bit"), t_max=t_max)


def construction_Ns(profile: Profile) -> list[int]:
    """N of the constructions: 4 for profiles with ``max_n_rbm <= 4``, else 4 and 5."""
    return [4] if profile.max_n_rbm <= 4 else [4, 5]


def n_construction_tasks(profile: Profile) -> int:
    """Tasks of :func:`construction_items`: C3's constructions and the ``E1`` ones, one of each per N."""
    return 2 * len(construction_Ns(profile))


def construction_items(
    profile: Profile, seed: int, executor: Executor | None = None, tally: Tally | None = None
) -> list[Item]:
    """Every construction of the module docstring with its regime and target key.

    The :func:`n_construction_tasks` tasks run through ``executor.map`` (None: serially);
    ``tally`` (if given) steps as each task's constructions arrive.
    """
    Ns = construction_Ns(profile)
    t_max = max(profile.t_max, _TS_T_MAX)
    mapper = executor.map if executor is not None else map

    def collect(built: Iterable[list[Candidate]]) -> list[list[Candidate]]:
        out = []
        for cands in built:
            out.append(cands)
            if tally is not None:
                tally.step()
        return out

    c3_built = collect(mapper(_c3_construction_task, [(N, seed, t_max) for N in Ns]))
    e1_tasks = []
    for N in Ns:
        Ms = (minimal_width(N),) + (
            (2**N,) if N <= _UNIVERSAL_MAX_N.get(profile.name, _UNIVERSAL_MAX_N_DEFAULT) else ()
        )
        e1_tasks.append((N, seed, Ms, t_max))
    e1_built = collect(mapper(e1_construction_task, e1_tasks))
    items: list[Item] = []
    for cands in c3_built:
        for c in cands:
            if c.origin == "teacher":
                continue
            key = f"construction-teacher#{c.info.get('teacher_draw', 0)}"
            same = isinstance(c.model, RBM) and c.model.n_hidden == _TEACHER_UNITS
            items.append(Item(c, regime_of(c.model, same_size_teacher=same, seed=seed), key))
    for cands in e1_built:
        for c in cands:
            items.append(Item(c, regime_of(c.model, same_size_teacher=False, seed=seed), c.target))
    for c in three_body_candidates():
        items.append(Item(c, regime_of(c.model, same_size_teacher=False, seed=seed), "three-body"))
    return items
