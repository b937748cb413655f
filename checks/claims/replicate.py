r"""Two seeds, one status: the replicate rule of the dynamical claims C5 and C6.

Claims C5 and C6 (docs/theory.md, "How C5 is decided" and "How C6 is decided",
rule R). A verdict about dynamics rests on drawn targets and initialisations; a
status that another seed of the same profile would not reproduce says more about
the draw than about the claim. So every run of C5 and C6 performs its whole
experiment twice, at the run's seed ``s`` and at the *replicate seed*
:func:`replicate_seed` ``(s)`` (new targets, new initialisations, the same
profile and the same evaluation), and reports

* the common status when the two agree;
* ``inconclusive`` otherwise, with the reason ("seed s gives X but replicate
  seed r gives Y").

The negative controls are combined by the same :func:`combine`, so a control is
caught only when it comes out ``fails`` at both seeds. The evidence, figures and
counterexamples shown are those of seed ``s``; the replicate's status, headline
and evidence size are under ``evidence["replicate"]``.

The replicate seed is derived by hashing (not ``s + 1``) so that the runs at
seeds ``s`` and ``s + 1`` share no draw: two users' seeds are two independent
pairs of replicates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from dsb_verifier.checks.verdict import ControlResult, Status, Verdict, jsonable

__all__ = ["REPLICATE_RULE", "combine", "combine_controls", "replicate_seed", "stable_status"]

#: The rule as the report states it (``conditions["replicate_rule"]``).
REPLICATE_RULE = (
    "the whole experiment runs at the seed s and at the replicate seed r(s) = first 4 bytes "
    "(big-endian) of BLAKE2b('dsb-verifier replicate <s>'); the status is the common status "
    "of the two, else inconclusive; controls are combined the same way"
)


def replicate_seed(seed: int) -> int:
    """The replicate seed of ``seed``: the first 4 bytes of BLAKE2b of ``"dsb-verifier replicate <seed>"``.

    Raises
    ------
    ValueError
        If ``seed`` is not a non-negative integer.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    digest = hashlib.blake2b(f"dsb-verifier replicate {seed}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big")


def stable_status(status: Status, other: Status, seeds: tuple[int, int]) -> tuple[Status, str | None]:
    """The status two seeds agree on, else ``inconclusive`` with the reason."""
    if status is other:
        return status, None
    return Status.INCONCLUSIVE, (
        f"seed {seeds[0]} gives {status.value} but replicate seed {seeds[1]} gives {other.value}: "
        "not reproduced, so inconclusive"
    )


def _summary(v: Verdict, seed: int) -> dict[str, Any]:
    ev: Mapping[str, Any] = v.evidence
    return {
        "seed": seed,
        "status": v.status.value,
        "headline": ev.get("headline"),
        "evidence_size": ev.get("evidence_size"),
        "regimes": {
            name: {k: r.get(k) for k in ("status", "n_points_distinct", "n_flows", "n_unresolved")}
            for name, r in ev["regimes"].items()
        }
        if isinstance(ev.get("regimes"), Mapping)
        else None,
        "n_counterexamples": len(v.counterexamples),
    }


def combine(primary: Verdict, replicate: Verdict, seeds: tuple[int, int]) -> Verdict:
    """One verdict from the same experiment at two seeds (module docstring).

    Parameters
    ----------
    primary, replicate
        The verdicts at ``seeds[0]`` (the run's seed) and ``seeds[1]`` (its replicate).
    seeds
        ``(s, replicate_seed(s))``.

    Returns
    -------
    Verdict
        ``primary`` with the combined status, ``conditions["replicate_rule"]`` and
        ``evidence["replicate"]``; when the seeds disagree the headline starts with the reason.

    Raises
    ------
    ValueError
        If the two verdicts are of different claims.
    """
    if primary.claim != replicate.claim:
        raise ValueError(f"cannot combine a {primary.claim} verdict with a {replicate.claim} verdict")
    status, reason = stable_status(primary.status, replicate.status, seeds)
    evidence = dict(primary.evidence)
    evidence["replicate"] = {
        "agree": reason is None,
        "reason": reason,
        "by_seed": [_summary(primary, seeds[0]), _summary(replicate, seeds[1])],
    }
    if reason is not None:
        head = evidence.get("headline")
        evidence["headline"] = f"{reason}; seed {seeds[0]}: {head}" if head else reason
    conditions = {**primary.conditions, "replicate_seed": seeds[1], "replicate_rule": REPLICATE_RULE}
    return replace(primary, status=status, evidence=jsonable(evidence), conditions=jsonable(conditions))


def combine_controls(
    primary: tuple[ControlResult, ...], replicate: tuple[ControlResult, ...], seeds: tuple[int, int]
) -> tuple[ControlResult, ...]:
    """Each control combined by :func:`combine` with its namesake at the replicate seed."""
    names = [c.name for c in primary]
    if names != [c.name for c in replicate]:
        raise ValueError(f"controls differ between the seeds: {names} vs {[c.name for c in replicate]}")
    return tuple(
        replace(a, verdict=combine(a.verdict, b.verdict, seeds))
        for a, b in zip(primary, replicate, strict=True)
    )
