r"""Batched likelihood gradients and exact Hessians for :mod:`~dsb_verifier.theory.dynamics.batch_flow`.

A batch is ``B`` parameter vectors ``theta (B, P)`` of one model with one target
each, ``q (B, 2^N)``. The gradient :math:`\nabla L = G\,(q - p)` (docs/theory.md §4)
and the exact Hessian :math:`\nabla^2 L = \sum_s (q - p)\nabla^2 u - \mathrm{Cov}_p(G)`
(Claim C4, :func:`theory.exact_hessian`) are evaluated for the whole batch in a few
array operations, so that the cost of Python per flow is paid once per batch.

Routes: a family's own ``O(2^N)``-memory weighted gradient is used only when the
model's class inherits it unchanged (RBMs, the linear coupling models); any
other model (a subclass that overrides ``_weighted_grad``, a tanh network) goes
through the full ``du/dtheta`` array of the base contract, in memory-bounded
chunks. The weighted Hessian term is taken row by row from the model's own
``_weighted_hessian`` (zero for the linear models), so every family is exact.

Glossary: ``B`` batch size, ``P`` parameters, ``n = 2^N`` states, ``G`` the
``du/dtheta`` array ``(B, P, n)``, ``w`` weights over states ``(B, n)``.
"""

from __future__ import annotations

import numpy as np
from dsb_verifier.theory.dynamics.flow import _RECORDED_ERRORS, _describe
from dsb_verifier.theory.models.base import EnergyModel, _LinearCouplingModel
from dsb_verifier.theory.models.rbm import RBM
from dsb_verifier.theory.walsh import wht
from numpy.typing import NDArray

__all__ = ["BatchField", "batch_gradient", "batch_hessian", "batch_weighted_grad"]

#: Float64 entries of the ``du/dtheta`` array materialised at once by the generic routes.
_CHUNK_ENTRIES = 2**22


