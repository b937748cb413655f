"""Claim C6, the higher-order ascent probe of Hessian-degenerate spurious points (reported, never a status).

At a spurious point whose Hessian has a neutral eigenspace, the second-order test cannot
say whether the point is a saddle. :func:`ascent_probe` steps along unit directions of that
eigenspace and reports the largest rise of ``L`` per step size: evidence about the point's
higher-order geometry, shown in the C6 evidence beside the point; it never enters a status.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from dsb_verifier.checks.claims._common import seeded_rng
from dsb_verifier.checks.claims.c6_points import Item
from dsb_verifier.theory.dynamics.fixed_points import FixedPoint
from dsb_verifier.theory.likelihood import exact_hessian, grad_loglik, loglik

__all__ = ["ascent_probe"]

_PROBE_EPS = (1e-2, 2e-2, 4e-2)
_PROBE_DIRECTIONS = 48
#: Changes of L below ``_PROBE_FLOOR * max(1, |L|)`` are rounding (L summed over 2^N states).
_PROBE_FLOOR = 1e-13
#: The probe's rise must also clear ``_PROBE_LINEAR_FACTOR * eps * |grad L|`` (the base point's
#: own first-order term: polished points are stationary only to |grad L| <= stationary_gtol).
_PROBE_LINEAR_FACTOR = 10.0


def ascent_probe(item: Item, fp: FixedPoint, seed: int) -> dict[str, Any]:
    """Largest rise of L along unit directions of the neutral eigenspace, per step eps (reported).

    Directions along which L stays within rounding of ``L0`` at every step are exact
    invariances (e.g. a hidden bias whose unit has zero weights): they can show
    neither ascent nor fall, so they are counted (``n_flat_directions``) and left
    out of the maximum. Which of the eigenvectors of a degenerate eigenspace
    happen to be such invariances depends on the LAPACK build, not on the point.
    """
    c = item.candidate
    lam, V = np.linalg.eigh(exact_hessian(c.model, c.theta, c.q))
    V0 = V[:, np.abs(lam) <= fp.hessian_tol]
    if V0.shape[1] == 0:
        return {"n_directions": 0}
    rng = seeded_rng(seed, "c6-probe", c.family, c.N, c.origin)
    dirs = V0 @ rng.standard_normal((V0.shape[1], _PROBE_DIRECTIONS))
    dirs = np.concatenate([V0, dirs / np.linalg.norm(dirs, axis=0)], axis=1)
    L0 = float(loglik(c.model, c.theta, c.q))
    g = float(np.linalg.norm(grad_loglik(c.model, c.theta, c.q)))
    n_dirs = dirs.shape[1]
    changes = np.empty((len(_PROBE_EPS), 2 * n_dirs))
    for e, eps in enumerate(_PROBE_EPS):
        trial = np.concatenate([c.theta + eps * dirs.T, c.theta - eps * dirs.T])
        changes[e] = loglik(c.model, trial, c.q) - L0
    rounding = _PROBE_FLOOR * max(1.0, abs(L0))
    flat = np.all(np.abs(changes) <= rounding, axis=0)  # per signed direction, at every step
    moving = changes[:, ~flat]
    best = [float(x) for x in (np.max(moving, axis=1) if moving.shape[1] else np.zeros(len(_PROBE_EPS)))]
    rise = np.array(best)
    floor = rounding + _PROBE_LINEAR_FACTOR * np.asarray(_PROBE_EPS) * g
    resolved = bool(np.all(np.abs(rise) > floor) and (np.all(rise > 0) or np.all(rise < 0)))
    slope = float(np.polyfit(np.log(_PROBE_EPS), np.log(np.abs(rise)), 1)[0]) if resolved else None
    return {
        "eps": list(_PROBE_EPS),
        "max_rise": best,
        "floor": floor.tolist(),
        "ascent_found": bool(rise[-1] > floor[-1]),
        "loglog_slope_of_abs_rise": slope,
        "n_directions": int(n_dirs),
        "n_flat_directions": int(np.sum(flat[:n_dirs] & flat[n_dirs:])),
    }
