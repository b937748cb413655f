r"""Many gradient flows at once: a batched BDF integrator (Claims C3–C5; issue 14 item 11).

:func:`integrate_flows_batched` integrates ``B`` gradient flows
:math:`\dot\theta_b = \nabla_\theta L_b(\theta_b)` of one model (same family and
``N``; each flow with its own start and its own target) in lock step: every
array operation acts on all running flows, so the cost of Python, paid per
vector-field evaluation by one-at-a-time :func:`~dsb_verifier.theory.dynamics.flow.integrate_flow`,
is paid once per batch. Each flow keeps its own time, step size, order, error
control, Jacobian and stopping rule: the flows share array operations, never steps.

Method: the variable-order (1–5), quasi-constant step-size backward
differentiation formulas with the NDF modification (Shampine & Reichelt, SIAM J.
Sci. Comput. 18, 1 (1997)) — the algorithm of :class:`scipy.integrate.BDF`
(its error control, step-size and order selection), vectorised over flows, with
a cheaper simplified Newton iteration (:mod:`~dsb_verifier.theory.dynamics.batch_bdf`). The Jacobian of the vector field is the
exact Hessian of ``L`` (Claim C4), which is **symmetric**: with its
eigendecomposition :math:`H = V\Lambda V^\top` the Newton matrix
:math:`I - cH` is diagonal in the basis ``V`` for *every* ``c = h/\alpha_k``, so
a change of step size or order costs no refactorisation (scipy refactors an LU
at each), and a solve is two batched matrix–vector products. As in scipy, the
Jacobian is recomputed only when the simplified Newton iteration fails to converge.

Stopping rules, recording and failures are those of
:func:`~dsb_verifier.theory.dynamics.flow.integrate_flow`: log-spaced checkpoints
(interpolated by the BDF polynomial), the end point as a solver state,
``"converged"`` at the first accepted step with :math:`\|\nabla L\| <` ``gtol``,
``"t_max"``, and ``"failed"`` (step size too small, non-finite state or field,
an error from the model) with the part computed before the failure.

Glossary: ``B`` flows, ``P`` parameters, ``D`` backward differences ``(B, 8, P)``,
``k`` orders ``(B,)``, ``V``/``lam`` eigenvectors/eigenvalues of the Hessians,
``h`` step sizes ``(B,)``.
"""

from __future__ import annotations

import numpy as np
from dsb_verifier.theory._blas import one_blas_thread
from dsb_verifier.theory._validation import check_memory
from dsb_verifier.theory.dynamics.batch_bdf import BatchBDF
from dsb_verifier.theory.dynamics.batch_kernels import _CHUNK_ENTRIES, BatchField
from dsb_verifier.theory.dynamics.flow import (
    BATCH_METHOD,
    Trajectory,
    _check_gtol,
    _count,
    _positive,
    _trajectory,
)
from dsb_verifier.theory.models.base import EnergyModel, check_model
from numpy.typing import ArrayLike

__all__ = ["batch_bytes", "integrate_flows_batched"]


def batch_bytes(model: EnergyModel, B: int, n_checkpoints: int) -> float:
    """Peak bytes of :func:`integrate_flows_batched` for ``B`` flows (its memory guard).

    Per flow: the eigenvectors kept between steps and, while Jacobians are refreshed,
    the Hessian, its symmetrised copy and the new eigenvectors (4 ``P x P``); the
    differences and state vectors (about 20 ``P``); the targets and probabilities
    (2 ``2^N``); the records (``n_checkpoints + 2`` states) and the diagnostics of a
    trajectory (``J``, and the order norms and scalars) — plus the ``du/dtheta``
    chunks of the kernels (3 arrays of at most 2^22 entries).
    """
    P, n, N = model.n_params, 2**model.n_visible, model.n_visible
    per_flow = 4 * P * P + 20 * P + 2 * n + (n_checkpoints + 2) * (P + n + 2 * N + 8)
    chunk = min(B * P * n, _CHUNK_ENTRIES)
    return 8.0 * (B * per_flow + 3 * chunk + 4 * P * n)


