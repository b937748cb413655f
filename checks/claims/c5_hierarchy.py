r"""Claim C5 — hierarchy (distributional simplicity bias).

Statement tested (docs/theory.md §5, C5, with the open readings of §6): under
gradient flow from small initialisation, the order-``k`` part of what the model
still has to learn settles at a time :math:`t_k` that grows with ``k``; the
mechanism is that near small parameters the order-``k`` diagonal block of the
tangent kernel :math:`K = A A^\top` is suppressed by a power of the scale that
grows with ``k``.

Experiment. For each family — the direct effective model (``A = I``, always
run: §6 asks for it separately) and the neural families the profile affords —
each target (generalised Ising models with planted fields, pairwise and
three-body couplings, :func:`theory.ising_target`; ``thorough`` adds one with
couplings at every order), each initialisation scale :math:`\sigma` of the
profile and ``n_inits`` seeds, one exact gradient flow
(:func:`theory.integrate_flow`, LSODA with the exact Hessian, log-spaced
checkpoints). The initial direction of seed ``j`` is the same at every
:math:`\sigma`, so the scales differ only in size. Settle times :math:`t_k`
under readings (a) moment residual, (b) coupling error, (c) connected-information
gap (:mod:`dsb_verifier.theory.dynamics.hierarchy`) for every ``tau`` of the profile; per run the
Kendall correlation of ``k`` with :math:`t_k` and whether :math:`t_k` is
non-decreasing, over the orders that are defined.

Status logic (:func:`evaluate`; thresholds in :data:`TOLERANCES`):

* per run, settle times are compared at a resolution ``settle_tie_rtol``
  (times within 25 % of each other are simultaneous, see
  :func:`dsb_verifier.theory.dynamics.hierarchy.hierarchy_rank`): in the final approach to the
  fixed point every order is corrected together, and a few-per-cent ordering
  there is not a hierarchy;
* a *row* (family, :math:`\sigma`, reading, ``tau``) aggregates its runs: the
  mean Kendall tau over the runs whose rank is defined (at least two defined
  orders, something settled) and the fraction of those runs that are
  monotone. The row *supports* the hierarchy when ``mean Kendall >=
  kendall_min`` and ``monotone fraction >= monotone_fraction_min``; it is
  undecided (``None``) when fewer than ``ranked_fraction_min`` of its runs
  could be ranked (failed flows, failed readings, too few defined orders);
* a *cell* (family, :math:`\sigma`, reading) holds when every ``tau`` row
  supports the hierarchy (the settle fraction is a nuisance parameter the
  ordering must be robust to), fails when some row does not, and is
  inconclusive otherwise;
* *decisive* cells have small initialisation, :math:`\sigma \le`
  ``small_init_max``. Cells at larger :math:`\sigma` are reported (§6 asks
  where the hierarchy fails) but do not enter the status;
* the *mechanism* of each neural family (not the direct model, whose kernel is
  the identity) holds when the fitted exponents ``s_k`` of
  :math:`\|K_{kk}\| \propto \sigma^{s_k}` are non-decreasing in ``k`` (each step
  ``>= -slope_step_tol``) and :math:`s_N - s_1 \ge` ``slope_spread_min``;
* overall (:func:`dsb_verifier.checks.verdict.decide` over the decisive cells and the
  mechanisms): ``holds`` if all hold, ``fails`` if none does,
  ``holds-under-conditions`` otherwise — ``evidence.holds_for`` / ``fails_for``
  list them and every failing cell is a counterexample; ``inconclusive`` if
  nothing could be decided, or if some decisive cell is inconclusive while
  none fails.

Negative control (the same :func:`evaluate`, must come out ``fails``):
``high-orders-only`` — the generalised Ising model with couplings of order
``>= 3`` only (:class:`HighOrdersOnly`), on the same target from the same small
scales. Its order-3 and order-4 moments are learned while orders 1–2 never
are: lower-order interactions are not learned first. (Readings (b) and (c)
then see nothing settle at all and are undecided; reading (a) is reversed.)

Diagnostic (in the evidence, not a control): ``reversed_kernel_diagnostic``,
the linear parameterisation :math:`J_S = g^{|S|}\theta_S` (:class:`HighOrderGain`,
``g = 3``) started from the direct model's couplings. Its tangent kernel
:math:`\mathrm{diag}(g^{2|S|})` amplifies high orders, and reading (a) sees the
high-order moments learned first. It is not a control because readings (b) and
(c) do not see a reversal there — the fast high-order couplings are slaved to
the slow low-order ones, and the connected information of order ``k`` depends
on the lower moments — so under those readings it can come out either way: it
measures how much (b) and (c) lean towards an ordering by construction.

Other controls tried and rejected, because the claim is not false there: a
large initialisation (for the neural families the ordering under reading (c)
survives :math:`\sigma = 1` and ``3``: see the large-:math:`\sigma` rows); a pure
three-body target (orders 1–2 have no structure, so they are undefined and
the rank is undefined, not reversed); relabelling orders ``k -> N - k`` (what
fails in the real run then "holds").
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from dsb_verifier import theory as T
from dsb_verifier.checks.claims._common import make_model, seeded_rng
from dsb_verifier.checks.profiles import Profile
from dsb_verifier.checks.verdict import (
    ClaimReport,
    ControlResult,
    Counterexample,
    Status,
    Verdict,
    decide,
    jsonable,
)
from dsb_verifier.theory.dynamics.flow import Trajectory, integrate_flow
from dsb_verifier.theory.dynamics.hierarchy import (
    READINGS,
    SETTLE_FLOOR_REL,
    KernelScaling,
    hierarchy_rank,
    kernel_scaling,
    order_curves,
    settle_times,
    target_structure,
)
from dsb_verifier.theory.maxent import MaxEntConvergenceError
from dsb_verifier.theory.models import DirectModel, EnergyModel
from dsb_verifier.theory.walsh import _orders, order_norms
from numpy.typing import NDArray

__all__ = [
    "STATEMENT",
    "TOLERANCES",
    "FlowRun",
    "HighOrderGain",
    "HighOrdersOnly",
    "evaluate",
    "figures",
    "flows",
    "run",
]

STATEMENT = (
    "Under gradient flow from small initialisation, lower-order interactions are learned before "
    "higher-order ones: the settle time t_k of the order-k moment residual (a), coupling error (b) "
    "or connected-information gap (c) grows with k; mechanism: near small parameters the order-k "
    "block of K = A A^T scales as sigma^(s_k) with s_k growing with k."
)

#: Named thresholds of this check (see the module docstring for how they are used).
TOLERANCES: dict[str, float] = {
    "kendall_min": 0.6,
    "monotone_fraction_min": 0.5,
    "ranked_fraction_min": 0.5,
    "settle_tie_rtol": 0.25,
    "small_init_max": 0.1,
    "settle_floor_rel": SETTLE_FLOOR_REL,
    "slope_step_tol": 0.25,
    "slope_spread_min": 1.0,
    "kernel_window_lo": 1e-3,
    "kernel_window_hi": 3e-2,
    "flow_gtol": 1e-7,
}

#: Planted per-order coupling scales of the targets: fields, pairwise and three-body couplings
#: (every profile), and couplings at every order up to N (``thorough`` adds one such target).
TARGET_SCALES: dict[int, float] = {1: 0.4, 2: 0.4, 3: 0.4}
TARGET_SCALE_ALL_ORDERS = 0.4

#: Scales at which the kernel block norms are measured (the fit uses the window of TOLERANCES).
KERNEL_SCALES: tuple[float, ...] = tuple(float(x) for x in np.geomspace(1e-3, 3.0, 15))

#: Flow recording: log-spaced checkpoints from FLOW_T_MIN to the profile's t_max (<= 58 times).
FLOW_T_MIN = 1e-2
FLOW_CHECKPOINTS = 56

#: Largest N of a user target (``dsb-verify run --data``) that joins the experiment.
MAX_N_USER = 5

#: Hidden units of the RBMs: ``2^N`` (universal, Le Roux & Bengio 2008) up to this cap.
MAX_RBM_WIDTH = 16

#: Gain of the reversed-kernel diagnostic (:class:`HighOrderGain`).
CONTROL_GAIN = 3.0

#: Lowest order of the negative control :class:`HighOrdersOnly`.
CONTROL_MIN_ORDER = 3


# ---- the control parameterisation --------------------------------------------------------
class HighOrderGain(DirectModel):
    r"""Control only: :math:`J_S = g^{|S|}\theta_S`, a tangent kernel that amplifies high orders.

    ``A = diag(g^{|S|})``, so :math:`K = \mathrm{diag}(g^{2|S|})`: the order-``k``
    couplings move :math:`g^{2k}` times faster than in the direct model, the
    opposite of the mechanism of Claim C5. ``init(rng, scale)`` returns
    :math:`\theta_S = \mathrm{scale}\; z_S / g^{|S|}`, so the *couplings* start
    exactly where the direct model's do.
    """

    family = "high-order-gain"

    def __init__(self, n_visible: int, gain: float) -> None:
        super().__init__(n_visible)
        if isinstance(gain, bool) or not np.isfinite(gain) or gain <= 0:
            raise ValueError(f"gain must be a positive finite number, got {gain!r}")
        self.gain = float(gain)

    @cached_property
    def _w(self) -> NDArray[np.float64]:
        """``g^{|S|}`` per parameter (subset ``S = j + 1``)."""
        w = self.gain ** _orders(self.n_visible)[1:].astype(np.float64)
        w.setflags(write=False)
        return w

    def _neg_energy(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        return super()._neg_energy(theta * self._w)

    def _grad_neg_energy(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        return super()._grad_neg_energy(theta) * self._w[:, None]

    def _weighted_grad(self, theta: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
        return super()._weighted_grad(theta, w) * self._w

    def init(self, rng: np.random.Generator, scale: float) -> NDArray[np.float64]:
        """Couplings ``scale * z_S`` as in the direct model, i.e. ``theta = scale * z / g^|S|``."""
        return super().init(rng, scale) / self._w

    def __repr__(self) -> str:
        return f"HighOrderGain(n_visible={self.n_visible}, gain={self.gain})"


class HighOrdersOnly(DirectModel):
    r"""Control only: the generalised Ising model with couplings of order ``>= min_order`` only.

    Orders below ``min_order`` cannot be learned at all while the higher ones
    can, so lower-order interactions are *not* learned before higher-order ones
    (the negative control of Claim C5). ``theta`` lists the couplings of the
    subsets with ``|S| >= min_order`` in increasing bitmask order; ``A`` is the
    corresponding rows of the identity.
    """

    family = "high-orders-only"

    def __init__(self, n_visible: int, min_order: int) -> None:
        super().__init__(n_visible)
        if isinstance(min_order, bool) or not isinstance(min_order, int) or not 2 <= min_order <= n_visible:
            raise ValueError(f"min_order must be an integer in [2, N] = [2, {n_visible}], got {min_order!r}")
        self.min_order = int(min_order)

    @property
    def layout(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        return (("J", (int(self._idx.size),)),)

    @cached_property
    def _idx(self) -> NDArray[np.int64]:
        return np.flatnonzero(_orders(self.n_visible) >= self.min_order).astype(np.int64)

    def __repr__(self) -> str:
        return f"HighOrdersOnly(n_visible={self.n_visible}, min_order={self.min_order}, P={self.n_params})"


# ---- flows -------------------------------------------------------------------------------
@dataclass(frozen=True)
class FlowRun:
    """One gradient flow of the experiment, with the coordinates that replay it."""

    family: str
    N: int
    target: int
    init_scale: float
    init: int
    q: NDArray[np.float64]
    trajectory: Trajectory


def flows(
    families: Sequence[tuple[str, Callable[[int], EnergyModel]]],
    targets: Sequence[NDArray[np.float64]],
    scales: Sequence[float],
    n_inits: int,
    *,
    seed: int,
    t_max: float,
    executor: Executor | None = None,
) -> list[FlowRun]:
    """Integrate every (family, target, init, scale) flow of the experiment.

    ``families`` pairs a label with a builder ``N -> model``. Seed ``j``'s
    initial direction is drawn once per (target, ``j``) with
    :func:`dsb_verifier.checks.claims._common.seeded_rng` and scaled by each :math:`\\sigma`.
    Every start is drawn here; the flows themselves are independent and run
    through ``executor.map`` (None: serially), in order, with the same result.
    """
    coords, cases = _flow_cases(families, targets, scales, n_inits, seed=seed, t_max=t_max)
    trajectories = (executor.map if executor is not None else map)(_integrate, cases)
    return [FlowRun(*c, tr) for c, tr in zip(coords, trajectories, strict=True)]


#: One flow of :func:`flows`: model, start, target, horizon (picklable, for an executor).
_FlowCase = tuple[EnergyModel, NDArray[np.float64], NDArray[np.float64], float]
#: Coordinates of one flow: family, N, target index, init scale, init index, target.
_Coords = tuple[str, int, int, float, int, NDArray[np.float64]]


def _flow_cases(
    families: Sequence[tuple[str, Callable[[int], EnergyModel]]],
    targets: Sequence[NDArray[np.float64]],
    scales: Sequence[float],
    n_inits: int,
    *,
    seed: int,
    t_max: float,
) -> tuple[list[_Coords], list[_FlowCase]]:
    """The coordinates and the (seeded) tasks of the flows of :func:`flows`, in order."""
    coords: list[_Coords] = []
    cases: list[_FlowCase] = []
    for family, build in families:
        for i, q in enumerate(targets):
            N = int(q.size).bit_length() - 1
            model = build(N)
            for j in range(n_inits):
                for s in scales:
                    theta0 = model.init(seeded_rng(seed, "c5-init", N, i, j), float(s))
                    coords.append((family, N, i, float(s), j, q))
                    cases.append((model, theta0, q, t_max))
    return coords, cases


def _integrate(case: _FlowCase) -> Trajectory:
    """The exact gradient flow of one case (module level, so that worker processes can run it)."""
    model, theta0, q, t_max = case
    return integrate_flow(
        model,
        theta0,
        q,
        t_max=t_max,
        t_min=FLOW_T_MIN,
        n_checkpoints=FLOW_CHECKPOINTS,
        gtol=TOLERANCES["flow_gtol"],
        method="LSODA",
    )


# ---- evaluation ---------------------------------------------------------------------------
def _run_settle(run: FlowRun, reading: str, taus: Sequence[float]) -> tuple[NDArray[np.float64], str | None]:
    """Settle times ``(len(taus), N + 1)`` of one run and the error that prevented them, if any.

    A failed flow, or a reading that cannot be computed (a max-ent projection
    that does not converge), gives all-NaN settle times — the run is then not
    ranked — and the reason is returned so that it is reported, never dropped.
    """
    blank = np.full((len(taus), run.N + 1), np.nan)
    if run.trajectory.status == "failed":
        return blank, f"flow failed: {run.trajectory.message}"
    try:
        curves = order_curves(run.trajectory, run.q, reading)
    except MaxEntConvergenceError as err:
        return blank, f"reading {reading}: {err}"
    struct = target_structure(run.q, reading)
    floor = TOLERANCES["settle_floor_rel"]
    return np.stack(
        [settle_times(run.trajectory.t, curves, tau, structure=struct, floor_rel=floor) for tau in taus]
    ), None


def _settle_task(
    task: tuple[FlowRun, str, tuple[float, ...]],
) -> tuple[NDArray[np.float64], str | None]:
    """:func:`_run_settle` of one ``(run, reading, taus)`` (module level: a task for an executor)."""
    return _run_settle(*task)


def _mechanism(ks: KernelScaling) -> dict[str, Any]:
    """Whether the fitted kernel exponents grow with the order (thresholds of TOLERANCES)."""
    s = ks.slopes[1:]
    steps = np.diff(s)
    non_decreasing = bool(np.all(steps >= -TOLERANCES["slope_step_tol"]))
    spread = float(s[-1] - s[0])
    return {
        "slopes": {str(k + 1): float(v) for k, v in enumerate(s)},
        "non_decreasing": non_decreasing,
        "strictly_increasing": bool(np.all(steps > TOLERANCES["slope_step_tol"])),
        "spread": spread,
        "holds": non_decreasing and spread >= TOLERANCES["slope_spread_min"],
    }


def _row(
    family: str,
    sigma: float,
    reading: str,
    tau: float,
    settle: list[NDArray[np.float64]],
    group: list[FlowRun],
) -> dict[str, Any]:
    """Aggregate one (family, sigma, reading, tau) row over its runs."""
    ranks = [hierarchy_rank(st, rtol=TOLERANCES["settle_tie_rtol"]) for st in settle]
    ranked = [h for h in ranks if np.isfinite(h.kendall_tau)]
    kend = float(np.mean([h.kendall_tau for h in ranked])) if ranked else float("nan")
    mono = float(np.mean([bool(h.monotone) for h in ranked])) if ranked else float("nan")
    supports: bool | None = None
    if ranked and len(ranked) >= TOLERANCES["ranked_fraction_min"] * len(group):
        supports = bool(kend >= TOLERANCES["kendall_min"] and mono >= TOLERANCES["monotone_fraction_min"])
    max_N = max(st.size - 1 for st in settle)
    median = []
    for k in range(1, max_N + 1):
        vals = [float(st[k]) for st in settle if k < st.size and not np.isnan(st[k])]
        median.append(float(np.median(vals)) if vals else None)
    return {
        "family": family,
        "init_scale": sigma,
        "reading": reading,
        "tau": tau,
        "kendall_tau": kend,
        "monotone_fraction": mono,
        "n_runs": len(group),
        "n_ranked": len(ranked),
        "n_failed_flows": sum(r.trajectory.status == "failed" for r in group),
        "n_runs_unsettled": sum(h.n_unsettled > 0 for h in ranks),
        "median_t_k": median,
        "supports": supports,
        "small_init": sigma <= TOLERANCES["small_init_max"],
    }


def evaluate(
    runs: Sequence[FlowRun],
    *,
    taus: Sequence[float],
    seed: int,
    conditions: dict,
    kernels: Mapping[str, KernelScaling] | None = None,
    mechanism_families: Sequence[str] = (),
    extra_evidence: Mapping[str, Any] | None = None,
    executor: Executor | None = None,
) -> Verdict:
    """Evaluate C5 on recorded flows and kernel scalings; the real run and the control use it.

    Parameters
    ----------
    runs
        The flows (any families, targets, scales and seeds); see :func:`flows`.
    taus
        Settle fractions swept.
    seed
        Run seed, recorded in the counterexamples.
    conditions
        What was tested, copied into the verdict.
    kernels
        Kernel block-norm scaling per family (:func:`dsb_verifier.theory.dynamics.hierarchy.kernel_scaling`),
        reported in the evidence.
    mechanism_families
        Families whose kernel mechanism enters the status (the neural ones).
    extra_evidence
        Further plain-JSON entries for the evidence (diagnostics), not used to decide.
    executor
        Where the settle times of each (run, reading) are computed (``executor.map``;
        None: serially); the verdict does not depend on it.
    """
    if not runs:
        raise ValueError("evaluate needs at least one flow run")
    taus = [float(t) for t in taus]
    settle: dict[tuple[int, str], NDArray[np.float64]] = {}
    problems: list[dict[str, Any]] = []
    keys = [(i, rd) for i in range(len(runs)) for rd in READINGS]
    tasks = [(runs[i], rd, tuple(taus)) for i, rd in keys]
    for (i, rd), (times, err) in zip(
        keys, (executor.map if executor is not None else map)(_settle_task, tasks), strict=True
    ):
        settle[(i, rd)] = times
        if err is not None:
            r = runs[i]
            where = {"family": r.family, "init_scale": r.init_scale, "target": r.target, "init": r.init}
            problems.append({**where, "reading": rd, "error": err})
    groups: dict[tuple[str, float], list[int]] = defaultdict(list)
    for i, r in enumerate(runs):
        groups[(r.family, r.init_scale)].append(i)
    rows: list[dict[str, Any]] = []
    cells: list[dict[str, Any]] = []
    for (family, sigma), idx in groups.items():
        group = [runs[i] for i in idx]
        for reading in READINGS:
            mine = [
                _row(family, sigma, reading, tau, [settle[(i, reading)][it] for i in idx], group)
                for it, tau in enumerate(taus)
            ]
            rows.extend(mine)
            sup = [row["supports"] for row in mine]
            status = "fails" if False in sup else "holds" if all(s is True for s in sup) else "inconclusive"
            kends = [row["kendall_tau"] for row in mine if np.isfinite(row["kendall_tau"])]
            monos = [row["monotone_fraction"] for row in mine if np.isfinite(row["monotone_fraction"])]
            cells.append(
                {
                    "family": family,
                    "init_scale": sigma,
                    "reading": reading,
                    "status": status,
                    "small_init": sigma <= TOLERANCES["small_init_max"],
                    "min_kendall_over_tau": min(kends, default=float("nan")),
                    "min_monotone_fraction_over_tau": min(monos, default=float("nan")),
                }
            )
    mechanism = {f: _mechanism(ks) for f, ks in (kernels or {}).items()}
    passed: dict[str, bool] = {}
    counterexamples: list[Counterexample] = []
    decisive = [c for c in cells if c["small_init"]]
    for c in decisive:
        if c["status"] == "inconclusive":
            continue
        label = f"{c['family']} sigma={c['init_scale']:g} reading={c['reading']}"
        passed[label] = c["status"] == "holds"
        if c["status"] == "fails":
            kmin = c["min_kendall_over_tau"]
            counterexamples.append(
                Counterexample(
                    description=(
                        f"no hierarchy for {label}: over tau, mean Kendall down to {kmin:.2f} "
                        f"(need >= {TOLERANCES['kendall_min']:g}) and monotone fraction down to "
                        f"{c['min_monotone_fraction_over_tau']:.2f} (need >= "
                        f"{TOLERANCES['monotone_fraction_min']:g})"
                    ),
                    case={"family": c["family"], "init_scale": c["init_scale"], "reading": c["reading"]},
                    value=float(kmin) if np.isfinite(kmin) else -1.0,
                    seed=seed,
                )
            )
    for f in mechanism_families:
        if f in mechanism:
            m = mechanism[f]
            passed[f"{f} kernel mechanism"] = m["holds"]
            if not m["holds"]:
                counterexamples.append(
                    Counterexample(
                        description=f"tangent-kernel exponents of {f} do not grow with k: {m['slopes']}",
                        case={"family": f, "kind": "kernel-slopes"},
                        value=float(m["spread"]),
                        seed=seed,
                    )
                )
    n_inconclusive = sum(c["status"] == "inconclusive" for c in decisive)
    if not passed or (n_inconclusive and all(passed.values())):
        status = Status.INCONCLUSIVE
    else:
        status = decide(passed)
    evidence: dict[str, Any] = {
        "headline": _headline(cells, mechanism, mechanism_families),
        "rows": rows,
        "cells": cells,
        "holds_for": [k for k, v in passed.items() if v],
        "fails_for": [k for k, v in passed.items() if not v],
        "n_decisive_cells": len(decisive),
        "n_inconclusive_decisive_cells": n_inconclusive,
        "n_flows": len(runs),
        "n_failed_flows": sum(r.trajectory.status == "failed" for r in runs),
        "n_flows_at_t_max": sum(r.trajectory.status == "t_max" for r in runs),
        "unranked_runs": problems[:20],
        "n_unranked_run_readings": len(problems),
        "kernel_slopes": {f: m["slopes"] for f, m in mechanism.items()},
        "kernel_mechanism": mechanism,
        "kernel_window": [TOLERANCES["kernel_window_lo"], TOLERANCES["kernel_window_hi"]],
        "kernel_norms": {
            f: {"scales": ks.scales, "norms": ks.norms[:, 1:], "n_seeds": ks.n_seeds}
            for f, ks in (kernels or {}).items()
        },
        "settle_summary": _settle_summary(runs, settle, taus),
        "curves": _curves(runs, settle, taus),
        **dict(extra_evidence or {}),
    }
    counterexamples.sort(key=lambda c: c.value)
    return Verdict(
        claim="C5",
        statement=STATEMENT,
        status=status,
        conditions=conditions,
        evidence=jsonable(evidence),
        tolerances=TOLERANCES,
        counterexamples=tuple(counterexamples[:20]),
    )


def _settle_summary(
    runs: Sequence[FlowRun], settle: Mapping[tuple[int, str], NDArray[np.float64]], taus: Sequence[float]
) -> dict[str, Any]:
    """Per family: quartiles of t_k under reading (a), smallest tau, smallest sigma (figure ii)."""
    it = int(np.argmin(taus))
    out: dict[str, Any] = {}
    for family in dict.fromkeys(r.family for r in runs):
        sigma = min(r.init_scale for r in runs if r.family == family)
        idx = [i for i, r in enumerate(runs) if r.family == family and r.init_scale == sigma]
        max_N = max(runs[i].N for i in idx)
        entry: dict[str, Any] = {"init_scale": sigma, "tau": taus[it], "reading": "a", "orders": []}
        entry.update({"median": [], "q25": [], "q75": [], "n_defined": [], "n_unsettled": []})
        for k in range(1, max_N + 1):
            vals = np.array([settle[(i, "a")][it, k] for i in idx if k <= runs[i].N])
            vals = vals[~np.isnan(vals)]
            fin = vals[np.isfinite(vals)]
            entry["orders"].append(k)
            entry["n_defined"].append(int(vals.size))
            entry["n_unsettled"].append(int(np.sum(np.isinf(vals))))
            q = np.percentile(fin, [25, 50, 75]) if fin.size else [None] * 3
            entry["q25"].append(q[0])
            entry["median"].append(q[1])
            entry["q75"].append(q[2])
        out[family] = entry
    return out


def _curves(
    runs: Sequence[FlowRun], settle: Mapping[tuple[int, str], NDArray[np.float64]], taus: Sequence[float]
) -> list[dict[str, Any]]:
    """Per-order coupling norms over time (first target, first seed) for the figures.

    Each entry also carries ``onset_half`` (:func:`_onsets`), reported but not
    used for the status.
    """
    it = int(np.argmin(taus))
    out = []
    for i, r in enumerate(runs):
        if r.target != 0 or r.init != 0:
            continue
        tr = r.trajectory
        J_norms = order_norms(tr.J)[:, 1:].T  # row k - 1 is ||J_k(t)||
        J_star = order_norms(T.couplings(r.q))[1:]
        out.append(
            {
                "family": r.family,
                "N": r.N,
                "init_scale": r.init_scale,
                "status": tr.status,
                "t": tr.t,
                "J_norms": J_norms,
                "J_star_norms": J_star,
                "onset_half": _onsets(tr.t, J_norms, J_star),
                "tau": taus[it],
                "settle": {rd: settle[(i, rd)][it, 1:] for rd in READINGS},
            }
        )
    return out


def _onsets(t: NDArray[np.float64], J_norms: NDArray[np.float64], J_star: NDArray[np.float64]) -> list:
    """Descriptive only (not a §6 reading): first recorded time with ``||J_k(t)|| >= ||J*_k|| / 2``.

    None for orders without target couplings or never reaching half. This is
    when order ``k`` *emerges* (the rises seen in figure i), as opposed to when
    it settles for good.
    """
    out: list[float | None] = []
    for k, star in enumerate(J_star):
        hit = np.flatnonzero(J_norms[k] >= 0.5 * star) if star > 1e-8 else np.array([], dtype=int)
        out.append(float(t[hit[0]]) if hit.size else None)
    return out


def _headline(
    cells: list[dict[str, Any]], mechanism: Mapping[str, Any], mechanism_families: Sequence[str]
) -> str:
    """One line: at small initialisation, which (family, readings) hold and which fail."""
    small = [c for c in cells if c["small_init"]]
    held: list[str] = []
    failed: list[str] = []
    for family in dict.fromkeys(c["family"] for c in small):
        mine = [c for c in small if c["family"] == family]
        ok = [rd for rd in READINGS if {c["status"] for c in mine if c["reading"] == rd} == {"holds"}]
        bad = [rd for rd in READINGS if any(c["status"] == "fails" for c in mine if c["reading"] == rd)]
        if ok:
            held.append(f"{family}({','.join(ok)})")
        if bad:
            failed.append(f"{family}({','.join(bad)})")
    sigma = TOLERANCES["small_init_max"]
    text = f"sigma <= {sigma:g}: holds {' '.join(held) or 'nowhere'}; fails {' '.join(failed) or 'nowhere'}"
    mech = [f for f in mechanism_families if f in mechanism]
    if mech:
        ok_mech = sum(bool(mechanism[f]["holds"]) for f in mech)
        text += f"; kernel exponents grow with k for {ok_mech}/{len(mech)} neural families"
    return text


# ---- run ------------------------------------------------------------------------------------
def _families(profile: Profile) -> tuple[str, ...]:
    """The direct model (required row) and the neural families the budget allows."""
    if profile.name == "thorough":
        return ("direct", "rbm-spin", "rbm-bit", "tanh-1")
    return ("direct", "rbm-spin", "tanh-1")


def _targets(profile: Profile, seed: int) -> list[NDArray[np.float64]]:
    """Planted fields + pairwise + three-body target (N = 4); ``thorough`` adds one with all orders."""
    N = 4
    out = [T.ising_target(N, TARGET_SCALES, seeded_rng(seed, "c5-target", N, 0))]
    if profile.name == "thorough":
        all_orders = {k: TARGET_SCALE_ALL_ORDERS for k in range(1, N + 1)}
        out.append(T.ising_target(N, all_orders, seeded_rng(seed, "c5-target", N, 1)))
    return out


def _model(family: str, N: int) -> EnergyModel:
    """The family's model over ``N`` spins; RBM widths capped at ``MAX_RBM_WIDTH`` hidden units."""
    width = min(2**N, MAX_RBM_WIDTH) if family.startswith("rbm") else None
    return make_model(family, N, width)


