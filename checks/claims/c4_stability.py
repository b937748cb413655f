r"""Claim C4 — stability around data-consistent points.

Statement tested (docs/theory.md §5, C4): at a data-consistent point the Hessian of
``L`` in ``theta`` equals :math:`-A^\top F A` exactly, so every direction is stable
(eigenvalue < 0) or neutral (= 0); the neutral subspace is ``ker A``, and along it
:math:`|J(\theta^*+\varepsilon v) - J^*| = O(\varepsilon^2)` and
:math:`KL(q\|p) = O(\varepsilon^4)`, against :math:`O(\varepsilon)` and
:math:`O(\varepsilon^2)` along stable directions.

Points (all data-consistent by construction, ``q = p_theta*``):

* teacher–student: a random teacher of each family is its own data-consistent point —
  over-parameterised RBMs (hidden spins and bits, ``N = 3..``, ``M in {N, N+1}``, so
  ``P > 2^N - 1`` and ``ker A`` is nontrivial), tanh networks with one and two layers,
  and the direct and pairwise truncated models (``A`` injective, ``ker A = {0}``), at the
  profile's initialisation scales within ``[0.03, 3]`` used as teacher scales;
* flow end points: ``n_inits`` students per family (RBM spin/bit, tanh, ``N = 3``) trained by
  gradient flow on a teacher's target; kept when the flow converged to :math:`KL \le` ``flow_kl_max``, then moved onto
  the data-consistent set by minimum-norm Gauss–Newton steps on ``J(theta) = J(q)``
  (the displacement, ~1e-4 for a flow ending at KL ~ 1e-12, is recorded), so that ``p = q``
  to rounding.

The SAME :func:`evaluate` runs on the points and on the negative controls. Per point
(:func:`dsb_verifier.theory.dynamics.stability.spectrum`, :func:`dsb_verifier.theory.dynamics.stability.invariance_slopes`):

1. ``identity`` — :math:`|H + A^\top F A|` by the covariance route (relative to
   :math:`\max|\lambda|`) and, for ``N <= 8``, by the dense-Fisher route (relative to
   :math:`\max(\max|\lambda|, \sigma_{\max}(A)^2)`, the rounding scale of ``F``'s entries;
   :attr:`HessianSpectrum.identity_error_rel`) must be ``<= hessian_identity_rel``.
2. ``no_unstable`` — no eigenvalue above the neutral band ``tol`` (named in
   :mod:`dsb_verifier.theory.dynamics.stability`).
3. ``neutral_is_ker`` — number of neutral eigenvalues ``== dim ker A`` and the largest
   principal angle between the neutral eigenspace and ``ker A`` ``<= principal_angle_max``.
4. ``slopes_neutral`` — along ``n_neutral_directions`` seeded random unit vectors of
   ``ker A``: slopes of ``|dJ|`` and ``KL`` inside their named windows (about 2 and 4).
5. ``slopes_stable`` — along the most stable and the median stable eigenvector: slopes in
   their windows (about 1 and 2).

Slopes are fitted on the :data:`FIT_POINTS` smallest step sizes of :data:`EPS_GRID` whose
value is above its rounding floor (:func:`dsb_verifier.theory.dynamics.stability.invariance_slopes`).
The KL slope is that of the cancellation-free :math:`\tfrac12\mathrm{Var}_q(u_{\theta^*+\varepsilon v}
- u_{\theta^*})`, which equals :math:`KL(q\|p) - KL(q\|p_{\theta^*})` to relative
:math:`O(\varepsilon)` at a data-consistent point and does not contain the base-point value
:math:`KL(q\|p_{\theta^*})` (never exactly 0 numerically; docs/theory.md §7, "Slopes and
floors"). The direct KL's slope, fitted only at values ``>= kl_base_factor`` times the
base-point value, is reported as a second route (``evidence.kl_routes``).

With ``dsb-verify run --data`` the user's empirical distribution adds data-consistent
points (:func:`_user_points`): the direct model at ``J(q)``, and converged flows of an
over-parameterised RBM and tanh network on it (small ``N`` only; conditions say which).

Status logic. Each criterion at each point is ``pass``, ``fail`` or ``undetermined``;
``M`` is ``classification_margin_min``:

* ``identity`` passes or fails.
* ``no_unstable`` passes if the largest eigenvalue is ``<= tol``, is undetermined if it
  lies in ``(tol, M tol]`` (rounding-compatible), fails above ``M tol``.
* ``neutral_is_ker`` is undetermined if a singular value of ``A`` lies within a factor
  ``M`` of the rank tolerance. Otherwise, with equal counts it passes if the largest
  principal angle is ``<= principal_angle_max``, is undetermined if it is larger but
  within the Davis–Kahan resolution ``tol / gap`` of the computed neutral eigenspace
  (``gap`` the smallest non-neutral ``|lambda|``), and fails above both. With fewer
  neutral eigenvalues than ``dim ker A`` it fails unless the ``dim ker A``-th smallest
  ``|lambda|`` is within ``M tol`` (then undetermined). With more, it fails when
  :meth:`HessianSpectrum.resolves_kernel` (``lambda_min(F) sigma_rank(A)^2 > M tol``: every
  direction that ``A`` resolves must give a stable eigenvalue beyond the band), and is
  undetermined otherwise (float64 cannot resolve such a weakly stable direction in ``H``).
* a slope criterion is undetermined when a fit window has fewer than 3 points above its
  rounding floor, or when a local slope inside the window deviates from the fitted one by
  more than ``slope_bend_max`` (the window straddles a crossover, e.g. a weakly stable
  direction whose KL turns from :math:`\tfrac12|\lambda|\varepsilon^2` to
  :math:`O(\varepsilon^4)` at :math:`\varepsilon^* \sim \sqrt{|\lambda|}` below the rounding
  floor); it fails when a slope is outside its window, and passes otherwise.

A point fails if any criterion fails, is undetermined if none fails and some is
undetermined, and passes otherwise. A family (the condition reported in
``evidence.rows``) fails if any of its points fails, is inconclusive if every one of its
points is undetermined, and holds otherwise; undetermined points of a holding family are
counted in its row and in the headline, as C2 counts its unfinished flows. Overall:
``holds`` if every family holds; ``inconclusive`` if no family fails and some is
inconclusive; if some family fails, ``fails`` when every family with a decisive outcome
fails and ``holds-under-conditions`` when some decisive family holds (inconclusive
families are listed, not counted). Data-consistency itself (``KL`` and ``max |r|`` at the
point) is reported, not tested: a point wrongly passed off as data-consistent must be
caught by the claim's consequences, which is what negative control (a) checks.

Negative controls (must come out ``fails``): (a) ``perturbed-teacher`` — an RBM teacher
moved by 0.05 in a random direction but still paired with the teacher's target, where
the residual term of the Hessian no longer vanishes; (a') ``spurious-fields-matching`` —
:meth:`RBM.fields_matching` of a target with pairwise structure, a spurious stationary
point (a saddle); (b) ``wrong-jacobian`` — :class:`dsb_verifier.checks.claims.controls.WrongJacobian`, whose
``A`` has its subsets bit-reversed, so :math:`-A^\top F A \ne H`.
"""

