r"""The C5 experiment plan: targets from populations x families x N x sigma x initialisations.

Claim C5 (docs/theory.md §5, decided as in §7 and ``docs/theory.md``, "How C5 is
decided"). For each stage of the plan (one ``N``): every family of the stage runs
on many targets drawn from several populations, from several initialisations,
at every initialisation scale :math:`\sigma` of the stage:

``planted``
    Generalised Ising models with equal structure at every order: the couplings of
    order ``k`` point in a uniformly random direction of :math:`\mathbb R^{\binom Nk}`
    with norm exactly :math:`\|J^*_k\| = c` (``c = PLANTED_NORM``), so every order is
    structured (a single coupling at ``k = N`` is never left below the floor by chance).
``k-body``
    Fields plus couplings of one order ``k >= 2`` only (norm ``c`` at both orders);
    ``k`` cycles through ``2..N`` over the population's targets.
``teacher``
    A random model of the family itself, every parameter
    :math:`\mathcal N(0, \mathrm{TEACHER\_SCALE}^2)` — realisable by construction
    (for the direct model: a planted model).
``user``
    The user's ``--data`` target (``N <= MAX_N_USER``), with the first stage's settings.

Power rule (decided before the runs of 0.3.0's last revision; docs/theory.md): every
pair a population is built to produce gets at least :data:`PAIR_RUNS` runs (targets x
initialisations) per (family, N, sigma) in the named profiles — the fewest with which a
pair can be decided at 95 % (:func:`~dsb_verifier.checks.claims.c5.stats.min_decidable_runs`):
``ceil(PAIR_RUNS / n_inits)`` planted and teacher targets, and as many k-body targets for
*each* ``k = 2..N`` (pair ``(1, k)`` comes from the k-body targets of that ``k`` alone). The
user's target gets ``PAIR_RUNS`` initialisations at least.

Realisability: a run's student *may not represent* its target when the model has fewer
parameters than the effective model (``P < 2^N - 1``) and the target is not a teacher of
its family (``FlowRun.realisable`` False); there an order that never settles may be one the
model cannot learn, so a censored order decides nothing (docs/theory.md).

``planted`` and ``k-body`` targets depend on the seed, ``N`` and their index only,
so every family (and the reversed-kernel control) meets the same ones. Seed
``j``'s initial direction is drawn once per (family, target, ``j``) and scaled
by each :math:`\sigma`. Every start is drawn in the parent. Flows are integrated
in batches (:func:`flow_batches`, :func:`integrate_batch`): consecutive flows of one
model, at most :data:`BATCH_SIZE` at a time, by the batched BDF integrator
(:func:`~dsb_verifier.theory.dynamics.batch_flow.integrate_flows_batched`) for
models with at most :data:`BATCH_MAX_PARAMS` parameters and by one-at-a-time LSODA
above. The batches are fixed by the plan alone and run through ``executor.map`` in
order, so the report does not depend on the executor.

Glossary: ``q`` target, ``N`` spins, ``sigma`` initialisation scale, ``c`` planted
per-order coupling norm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from dsb_verifier import theory as T
from dsb_verifier.checks.claims._common import make_model, seeded_rng
from dsb_verifier.checks.claims.c5.models import HighOrderGain
from dsb_verifier.checks.claims.c5.stats import min_decidable_runs
from dsb_verifier.checks.profiles import Profile
from dsb_verifier.theory.dynamics.batch_flow import integrate_flows_batched
from dsb_verifier.theory.dynamics.flow import BATCH_METHOD, Trajectory, integrate_flow
from dsb_verifier.theory.dynamics.hierarchy import structured_orders
from dsb_verifier.theory.models import EnergyModel
from numpy.typing import NDArray

__all__ = [
    "BATCH_MAX_PARAMS",
    "BATCH_SIZE",
    "CONTROL_FAMILY",
    "CONTROL_GAIN",
    "FLOW",
    "LSODA_TOL",
    "PAIR_RUNS",
    "POPULATIONS",
    "SMALL_INIT_MAX",
    "STRUCTURE_FLOOR",
    "FlowRun",
    "Plan",
    "Stage",
    "build_model",
    "flow_batches",
    "flow_cases",
    "flow_method",
    "integrate_batch",
    "integrate_case",
    "plan_for",
    "powered_stage",
    "population_targets",
    "tie_ratio",
]

#: Runs per pair and (family, N, sigma) the named profiles' plans provide (the power rule).
PAIR_RUNS = min_decidable_runs()

#: Largest initialisation scale that counts as small (decisive pairs, discrimination, the control
#: and the k-body population run at these scales only).
SMALL_INIT_MAX = 0.1

#: Relative floor of interaction structure: order k takes part when ||J*_k|| >= floor * max_j ||J*_j||.
STRUCTURE_FLOOR = 0.1

#: Frobenius norm of every planted order (planted and k-body populations).
PLANTED_NORM = 0.5

#: Standard deviation of every parameter of a teacher.
TEACHER_SCALE = 1.0

#: Hidden units of the RBMs: 2^N (universal) up to this cap.
MAX_RBM_WIDTH = 16

#: Largest N of a user target that joins the experiment.
MAX_N_USER = 8

#: Gain g of the reversed-kernel control J_S = g^|S| theta_S (each order g^2 = 16 times faster).
CONTROL_GAIN = 4.0

#: Largest N at which the control runs (a linear model with 2^N - 1 parameters: its stiff
#: Jacobian is out of budget above this; pairs at larger N use the smaller N's discrimination).
MAX_N_CONTROL = 10

#: Family label of the control.
CONTROL_FAMILY = HighOrderGain.family

#: Target populations, in report order.
POPULATIONS: tuple[str, ...] = ("planted", "k-body", "teacher", "user")

#: Flow integration (exact Hessian as Jacobian; log-spaced checkpoints from t_min to t_max).
#: rtol/atol are those of the batched BDF integrator: at equal tolerances its global error is
#: about 10 times LSODA's (docs/notes/batchflow.md), so it runs at a tenth of 0.2.0's LSODA
#: tolerances (1e-6, 1e-9); the LSODA route (models above BATCH_MAX_PARAMS) keeps those.
FLOW: dict[str, float] = {"t_min": 1e-2, "n_checkpoints": 56, "rtol": 1e-7, "atol": 1e-10, "gtol": 1e-7}

#: Tolerances of the one-at-a-time LSODA route (about the batched route's accuracy at FLOW's).
LSODA_TOL: dict[str, float] = {"rtol": 1e-6, "atol": 1e-9}

#: Most flows integrated together by the batched integrator. Fixed by the plan, never by the
#: executor: in the last bits a flow's result depends on its batch (BLAS blocking), so the
#: batches must not change with the number of workers. 32 keeps each batch's eigenvectors in
#: cache at C5's sizes (larger batches were slower per flow: docs/notes/batchflow.md).
BATCH_SIZE = 32

#: Models with more parameters than this run one-at-a-time LSODA: the batched integrator's
#: eigendecompositions (O(P^3) each) cost more than LSODA's LU factorisations there (at
#: P = 255, N = 8, the two were about even; the direct model at N = 10 has P = 1023).
BATCH_MAX_PARAMS = 256


def tie_ratio(t_max: float) -> float:
    """Ratio between consecutive recording checkpoints: the time resolution of every reading."""
    return float((t_max / FLOW["t_min"]) ** (1.0 / (FLOW["n_checkpoints"] - 1)))


@dataclass(frozen=True)
class Stage:
    """One N of the plan: its families, targets per population, initialisations and scales.

    ``n_targets`` planted and teacher targets; ``n_k_body`` k-body targets
    (0: ``n_targets``), so that each order k of that population can meet several targets.
    """

    N: int
    families: tuple[str, ...]
    n_targets: int
    n_inits: int
    scales: tuple[float, ...]
    n_k_body: int = 0

    def __post_init__(self) -> None:
        if not 2 <= self.N <= 12:
            raise ValueError(f"Stage.N must be in [2, 12], got {self.N}")
        if self.n_targets < 1 or self.n_inits < 1 or not self.families or not self.scales:
            raise ValueError("a stage needs families, scales, and at least one target and initialisation")
        if any(not (np.isfinite(s) and s > 0) for s in self.scales):
            raise ValueError(f"Stage.scales must be positive and finite, got {self.scales!r}")


@dataclass(frozen=True)
class Plan:
    """The stages of one profile's C5 experiment, with the settle fractions and the horizon."""

    stages: tuple[Stage, ...]
    taus: tuple[float, ...]
    t_max: float

    def __post_init__(self) -> None:
        if not self.stages:
            raise ValueError("a plan needs at least one stage")
        if len({s.N for s in self.stages}) != len(self.stages):
            raise ValueError("the stages of a plan must have distinct N")