def run(
    profile: Profile,
    seed: int,
    target: NDArray[np.float64] | None = None,
    *,
    executor: Executor | None = None,
) -> ClaimReport:
    """Run C5 under ``profile`` with ``seed``; returns the verdict and its control.

    The flows run through ``executor.map`` (any :class:`concurrent.futures.Executor`;
    None: serially); the report does not depend on it.

    A user ``target`` (``dsb-verify run --data``) with ``N <= MAX_N_USER`` joins
    the generated targets (same families, scales and seeds; figures and the
    control use the first generated target); a larger one is recorded in the
    conditions and not used (every flow costs ``O(2^N P^2)`` per step).
    """
    t0 = time.perf_counter()
    families = _families(profile)
    targets = _targets(profile, seed)
    described: list[dict[str, Any]] = [
        {"N": 4, "planted_scales": {str(k): v for k, v in TARGET_SCALES.items()}},
        {"N": 4, "planted_scales": {str(k): TARGET_SCALE_ALL_ORDERS for k in range(1, 5)}},
    ][: len(targets)]
    user_note: dict[str, Any] | None = None
    if target is not None:
        user = np.asarray(target, dtype=np.float64)
        N_user = int(user.shape[-1]).bit_length() - 1
        user_note = {"N": N_user, "used": N_user <= MAX_N_USER}
        if N_user <= MAX_N_USER:
            targets.append(user)
            described.append({"N": N_user, "user_data": True})
        else:
            user_note["reason"] = f"N > {MAX_N_USER}: flows too costly; generated targets only"
    scales = sorted(float(s) for s in profile.init_scales)
    small = [s for s in scales if s <= TOLERANCES["small_init_max"]] or scales[:1]
    specs = [(f, lambda N, f=f: _model(f, N)) for f in families]
    # all flows (experiment, diagnostic, control) in one batch: submitted before the kernels are measured
    batches = [
        _flow_cases(specs, targets, scales, profile.n_inits, seed=seed, t_max=profile.t_max),
        _flow_cases(
            [(HighOrderGain.family, lambda N: HighOrderGain(N, CONTROL_GAIN))],
            targets[:1],
            small,
            min(profile.n_inits, 2),
            seed=seed,
            t_max=profile.t_max,
        ),
        _flow_cases(
            [(HighOrdersOnly.family, lambda N: HighOrdersOnly(N, CONTROL_MIN_ORDER))],
            targets[:1],
            small,
            profile.n_inits,
            seed=seed,
            t_max=profile.t_max,
        ),
    ]
    pending = (executor.map if executor is not None else map)(
        _integrate, [c for _, cs in batches for c in cs]
    )
    N_kernel = int(targets[0].size).bit_length() - 1
    window = (TOLERANCES["kernel_window_lo"], TOLERANCES["kernel_window_hi"])
    kernels = {
        f: kernel_scaling(
            _model(f, N_kernel), KERNEL_SCALES, seed=seed, n_seeds=profile.n_inits, window=window
        )
        for f in families
    }
    trajectories = iter(pending)
    runs, hog_runs, control_runs = (
        [FlowRun(*c, next(trajectories)) for c in coords] for coords, _ in batches
    )
    neural = [f for f in families if f != "direct"]
    conditions = {
        "families": list(families),
        "n_params": {f: _model(f, N_kernel).n_params for f in families},
        "targets": described,
        "user_target": user_note,
        "init_scales": scales,
        "small_init_scales": small,
        "n_inits": profile.n_inits,
        "taus": list(profile.taus),
        "readings": {
            "a": "moment residual |r_k(t)|",
            "b": "coupling error |J_k(t) - J*_k|",
            "c": "connected-information gap |I_k(q) - I_k(p_t)|, I_k(p) = KL(p_(k) || p_(k-1))",
        },
        "flow": {
            "method": "LSODA",
            "gtol": TOLERANCES["flow_gtol"],
            "t_max": profile.t_max,
            "t_min": FLOW_T_MIN,
            "n_checkpoints": FLOW_CHECKPOINTS,
        },
        "kernel": {"N": N_kernel, "scales": list(KERNEL_SCALES), "window": list(window)},
        "mechanism_families": neural,
        "seed": seed,
    }
    # diagnostic (not a control: its outcome under readings b and c is not a false claim, see docstring)
    hog = evaluate(hog_runs, taus=profile.taus, seed=seed, conditions={}, executor=executor)
    diagnostic = {
        "model": f"J_S = g^|S| theta_S, g = {CONTROL_GAIN:g}: K = diag(g^(2|S|)) amplifies high orders",
        "status_under_this_check": hog.status.value,
        "cells": hog.evidence["cells"],
        "rows": hog.evidence["rows"],
    }
    verdict = evaluate(
        runs,
        taus=profile.taus,
        seed=seed,
        conditions=conditions,
        kernels=kernels,
        mechanism_families=neural,
        extra_evidence={"reversed_kernel_diagnostic": diagnostic},
        executor=executor,
    )
    control = ControlResult(
        claim="C5",
        name="high-orders-only",
        description=(
            f"generalised Ising model with couplings of order >= {CONTROL_MIN_ORDER} only, from the same "
            "small start: the high orders are learned while orders 1-2 never are"
        ),
        verdict=evaluate(
            control_runs,
            taus=profile.taus,
            seed=seed,
            conditions={**conditions, "families": [HighOrdersOnly.family], "control": "high-orders-only"},
            executor=executor,
        ),
    )
    return ClaimReport(verdict=verdict, controls=(control,), seconds=time.perf_counter() - t0)


