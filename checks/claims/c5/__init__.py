r"""Claim C5 — hierarchy (distributional simplicity bias), decided so that it can fail.

Statement (docs/theory.md §5): under gradient flow from small initialisation,
lower-order interactions are learned before higher-order ones. Decided by the
rules of §7, written out in ``docs/theory.md`` ("How C5 is decided"):
pair-level sign tests over many targets x initialisations (every designed pair
with at least the 6 runs a 95 % sign test needs; fewer: underpowered, never
decisive), orders with interaction structure only, right-censored settle times
(a censored order of a student that may not represent its target decides
nothing), readings that must discriminate against a reversed-kernel model, and
mechanism predictions from the tangent kernel that select the decisive pairs.

Modules: :mod:`.plan` (targets from populations x families x N x sigma),
:mod:`.models` (the reversed-kernel control), :mod:`.stats` (pair statistics),
:mod:`.mechanism` (kernel predictions), :mod:`.verdict` (decision rules,
:func:`evaluate`), :mod:`.check` (:func:`run`), :mod:`.figures`.
"""

from dsb_verifier.checks.claims.c5.check import run
from dsb_verifier.checks.claims.c5.figures import figures
from dsb_verifier.checks.claims.c5.models import HighOrderGain
from dsb_verifier.checks.claims.c5.plan import FlowRun, Plan, Stage, flow_cases, plan_for
from dsb_verifier.checks.claims.c5.verdict import STATEMENT, TOLERANCES, evaluate

__all__ = [
    "STATEMENT",
    "TOLERANCES",
    "FlowRun",
    "HighOrderGain",
    "Plan",
    "Stage",
    "evaluate",
    "figures",
    "flow_cases",
    "plan_for",
    "run",
]
