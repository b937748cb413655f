r"""Claim C6 — spurious points inconsistent at low orders are saddles, and are not met in practice.

Statement (docs/theory.md §5, C6): spurious points that are inconsistent at low orders
are not met in practice: such points are saddles (at least one unstable direction) when
the target has structure at that order, and flows from generic initialisations end at
points whose residual, if any, sits at high orders.

The reading tested. For a spurious stationary point (:class:`dsb_verifier.theory.dynamics.fixed_points.FixedPoint`)
with lowest inconsistent order ``k``:

* "low order" means ``k <= k_low``, with ``k_low = 2`` (fields and pairwise
  couplings, the orders a simplicity bias learns first); the alternative reading
  ``k_low = N`` (every order is "low") is evaluated too and reported;
* "the target has structure at order k" means :func:`dsb_verifier.theory.dynamics.fixed_points.structure_at_order`
  ``> structure_atol`` (the order-``k`` moments of ``q`` do not follow from its
  lower-order max-ent projection);
* the point is held to the claim only if its family can *represent* order ``k``
  (:func:`dsb_verifier.theory.dynamics.fixed_points.represented_orders`) and is sufficiently expressive for
  the target (declared: teacher–student, direct model, universal RBM width; or
  demonstrated: a flow of the same family on the same target reached a data-consistent
  point). A truncated model's max-ent fit is inconsistent at order ``K + 1``, which the
  family cannot represent: it is a maximum within its family, and not a counterexample
  (reported as out of scope, with its reason);
* "saddle" means at least one eigenvalue of the exact Hessian above the neutral band
  (:data:`dsb_verifier.theory.dynamics.fixed_points.HESSIAN_RTOL` of the spectrum's scale; ascent, so positive
  is unstable). Hessian-degenerate points (no unstable and some neutral eigenvalue) are
  additionally probed at higher order: the largest increase of ``L`` along random unit
  directions of the neutral eigenspace at steps ``eps`` (reported, not decisive).

Points examined: the constructions of :func:`dsb_verifier.checks.claims.c3_fixed_points.construction_candidates`
((i) ``W = 0`` fields matching, (ii) coinciding hidden units, (iii) max-ent fits) on
two-unit RBM teachers' targets; the ``W = 0`` points (hidden biases 0 and 1) of a
universal-width RBM on a pure three-body target (:func:`theory.k_body_target`, no
structure at orders 1–2); and the polished end points of gradient flows from generic
initialisations (:func:`dsb_verifier.checks.claims.c3_fixed_points.flow_plan`): every family on generic
targets, and same-size RBM students of two-unit RBM teachers with ``N >= 4``. Stationarity
and classification (with its margin rule) are those of C3 (:func:`dsb_verifier.checks.claims.c3_fixed_points.classified`).

Criteria, for a reading ``k_low``:

(a) every in-scope spurious point is a saddle; a point with no unstable eigenvalue is a
    counterexample, unless its Hessian margin (:attr:`FixedPoint.hessian_margin`) is
    below ``hessian_margin_min`` (then it is undetermined);
(b) every resolved flow end point of a sufficiently expressive family is data-consistent
    or has lowest inconsistent order ``> k_low``. A polished end point that is itself a
    saddle is a *plateau* of the flow (it would leave it; generic flows do not converge
    to saddles) and is counted separately (histogram category ``saddle-plateau``), not as
    a counterexample.

Each test is tallied in its parameterisation regime, ``P >= 2^N - 1`` (``A`` can have
full row rank) or ``P < 2^N - 1`` (every stationary point with ``r != 0`` is spurious and
rank deficient by shape). Status:

* ``fails`` — (a) or (b) fails under ``k_low = 2`` in every regime that was tested;
* ``holds-under-conditions`` — under ``k_low = 2`` some regime holds and another fails,
  or ``k_low = 2`` holds everywhere but ``k_low = N`` fails (counterexamples say where);
* ``inconclusive`` — nothing failed, but no in-scope point or no resolved sufficient flow
  end point was tested, or an in-scope point was undetermined;
* ``holds`` — otherwise.

Negative controls (must come out ``fails``): ``gauss-newton-hessian`` — the constructions
classified with the Gauss–Newton matrix in place of the exact Hessian (the residual term
dropped, so no direction can be unstable); ``pure-three-body-all-orders`` — the ``W = 0``
point on the pure three-body target under the reading ``k_low = 3``, where it is a
Hessian-degenerate critical point with no unstable direction.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import numpy as np
from dsb_verifier import theory as T
from dsb_verifier.checks.claims._common import seeded_rng
from dsb_verifier.checks.claims.c3_fixed_points import (
    TOLERANCES as C3_TOLERANCES,
)
from dsb_verifier.checks.claims.c3_fixed_points import (
    Candidate,
    classified,
    construction_task,
    flow_plan,
    flow_sweep,
    point_row,
)
from dsb_verifier.checks.profiles import Profile
from dsb_verifier.checks.verdict import ClaimReport, ControlResult, Counterexample, Status, Verdict
from dsb_verifier.theory.dynamics.fixed_points import (
    FixedPoint,
    HessianFn,
    represented_orders,
    structure_at_order,
)
from dsb_verifier.theory.likelihood import exact_hessian, gauss_newton, loglik
from dsb_verifier.theory.models import EnergyModel
from numpy.typing import NDArray

__all__ = ["K_LOW", "STATEMENT", "TOLERANCES", "evaluate", "figures", "run"]

#: Orders ``<= K_LOW`` are "low" in the primary reading (fields and pairwise couplings).
K_LOW = 2

STATEMENT = (
    "Spurious stationary points whose lowest inconsistent order k is low (k <= 2), at an order the "
    "family represents and where the target has structure, are saddles (an unstable direction of the "
    "exact Hessian) when the family is sufficiently expressive; gradient flows from generic "
    "initialisations end at data-consistent points or at points whose residual starts above order 2."
)

#: Named tolerances (the stationarity and classification ones are C3's).
TOLERANCES: dict[str, float] = {
    **{k: C3_TOLERANCES[k] for k in ("stationary_gtol", "residual_atol", "rank_rtol", "hessian_rtol")},
    "structure_atol": C3_TOLERANCES["structure_atol"],
    "hessian_margin_min": 10.0,
}

_PROBE_EPS = (1e-2, 2e-2, 4e-2)
_PROBE_DIRECTIONS = 48
#: Changes of L below ``_PROBE_FLOOR * max(1, |L|)`` are rounding (L summed over 2^N states).
_PROBE_FLOOR = 1e-13
_THREE_BODY = (4, 0b0111, 1.0)  # N, subset, beta of the pure three-body target


# ---- scope ------------------------------------------------------------------------------------
class _Scope:
    """Cached per-model represented orders and per-target structure."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._orders: dict[int, NDArray[np.bool_]] = {}
        self._structure: dict[tuple[int, int], float] = {}

    def represented(self, model: EnergyModel, k: int) -> bool:
        if id(model) not in self._orders:
            theta = model.init(seeded_rng(self.seed, "c6-generic-theta", model.family, model.n_visible), 1.0)
            self._orders[id(model)] = represented_orders(model, theta)
        return bool(self._orders[id(model)][k])

    def structure(self, q: NDArray[np.float64], k: int) -> float:
        key = (id(q), k)
        if key not in self._structure:
            self._structure[key] = structure_at_order(q, k)
        return self._structure[key]