# ---- figures ----------------------------------------------------------------------------------
def _order_colors(n: int) -> list[Any]:  # pragma: no mutate block
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    return [cmap(x) for x in np.linspace(0.0, 0.85, max(n, 1))]


def _draw_curves(ax: Any, curve: Mapping[str, Any], *, reading: str = "a") -> None:  # pragma: no mutate block
    """||J_k(t)|| per order on log-log axes, J*_k dashed, settle times (``reading``) dotted."""
    t = np.asarray(curve["t"], dtype=float)
    Jn = np.asarray(curve["J_norms"], dtype=float)
    colors = _order_colors(Jn.shape[0])
    floor = 1e-8
    for k in range(Jn.shape[0]):
        ax.plot(t[1:], np.maximum(Jn[k, 1:], floor), color=colors[k], label=f"k = {k + 1}")
        star = float(curve["J_star_norms"][k])
        if star > floor:
            ax.axhline(star, color=colors[k], ls="--", lw=0.8)
        tk = curve["settle"][reading][k]
        if isinstance(tk, int | float) and np.isfinite(tk) and tk > 0:
            ax.axvline(tk, color=colors[k], ls=":", lw=1.0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training time t (flow units)")
    ax.set_ylabel(r"$\|J_k(t)\|$ (couplings, nats)")
    ax.set_title(f"{curve['family']}, $\\sigma$ = {curve['init_scale']:g} ({curve['status']})", fontsize=9)


def _pick_three(values: Sequence[float]) -> list[float]:  # pragma: no mutate block
    v = sorted(set(values))
    return v if len(v) <= 3 else [v[0], v[len(v) // 2], v[-1]]


def figures(report: ClaimReport, fig_dir: Path | str) -> list[str]:  # pragma: no mutate block
    """Draw the C5 figures from the evidence (PNG, matplotlib Agg); returns their paths.

    (i) per-order coupling norms over training for three RBM trainings (three
    initialisation scales); (ii) settle time against order per family;
    (iii) tangent-kernel block norms against the initialisation scale;
    (iv) the direct effective model beside a neural family.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(fig_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ev = report.verdict.evidence
    curves = list(ev.get("curves", []))
    paths: list[str] = []
    families = list(dict.fromkeys(c["family"] for c in curves))
    neural = [f for f in families if f != "direct"]
    note = "dashed: target $\\|J^*_k\\|$; dotted: settle time $t_k$, reading (a), smallest $\\tau$"

    rbm = "rbm-spin" if "rbm-spin" in families else (neural[0] if neural else None)
    if rbm is not None:
        chosen = [c for c in curves if c["family"] == rbm]
        picks = _pick_three([c["init_scale"] for c in chosen])
        chosen = [next(c for c in chosen if c["init_scale"] == s) for s in picks]
        paths.append(
            _curve_panels(
                chosen,
                f"C5: effective couplings per order during training ({rbm}); {note}",
                out_dir / "c5_fig1_rbm_couplings.png",
            )
        )

    summary = ev.get("settle_summary", {})
    if summary:
        fig, ax = plt.subplots(figsize=(5.5, 4.0))
        for j, (family, s) in enumerate(summary.items()):
            x = np.asarray(s["orders"], dtype=float) + 0.06 * (j - (len(summary) - 1) / 2)
            med = np.array([np.nan if x is None else x for x in s["median"]], dtype=float)
            lo = np.array([np.nan if x is None else x for x in s["q25"]], dtype=float)
            hi = np.array([np.nan if x is None else x for x in s["q75"]], dtype=float)
            ax.errorbar(
                x,
                med,
                yerr=[med - lo, hi - med],
                marker="o",
                capsize=3,
                label=f"{family} ($\\sigma$={s['init_scale']:g})",
            )
        any_s = next(iter(summary.values()))
        ax.set_yscale("log")
        ax.set_xlabel("interaction order k")
        ax.set_ylabel(r"settle time $t_k$ (flow units)")
        ax.set_title(
            f"C5: settle time vs order, reading (a), $\\tau$={any_s['tau']:g}; median, quartiles over runs",
            fontsize=9,
        )
        ax.legend(fontsize=8)
        fig.tight_layout()
        p = out_dir / "c5_fig2_settle_vs_order.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(str(p))

    kn = ev.get("kernel_norms", {})
    if kn:
        slopes = ev.get("kernel_slopes", {})
        lo, hi = ev.get("kernel_window", [None, None])
        fig, axes = plt.subplots(1, len(kn), figsize=(4.0 * len(kn), 3.6), squeeze=False)
        for ax, (family, d) in zip(axes[0], kn.items(), strict=True):
            sc = np.asarray(d["scales"], dtype=float)
            nm = np.asarray(d["norms"], dtype=float)
            colors = _order_colors(nm.shape[1])
            for k in range(nm.shape[1]):
                sl = slopes.get(family, {}).get(str(k + 1))
                fit = (
                    f", slope {float(sl) if abs(float(sl)) >= 5e-3 else 0.0:.2f}"
                    if isinstance(sl, int | float)
                    else ""
                )
                lab = f"k = {k + 1}{fit}"
                ax.plot(sc, np.maximum(nm[:, k], 1e-300), "o-", ms=3, color=colors[k], label=lab)
            if lo is not None and hi is not None:
                ax.axvspan(float(lo), float(hi), color="0.9", zorder=0, label="fit window")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(r"initialisation scale $\sigma$ (std of every parameter)")
            ax.set_ylabel(r"$\|K_{kk}\|_F$ (mean over seeds)")
            ax.set_title(family, fontsize=9)
            ax.legend(fontsize=7)
        fig.suptitle("C5 mechanism: order-k tangent-kernel blocks vs initialisation scale", fontsize=9)
        fig.tight_layout()
        p = out_dir / "c5_fig3_kernel_blocks.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(str(p))

    if "direct" in families and neural:
        sigma = min(c["init_scale"] for c in curves if c["family"] == "direct")
        found = [
            next((c for c in curves if c["family"] == f and c["init_scale"] == sigma), None)
            for f in ("direct", rbm or neural[0])
        ]
        pair = [c for c in found if c is not None]
        paths.append(
            _curve_panels(
                pair,
                f"C5: direct effective model (A = I) vs neural parameterisation; {note}",
                out_dir / "c5_fig4_direct_vs_neural.png",
            )
        )
    return paths


def _curve_panels(curves: list[dict], title: str, path: Path) -> str:  # pragma: no mutate block
    """One panel of per-order coupling norms per curve, side by side; returns the PNG path."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(4.3 * len(curves), 3.6), sharey=True, squeeze=False)
    for ax, c in zip(axes[0], curves, strict=True):
        _draw_curves(ax, c)
    axes[0][0].legend(fontsize=8, loc="lower right")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)
