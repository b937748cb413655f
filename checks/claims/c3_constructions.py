r"""Claim C3, the constructions: the teachers and the spurious points (i)–(iii) built on their targets.

:func:`construction_candidates` returns, for one ``N``, a two-unit RBM teacher (data-consistent
by construction) and the constructions (i) ``W = 0`` fields-matching RBMs, (ii) RBMs with two
coinciding hidden units polished in the tied subspace, (iii) truncated max-ent fits of
:mod:`dsb_verifier.theory.dynamics.fixed_points`, each with its predicted lowest inconsistent
order; :func:`construction_Ns` says at which ``N`` a profile builds them. Test 4 of
:mod:`dsb_verifier.checks.claims.c3_fixed_points` checks them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from dsb_verifier import theory as T
from dsb_verifier.checks.claims._common import seeded_rng
from dsb_verifier.checks.claims.c3_candidates import _TEACHER_UNITS, TOLERANCES, Candidate
from dsb_verifier.checks.profiles import Profile
from dsb_verifier.theory.dynamics.fixed_points import (
    TiedRBM,
    independent_point,
    maxent_point,
    structure_at_order,
    tied_point,
)
from dsb_verifier.theory.models import RBM, EnergyModel, rbm_teacher
from numpy.typing import NDArray

__all__ = ["construction_Ns", "construction_candidates", "construction_task"]

#: Scale of the two-unit RBM teachers of the constructions: weak enough that the
#: one-unit (tied) fit is attained at finite parameters.
_CONSTRUCTION_TEACHER_SCALE = 0.5
#: Scale of the tied-flow start of construction (ii).
_TIED_INIT_SCALE = 0.1
#: Seeded teachers tried for construction (ii) before reporting it unresolved.
_TIED_ATTEMPTS = 3


def construction_candidates(
    N: int,
    seed: int,
    *,
    hidden: Sequence[str] = ("spin", "bit"),
    orders: Sequence[int] = (1, 2),
    t_max: float = 1e4,
) -> list[Candidate]:
    """Constructions (i)–(iii) of :mod:`dsb_verifier.theory.dynamics.fixed_points` on two-unit RBM teachers' targets.

    The teacher (hidden spins, scale 0.5) needs two distinct hidden units and has
    structure at every order, so (i) is inconsistent from order 2, (ii) from some
    order >= 2 (order 1 is always matched by the free fields), (iii) from order ``K + 1``.
    The teacher itself is returned too (data-consistent, ``origin="teacher"``).
    For (ii), whose tied fit can lie at infinity, up to :data:`_TIED_ATTEMPTS` seeded
    teachers are tried in turn (``info["teacher_draw"]``); the last attempt is
    returned even if not stationary (then reported unresolved).
    """
    teacher, theta_t, q = _construction_teacher(N, seed, 0)
    out = [
        Candidate(
            "teacher",
            teacher.family,
            N,
            "rbm-teacher",
            True,
            teacher,
            q,
            theta_t,
            _grad_norm(teacher, theta_t, q),
        )
    ]
    pair = (2, 2) if structure_at_order(q, 2) > TOLERANCES["structure_atol"] else None
    for h in hidden:
        model, theta = independent_point(q, _TEACHER_UNITS, h)
        out.append(
            Candidate(
                "construction-i", model.family, N, "rbm-teacher", True, model, q, theta,
                _grad_norm(model, theta, q), {"c": 0.0}, pair,
            )
        )  # fmt: skip
    for h in hidden:
        for draw in range(_TIED_ATTEMPTS):
            _, _, q_d = _construction_teacher(N, seed, draw)
            theta0 = TiedRBM(N, _TEACHER_UNITS, h).init(
                seeded_rng(seed, "c3-tied", N, h, draw), _TIED_INIT_SCALE
            )
            model, theta = tied_point(
                q_d, theta0, n_copies=_TEACHER_UNITS, hidden=h, t_max=t_max, gtol=TOLERANCES["polish_gtol"]
            )
            g = _grad_norm(model, theta, q_d)
            if g <= TOLERANCES["stationary_gtol"]:
                break
        out.append(
            Candidate(
                "construction-ii", model.family, N, "rbm-teacher", True, model, q_d, theta, g,
                {"tied_units": _TEACHER_UNITS, "teacher_draw": draw}, (2, N),
            )
        )  # fmt: skip
    for K in orders:
        if K >= N:
            continue
        model_t, theta = maxent_point(q, K)
        expected = (K + 1, K + 1) if structure_at_order(q, K + 1) > TOLERANCES["structure_atol"] else None
        out.append(
            Candidate(
                "construction-iii", f"truncated-{K}", N, "rbm-teacher", False, model_t, q, theta,
                _grad_norm(model_t, theta, q), {"K": K}, expected,
            )
        )  # fmt: skip
    return out


def construction_task(task: tuple[int, int, tuple[str, ...], float]) -> list[Candidate]:
    """:func:`construction_candidates` of one ``(N, seed, hidden, t_max)`` (a task for an executor)."""
    N, seed, hidden, t_max = task
    return construction_candidates(N, seed, hidden=hidden, t_max=t_max)


def _construction_teacher(
    N: int, seed: int, draw: int
) -> tuple[RBM, NDArray[np.float64], NDArray[np.float64]]:
    return rbm_teacher(
        N, _TEACHER_UNITS, seeded_rng(seed, "c3-construction", N, draw), _CONSTRUCTION_TEACHER_SCALE
    )


def _grad_norm(model: EnergyModel, theta: NDArray[np.float64], q: NDArray[np.float64]) -> float:
    return float(np.linalg.norm(T.grad_loglik(model, theta, q)))


def construction_Ns(profile: Profile) -> list[int]:
    """N of the constructions: 4 for ``quick``; up to ``max_n_rbm`` (sampled) for larger profiles."""
    if profile.max_n_rbm <= 4:
        return [4]
    return sorted({4, 5, 6, 8, profile.max_n_rbm} & set(range(4, profile.max_n_rbm + 1)))