def _scope_reason(
    c: Candidate, fp: FixedPoint, k_low: int, scope: _Scope, demonstrated: set[tuple[str, int, str]]
) -> str | None:
    """None if the spurious point is held to criterion (a) under ``k_low``, else why not."""
    k = fp.lowest_order
    assert k is not None
    if k > k_low:
        return f"high order (lowest inconsistent order {k} > {k_low})"
    if not scope.represented(c.model, k):
        return f"order {k} not represented by the family"
    if scope.structure(c.q, k) <= TOLERANCES["structure_atol"]:
        return f"target has no structure at order {k}"
    if not (c.sufficient or (c.family, c.N, c.target) in demonstrated):
        return "family not (declared or demonstrated) sufficiently expressive for the target"
    return None


def _ascent_probe(c: Candidate, fp: FixedPoint, seed: int) -> dict[str, Any]:
    """Largest rise of L along unit directions of the neutral eigenspace, per step eps.

    Directions along which L stays within rounding of ``L0`` at every step are exact
    invariances (e.g. a hidden bias whose unit has zero weights): they can show
    neither ascent nor fall, so they are counted (``n_flat_directions``) and left
    out of the maximum. Which of the eigenvectors of a degenerate eigenspace
    happen to be such invariances depends on the LAPACK build, not on the point.
    """
    lam, V = np.linalg.eigh(exact_hessian(c.model, c.theta, c.q))
    V0 = V[:, np.abs(lam) <= fp.hessian_tol]
    if V0.shape[1] == 0:
        return {"n_directions": 0}
    rng = seeded_rng(seed, "c6-probe", c.family, c.N, c.origin)
    dirs = V0 @ rng.standard_normal((V0.shape[1], _PROBE_DIRECTIONS))
    dirs = np.concatenate([V0, dirs / np.linalg.norm(dirs, axis=0)], axis=1)
    L0 = float(loglik(c.model, c.theta, c.q))
    n_dirs = dirs.shape[1]
    changes = np.empty((len(_PROBE_EPS), 2 * n_dirs))
    for e, eps in enumerate(_PROBE_EPS):
        trial = np.concatenate([c.theta + eps * dirs.T, c.theta - eps * dirs.T])
        changes[e] = loglik(c.model, trial, c.q) - L0
    floor = _PROBE_FLOOR * max(1.0, abs(L0))
    flat = np.all(np.abs(changes) <= floor, axis=0)  # per signed direction, at every step
    moving = changes[:, ~flat]
    best = [float(x) for x in (np.max(moving, axis=1) if moving.shape[1] else np.zeros(len(_PROBE_EPS)))]
    rise = np.array(best)
    resolved = bool(np.all(np.abs(rise) > floor) and (np.all(rise > 0) or np.all(rise < 0)))
    slope = float(np.polyfit(np.log(_PROBE_EPS), np.log(np.abs(rise)), 1)[0]) if resolved else None
    return {
        "eps": list(_PROBE_EPS),
        "max_rise": best,
        "ascent_found": bool(rise[-1] > floor),
        "loglog_slope_of_abs_rise": slope,
        "n_directions": int(n_dirs),
        "n_flat_directions": int(np.sum(flat[:n_dirs] & flat[n_dirs:])),
    }


