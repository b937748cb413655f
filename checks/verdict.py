"""Verdicts: what a claim check concludes, with its evidence, and its negative controls.

A :class:`Verdict` is the frozen outcome of checking one claim (C1–C6 of
docs/theory.md §5) under stated conditions. A :class:`ControlResult` records
a negative control: a deliberately broken model or an input where the claim is
false, run through the SAME evaluation, which must come out ``fails``. A check
whose controls are not caught is defective, and the report says so.

Everything in ``conditions``, ``evidence`` and ``tolerances`` must be plain JSON
(numbers, strings, booleans, lists, dicts); :func:`jsonable` converts numpy
scalars and arrays, and the dataclasses refuse anything else on construction.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

import numpy as np

__all__ = [
    "CLAIM_IDS",
    "Status",
    "Counterexample",
    "Verdict",
    "ControlResult",
    "ClaimReport",
    "jsonable",
    "decide",
]

#: The claims of docs/theory.md §5, in report order.
CLAIM_IDS: tuple[str, ...] = ("C1", "C2", "C3", "C4", "C5", "C6")


class Status(StrEnum):
    """Outcome of a claim check.

    * ``holds`` — every tested case satisfied the claim within tolerance;
    * ``fails`` — at least one case contradicts the claim (counterexamples given);
    * ``holds-under-conditions`` — the claim holds for a stated subset of the
      conditions tested and fails for the rest (both listed in the evidence);
    * ``inconclusive`` — the evidence does not decide (e.g. numerical failure,
      too few cases, values inside the tolerance band).
    """

    HOLDS = "holds"
    FAILS = "fails"
    HOLDS_UNDER_CONDITIONS = "holds-under-conditions"
    INCONCLUSIVE = "inconclusive"


def jsonable(obj: Any) -> Any:
    """Convert numpy types (recursively) to plain JSON values; non-finite floats become strings."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, np.bool_ | bool):
        return bool(obj)
    if isinstance(obj, np.integer | int):
        return int(obj)
    if isinstance(obj, np.floating | float):
        x = float(obj)
        return x if math.isfinite(x) else str(x)
    if obj is None or isinstance(obj, str):
        return obj
    raise TypeError(f"cannot put {type(obj).__name__} into a JSON report")


def _check_json(value: Any, what: str) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{what} must be plain JSON (use dsb_verifier.checks.verdict.jsonable): {exc}"
        ) from exc


@dataclass(frozen=True)
class Counterexample:
    """A case that contradicts a claim, with what is needed to replay it.

    Attributes
    ----------
    description
        What went wrong, in one sentence.
    case
        The case's coordinates (family, N, widths, index, ...), plain JSON.
    value
        The offending measured value (e.g. an error or an eigenvalue).
    seed
        The seed that replays the case (``dsb-verify run --seed``), if any.
    """

    description: str
    case: Mapping[str, Any]
    value: float
    seed: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.case, Mapping):
            kind = type(self.case).__name__
            raise ValueError(f"Counterexample.case must be a mapping of coordinates, got {kind}")
        _check_json(dict(self.case), "Counterexample.case")

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form for ``report.json``."""
        return jsonable(
            {"description": self.description, "case": self.case, "value": self.value, "seed": self.seed}
        )


@dataclass(frozen=True)
class Verdict:
    """The frozen outcome of one claim check.

    Attributes
    ----------
    claim
        Claim id (``C1`` .. ``C6``).
    statement
        The claim as we read and tested it.
    status
        See :class:`Status`.
    conditions
        What was tested: families, N, widths, initialisation scales, number of
        generated cases, seeds.
    evidence
        Measured quantities supporting the status (worst cases, tables, counts).
    tolerances
        Named tolerances used to decide.
    counterexamples
        Cases contradicting the claim (empty when it holds).
    figures
        Paths of figures, relative to the report directory.
    """

    claim: str
    statement: str
    status: Status
    conditions: Mapping[str, Any]
    evidence: Mapping[str, Any]
    tolerances: Mapping[str, float]
    counterexamples: tuple[Counterexample, ...] = ()
    figures: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.claim not in CLAIM_IDS:
            raise ValueError(f"claim must be one of {', '.join(CLAIM_IDS)}, got {self.claim!r}")
        if not isinstance(self.status, Status):
            raise ValueError(f"status must be a dsb_verifier.checks.verdict.Status, got {self.status!r}")
        if not self.statement:
            raise ValueError("a verdict needs the statement it tested")
        for name in ("conditions", "evidence", "tolerances"):
            _check_json(dict(getattr(self, name)), f"Verdict.{name}")
        if self.status in (Status.FAILS, Status.HOLDS_UNDER_CONDITIONS) and not self.counterexamples:
            raise ValueError(
                f"{self.claim}: a '{self.status.value}' verdict must carry at least one counterexample"
            )

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form for ``report.json``."""
        return jsonable(
            {
                "id": self.claim,
                "statement": self.statement,
                "status": self.status.value,
                "conditions": dict(self.conditions),
                "evidence": dict(self.evidence),
                "tolerances": dict(self.tolerances),
                "counterexamples": [c.to_json() for c in self.counterexamples],
                "figures": list(self.figures),
            }
        )


@dataclass(frozen=True)
class ControlResult:
    """A negative control: the same evaluation on an input where the claim must fail.

    ``caught`` is True when the check reported the expected status.
    """

    claim: str
    name: str
    description: str
    verdict: Verdict
    expected: Status = Status.FAILS

    def __post_init__(self) -> None:
        if self.verdict.claim != self.claim:
            raise ValueError(
                f"control {self.name!r} of {self.claim} carries a verdict of {self.verdict.claim}"
            )

    @property
    def observed(self) -> Status:
        """Status the check reported on the control input."""
        return self.verdict.status

    @property
    def caught(self) -> bool:
        """Whether the check flagged the control as it must."""
        return self.observed is self.expected

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form for ``report.json``."""
        worst = self.verdict.counterexamples[0].to_json() if self.verdict.counterexamples else None
        return jsonable(
            {
                "claim": self.claim,
                "name": self.name,
                "description": self.description,
                "expected": self.expected.value,
                "observed": self.observed.value,
                "caught": self.caught,
                "evidence": dict(self.verdict.evidence),
                "counterexample": worst,
            }
        )


@dataclass(frozen=True)
class ClaimReport:
    """A claim's verdict together with its negative controls and timing."""

    verdict: Verdict
    controls: tuple[ControlResult, ...]
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.seconds) and self.seconds >= 0):
            raise ValueError(f"seconds must be a finite duration >= 0, got {self.seconds!r}")
        if not self.controls:
            raise ValueError(f"{self.verdict.claim}: every claim check must ship a negative control")
        for c in self.controls:
            if c.claim != self.verdict.claim:
                raise ValueError(f"control {c.name!r} belongs to {c.claim}, not {self.verdict.claim}")


def decide(passed: Mapping[str, bool], *, inconclusive: bool = False) -> Status:
    """Status from per-condition outcomes: all pass -> holds, none -> fails, some -> under conditions.

    Parameters
    ----------
    passed
        Condition label -> whether the claim held there.
    inconclusive
        Force ``inconclusive`` (e.g. a numerical failure prevented a decision).
    """
    if inconclusive or not passed:
        return Status.INCONCLUSIVE
    values = list(passed.values())
    if all(values):
        return Status.HOLDS
    if not any(values):
        return Status.FAILS
    return Status.HOLDS_UNDER_CONDITIONS