def _small(scales: tuple[float, ...]) -> tuple[float, ...]:
    """The small scales (``<= SMALL_INIT_MAX``), or the smallest one if none is."""
    return tuple(s for s in scales if s <= SMALL_INIT_MAX) or tuple(sorted(scales)[:1])


def powered_stage(
    N: int,
    families: tuple[str, ...],
    n_targets: int,
    n_inits: int,
    scales: tuple[float, ...],
    n_k_body: int = 0,
) -> Stage:
    """A stage with at least ``n_targets`` / ``n_k_body`` targets, raised to meet the power rule.

    Planted and teacher targets: ``ceil(PAIR_RUNS / n_inits)`` at least; k-body targets:
    that many for each ``k = 2..N`` (they cycle through k), so every pair a population
    produces has ``PAIR_RUNS`` runs per (family, sigma).
    """
    per = -(-PAIR_RUNS // n_inits)
    n_t = max(n_targets, per)
    n_kb = max(n_k_body or n_t, (N - 1) * per)
    return Stage(N, families, n_t, n_inits, scales, n_kb)


def plan_for(profile: Profile) -> Plan:
    """The C5 plan of a profile (quick: N = 5; thorough: N = 5, 8; extended: N = 5, 8, 10, 12).

    Scales and initialisations of the first stage are the profile's own. The named
    profiles' stages meet the power rule (:func:`powered_stage`); a custom profile
    (e.g. a test's) gets the quick plan's shape unpowered (2 targets per population),
    so it shrinks the experiment and its pairs may be underpowered (reported as such).
    """
    scales = tuple(sorted(float(s) for s in profile.init_scales))
    small = _small(scales)
    neural5 = ("direct", "rbm-spin", "tanh-1")
    stages: tuple[Stage, ...]
    if profile.name == "thorough":
        stages = (
            powered_stage(5, ("direct", "truncated-2", "rbm-spin", "rbm-bit", "tanh-1"), 4, 4, scales, 8),
            powered_stage(8, ("direct", "rbm-spin"), 2, 2, (0.01,)),
        )
    elif profile.name == "extended":
        stages = (
            powered_stage(
                5, ("direct", "truncated-2", "rbm-spin", "rbm-bit", "tanh-1"), 6, profile.n_inits, scales, 8
            ),
            powered_stage(8, ("direct", "rbm-spin", "rbm-bit", "tanh-1"), 4, 3, small, 14),
            powered_stage(10, ("direct", "rbm-spin"), 2, 2, small),
            powered_stage(12, ("rbm-spin",), 2, 2, small[:1]),
        )
    elif profile.name == "quick":
        stages = (powered_stage(5, neural5, 2, profile.n_inits, scales),)
    else:
        stages = (Stage(5, neural5, 2, profile.n_inits, scales),)
    return Plan(stages=stages, taus=tuple(float(t) for t in profile.taus), t_max=float(profile.t_max))


def build_model(family: str, N: int) -> EnergyModel:
    """The family's model over N spins (RBM widths 2^N capped at MAX_RBM_WIDTH; the control's gain)."""
    if family == CONTROL_FAMILY:
        return HighOrderGain(N, CONTROL_GAIN)
    width = min(2**N, MAX_RBM_WIDTH) if family.startswith("rbm") else None
    return make_model(family, N, width)


def _exact_norms(N: int, orders: tuple[int, ...], rng: np.random.Generator) -> NDArray[np.float64]:
    """A target whose couplings of each order in ``orders`` point in a uniform random direction, norm PLANTED_NORM."""
    J = T.random_ising(N, {k: 1.0 for k in orders}, rng)
    ords = T.orders(N)
    for k in orders:
        sel = ords == k
        J[sel] *= PLANTED_NORM / np.linalg.norm(J[sel])
    return np.asarray(T.prob(J), dtype=np.float64)


def _planted(N: int, rng: np.random.Generator) -> NDArray[np.float64]:
    return _exact_norms(N, tuple(range(1, N + 1)), rng)


def _k_body(N: int, k: int, rng: np.random.Generator) -> NDArray[np.float64]:
    return _exact_norms(N, (1, k), rng)


def _n_targets(stage: Stage, population: str) -> int:
    return (stage.n_k_body or stage.n_targets) if population == "k-body" else stage.n_targets


def population_targets(population: str, family: str, N: int, n: int, seed: int) -> list[NDArray[np.float64]]:
    """The first ``n`` targets of a generated population for ``family`` at ``N`` (seeded, replayable)."""
    if population == "planted":
        return [_planted(N, seeded_rng(seed, "c5-planted", N, i)) for i in range(n)]
    if population == "teacher" and family in ("direct", CONTROL_FAMILY):  # a linear model's teacher: planted
        return [_planted(N, seeded_rng(seed, "c5-teacher", family, N, i)) for i in range(n)]
    if population == "k-body":
        return [_k_body(N, 2 + i % (N - 1), seeded_rng(seed, "c5-k-body", N, i)) for i in range(n)]
    if population == "teacher":
        model = build_model(family, N)
        out = []
        for i in range(n):
            theta = model.init(seeded_rng(seed, "c5-teacher", family, N, i), TEACHER_SCALE)
            out.append(np.asarray(model.prob(theta), dtype=np.float64))
        return out
    raise ValueError(f"population must be one of planted, k-body, teacher, got {population!r}")


@dataclass(frozen=True)
class FlowRun:
    """One gradient flow of the C5 experiment, with the coordinates that replay it.

    ``structured`` lists the target's structured orders (``STRUCTURE_FLOOR``);
    ``trajectory`` is None until the flow has run. ``realisable`` is False when the
    student may not represent the target (``P < 2^N - 1`` and the target is not a
    teacher of the family): a censored order then decides nothing.
    """

    family: str
    N: int
    population: str
    target: int
    init: int
    init_scale: float
    q: NDArray[np.float64]
    structured: tuple[int, ...]
    trajectory: Trajectory | Any = None
    realisable: bool = True


#: One flow to integrate: model, start, target, horizon (picklable, for an executor).
FlowCase = tuple[EnergyModel, NDArray[np.float64], NDArray[np.float64], float]


def flow_cases(
    plan: Plan,
    seed: int,
    *,
    control: bool,
    user: NDArray[np.float64] | None = None,
) -> tuple[list[FlowRun], list[FlowCase]]:
    """Runs (without trajectories) and their flow cases, in a fixed order.

    ``control=False``: every family of every stage on planted, k-body and teacher
    targets (and ``user``); k-body targets at the small scales only (``<= SMALL_INIT_MAX``:
    the population exists to power the decisive pairs ``(1, k)``; large-scale behaviour is
    reported from the planted and teacher targets). ``control=True``: the reversed-kernel
    control on the same targets — planted, k-body, every family's teachers (and ``user``) —
    at the small scales.
    """
    runs: list[FlowRun] = []
    cases: list[FlowCase] = []
    stages = list(plan.stages)
    if user is not None:
        N_user = int(user.size).bit_length() - 1
        first = stages[0]
        stages.append(Stage(N_user, first.families, 1, max(first.n_inits, PAIR_RUNS), first.scales))
    for si, stage in enumerate(stages):
        is_user = user is not None and si == len(stages) - 1
        if control and stage.N > MAX_N_CONTROL:
            continue
        families = (CONTROL_FAMILY,) if control else stage.families
        small = _small(stage.scales)
        pops = ("user",) if is_user else ("planted", "k-body", "teacher")
        for family in families:
            model = build_model(family, stage.N)
            over = model.n_params >= 2**stage.N - 1
            for pop in pops:
                if pop == "user" and user is not None:
                    qs = [user]
                elif control and pop == "teacher":  # the control meets every family's teachers
                    qs = [
                        q
                        for f in stage.families
                        for q in population_targets(pop, f, stage.N, _n_targets(stage, pop), seed)
                    ]
                else:
                    qs = population_targets(pop, family, stage.N, _n_targets(stage, pop), seed)
                for i, q in enumerate(qs):
                    structured = tuple(int(k) for k in structured_orders(q, STRUCTURE_FLOOR))
                    # the control and the k-body population (built for the decisive (1, k) pairs) at small scales
                    scales = small if (control or pop == "k-body") else stage.scales
                    for j in range(stage.n_inits):
                        direction = model.init(seeded_rng(seed, "c5-init", family, stage.N, pop, i, j), 1.0)
                        for s in scales:
                            runs.append(
                                FlowRun(
                                    family,
                                    stage.N,
                                    pop,
                                    i,
                                    j,
                                    float(s),
                                    q,
                                    structured,
                                    realisable=over or pop == "teacher",
                                )
                            )
                            cases.append((model, float(s) * direction, q, plan.t_max))
    return runs, cases


def flow_method(model: EnergyModel) -> str:
    """The integrator of a model's flows: ``BATCH_METHOD`` up to ``BATCH_MAX_PARAMS`` parameters, else ``"LSODA"``."""
    return BATCH_METHOD if model.n_params <= BATCH_MAX_PARAMS else "LSODA"


def flow_batches(cases: list[FlowCase]) -> list[list[int]]:
    """Indices of ``cases`` cut into batches: consecutive cases of one model and horizon, at most BATCH_SIZE.

    Cases whose model runs LSODA (:func:`flow_method`) form batches of one. The cut
    depends on the list alone (never on an executor), so results are reproducible.
    """
    batches: list[list[int]] = []
    for i, (model, _, _, t_max) in enumerate(cases):
        if batches:
            last = batches[-1]
            m0, _, _, t0 = cases[last[0]]
            if m0 is model and t0 == t_max and len(last) < BATCH_SIZE and flow_method(model) == BATCH_METHOD:
                last.append(i)
                continue
        batches.append([i])
    return batches


def integrate_batch(cases: list[FlowCase]) -> list[Trajectory]:
    """The exact gradient flows of one batch (:func:`flow_batches`), in order (module level, for workers).

    All cases must share one model and horizon. Models with at most ``BATCH_MAX_PARAMS``
    parameters: one call of the batched BDF integrator at ``FLOW``'s tolerances;
    otherwise LSODA, one flow at a time, at ``LSODA_TOL``.
    """
    if not cases:
        return []
    model, t_max = cases[0][0], cases[0][3]
    if any(c[0] is not model or c[3] != t_max for c in cases):
        raise ValueError("cases of one batch must share one model and one t_max")
    opts = {
        "t_max": t_max,
        "t_min": FLOW["t_min"],
        "n_checkpoints": int(FLOW["n_checkpoints"]),
        "gtol": FLOW["gtol"],
    }
    if flow_method(model) == BATCH_METHOD:
        theta0 = np.stack([c[1] for c in cases])
        qs = np.stack([c[2] for c in cases])
        return integrate_flows_batched(model, theta0, qs, rtol=FLOW["rtol"], atol=FLOW["atol"], **opts)
    return [integrate_flow(model, c[1], c[2], method="LSODA", **LSODA_TOL, **opts) for c in cases]


def integrate_case(case: FlowCase) -> Trajectory:
    """One flow alone, as :func:`integrate_batch` integrates a batch of one.

    The check integrates batches; a flow's trajectory in its batch may differ from
    this one in the last bits (within the integrator's tolerance).
    """
    return integrate_batch([case])[0]
