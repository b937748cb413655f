r"""The stepping of :func:`~dsb_verifier.theory.dynamics.batch_flow.integrate_flows_batched`: scipy's BDF, per flow, in lock step.

:class:`BatchBDF` advances every running flow by one attempt per iteration,
following :class:`scipy.integrate.BDF` (variable order 1–5, quasi-constant step
size, NDF modification; Shampine & Reichelt, SIAM J. Sci. Comput. 18, 1 (1997))
with per-flow arrays for the step size, order, differences, Jacobian and error
control. Linear solves use the eigendecomposition of the symmetric exact Hessian
(:func:`_solve`), valid for every step size. The simplified Newton iteration
differs from scipy's in three internal respects (error control, step-size and
order selection are scipy's): its tolerance is :data:`_NEWTON_TOL`, it may stop
after one correction on a recently measured convergence rate (:data:`_RATE_MAX_AGE`),
and the field at an accepted state is evaluated only when needed for the ``gtol``
stop (:data:`_MARGIN`).

Glossary: ``D`` backward differences ``(B, 8, P)``, ``k`` orders, ``c = h / alpha_k``,
``V``/``lam`` eigenvectors and eigenvalues of the Hessians.
"""

from __future__ import annotations

from typing import cast

import numpy as np
from dsb_verifier.theory._validation import scaled_norm
from dsb_verifier.theory.dynamics.batch_kernels import BatchField
from dsb_verifier.theory.dynamics.flow import _RECORDED_ERRORS, BATCH_METHOD, _trajectory
from numpy.typing import NDArray

__all__ = ["BatchBDF"]

# ---- BDF/NDF constants, as in scipy.integrate.BDF ----------------------------------------------
_MAX_ORDER = 5
_NEWTON_MAXITER = 4
_MIN_FACTOR, _MAX_FACTOR = 0.2, 10.0
_EPS = float(np.finfo(np.float64).eps)
_KAPPA = np.array([0, -0.1850, -1 / 9, -0.0823, -0.0415, 0])
_GAMMA = np.hstack((0, np.cumsum(1 / np.arange(1, _MAX_ORDER + 1))))
_ALPHA = (1 - _KAPPA) * _GAMMA
_ERROR_CONST = _KAPPA * _GAMMA + 1 / np.arange(1, _MAX_ORDER + 2)
#: Safety factor of the bound on |grad| at an accepted step (the Jacobian's spectrum may be stale):
#: the field is evaluated there unless |f(y_k)| - MARGIN |lam|_max |dy_k| >= MARGIN * gtol.
_MARGIN = 2.0
#: A convergence rate carried from earlier steps may end the Newton iteration after one
#: correction only if it was measured within this many steps (then two iterations measure it anew).
_RATE_MAX_AGE = 2
#: Newton stops when its remaining correction is below this, in units of the error tolerance
#: (the scaled RMS norm of the error test). scipy's BDF uses min(0.03, sqrt(rtol)), i.e. 1e-4 at
#: rtol = 1e-8, which costs about one more field evaluation per step here; 0.03 leaves at most 3 %
#: of each step's error allowance to the iteration (LSODE's test is looser, 0.5 / (q + 2)).
_NEWTON_TOL = 0.03
_TOO_SMALL = "Required step size is less than spacing between numbers."


