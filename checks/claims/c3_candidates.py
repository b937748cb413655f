r"""Claim C3, candidate stationary points: the statement, the named tolerances and the records.

Every source of candidates (the flows of :mod:`.c3_flows`, the teachers and constructions
of :mod:`.c3_constructions`) fills a :class:`Candidate`; :class:`FlowCase` is one
(family, target) pair of the flow sweep. How each tolerance is used, and the status logic,
are documented in :mod:`dsb_verifier.checks.claims.c3_fixed_points`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from dsb_verifier.theory.dynamics.fixed_points import HESSIAN_RTOL, POLISH_GTOL, RANK_RTOL, RESIDUAL_ATOL
from dsb_verifier.theory.models import EnergyModel, TruncatedIsing
from numpy.typing import NDArray

__all__ = ["STATEMENT", "TOLERANCES", "Candidate", "FlowCase"]

STATEMENT = (
    "A stationary theta (A^T r = 0) is data-consistent when r = 0 (KL(q||p) = 0) and spurious "
    "otherwise, with r a nonzero vector of ker A^T so that A has lost row rank; a stationary point "
    "where A has full row rank 2^N - 1 is data-consistent. Under sufficient expressivity "
    "data-consistent points exist; spurious points exist: W = 0 fields-matching RBMs, RBMs with "
    "coinciding hidden units, truncated max-ent fits."
)

#: Named tolerances of this check (the module docstring of :mod:`.c3_fixed_points` says how each is used).
TOLERANCES: dict[str, float] = {
    "stationary_gtol": 1e-10,
    "kernel_atol": 1e-9,
    "residual_atol": RESIDUAL_ATOL,
    "rank_rtol": RANK_RTOL,
    "hessian_rtol": HESSIAN_RTOL,
    "kl_consistent_atol": 1e-10,
    "kl_rounding_atol": 1e-14,
    "structure_atol": 1e-6,
    "classification_margin_min": 10.0,
    "polish_gtol": POLISH_GTOL,
    "flow_gtol": 1e-6,
    "flow_rtol": 1e-4,
    "flow_atol": 1e-7,
}

#: Scale of the flow teachers (and of the under-expressive control's teacher).
_TEACHER_SCALE = 1.0
#: Hidden units of the RBM teachers (flows, constructions, negative control).
_TEACHER_UNITS = 2
#: Smallest horizon of teacher–student flows and of the tied flows of construction (ii).
_TS_T_MAX = 1e5


# ---- candidates ---------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """A candidate stationary point with its provenance (Claims C3, C6).

    Attributes
    ----------
    origin
        ``"flow"``, ``"teacher"``, ``"construction-i"``, ``"construction-ii"`` or ``"construction-iii"``.
    family
        Model family label (``model.family``, or ``truncated-K``).
    N
        Number of spins.
    target
        Target label (``"generic"``, ``"rbm-teacher"``, ...).
    sufficient
        The family is declared sufficiently expressive for this target.
    model, q, theta
        The model, target and polished point.
    grad_norm
        :math:`\\|\\nabla L\\|` after polishing.
    info
        Plain-JSON provenance (init index and scale, flow status, displacement, ...).
    expected_lowest
        ``(lo, hi)``: predicted range of the lowest inconsistent order (constructions), else None.
    """

    origin: str
    family: str
    N: int
    target: str
    sufficient: bool
    model: EnergyModel
    q: NDArray[np.float64]
    theta: NDArray[np.float64]
    grad_norm: float
    info: Mapping[str, Any] = field(default_factory=dict)
    expected_lowest: tuple[int, int] | None = None

    def case(self) -> dict[str, Any]:
        """Plain-JSON coordinates that identify (and with the seed, replay) this candidate."""
        return {
            "origin": self.origin,
            "family": self.family,
            "N": self.N,
            "P": self.model.n_params,
            "target": self.target,
            "sufficient": self.sufficient,
            **{k: v for k, v in self.info.items() if k in ("init", "init_scale", "K", "teacher_draw", "c")},
        }


@dataclass(frozen=True)
class FlowCase:
    """One (family, target) pair of the flow sweep, with its seeded initialisations."""

    family: str
    N: int
    target: str
    sufficient: bool
    model: EnergyModel
    q: NDArray[np.float64]
    inits: tuple[tuple[float, NDArray[np.float64]], ...]
    t_max: float


def _family(model: EnergyModel) -> str:
    return f"truncated-{model.max_order}" if isinstance(model, TruncatedIsing) else model.family