# ---- evaluation ---------------------------------------------------------------------------------
def regime(c: Candidate) -> str:
    """Parameterisation regime of a candidate: can ``A`` have full row rank at all?"""
    return "P >= 2^N - 1" if c.model.n_params >= 2**c.N - 1 else "P < 2^N - 1"


def _reading(
    items: Sequence[tuple[Candidate, FixedPoint | None]],
    k_low: int,
    scope: _Scope,
    demonstrated: set[tuple[str, int, str]],
    seed: int,
) -> dict[str, Any]:
    """Apply criteria (a) and (b) under ``k_low``; failures and tallies per parameterisation regime."""
    failures: list[Counterexample] = []
    n_in_scope = n_undetermined = n_flow_tested = 0
    out_of_scope: dict[str, int] = {}
    regimes: dict[str, dict[str, int]] = {}

    def tally(c: Candidate, failed: bool) -> None:
        t = regimes.setdefault(regime(c), {"tested": 0, "failed": 0})
        t["tested"] += 1
        t["failed"] += failed

    for c, fp in items:
        sufficient = c.sufficient or (c.family, c.N, c.target) in demonstrated
        if fp is None:
            continue
        if fp.kind != "spurious":
            if c.origin == "flow" and sufficient:
                n_flow_tested += 1
                tally(c, False)
            continue
        case = {**c.case(), "regime": regime(c), "k_low": k_low, "lowest_order": fp.lowest_order}
        reason = _scope_reason(c, fp, k_low, scope, demonstrated)
        if reason is not None:
            out_of_scope[reason] = out_of_scope.get(reason, 0) + 1
        elif not fp.is_saddle and fp.hessian_margin < TOLERANCES["hessian_margin_min"]:
            n_in_scope += 1
            n_undetermined += 1
        else:
            n_in_scope += 1
            tally(c, not fp.is_saddle)
            if not fp.is_saddle:
                failures.append(
                    Counterexample(
                        description=(
                            f"(a) spurious point inconsistent from order {fp.lowest_order} (<= {k_low}, "
                            f"|r_{fp.lowest_order}| = {fp.residual_order_norms[fp.lowest_order]:.2g}, target "
                            "has structure there) with no unstable Hessian direction (largest eigenvalue "
                            f"{fp.hessian_eigenvalues[-1]:.3g}, band {fp.hessian_tol:.1g})"
                        ),
                        case=case,
                        value=float(fp.hessian_eigenvalues[-1]),
                        seed=seed,
                    )
                )
        if c.origin == "flow" and sufficient:
            n_flow_tested += 1
            assert fp.lowest_order is not None
            bad = fp.lowest_order <= k_low and not fp.is_saddle
            tally(c, bad)
            if bad:
                failures.append(
                    Counterexample(
                        description=(
                            f"(b) a flow from a generic start ended at a stable spurious point inconsistent "
                            f"from order {fp.lowest_order} <= {k_low} (|r| = {fp.residual_norm:.2g}, "
                            f"KL = {fp.kl:.2g})"
                        ),
                        case=case,
                        value=float(fp.residual_norm),
                        seed=seed,
                    )
                )
    return {
        "k_low": k_low,
        "failures": failures,
        "n_in_scope": n_in_scope,
        "n_undetermined": n_undetermined,
        "n_flow_end_points_tested": n_flow_tested,
        "out_of_scope": out_of_scope,
        "regimes": regimes,
    }