def _rows_per_chunk(model: EnergyModel) -> int:
    return max(1, _CHUNK_ENTRIES // max(1, model.n_params * 2**model.n_visible))


def batch_weighted_grad(
    model: EnergyModel, theta: NDArray[np.float64], w: NDArray[np.float64]
) -> NDArray[np.float64]:
    r""":math:`\sum_s w_b(s)\,\partial u_{\theta_b}(s)/\partial\theta` for every row ``b``, shape ``(B, P)``.

    ``theta`` ``(B, P)`` and ``w`` ``(B, 2^N)`` are already valid float64 arrays.
    """
    kind = type(model)
    if isinstance(model, RBM) and kind._weighted_grad is RBM._weighted_grad:
        f1w = model._f1(model._hidden_input(theta)) * w[:, None, :]  # (B, M, n)
        sT = model._sT  # (N, n)
        g_a = w @ sT.T
        g_c = f1w.sum(axis=-1)
        g_W = np.matmul(sT, np.swapaxes(f1w, -1, -2)).reshape(theta.shape[0], -1)  # (B, N*M), row-major W
        return np.concatenate([g_a, g_c, g_W], axis=-1)
    if isinstance(model, _LinearCouplingModel) and kind._weighted_grad is _LinearCouplingModel._weighted_grad:
        return wht(w)[:, model._idx]
    out = np.empty(theta.shape)
    step = _rows_per_chunk(model)
    for lo in range(0, theta.shape[0], step):
        G = model._grad_neg_energy(theta[lo : lo + step])
        out[lo : lo + step] = np.matmul(G, w[lo : lo + step, :, None])[:, :, 0]
    return out


def batch_gradient(
    model: EnergyModel, theta: NDArray[np.float64], q: NDArray[np.float64]
) -> NDArray[np.float64]:
    r"""Likelihood gradients :math:`G_b\,(q_b - p_{\theta_b})`, shape ``(B, P)`` (the flow's vector field)."""
    p = np.exp(model._log_prob(theta))
    return batch_weighted_grad(model, theta, q - p)


def batch_hessian(
    model: EnergyModel, theta: NDArray[np.float64], q: NDArray[np.float64]
) -> NDArray[np.float64]:
    r"""Exact Hessians of the log-likelihood, shape ``(B, P, P)``; row ``b`` equals :func:`theory.exact_hessian`.

    :math:`\sum_s (q - p)\nabla^2 u - \mathrm{Cov}_p(G)`, the covariance as one
    batched product of the centred gradients scaled by :math:`\sqrt p`
    (symmetric positive semidefinite by construction), symmetrised at the end.
    """
    B, P = theta.shape
    out = np.empty((B, P, P))
    linear = isinstance(model, _LinearCouplingModel) and (
        type(model)._weighted_hessian is _LinearCouplingModel._weighted_hessian
    )
    step = _rows_per_chunk(model)
    for lo in range(0, B, step):
        th = theta[lo : lo + step]
        p = np.exp(model._log_prob(th))
        G = model._grad_neg_energy(th)
        Gc = (G - np.matmul(G, p[:, :, None])) * np.sqrt(p)[:, None, :]
        C = np.matmul(Gc, np.swapaxes(Gc, -1, -2))
        if linear:
            out[lo : lo + step] = -C
        else:
            w = q[lo : lo + step] - p
            for i in range(th.shape[0]):
                out[lo + i] = model._weighted_hessian(th[i], w[i]) - C[i]
    out += np.swapaxes(out, -1, -2)  # numpy buffers the overlapping transpose
    out *= 0.5
    return out


class BatchField:
    """Vector field and Jacobian eigendecompositions of ``B`` flows, with per-flow failure records.

    ``nfev[b]`` counts the evaluations of flow ``b``; ``failed_msg[b]`` keeps the first
    recorded error (one of the errors :func:`integrate_flow` records) raised by the
    model for flow ``b``: a batch that raises is re-evaluated row by row, so one
    failing flow never ends the others.
    """

    def __init__(self, model: EnergyModel, q: NDArray[np.float64]) -> None:
        B, P = q.shape[0], model.n_params
        self.model, self.q, self.B, self.P = model, q, B, P
        self.nfev = np.zeros(B, dtype=np.int64)
        self.failed_msg: list[str | None] = [None] * B

    def field(
        self, idx: NDArray[np.intp], y: NDArray[np.float64], t: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        """Vector field at rows ``y`` of flows ``idx`` (repeats allowed); ``ok`` is False where it failed.

        A row whose field raises one of the recorded errors, or is not finite, is
        marked not ok; the error of a raising row is kept for the flow's message.
        """
        np.add.at(self.nfev, idx, 1)
        with np.errstate(all="ignore"):
            try:
                g = batch_gradient(self.model, y, self.q[idx])
            except _RECORDED_ERRORS:
                g = np.full(y.shape, np.nan)
                for r in range(y.shape[0]):
                    try:
                        g[r] = batch_gradient(self.model, y[r : r + 1], self.q[idx[r : r + 1]])[0]
                    except _RECORDED_ERRORS as err:
                        if self.failed_msg[idx[r]] is None:
                            self.failed_msg[idx[r]] = _describe(err, float(t[r]))
        ok = np.all(np.isfinite(g), axis=1)
        return g, ok

    def eigen(
        self, idx: NDArray[np.intp], y: NDArray[np.float64], t: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
        """Eigenvectors ``V (m, P, P)`` and eigenvalues ``(m, P)`` of the exact Hessians; ``ok`` per row."""
        m = y.shape[0]
        V = np.zeros((m, self.P, self.P))
        lam = np.zeros((m, self.P))
        ok = np.ones(m, dtype=bool)
        with np.errstate(all="ignore"):
            try:
                H = batch_hessian(self.model, y, self.q[idx])
            except _RECORDED_ERRORS:
                H = np.full((m, self.P, self.P), np.nan)
                for r in range(m):
                    try:
                        H[r] = batch_hessian(self.model, y[r : r + 1], self.q[idx[r : r + 1]])[0]
                    except _RECORDED_ERRORS as err:
                        if self.failed_msg[idx[r]] is None:
                            self.failed_msg[idx[r]] = _describe(err, float(t[r]))
        fin = np.all(np.isfinite(H.reshape(m, -1)), axis=1)
        for r in np.flatnonzero(~fin).tolist():
            if self.failed_msg[idx[r]] is None:
                self.failed_msg[idx[r]] = f"the Jacobian of the vector field is not finite at t={t[r]:.6g}"
        ok &= fin
        if fin.any():
            try:
                lam[fin], V[fin] = np.linalg.eigh(H[fin])
            except np.linalg.LinAlgError:
                for r in np.flatnonzero(fin).tolist():
                    try:
                        lam[r], V[r] = np.linalg.eigh(H[r])
                    except np.linalg.LinAlgError as err:
                        ok[r] = False
                        if self.failed_msg[idx[r]] is None:
                            self.failed_msg[idx[r]] = _describe(err, float(t[r]))
        return V, lam, ok