from __future__ import annotations

import time
from concurrent.futures import Executor

import numpy as np
from dsb_verifier.checks.claims._args import check_run_arguments
from dsb_verifier.checks.claims._common import seeded_rng
from dsb_verifier.checks.claims.c4_figures import figures
from dsb_verifier.checks.claims.c4_point import (  # noqa: F401  (re-exported: the check's public names)
    _CRITERIA,
    EPS_GRID,
    FIT_POINTS,
    STATEMENT,
    TOLERANCES,
    Point,
    _describe,
    _directions,
    _evaluate_point,
    _gap_resolution,
    _in,
    _slope_outcome,
)
from dsb_verifier.checks.claims.c4_sweep import (  # noqa: F401
    MAX_N_USER,
    MAX_N_USER_FLOW,
    _build,
    _flow_points,
    _n_flows,
    _polish,
    _sizes,
    _teacher_points,
    _teacher_scales,
    _user_points,
    _user_units,
)
from dsb_verifier.checks.claims.c4_verdict import (  # noqa: F401
    _family_row,
    _figure_data,
    _headline,
    _kl_routes,
    _span,
    _window_summary,
    evaluate,
)
from dsb_verifier.checks.claims.controls import WrongJacobian
from dsb_verifier.checks.claims.progress import ProgressFn, Tally
from dsb_verifier.checks.profiles import Profile
from dsb_verifier.checks.verdict import ClaimReport, ControlResult
from dsb_verifier.theory.models import RBM

__all__ = ["EPS_GRID", "FIT_POINTS", "STATEMENT", "TOLERANCES", "Point", "evaluate", "figures", "run"]