def integrate_flows_batched(
    model: EnergyModel,
    theta0: ArrayLike,
    q: ArrayLike,
    *,
    t_max: float = 1e4,
    n_checkpoints: int = 200,
    rtol: float = 1e-8,
    atol: float = 1e-10,
    gtol: float = 1e-9,
    t_min: float = 1e-3,
    max_step: float = np.inf,
    first_step: float | None = None,
) -> list[Trajectory]:
    r"""Integrate ``B`` gradient flows of one model at once (Claims C3–C5).

    Parameters
    ----------
    model
        An :class:`~dsb_verifier.theory.models.EnergyModel`, shared by every flow.
    theta0
        Starts, shape ``(B, P)``.
    q
        Targets: one, shape ``(2^N,)``, for every flow, or one per flow, shape ``(B, 2^N)``.
    t_max, n_checkpoints, rtol, atol, gtol, t_min, max_step, first_step
        As in :func:`~dsb_verifier.theory.dynamics.flow.integrate_flow`, per flow.

    Returns
    -------
    list of Trajectory
        One per start, in order, with the fields and stopping rules of
        :func:`~dsb_verifier.theory.dynamics.flow.integrate_flow`;
        ``method`` is :data:`~dsb_verifier.theory.dynamics.flow.BATCH_METHOD`,
        ``nfev`` counts the flow's own vector-field evaluations.
        The integration runs with one BLAS thread (:func:`~dsb_verifier.theory._blas.one_blas_thread`),
        so results do not depend on the process's BLAS thread count.

    Raises
    ------
    ValueError
        For invalid arguments, as :func:`~dsb_verifier.theory.dynamics.flow.integrate_flow`.
    """
    model = check_model(model)
    th0 = model.check_theta(theta0)
    if th0.ndim != 2 or th0.shape[0] < 1:
        raise ValueError(
            f"theta0 must be a batch of shape (B, P) with B >= 1 and P={model.n_params}, got {th0.shape}"
        )
    qq = model.check_target(q)
    B = th0.shape[0]
    if qq.ndim == 1:
        qq = np.broadcast_to(qq, (B, qq.size))
    elif qq.ndim != 2 or qq.shape[0] != B:
        raise ValueError(
            f"q must be one target of shape (2^N,) or one per start, shape (B, 2^N) with B={B}, got {qq.shape}"
        )
    t_max_ = _positive(t_max, "t_max")
    t_min_ = _positive(t_min, "t_min")
    if not t_min_ < t_max_:
        raise ValueError(f"t_min must be smaller than t_max, got t_min={t_min!r}, t_max={t_max!r}")
    n_cp = _count(n_checkpoints, "n_checkpoints", minimum=1)
    opts = {
        "rtol": _positive(rtol, "rtol"),
        "atol": _positive(atol, "atol"),
        "gtol": _check_gtol(gtol),
        "max_step": _positive(max_step, "max_step", allow_inf=True),
        "first_step": None if first_step is None else _positive(first_step, "first_step"),
    }
    check_memory(
        batch_bytes(model, B, n_cp),
        f"{B} batched flows of {model!r} with {n_cp} checkpoints",
        hint="integrate fewer flows per call",
    )
    checkpoints = np.geomspace(t_min_, t_max_, n_cp)
    checkpoints[-1] = t_max_
    qc = np.ascontiguousarray(qq, dtype=np.float64)
    run = BatchBDF(BatchField(model, qc), np.array(th0, dtype=np.float64), checkpoints, t_max_, **opts)
    with one_blas_thread():  # the last bits of batched products must not depend on the thread count
        run.solve()
    return [
        _trajectory(
            model,
            qc[b],
            run.ts[b],
            run.thetas[b],
            status=run.status[b],
            message=run.message[b],
            n_steps=int(run.n_steps[b]),
            nfev=int(run.batch.nfev[b]),
            method=BATCH_METHOD,
        )
        for b in range(B)
    ]