def _rms(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """RMS over the last axis (scipy's ``norm``, per flow)."""
    return np.sqrt(np.mean(x * x, axis=-1))


def _change_matrix(order: int, factor: NDArray[np.float64]) -> NDArray[np.float64]:
    """scipy's ``R(order, factor) @ U(order)`` for each factor, shape ``(m, order + 1, order + 1)``."""
    i = np.arange(1, order + 1)[:, None]
    j = np.arange(1, order + 1)

    def R(f: NDArray[np.float64]) -> NDArray[np.float64]:
        M = np.zeros((f.size, order + 1, order + 1))
        M[:, 1:, 1:] = (i - 1 - f[:, None, None] * j) / i
        M[:, 0] = 1
        return cast(NDArray[np.float64], np.cumprod(M, axis=1))

    return np.matmul(R(factor), R(np.ones(1)))


def _solve(
    V: NDArray[np.float64], lam: NDArray[np.float64], c: NDArray[np.float64], b: NDArray[np.float64]
) -> NDArray[np.float64]:
    r"""Solve :math:`(I - c H) x = b` per flow through ``H = V diag(lam) V^T``: two matrix-vector products."""
    x = np.matmul(b[:, None, :], V)[:, 0, :]  # V^T b, as a row
    x /= 1.0 - c[:, None] * lam
    return np.matmul(V, x[:, :, None])[:, :, 0]


def _take(a: NDArray[np.float64], idx: NDArray[np.intp]) -> NDArray[np.float64]:
    """``a[idx]`` for sorted unique ``idx``, as a view (no copy) when ``idx`` is a contiguous range."""
    if idx.size and idx[-1] - idx[0] + 1 == idx.size:
        return a[idx[0] : idx[-1] + 1]
    return a[idx]


class BatchBDF:
    """The lock-step driver: one step attempt of every running flow per iteration."""

    def __init__(
        self,
        batch: BatchField,
        theta0: NDArray[np.float64],
        checkpoints: NDArray[np.float64],
        t_max: float,
        *,
        rtol: float,
        atol: float,
        gtol: float,
        max_step: float,
        first_step: float | None,
    ) -> None:
        B, P = theta0.shape
        self.batch, self.B, self.P = batch, B, P
        self.cp, self.t_max, self.rtol, self.atol, self.gtol = checkpoints, t_max, rtol, atol, gtol
        self.max_step, self.first_step = max_step, first_step
        self.newton_tol = max(10 * _EPS / rtol, _NEWTON_TOL)
        self.t = np.zeros(B)
        self.y = theta0.copy()
        self.D = np.zeros((B, _MAX_ORDER + 3, P))
        self.order = np.ones(B, dtype=np.int64)
        self.n_equal = np.zeros(B, dtype=np.int64)
        self.h_abs = np.zeros(B)
        self.in_step = np.zeros(B, dtype=bool)  # an attempt of the current step failed or was rejected
        self.cur_jac = np.zeros(B, dtype=bool)  # the Jacobian was recomputed within the current step
        self.V = np.zeros((B, P, P))
        self.lam = np.zeros((B, P))
        self.rate_prev = np.full(B, np.nan)  # last Newton convergence rate with the current Jacobian
        self.rate_age = np.zeros(B, dtype=np.int64)  # steps since it was measured
        self.i_cp = np.zeros(B, dtype=np.int64)
        self.n_steps = np.zeros(B, dtype=np.int64)
        self.running = np.ones(B, dtype=bool)
        self.status = ["failed"] * B
        self.message = [""] * B
        self.ts: list[list[float]] = [[0.0] for _ in range(B)]
        self.thetas: list[list[NDArray[np.float64]]] = [[theta0[b].copy()] for b in range(B)]
        self.last_t = np.zeros(B)
        self.last_y = theta0.copy()

    # ---- bookkeeping -------------------------------------------------------------------
    def _end(self, b: int, status: str, message: str) -> None:
        self.running[b] = False
        self.status[b], self.message[b] = status, message

    def _fail(self, b: int, fallback: str) -> None:
        msg = self.batch.failed_msg[b]
        self._end(b, "failed", msg if msg is not None else fallback)

    def _set_jac(self, idx: NDArray[np.intp], t: NDArray[np.float64], y: NDArray[np.float64]) -> None:
        """Exact Hessians at ``(t, y)`` and their eigendecompositions for flows ``idx`` (failures end them)."""
        V, lam, ok = self.batch.eigen(idx, y, t)
        self.V[idx], self.lam[idx] = V, lam
        self.cur_jac[idx] = True
        self.rate_prev[idx] = np.nan
        for r in np.flatnonzero(~ok).tolist():
            self._fail(idx[r], f"the Jacobian of the vector field could not be evaluated at t={t[r]:.6g}")

    def _change_D(self, idx: NDArray[np.intp], factor: NDArray[np.float64]) -> None:
        """scipy's ``change_D`` for flows ``idx`` (step sizes multiplied by ``factor``)."""
        self.n_equal[idx] = 0
        orders = self.order[idx]
        for k in np.unique(orders):
            sel = idx[orders == k]
            RU = _change_matrix(int(k), factor[orders == k])
            self.D[sel, : k + 1] = np.matmul(np.swapaxes(RU, -1, -2), self.D[sel, : k + 1])

    # ---- start ------------------------------------------------------------------------
    def _start(self) -> None:
        idx = np.arange(self.B)
        f0, ok = self.batch.field(idx, self.y, self.t)
        g0 = scaled_norm(np.where(ok[:, None], f0, 0.0), axis=1)
        for b in np.flatnonzero(~ok).tolist():
            self._fail(b, "the vector field is not finite at t=0")
            try:  # as integrate_flow: a start where the model cannot be evaluated is refused
                _trajectory(
                    self.batch.model,
                    self.batch.q[b],
                    [0.0],
                    [self.y[b]],
                    status="failed",
                    message="",
                    n_steps=0,
                    nfev=0,
                    method=BATCH_METHOD,
                )
            except _RECORDED_ERRORS as err:
                raise ValueError(f"theta0[{b}]: {err}") from err
        for b in np.flatnonzero(ok & (g0 < self.gtol)).tolist():
            self._end(b, "converged", f"|grad| = {g0[b]:.3g} < gtol = {self.gtol:.3g} at t=0")
        live = np.flatnonzero(self.running)
        if live.size == 0:
            return
        if self.first_step is not None:
            self.h_abs[live] = min(self.first_step, self.t_max)
        else:
            self.h_abs[live] = self._initial_step(live, f0[live])
        self.D[live, 0] = self.y[live]
        self.D[live, 1] = f0[live] * self.h_abs[live, None]
        self._set_jac(live, self.t[live], self.y[live])

    def _initial_step(self, idx: NDArray[np.intp], f0: NDArray[np.float64]) -> NDArray[np.float64]:
        """scipy's ``select_initial_step`` per flow, for error order 1 (BDF)."""
        y0 = self.y[idx]
        scale = self.atol + np.abs(y0) * self.rtol
        d0, d1 = _rms(y0 / scale), _rms(f0 / scale)
        small = (d0 < 1e-5) | (d1 < 1e-5)
        h0 = np.minimum(np.where(small, 1e-6, 0.01 * d0 / np.where(small, 1.0, d1)), self.t_max)
        f1, ok = self.batch.field(idx, y0 + h0[:, None] * f0, h0)
        with np.errstate(all="ignore"):
            d2 = np.where(ok, _rms((f1 - f0) / scale) / h0, np.inf)
            h1 = np.where(
                (d1 <= 1e-15) & (d2 <= 1e-15), np.maximum(1e-6, h0 * 1e-3), (0.01 / np.maximum(d1, d2)) ** 0.5
            )
        h1 = np.where(np.isfinite(h1), h1, h0)
        return np.minimum(np.minimum(100 * h0, h1), min(self.t_max, self.max_step))

    # ---- main loop ----------------------------------------------------------------------
    def solve(self) -> None:
        self._start()
        while self.running.any():
            self._attempt(np.flatnonzero(self.running))
        for b in range(self.B):
            ts, th = self.ts[b], self.thetas[b]
            if self.last_t[b] > ts[-1]:
                ts.append(float(self.last_t[b]))
                th.append(self.last_y[b].copy())
            elif self.last_t[b] == ts[-1]:
                th[-1] = self.last_y[b].copy()

    def _newton(
        self,
        idx: NDArray[np.intp],
        t_new: NDArray[np.float64],
        y_pred: NDArray[np.float64],
        c: NDArray[np.float64],
        psi: NDArray[np.float64],
        scale: NDArray[np.float64],
    ) -> tuple[
        NDArray[np.bool_], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]
    ]:
        """scipy's ``solve_bdf_system`` per flow, in lock step over ``idx``.

        Differences from scipy: the iteration may stop after its first correction
        when the convergence rate carried from the flow's previous step (with the
        same Jacobian) already proves convergence, as LSODE does; and the bound
        ``|f(y_new)| >= |f(y_k)| - |lam|_max |dy_k|`` is returned for the stopping rule.
        """
        m = idx.size
        V, lam = _take(self.V, idx), _take(self.lam, idx)
        y, d = y_pred.copy(), np.zeros_like(y_pred)
        converged = np.zeros(m, dtype=bool)
        going = np.ones(m, dtype=bool)
        n_iter = np.full(m, _NEWTON_MAXITER, dtype=np.int64)
        dy_old = np.full(m, np.nan)
        rate0 = np.where(self.rate_age[idx] < _RATE_MAX_AGE, self.rate_prev[idx], np.nan)
        last_rate = np.full(m, np.nan)
        f_low = np.zeros(m)  # lower bound of |f| at the final iterate
        lam_max = np.max(np.abs(lam), axis=1)
        for k in range(_NEWTON_MAXITER):
            g = np.flatnonzero(going)
            if g.size == 0:
                break
            f, ok = self.batch.field(idx[g], y[g], t_new[g])
            going[g[~ok]], n_iter[g[~ok]] = False, k + 1
            g, f = g[ok], f[ok]
            if g.size == 0:
                break
            rhs = c[g, None] * f - psi[g] - d[g]
            if 2 * g.size < m:  # few rows left: gathering their (P, P) stacks is cheaper
                dy = _solve(V[g], lam[g], c[g], rhs)
            else:  # solve every row (zero right-hand side for the others): no copy of the stacks
                full = np.zeros_like(y)
                full[g] = rhs
                dy = _solve(V, lam, c, full)[g]
            dy_norm = _rms(dy / scale[g])
            with np.errstate(all="ignore"):
                rate = dy_norm / dy_old[g]
                has = np.isfinite(dy_old[g])
                carried = (k == 0) & np.isfinite(rate0[g])
                bad = ~np.isfinite(dy_norm) | (
                    has
                    & ((rate >= 1) | (rate ** (_NEWTON_MAXITER - k) / (1 - rate) * dy_norm > self.newton_tol))
                )
                r_used = np.where(has, rate, rate0[g])
                done = ~bad & (
                    (dy_norm == 0) | ((has | carried) & (r_used / (1 - r_used) * dy_norm < self.newton_tol))
                )
            last_rate[g[has]] = rate[has]
            # a bound only (an overflow to inf just means: far from gtol)
            with np.errstate(over="ignore", invalid="ignore"):
                f_low[g] = np.linalg.norm(f, axis=1) - _MARGIN * lam_max[g] * np.linalg.norm(dy, axis=1)
            going[g[bad]], n_iter[g[bad]] = False, k + 1
            up = g[~bad]
            y[up] += dy[~bad]
            d[up] += dy[~bad]
            converged[g[done]], going[g[done]], n_iter[g[done]] = True, False, k + 1
            dy_old[up] = dy_norm[~bad]
        known = np.isfinite(last_rate)
        self.rate_prev[idx[known]] = last_rate[known]
        self.rate_age[idx[known]] = 0
        self.rate_age[idx[~known]] += 1
        return converged, n_iter, y, d, f_low

    def _attempt(self, idx: NDArray[np.intp]) -> None:
        """One attempt of the current step of every running flow ``idx`` (scipy BDF's ``_step_impl``)."""
        t = self.t[idx]
        min_step = 10 * np.abs(np.nextafter(t, np.inf) - t)
        fresh = ~self.in_step[idx]
        self.cur_jac[idx[fresh]] = False
        h_abs = self.h_abs[idx]
        for clamp, bound in (
            (fresh & (h_abs > self.max_step), self.max_step),
            (fresh & (h_abs < min_step), min_step),
        ):
            if clamp.any():
                b = np.broadcast_to(bound, h_abs.shape)[clamp]
                self._change_D(idx[clamp], b / h_abs[clamp])
                h_abs[clamp] = b
        self.in_step[idx] = True
        tiny = h_abs < min_step
        for b in idx[tiny].tolist():
            self._end(b, "failed", f"solver failed near t={self.t[b]:.6g}: {_TOO_SMALL}")
        idx, t, h_abs = idx[~tiny], t[~tiny], h_abs[~tiny]
        if idx.size == 0:
            return
        t_new = t + h_abs
        over = t_new > self.t_max
        if over.any():
            t_new[over] = self.t_max
            self._change_D(idx[over], (t_new[over] - t[over]) / h_abs[over])
        h = t_new - t
        self.h_abs[idx] = h
        k = self.order[idx]
        j = np.arange(_MAX_ORDER + 3)
        D = _take(self.D, idx)
        y_pred = np.einsum("mj,mjp->mp", (j[None, :] <= k[:, None]).astype(np.float64), D)
        scale = self.atol + self.rtol * np.abs(y_pred)
        w_psi = np.where(
            (j[None, :] >= 1) & (j[None, :] <= k[:, None]), np.append(_GAMMA, [0, 0])[None, :], 0.0
        )
        psi = np.einsum("mj,mjp->mp", w_psi, D) / _ALPHA[k][:, None]
        c = h / _ALPHA[k]
        conv, n_iter, y_new, d, f_low = self._newton(idx, t_new, y_pred, c, psi, scale)
        stale = ~conv & ~self.cur_jac[idx]
        if stale.any():
            s = np.flatnonzero(stale)
            self._set_jac(idx[s], t_new[s], y_pred[s])
            s = s[self.running[idx[s]]]
            if s.size:
                c2, n2, y2, d2, f2 = self._newton(idx[s], t_new[s], y_pred[s], c[s], psi[s], scale[s])
                conv[s], n_iter[s], y_new[s], d[s], f_low[s] = c2, n2, y2, d2, f2
        live = self.running[idx]
        for b in idx[live & ~conv].tolist():
            if self.batch.failed_msg[b] is not None:  # the model raised: a failure, not a hard step
                self._fail(b, "")
        nc = live & ~conv & self.running[idx]
        if nc.any():
            self.h_abs[idx[nc]] = h[nc] * 0.5
            self._change_D(idx[nc], np.full(int(nc.sum()), 0.5))
        sel = np.flatnonzero(live & conv)
        if sel.size == 0:
            return
        idx, t_new, h, k, n_iter = idx[sel], t_new[sel], h[sel], k[sel], n_iter[sel]
        y_new, d, f_low = y_new[sel], d[sel], f_low[sel]
        safety = 0.9 * (2 * _NEWTON_MAXITER + 1) / (2 * _NEWTON_MAXITER + n_iter)
        scale = self.atol + self.rtol * np.abs(y_new)
        err = _rms(_ERROR_CONST[k][:, None] * d / scale)
        rej = ~(err <= 1)
        if rej.any():
            with np.errstate(all="ignore"):
                factor = np.maximum(
                    _MIN_FACTOR, np.nan_to_num(safety[rej] * err[rej] ** (-1 / (k[rej] + 1)), nan=0.0)
                )
            self.h_abs[idx[rej]] = h[rej] * factor
            self._change_D(idx[rej], factor)
        acc = ~rej
        if acc.any():
            self._accept(
                idx[acc], t_new[acc], y_new[acc], d[acc], scale[acc], err[acc], safety[acc], f_low[acc]
            )

    def _accept(
        self,
        idx: NDArray[np.intp],
        t_new: NDArray[np.float64],
        y_new: NDArray[np.float64],
        d: NDArray[np.float64],
        scale: NDArray[np.float64],
        err: NDArray[np.float64],
        safety: NDArray[np.float64],
        f_low: NDArray[np.float64],
    ) -> None:
        """Accepted steps: differences, order and step size, checkpoints, stopping rules.

        The field is evaluated at the new state (for ``gtol``, and the message at
        ``t_max``) unless the Newton bound ``f_low`` already excludes convergence.
        """
        self.n_equal[idx] += 1
        self.n_steps[idx] += 1
        self.in_step[idx] = False
        self.t[idx], self.y[idx] = t_new, y_new
        k = self.order[idx]
        for kk in np.unique(k):
            sel, ds = idx[k == kk], d[k == kk]
            Ds = self.D[sel]
            Ds[:, kk + 2] = ds - Ds[:, kk + 1]
            Ds[:, kk + 1] = ds
            for i in range(kk, -1, -1):
                Ds[:, i] += Ds[:, i + 1]
            self.D[sel] = Ds
        ch = np.flatnonzero(self.n_equal[idx] >= k + 1)
        if ch.size:
            kc, ic = k[ch], idx[ch]
            sc = scale[ch]
            with np.errstate(all="ignore"):
                e_m = np.where(kc > 1, _rms(_ERROR_CONST[kc - 1][:, None] * self.D[ic, kc] / sc), np.inf)
                kp = np.minimum(kc + 2, _MAX_ORDER + 2)
                e_p = np.where(
                    kc < _MAX_ORDER,
                    _rms(_ERROR_CONST[np.minimum(kc + 1, _MAX_ORDER)][:, None] * self.D[ic, kp] / sc),
                    np.inf,
                )
                norms = np.stack([e_m, err[ch], e_p], axis=1)
                factors = norms ** (-1.0 / (kc[:, None] + np.arange(3)[None, :]))
            delta = np.argmax(factors, axis=1) - 1
            self.order[ic] = kc + delta
            factor = np.minimum(_MAX_FACTOR, safety[ch] * np.max(factors, axis=1))
            self.h_abs[ic] *= factor
            self._change_D(ic, factor)
        need = ~(f_low >= _MARGIN * self.gtol) | (t_new >= self.t_max)
        gnorm = np.full(idx.size, np.inf)
        f_ok = np.ones(idx.size, dtype=bool)
        if need.any():
            f_new, f_ok[need] = self.batch.field(idx[need], y_new[need], t_new[need])
            gnorm[need] = scaled_norm(np.where(f_ok[need, None], f_new, 0.0), axis=1)
        j_cp = np.searchsorted(self.cp, t_new, side="right")
        y_fin = np.all(np.isfinite(y_new), axis=1)
        special = (j_cp > self.i_cp[idx]) | ~y_fin | ~f_ok | (gnorm < self.gtol) | (t_new >= self.t_max)
        plain = ~special  # the common case: no checkpoint crossed, nothing ends
        self.last_t[idx[plain]], self.last_y[idx[plain]] = t_new[plain], y_new[plain]
        for r in np.flatnonzero(special).tolist():
            b, j = int(idx[r]), int(j_cp[r])
            if j > self.i_cp[b]:
                Yc = self._dense(b, self.cp[self.i_cp[b] : j])
                if not np.all(np.isfinite(Yc)):
                    self._end(
                        b,
                        "failed",
                        f"the dense output is not finite between t={self.last_t[b]:.6g} and {t_new[r]:.6g}",
                    )
                    continue
                self.ts[b].extend(float(v) for v in self.cp[self.i_cp[b] : j])
                self.thetas[b].extend(Yc)
                self.i_cp[b] = j
            if not y_fin[r]:
                self._end(b, "failed", f"the solver state is not finite at t={t_new[r]:.6g}")
                continue
            self.last_t[b], self.last_y[b] = t_new[r], y_new[r]
            if not f_ok[r]:
                self._fail(b, f"the vector field is not finite at t={t_new[r]:.6g}")
            elif gnorm[r] < self.gtol:
                self._end(
                    b, "converged", f"|grad| = {gnorm[r]:.3g} < gtol = {self.gtol:.3g} at t={t_new[r]:.6g}"
                )
            elif t_new[r] >= self.t_max:
                self._end(b, "t_max", f"reached t_max={self.t_max:.6g} with |grad| = {gnorm[r]:.3g} >= gtol")

    def _dense(self, b: int, ts: NDArray[np.float64]) -> NDArray[np.float64]:
        """scipy's ``BdfDenseOutput`` of flow ``b`` at times ``ts``, shape ``(len(ts), P)``."""
        k, h, t = int(self.order[b]), float(self.h_abs[b]), float(self.t[b])
        x = (ts[None, :] - (t - h * np.arange(k))[:, None]) / (h * (1 + np.arange(k)))[:, None]
        return (self.D[b, 0][:, None] + self.D[b, 1 : k + 1].T @ np.cumprod(x, axis=0)).T