def evaluate(
    candidates: Sequence[Candidate],
    *,
    seed: int,
    conditions: Mapping[str, Any],
    k_low: int = K_LOW,
    alt_k_low: int | None = None,
    hessian: HessianFn = exact_hessian,
) -> Verdict:
    """Evaluate C6 under the reading ``k_low`` (and report ``alt_k_low``); status: module docstring.

    The same routine serves the real run and the negative controls.
    """
    scope = _Scope(seed)
    items = [(c, classified(c, hessian)) for c in candidates]
    demonstrated = {
        (c.family, c.N, c.target)
        for c, fp in items
        if c.origin == "flow" and fp is not None and fp.kind != "spurious"
    }
    primary = _reading(items, k_low, scope, demonstrated, seed)
    alt = _reading(items, alt_k_low, scope, demonstrated, seed) if alt_k_low is not None else None
    counterexamples: list[Counterexample] = []
    if primary["failures"]:
        holding = [r for r, t in primary["regimes"].items() if t["tested"] and not t["failed"]]
        status = Status.HOLDS_UNDER_CONDITIONS if holding else Status.FAILS
        counterexamples = primary["failures"] + (alt["failures"] if alt else [])
    elif alt is not None and alt["failures"]:
        status = Status.HOLDS_UNDER_CONDITIONS
        counterexamples = alt["failures"]
    elif primary["n_in_scope"] == 0 or primary["n_flow_end_points_tested"] == 0 or primary["n_undetermined"]:
        status = Status.INCONCLUSIVE
    else:
        status = Status.HOLDS
    unique: dict[str, Counterexample] = {}
    for ce in counterexamples:  # one entry per (criterion, point): the primary reading's first
        key = ce.description[:3] + str(sorted((k, v) for k, v in ce.case.items() if k != "k_low"))
        unique.setdefault(key, ce)
    counterexamples = list(unique.values())
    evidence = _evidence(items, primary, alt, scope, demonstrated, seed)
    return Verdict(
        claim="C6",
        statement=STATEMENT,
        status=status,
        conditions=dict(conditions),
        evidence=evidence,
        tolerances=TOLERANCES,
        counterexamples=tuple(counterexamples[:20]),
    )


def _flow_category(fp: FixedPoint | None) -> str:
    if fp is None:
        return "unresolved"
    if fp.kind == "data-consistent":
        return "consistent"
    return "saddle-plateau" if fp.is_saddle else str(fp.lowest_order)