#: Scale of the perturbation that makes negative control (a).
_PERTURBATION = 0.05


# ---- negative controls -----------------------------------------------------------------------
def _controls(seed: int, conditions: dict) -> tuple[ControlResult, ...]:
    rng = seeded_rng(seed, "c4-controls")
    model = RBM(3, 3, hidden="spin")
    teacher = model.init(rng, 1.0)
    q = model.prob(teacher)
    xi = rng.standard_normal(model.n_params)
    base = {"family": model.family, "N": 3, "P": model.n_params, "widths": [3], "index": 0}
    specs = (
        (
            "perturbed-teacher",
            f"RBM teacher moved by {_PERTURBATION} in a random direction, still paired with the "
            "teacher's target: not data-consistent, the residual term of the Hessian is nonzero",
            Point(
                model, teacher + _PERTURBATION * xi / np.linalg.norm(xi), q, {**base, "origin": "perturbed"}
            ),
        ),
        (
            "spurious-fields-matching",
            "RBM.fields_matching(q) on an RBM teacher's target (pairwise structure): a spurious "
            "stationary point (W = 0) offered as data-consistent",
            Point(model, model.fields_matching(q), q, {**base, "origin": "fields_matching"}),
        ),
        (
            "wrong-jacobian",
            "WrongJacobian(RBM) at the teacher: A with subsets bit-reversed, so -A^T F A != Hessian",
            Point(
                WrongJacobian(model),
                teacher,
                q,
                {**base, "family": "rbm-spin [WrongJacobian]", "origin": "teacher"},
            ),
        ),
    )
    return tuple(
        ControlResult(
            claim="C4",
            name=name,
            description=desc,
            verdict=evaluate([pt], seed=seed, conditions={**conditions, "control": name}),
        )
        for name, desc, pt in specs
    )


def run(
    profile: Profile,
    seed: int,
    *,
    target: np.ndarray | None = None,
    executor: Executor | None = None,
    progress: ProgressFn | None = None,
) -> ClaimReport:
    """Run C4 under ``profile`` with ``seed``.

    Parameters
    ----------
    profile, seed
        Sizes of the sweep and the seed of every draw.
    target
        A user target (``dsb-verify run --data``): adds the data-consistent points of
        :func:`_user_points` (their ``case["target"]`` is ``"user-data"``).
    executor
        Where the teacher–student flows run (``executor.map``; any
        :class:`concurrent.futures.Executor`); None: serially. The report does not depend on it.
    progress
        Called as ``progress(done, total)`` as cases complete, ``done`` rising by one to
        ``total``: every flow (teacher–student and user-data), then every point's evaluation;
        a flow whose end point is not kept also completes its point at once. The negative
        controls (three points) are not counted. The report does not depend on it.
    """
    seed = check_run_arguments(profile, seed, target=target, executor=executor, progress=progress)
    t0 = time.perf_counter()
    points = _teacher_points(profile, seed)
    user = None if target is None else np.asarray(target, dtype=np.float64)
    n_user = 0 if user is None else _user_units(int(user.size).bit_length() - 1)
    tally = Tally(len(points) + 2 * _n_flows(profile) + n_user, progress)
    flow_points, flow_log = _flow_points(profile, seed, start=len(points), executor=executor, tally=tally)
    points += flow_points
    user_log = None
    if user is not None:
        user_points, user_log = _user_points(user, seed, start=len(points), tally=tally)
        points += user_points
    conditions = {
        "families": list(_sizes(profile)),
        "sizes": {f: [[N, list(w)] for N, w in s] for f, s in _sizes(profile).items()},
        "teacher_scales": _teacher_scales(profile),
        "teachers_per_size_and_scale": max(1, profile.n_cases // 6),
        "n_points": len(points),
        "flows": flow_log,
        "eps_grid": "logspace(-8, -1, 15)",
        "fit_points": FIT_POINTS,
        "n_neutral_directions": 2,
        "stable_directions": "most stable and median stable eigenvectors",
        "kl_slope": "cancellation-free Var_q(u - u*)/2; direct KL(q||p) as a second route, fitted only "
        f">= {TOLERANCES['kl_base_factor']:g} x its base-point value",
        "seed": seed,
    }
    if user_log is not None:
        conditions["user_data"] = user_log
    verdict = evaluate(points, seed=seed, conditions=conditions, tally=tally)
    controls = _controls(seed, {"seed": seed})
    return ClaimReport(verdict=verdict, controls=controls, seconds=time.perf_counter() - t0)
