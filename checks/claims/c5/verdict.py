r"""How C5 is decided: settle times -> pairs -> discriminating readings -> verdict.

Claim C5 (docs/theory.md §5; rules of §7, written out in ``docs/theory.md``,
"How C5 is decided", before any outcome was looked at). :func:`evaluate` is the
one evaluation of the real run *and* of the negative control:

1. settle times :math:`t_k` of every run under readings (a), (b), (c) for every
   ``tau`` (right-censored: ``+inf`` when the order had not settled when the
   flow ended); reading (c) only for ``N <= MAX_N_READING_C``;
2. per (family, N, sigma, reading, tau) and each pair of consecutive orders that
   are structured in the run's target and representable by its family (orders
   with rows of ``A`` identically zero are never learned, not learned later),
   the comparisons of :mod:`.stats` aggregated into
   counts, the exact 95 % interval of the lower-first fraction, the outcome
   (``supports`` / ``contradicts`` / ``undecided``) and the effect size;
3. per pair the mechanism's prediction (:mod:`.mechanism`: ``separation`` with a
   direction, or ``tie``), reported beside the observed outcome;
4. a reading is *discriminating* when, on the ``reference`` runs (the
   reversed-kernel control, same targets, this same evaluation), among the pairs
   at ``sigma <= small_init_max`` predicted to separate none supports and the
   higher order comes first in a strict majority of the run-level comparisons,
   ties included (:func:`.pairs.discriminating`);
5. *decisive* pairs: ``sigma <= small_init_max``, discriminating reading,
   ``predicted == "separation"``, not *underpowered* (at least
   :data:`~dsb_verifier.checks.claims.c5.pairs.MIN_DECIDABLE_RUNS` runs: a pair that
   could not be decided even if every run agreed tests nothing). Per family: ``fails`` when a decisive pair
   contradicts, ``holds`` when every decisive pair supports (at least one),
   else ``inconclusive``. Overall over the decided families: all hold ->
   ``holds``; all fail -> ``fails``; both -> ``holds-under-conditions``; none
   decided, or a family undecided while none fails -> ``inconclusive``.

The kernel never enters the status except through step 5's selection, and the
control gets no entry the real run does not get. The two seeds of a run (its
seed and the replicate seed) are combined by :mod:`dsb_verifier.checks.claims.replicate`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np
from dsb_verifier.checks.claims.c5 import evidence as E
from dsb_verifier.checks.claims.c5.mechanism import SEPARATION_RATIO
from dsb_verifier.checks.claims.c5.pairs import (
    BOOTSTRAP_RESAMPLES,
    MAX_N_READING_C,
    MIN_DECIDABLE_RUNS,
    SMALL_INIT_MAX,
    discriminating,
    pair_rows,
    settle_all,
)
from dsb_verifier.checks.claims.c5.plan import STRUCTURE_FLOOR, FlowRun
from dsb_verifier.checks.verdict import Counterexample, Status, Verdict, jsonable
from numpy.typing import NDArray

__all__ = [
    "MAX_N_READING_C",
    "STATEMENT",
    "TOLERANCES",
    "evaluate",
    "family_status",
    "overall_status",
    "prediction_matches",
]

STATEMENT = (
    "Under gradient flow from small initialisation, lower-order interactions are learned before "
    "higher-order ones: for consecutive orders k < k' where the target has interaction structure, "
    "the order-k part settles first (moment residual (a), coupling error (b), connected-information "
    "gap (c); decided per pair by a sign test, on discriminating readings, where the tangent kernel "
    "predicts a separation)."
)

#: Decision thresholds (docs/theory.md, "How C5 is decided"); fixed before any outcome.
TOLERANCES: dict[str, float] = {
    "structure_floor": STRUCTURE_FLOOR,
    "confidence": 0.95,
    "min_runs_per_pair": MIN_DECIDABLE_RUNS,
    "small_init_max": SMALL_INIT_MAX,
    "separation_ratio": SEPARATION_RATIO,
    "bootstrap_resamples": BOOTSTRAP_RESAMPLES,
    "max_N_reading_c": MAX_N_READING_C,
}


# ---- verdict -------------------------------------------------------------------------------
def _label(r: Mapping[str, Any]) -> str:
    return (
        f"{r['family']} N={r['N']} sigma={r['init_scale']:g} pair=({r['k_low']},{r['k_high']}) "
        f"reading={r['reading']} tau={r['tau']:g}"
    )


def prediction_matches(row: Mapping[str, Any]) -> bool | None:
    """Observed against predicted for one pair row; None when the row is underpowered.

    ``separation`` (with a direction) matches the outcome that direction implies
    (``supports`` for lower-first, ``contradicts`` for higher-first); ``tie`` matches
    ``undecided`` — a pair that is decided in either direction where the kernel
    predicts no separation is a mismatch of the mechanism, reported, never a status.
    """
    if row["underpowered"]:
        return None
    if row["predicted"] == "tie":
        return bool(row["outcome"] == "undecided")
    exp = {"lower-first": "supports", "higher-first": "contradicts"}.get(row["predicted_direction"] or "")
    return None if exp is None else bool(row["outcome"] == exp)


def family_status(decisive_outcomes: Sequence[str]) -> Status:
    """``fails`` if any decisive pair contradicts; ``holds`` if all (>= 1) support; else inconclusive."""
    if "contradicts" in decisive_outcomes:
        return Status.FAILS
    if decisive_outcomes and all(o == "supports" for o in decisive_outcomes):
        return Status.HOLDS
    return Status.INCONCLUSIVE


def overall_status(families: Mapping[str, tuple[Status, int]]) -> Status:
    """Combine ``family -> (status, n_decisive)`` (see the module docstring, step 5)."""
    decided = [s for s, _ in families.values() if s in (Status.HOLDS, Status.FAILS)]
    open_ = [s for s, n in families.values() if s is Status.INCONCLUSIVE and n > 0]
    if not decided or (open_ and Status.FAILS not in decided):
        return Status.INCONCLUSIVE
    if all(s is Status.HOLDS for s in decided):
        return Status.HOLDS
    if all(s is Status.FAILS for s in decided):
        return Status.FAILS
    return Status.HOLDS_UNDER_CONDITIONS


def evaluate(
    runs: Sequence[FlowRun],
    *,
    reference: Sequence[FlowRun],
    taus: Sequence[float],
    seed: int,
    rho: float,
    kernels: Mapping[tuple[str, int, float], NDArray[np.float64]],
    exponents: Mapping[tuple[str, int], NDArray[np.float64]],
    conditions: Mapping[str, Any],
    representable: Mapping[tuple[str, int], tuple[int, ...]] | None = None,
    extra_evidence: Mapping[str, Any] | None = None,
    executor: Executor | None = None,
) -> Verdict:
    """Decide C5 on recorded flows; the real run and the reversed-kernel control both use it.

    Parameters
    ----------
    runs
        Flows with trajectories (:func:`~dsb_verifier.checks.claims.c5.plan.flow_cases`).
    reference
        The reversed-kernel control's flows, which decide which readings discriminate
        (for the control itself: its own flows, the same object).
    taus, rho
        Settle fractions; tie ratio of the readings' time resolution.
    seed
        Run seed (bootstrap streams, counterexamples).
    kernels, exponents
        Kernel scales per (family, N, sigma) and block exponents per (family, N)
        (:mod:`~dsb_verifier.checks.claims.c5.mechanism`).
    representable
        Orders each (family, N) can represent at all; the others take no part in
        its pairs (None: every order).
    conditions, extra_evidence
        Copied into the verdict (plain JSON).
    executor
        Where the settle times are computed (``executor.map``); the verdict does not depend on it.
    """
    if not runs:
        raise ValueError("evaluate needs at least one flow run")
    if not reference:
        raise ValueError("evaluate needs the reversed-kernel reference runs")
    taus_ = tuple(float(t) for t in taus)
    settle, problems = settle_all(runs, taus_, executor)
    opts: dict[str, Any] = {
        "taus": taus_,
        "rho": rho,
        "seed": seed,
        "kernels": kernels,
        "exponents": exponents,
        "representable": dict(representable or {}),
    }
    rows = pair_rows(runs, settle, **opts)
    ref_rows = (
        rows if reference is runs else pair_rows(reference, settle_all(reference, taus_, executor)[0], **opts)
    )
    readings = discriminating(ref_rows)
    # pairs the verdict selects (small sigma, discriminating reading, predicted separation);
    # decisive unless underpowered
    selected = [
        bool(r["small_init"] and readings[r["reading"]]["discriminating"] and r["predicted"] == "separation")
        for r in rows
    ]
    for r, sel in zip(rows, selected, strict=True):
        r["decisive"] = sel and not r["underpowered"]
        r["matches_prediction"] = prediction_matches(r)
    families: dict[str, dict[str, Any]] = {}
    for family in dict.fromkeys(r.family for r in runs):
        dec = [r for r in rows if r["family"] == family and r["decisive"]]
        st = family_status([r["outcome"] for r in dec])
        families[family] = {
            "status": st.value,
            "n_decisive": len(dec),
            "n_underpowered": sum(
                sel and r["family"] == family and r["underpowered"]
                for r, sel in zip(rows, selected, strict=True)
            ),
            **{
                f"n_{o}": sum(r["outcome"] == o for r in dec)
                for o in ("supports", "contradicts", "undecided")
            },
        }
    status = overall_status({f: (Status(v["status"]), v["n_decisive"]) for f, v in families.items()})
    decisive = [r for r in rows if r["decisive"]]
    counterexamples = [
        Counterexample(
            description=(
                f"higher order first for {_label(r)}: lower-first in {r['n_lower_first']} of "
                f"{r['n_lower_first'] + r['n_higher_first']} decided runs, 95 % interval "
                f"[{r['ci_low']:.2f}, {r['ci_high']:.2f}] below 1/2"
            ),
            case={k: r[k] for k in ("family", "N", "init_scale", "reading", "tau", "k_low", "k_high")},
            value=float(r["ci_high"]),
            seed=seed,
        )
        for r in decisive
        if r["outcome"] == "contradicts"
    ]
    counterexamples.sort(key=lambda c: (c.value, c.description))
    evidence: dict[str, Any] = {
        "headline": E.headline(families, readings, rows),
        "families": families,
        "readings": readings,
        "supports_for": [_label(r) for r in decisive if r["outcome"] == "supports"],
        "contradicts_for": [_label(r) for r in decisive if r["outcome"] == "contradicts"],
        "undecided_for": [_label(r) for r in decisive if r["outcome"] == "undecided"],
        "pairs": rows,
        "tie_ratio": rho,
        "baseline": E.baseline(rows),
        "mechanism_match": E.mechanism_match(rows),
        "evidence_size": E.evidence_size(runs, settle),
        "excluded_orders": E.excluded_orders(runs),
        "unrepresentable_orders": {
            f"{f} N={N}": [k for k in range(1, N + 1) if k not in ks]
            for (f, N), ks in (representable or {}).items()
        },
        "unranked_runs": problems[:20],
        "n_unranked_run_readings": len(problems),
        "curves": E.curves(runs),
        **dict(extra_evidence or {}),
    }
    return Verdict(
        claim="C5",
        statement=STATEMENT,
        status=status,
        conditions=jsonable(dict(conditions)),
        evidence=jsonable(evidence),
        tolerances=TOLERANCES,
        counterexamples=tuple(counterexamples[:20]),
    )