def _evidence(
    items: Sequence[tuple[Candidate, FixedPoint | None]],
    primary: Mapping[str, Any],
    alt: Mapping[str, Any] | None,
    scope: _Scope,
    demonstrated: set[tuple[str, int, str]],
    seed: int,
) -> dict[str, Any]:
    spurious = []
    for c, fp in items:
        if fp is None or fp.kind != "spurious":
            continue
        row = point_row(c, fp)
        k = fp.lowest_order
        assert k is not None
        row["structure_at_lowest_order"] = scope.structure(c.q, k)
        row["order_represented"] = scope.represented(c.model, k)
        row["scope_primary"] = _scope_reason(c, fp, primary["k_low"], scope, demonstrated) or "in scope"
        if not fp.is_saddle and fp.n_neutral > 0:
            row["higher_order_probe"] = _ascent_probe(c, fp, seed)
        spurious.append(row)
    histogram: dict[str, dict[str, int]] = {}
    for c, fp in items:
        if c.origin == "flow":
            h = histogram.setdefault(f"{c.family} N={c.N} ({c.target})", {})
            cat = _flow_category(fp)
            h[cat] = h.get(cat, 0) + 1

    def summary(r: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if r is None:
            return None
        return {
            "k_low": r["k_low"],
            "n_in_scope": r["n_in_scope"],
            "n_failures": len(r["failures"]),
            "n_undetermined": r["n_undetermined"],
            "n_flow_end_points_tested": r["n_flow_end_points_tested"],
            "out_of_scope": r["out_of_scope"],
            "regimes": r["regimes"],
            "first_failure": r["failures"][0].description if r["failures"] else None,
        }

    n_saddles = sum(r["scope_primary"] == "in scope" and r["n_unstable"] > 0 for r in spurious)

    def regimes(r: Mapping[str, Any]) -> str:
        return ", ".join(
            f"{reg}: {t['failed']}/{t['tested']} failed" for reg, t in sorted(r["regimes"].items())
        )

    headline = (
        f"k_low={primary['k_low']}: {n_saddles}/{primary['n_in_scope']} in-scope spurious points are "
        f"saddles, {primary['n_flow_end_points_tested']} flow ends tested ({regimes(primary)})"
    )
    if alt is not None:
        headline += f"; k_low={alt['k_low']}: {len(alt['failures'])} failure(s)"
    return {
        "headline": headline,
        "reading_primary": summary(primary),
        "reading_alternative": summary(alt),
        "spurious_points": spurious,
        "flow_end_histogram": histogram,
    }


# ---- run --------------------------------------------------------------------------------------------
def three_body_candidates() -> list[Candidate]:
    """``W = 0`` points of ``RBM(4, 16)`` on the pure three-body target (no structure at orders 1, 2).

    With ``W = 0`` every hidden bias ``c`` gives a stationary point with the same
    ``p`` (:meth:`dsb_verifier.theory.models.RBM.fields_matching`); ``c = 0`` and ``c = 1`` are
    examined. Both are inconsistent from order 3 only, and the Hessian sees no
    unstable direction (the order-2 residual that drives the instability of
    construction (i) vanishes); the higher-order probe tells them apart.
    """
    N, S, beta = _THREE_BODY
    q = T.k_body_target(N, S, beta)
    model = T.RBM(N, 2**N, hidden="spin")
    out = []
    for c0 in (0.0, 1.0):
        theta = model.fields_matching(q, c=np.full(model.n_hidden, c0))
        g = float(np.linalg.norm(T.grad_loglik(model, theta, q)))
        info = {"c": c0}
        out.append(
            Candidate("construction-i", model.family, N, "pure-three-body", True, model, q, theta, g, info)
        )
    return out


def run(profile: Profile, seed: int, *, executor: Executor | None = None) -> ClaimReport:
    """Run C6 under ``profile`` with ``seed``.

    The constructions and flows run through ``executor.map`` (any
    :class:`concurrent.futures.Executor`; None: serially); the report does not depend on it.
    """
    t0 = time.perf_counter()
    Ns = [4] if profile.max_n_rbm <= 4 else sorted({4, 5, 6} & set(range(4, profile.max_n_rbm + 1)))
    tasks = [(N, seed, ("spin", "bit"), max(profile.t_max, 1e5)) for N in Ns]
    built = (executor.map if executor is not None else map)(construction_task, tasks)  # submitted first
    generic = [
        case
        for case in flow_plan(profile, seed)
        if case.target == "generic" or (case.target == "rbm-teacher" and case.N >= 4)
    ]
    flows = flow_sweep(generic, executor)
    constructions: list[Candidate] = [c for cs in built for c in cs]
    constructions += three_body_candidates()
    conditions = {
        "k_low": K_LOW,
        "alternative_k_low": "N (every order)",
        "construction_N": Ns,
        "flow_pairs": [f"{c.family} N={c.N} {c.target}" for c in generic],
        "n_inits": profile.n_inits,
        "init_scales": sorted({s for c in generic for s, _ in c.inits}),
        "t_max": profile.t_max,
        "three_body_target": (
            f"k_body_target(N={_THREE_BODY[0]}, S={_THREE_BODY[1]:#b}, beta={_THREE_BODY[2]})"
        ),
        "seed": seed,
    }
    candidates = [c for c in constructions if c.origin != "teacher"] + flows
    max_N = max(c.N for c in candidates)
    verdict = evaluate(candidates, seed=seed, conditions=conditions, alt_k_low=max_N)
    three_body = [c for c in constructions if c.target == "pure-three-body"]
    controls = (
        ControlResult(
            claim="C6",
            name="gauss-newton-hessian",
            description="the constructions classified with the Gauss-Newton matrix (residual term dropped)",
            verdict=evaluate(
                [c for c in constructions if c.origin.startswith("construction")],
                seed=seed,
                conditions={**conditions, "control": "gauss-newton-hessian"},
                hessian=_gauss_newton_hessian,
            ),
        ),
        ControlResult(
            claim="C6",
            name="pure-three-body-all-orders",
            description="W = 0 point on the pure three-body target, with 'low' widened to orders <= 3",
            verdict=evaluate(
                three_body,
                seed=seed,
                conditions={**conditions, "control": "pure-three-body-all-orders", "k_low": 3},
                k_low=3,
            ),
        ),
    )
    return ClaimReport(verdict=verdict, controls=controls, seconds=time.perf_counter() - t0)


def _gauss_newton_hessian(
    model: EnergyModel, theta: NDArray[np.float64], q: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The deliberately wrong Hessian of the control: ``-A^T F A`` without the residual term."""
    return gauss_newton(model, theta)


# ---- figures ------------------------------------------------------------------------------------------
def figures(report: ClaimReport, fig_dir: Path) -> list[str]:  # pragma: no mutate block
    """Hessian spectra at the spurious points; histogram of the lowest inconsistent orders of flow ends."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    ev = report.verdict.evidence
    paths = []
    fig, ax = plt.subplots(figsize=(10, 5))
    styles = {"construction-i": "o-", "construction-ii": "s-", "construction-iii": "^-", "flow": "x:"}
    colors = plt.get_cmap("tab20")
    for i, r in enumerate(ev["spurious_points"]):
        lam = np.asarray(r["hessian_eigenvalues"])[::-1]
        extra = f", c={r['c']:g}" if "c" in r else ""
        label = f"{r['origin']} {r['family']} N={r['N']} ({r['target']}{extra}), k={r['lowest_order']}"
        x = np.arange(1, lam.size + 1) / lam.size
        ax.plot(x, lam, styles.get(r["origin"], ".-"), color=colors(i % 20), ms=3, lw=0.8, label=label)
    ax.set_yscale("symlog", linthresh=1e-6)
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xlabel("eigenvalue rank / P (largest first)")
    ax.set_ylabel(r"eigenvalue of $\nabla^2_\theta L$ (nats per unit $\theta^2$)")
    ax.set_title("C6: exact Hessian spectra at spurious points (> 0: unstable for ascent; k = lowest order)")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    p = fig_dir / "c6_hessian_spectra.png"
    fig.savefig(p, dpi=120)
    plt.close(fig)
    paths.append(str(p))

    hist = ev["flow_end_histogram"]
    cats = ["consistent"] + [str(k) for k in range(1, 11)] + ["saddle-plateau", "unresolved"]
    cats = [c for c in cats if any(c in h for h in hist.values())]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / max(1, len(hist))
    for i, (fam, h) in enumerate(sorted(hist.items())):
        ax.bar(np.arange(len(cats)) + i * width, [h.get(c, 0) for c in cats], width, label=fam)
    ax.set_xticks(np.arange(len(cats)) + 0.4 - width / 2, [f"order {c}" if c.isdigit() else c for c in cats])
    ax.set_xlabel("flow end point: data-consistent, or lowest inconsistent order")
    ax.set_ylabel("number of flows")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("C6: where flows from generic initialisations end")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    p = fig_dir / "c6_lowest_order_histogram.png"
    fig.savefig(p, dpi=120)
    plt.close(fig)
    paths.append(str(p))
    return paths
