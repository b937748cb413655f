r"""Gradient flow and discrete gradient ascent of the likelihood (Claims C3–C5).

Training is gradient ascent of the average log-likelihood ``L`` in the model
parameters; its continuous-time limit is the gradient flow (docs/theory.md §4)

.. math::

    \dot\theta = \nabla_\theta L = A(\theta)^\top r(\theta), \qquad
    \dot J = K(\theta)\, r, \qquad \dot L = \|A^\top r\|^2 \ge 0 .

:func:`integrate_flow` integrates it with a :mod:`scipy.integrate` solver, stepping
the solver itself (the loop of :func:`scipy.integrate.solve_ivp`) so that a
failure keeps the part of the trajectory computed before it. The Jacobian of the
vector field is the exact Hessian of ``L`` (:func:`theory.exact_hessian`) and is
passed to the implicit (stiff) methods. :func:`gradient_ascent` takes explicit
Euler steps :math:`\theta_{n+1} = \theta_n + \eta\,\nabla L(\theta_n)` and reports
time :math:`t = n\eta`, so the two are directly comparable (the Euler error at a
fixed time is :math:`O(\eta)`).

Both return a :class:`Trajectory`, whose status is always one of
``"converged"`` (the gradient norm fell below ``gtol``), ``"t_max"`` (the time
or step budget ran out) or ``"failed"`` (the solver failed, or the vector field
raised or was not finite; the message says which). Failures are never silent.

Glossary: ``theta`` parameters ``(P,)``, ``q`` target, ``J`` couplings with
``J[0] = -log Z``, ``J_star = couplings(q)``, ``r`` moment residual, ``L``
average log-likelihood, ``t`` time, ``T`` number of recorded times, ``lr`` the
learning rate :math:`\eta`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy
import scipy.integrate
from dsb_verifier.theory._validation import scaled_norm
from dsb_verifier.theory.effective import couplings
from dsb_verifier.theory.likelihood import _grad_unchecked, exact_hessian, grad_loglik
from dsb_verifier.theory.models.base import EnergyModel, check_model
from dsb_verifier.theory.walsh import _orders, wht
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "BATCH_METHOD",
    "FLOW_METHODS",
    "TRAJECTORY_STATUSES",
    "Trajectory",
    "integrate_flow",
    "integrate_flows",
    "gradient_ascent",
]

#: Solvers accepted by :func:`integrate_flow` (names of :mod:`scipy.integrate` classes).
FLOW_METHODS = ("RK45", "DOP853", "Radau", "BDF", "LSODA")

#: Implicit / stiffness-switching methods, which receive the analytic Jacobian.
_STIFF_METHODS = frozenset({"Radau", "BDF", "LSODA"})

#: :attr:`Trajectory.method` of a :func:`gradient_ascent` run.
_ASCENT = "gradient_ascent"

#: :attr:`Trajectory.method` of a flow of :func:`~dsb_verifier.theory.dynamics.batch_flow.integrate_flows_batched`
#: (scipy's BDF/NDF of orders 1-5, many flows in lock step, each with its own steps and error control).
BATCH_METHOD = "BDF-batched"

#: Values of :attr:`Trajectory.status`.
TRAJECTORY_STATUSES = ("converged", "t_max", "failed")

#: Errors that mark an integration as failed (recorded, never swallowed). Other
#: exceptions (TypeError, ...) are programming errors and propagate.
_RECORDED_ERRORS: tuple[type[BaseException], ...] = (ValueError, ArithmeticError, np.linalg.LinAlgError)

#: Float64 entries of the ``du/dtheta`` batch used when evaluating diagnostics.
_DIAG_CHUNK_ENTRIES = 2**22


def _scipy_lsoda_is_reentrant() -> bool:
    """Whether scipy's LSODA may run several problems at once in one process (scipy >= 1.17)."""
    major, minor = (int(x) for x in re.findall(r"\d+", scipy.__version__)[:2])
    return (major, minor) >= (1, 17)


#: Before scipy 1.17 LSODA keeps one problem's state in process-global Fortran memory:
#: a second LSODA solve started while one is in progress (another thread, or a Dask
#: worker with 2 threads) fails with "IntegratorConcurrencyError: Integrator lsoda can be
#: used to solve only a single problem at a time". Every LSODA solve of this module
#: then holds :data:`_LSODA_LOCK` from the solver's creation to its last step.
LSODA_NEEDS_LOCK: bool = not _scipy_lsoda_is_reentrant()
_LSODA_LOCK = threading.RLock()


@contextmanager
def _solver_guard(method: str) -> Iterator[None]:
    """Hold :data:`_LSODA_LOCK` for an LSODA solve when scipy's LSODA is not re-entrant."""
    if method == "LSODA" and LSODA_NEEDS_LOCK:
        with _LSODA_LOCK:
            yield
    else:
        yield


class _NonFiniteError(ArithmeticError):
    """The vector field (or its Jacobian) returned NaN or inf."""


@dataclass(frozen=True)
class Trajectory:
    r"""A recorded gradient-flow or gradient-ascent trajectory (Claims C3–C5).

    Attributes
    ----------
    t
        Times, shape ``(T,)``, strictly increasing, ``t[0] = 0``. Row ``-1`` is the
        end point (convergence stop, ``t_max``, or the last good state on failure).
    theta
        Parameters, shape ``(T, P)``.
    J
        Effective couplings of the model, shape ``(T, 2^N)``, ``J[:, 0] = -log Z``.
    L
        Average log-likelihood of the target, shape ``(T,)``.
    residual_order_norms
        :func:`theory.order_norms` of the moment residual ``m(q) - m(p)`` (the ``S = 0``
        entry, identically 0, padded in), shape ``(T, N + 1)``; column 0 is 0.
    coupling_error_order_norms
        :func:`theory.order_norms` of ``J(t) - couplings(q)``, shape ``(T, N + 1)``.
    grad_norm
        :math:`\|\nabla_\theta L\| = \|A^\top r\|`, shape ``(T,)``.
    status
        ``"converged"``, ``"t_max"`` or ``"failed"``.
    message
        Solver message, or the recorded error for a failure.
    n_steps
        Accepted solver (or ascent) steps.
    nfev
        Vector-field evaluations by the solver (flow) or gradient evaluations (ascent).
    method
        Solver name (one of :data:`FLOW_METHODS`), :data:`BATCH_METHOD` or ``"gradient_ascent"``.
    """

    t: NDArray[np.float64]
    theta: NDArray[np.float64]
    J: NDArray[np.float64]
    L: NDArray[np.float64]
    residual_order_norms: NDArray[np.float64]
    coupling_error_order_norms: NDArray[np.float64]
    grad_norm: NDArray[np.float64]
    status: str
    message: str
    n_steps: int
    nfev: int
    method: str

    def __post_init__(self) -> None:
        arrays = ("t", "theta", "J", "L", "residual_order_norms", "coupling_error_order_norms", "grad_norm")
        for name in arrays:
            arr = np.array(getattr(self, name), dtype=np.float64)
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"Trajectory.{name} must be finite")
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        T = self.t.shape[0] if self.t.ndim == 1 else -1
        if T < 1:
            raise ValueError(f"Trajectory.t must have shape (T,) with T >= 1, got {self.t.shape}")
        if self.t[0] != 0.0 or np.any(np.diff(self.t) <= 0):
            raise ValueError("Trajectory.t must start at 0 and be strictly increasing")
        n = self.J.shape[-1] if self.J.ndim == 2 else 0
        if self.J.ndim != 2 or self.J.shape[0] != T or n < 2 or n & (n - 1):
            raise ValueError(f"Trajectory.J must have shape (T, 2^N) with T={T}, got {self.J.shape}")
        if self.theta.ndim != 2:
            raise ValueError(f"Trajectory.theta must have shape (T, P), got {self.theta.shape}")
        N = n.bit_length() - 1
        expected = {
            "theta": (T, self.theta.shape[-1]),
            "L": (T,),
            "residual_order_norms": (T, N + 1),
            "coupling_error_order_norms": (T, N + 1),
            "grad_norm": (T,),
        }
        for name, shape in expected.items():
            got = getattr(self, name).shape
            if got != shape:
                raise ValueError(f"Trajectory.{name} must have shape {shape}, got {got}")
        if np.any(self.grad_norm < 0) or np.any(self.residual_order_norms < 0):
            raise ValueError("Trajectory norms must be non-negative")
        if self.status not in TRAJECTORY_STATUSES:
            raise ValueError(f"Trajectory.status must be one of {TRAJECTORY_STATUSES}, got {self.status!r}")
        methods = (*FLOW_METHODS, BATCH_METHOD, _ASCENT)
        if self.method not in methods:
            raise ValueError(f"Trajectory.method must be one of {methods}, got {self.method!r}")
        for name in ("n_steps", "nfev"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
                raise ValueError(f"Trajectory.{name} must be a non-negative integer, got {v!r}")

    @property
    def n_visible(self) -> int:
        """Number of visible spins ``N``."""
        return int(self.J.shape[-1]).bit_length() - 1

    @property
    def converged(self) -> bool:
        """Whether the run stopped on the gradient-norm criterion."""
        return self.status == "converged"

    @property
    def theta_end(self) -> NDArray[np.float64]:
        """End point ``theta[-1]``."""
        return self.theta[-1]


# ---- validation ---------------------------------------------------------------
def _check_start(
    model: EnergyModel, theta0: ArrayLike, q: ArrayLike, *, batch: bool, hint: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    qq = model.check_target(q)
    if qq.ndim != 1:
        raise ValueError(f"q must be one target distribution of shape (2^N,), got shape {qq.shape}")
    th = model.check_theta(theta0)
    if th.ndim != (2 if batch else 1):
        shape = "a batch (B, P)" if batch else "shape (P,)"
        raise ValueError(f"theta0 must have {shape} with P={model.n_params}, got {th.shape}{hint}")
    return th, qq


def _positive(value: object, name: str, *, allow_inf: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    v = float(value)
    if not v > 0 or (np.isinf(v) and not allow_inf) or np.isnan(v):
        raise ValueError(f"{name} must be a positive {'' if allow_inf else 'finite '}number, got {value!r}")
    return v


def _count(value: object, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_gtol(gtol: object) -> float:
    if isinstance(gtol, bool) or not isinstance(gtol, int | float | np.integer | np.floating):
        raise ValueError(f"gtol must be a number >= 0 (0 disables the convergence stop), got {gtol!r}")
    g = float(gtol)
    if not (np.isfinite(g) and g >= 0):
        raise ValueError(f"gtol must be a finite number >= 0 (0 disables the convergence stop), got {gtol!r}")
    return g


# ---- diagnostics --------------------------------------------------------------
def _trajectory(
    model: EnergyModel,
    q: NDArray[np.float64],
    ts: list[float],
    thetas: list[NDArray[np.float64]],
    *,
    status: str,
    message: str,
    n_steps: int,
    nfev: int,
    method: str,
) -> Trajectory:
    """Evaluate the recorded diagnostics at the states ``thetas`` (in chunks).

    The gradient norm is recomputed here as ``G (q - p)`` from the model, not via
    the vector field, so a broken vector field cannot corrupt the diagnostics. If
    the diagnostics are not finite from some recorded state on, the trajectory is
    truncated before it and marked ``"failed"`` (never silently dropped).
    """
    th = np.array(thetas, dtype=np.float64).reshape(len(thetas), model.n_params)
    n = 2**model.n_visible
    J_star = couplings(q)
    m_q = wht(q)
    chunk = max(1, _DIAG_CHUNK_ENTRIES // max(1, model.n_params * n))
    parts: dict[str, list[NDArray[np.float64]]] = {k: [] for k in ("J", "L", "r", "e", "g")}
    with np.errstate(all="ignore"):
        for start in range(0, th.shape[0], chunk):
            block = th[start : start + chunk]
            logp = model.log_prob(block)
            p = np.exp(logp)
            J = wht(logp) / n
            r_full = m_q - wht(p)
            r_full[:, 0] = 0.0
            g = np.matmul(model.grad_neg_energy(block), (q - p)[:, :, None])[:, :, 0]
            parts["J"].append(J)
            parts["L"].append(logp @ q)
            parts["r"].append(_order_norms_unchecked(r_full, model.n_visible))
            parts["e"].append(_order_norms_unchecked(J - J_star, model.n_visible))
            parts["g"].append(scaled_norm(g, axis=-1))
    diag = {k: np.concatenate(v) for k, v in parts.items()}
    ok = np.ones(th.shape[0], dtype=bool)
    for v in diag.values():
        ok &= np.all(np.isfinite(v.reshape(th.shape[0], -1)), axis=-1)
    T = th.shape[0] if ok.all() else int(np.argmin(ok))
    if T == 0:
        raise ValueError("the model's probabilities or gradients are not finite at theta0")
    if T < th.shape[0]:
        status = "failed"
        message = f"{message}; diagnostics not finite at t={ts[T]:.6g}, trajectory truncated there"
    return Trajectory(
        t=np.asarray(ts[:T], dtype=np.float64),
        theta=th[:T],
        J=diag["J"][:T],
        L=diag["L"][:T],
        residual_order_norms=diag["r"][:T],
        coupling_error_order_norms=diag["e"][:T],
        grad_norm=diag["g"][:T],
        status=status,
        message=message,
        n_steps=n_steps,
        nfev=nfev,
        method=method,
    )


def _order_norms_unchecked(x: NDArray[np.float64], N: int) -> NDArray[np.float64]:
    """:func:`theory.order_norms` (``S = 0`` excluded) without the finiteness check."""
    k = _orders(N)
    out = np.zeros(x.shape[:-1] + (N + 1,))
    for order in range(1, N + 1):
        out[..., order] = scaled_norm(x[..., k == order], axis=-1)
    return out


def _describe(err: BaseException, t: float) -> str:
    return f"{type(err).__name__} near t={t:.6g}: {err}"


# ---- gradient flow ------------------------------------------------------------
def integrate_flow(
    model: EnergyModel,
    theta0: ArrayLike,
    q: ArrayLike,
    *,
    t_max: float = 1e4,
    n_checkpoints: int = 200,
    method: str = "LSODA",
    rtol: float = 1e-8,
    atol: float = 1e-10,
    gtol: float = 1e-9,
    t_min: float = 1e-3,
    max_step: float = np.inf,
    first_step: float | None = None,
) -> Trajectory:
    r"""Integrate the gradient flow :math:`\dot\theta = \nabla_\theta L` (Claims C3–C5).

    Parameters
    ----------
    model
        An :class:`~dsb_verifier.theory.models.EnergyModel`.
    theta0
        Initial parameters, shape ``(P,)``; for a batch of starts use
        :func:`integrate_flows`.
    q
        One strictly positive target distribution over the model's ``2^N`` states.
    t_max
        Final time (``> t_min``).
    n_checkpoints
        Number of log-spaced recording times in ``[t_min, t_max]``, recorded in
        addition to ``t = 0`` and the end point.
    method
        One of :data:`FLOW_METHODS`. ``"Radau"``, ``"BDF"`` and ``"LSODA"`` receive
        the analytic Jacobian of the vector field, :func:`theory.exact_hessian`.
    rtol, atol
        Solver tolerances on ``theta``.
    gtol
        Convergence stop: the run ends at the first accepted step whose end point
        has :math:`\|\nabla L\| <` ``gtol`` (resolved to the solver's step, so the
        end point is an actual solver state, not an interpolant). ``0`` disables it.
        Explicit methods (``"RK45"``, ``"DOP853"``) may stall above a small ``gtol``
        on stiff problems: their error control leaves an oscillation of about
        ``rtol * |theta|`` along the stiffest directions, so ``|grad|`` stays near
        ``rtol * |theta| * lambda_max`` and the run ends with ``"t_max"``.
    t_min
        First checkpoint time (``> 0``).
    max_step, first_step
        Passed to the solver.

    Returns
    -------
    Trajectory
        Recorded times are ``0``, the checkpoints reached and the end point. A
        failure (solver failure, NaN/inf or an error from the vector field or its
        Jacobian) gives ``status="failed"`` with the error in ``message`` and the
        trajectory up to the last good state.

    Raises
    ------
    ValueError
        For invalid arguments (target of the wrong ``N``, wrong ``theta0`` length,
        non-positive times or tolerances, unknown ``method``).
    """
    model = check_model(model)
    th0, qq = _check_start(model, theta0, q, batch=False, hint="; for a batch use integrate_flows")
    if method not in FLOW_METHODS:
        raise ValueError(f"method must be one of {FLOW_METHODS}, got {method!r}")
    t_max_ = _positive(t_max, "t_max")
    t_min_ = _positive(t_min, "t_min")
    if not t_min_ < t_max_:
        raise ValueError(f"t_min must be smaller than t_max, got t_min={t_min!r}, t_max={t_max!r}")
    n_cp = _count(n_checkpoints, "n_checkpoints", minimum=1)
    rtol_, atol_ = _positive(rtol, "rtol"), _positive(atol, "atol")
    gtol_ = _check_gtol(gtol)
    options: dict[str, float] = {"max_step": _positive(max_step, "max_step", allow_inf=True)}
    if first_step is not None:
        options["first_step"] = _positive(first_step, "first_step")
    checkpoints = np.geomspace(t_min_, t_max_, n_cp)
    checkpoints[-1] = t_max_

    return _flow_one(
        model, th0, qq, checkpoints, options, t_max=t_max_, method=method, rtol=rtol_, atol=atol_, gtol=gtol_
    )


def integrate_flows(model: EnergyModel, theta0: ArrayLike, q: ArrayLike, **options: Any) -> list[Trajectory]:
    """:func:`integrate_flow` from each row of a batch ``theta0`` of shape ``(B, P)``.

    By default the starts are integrated one after the other in a Python loop;
    each run has its own adaptive steps and stopping time, hence its own number
    of recorded times, so the result is a list of ``B`` :class:`Trajectory`
    objects. Keyword ``options`` are those of :func:`integrate_flow`. With
    ``method=BATCH_METHOD`` (``"BDF-batched"``) the flows are integrated together
    by :func:`~dsb_verifier.theory.dynamics.batch_flow.integrate_flows_batched`
    (same options and stopping rules, each flow with its own steps; several
    times faster for many flows of a small model); ``q`` may then also hold one
    target per start, shape ``(B, 2^N)``.
    """
    model = check_model(model)
    if options.get("method") == BATCH_METHOD:
        from dsb_verifier.theory.dynamics.batch_flow import integrate_flows_batched

        rest = {k: v for k, v in options.items() if k != "method"}
        return integrate_flows_batched(model, theta0, q, **rest)
    th0, qq = _check_start(model, theta0, q, batch=True, hint="; for one start use integrate_flow")
    return [integrate_flow(model, row, qq, **options) for row in th0]


def _flow_one(
    model: EnergyModel,
    theta0: NDArray[np.float64],
    q: NDArray[np.float64],
    checkpoints: NDArray[np.float64],
    options: dict[str, float],
    *,
    t_max: float,
    method: str,
    rtol: float,
    atol: float,
    gtol: float,
) -> Trajectory:
    def field(t: float, y: NDArray[np.float64]) -> NDArray[np.float64]:
        g = _grad_unchecked(model, y, q)
        if not np.all(np.isfinite(g)):
            raise _NonFiniteError(f"the vector field is not finite at t={t:.6g}")
        return g

    def jac(t: float, y: NDArray[np.float64]) -> NDArray[np.float64]:
        Hs = exact_hessian(model, y, q)
        if not np.all(np.isfinite(Hs)):
            raise _NonFiniteError(f"the Jacobian of the vector field is not finite at t={t:.6g}")
        return Hs

    ts: list[float] = [0.0]
    thetas: list[NDArray[np.float64]] = [theta0.copy()]
    status, n_steps, nfev = "failed", 0, 0
    try:
        g0 = float(scaled_norm(field(0.0, theta0)))
    except _RECORDED_ERRORS as err:
        g0, message = np.inf, _describe(err, 0.0)
    else:
        message = f"|grad| = {g0:.3g} < gtol = {gtol:.3g} at t=0"
    if g0 < gtol:
        status = "converged"
    elif np.isfinite(g0):
        solver_cls = getattr(scipy.integrate, method)
        deferred = _Deferred() if method == "LSODA" else None
        fun, jfun = (
            (field, jac) if deferred is None else (deferred.wrap(field), deferred.wrap(jac, matrix=True))
        )
        extra = {"jac": jfun} if method in _STIFF_METHODS else {}
        with _solver_guard(method):
            solver = solver_cls(fun, 0.0, theta0.copy(), t_max, rtol=rtol, atol=atol, **options, **extra)
            status, message, n_steps = _drive(
                solver, field, checkpoints, ts, thetas, t_max=t_max, gtol=gtol, deferred=deferred
            )
        nfev = int(solver.nfev)
    return _trajectory(
        model, q, ts, thetas, status=status, message=message, n_steps=n_steps, nfev=nfev, method=method
    )


class _Deferred:
    """Exceptions of callbacks that a compiled solver calls, kept and re-raised after its step.

    scipy's LSODA (a Fortran routine before scipy 1.17) prints "capi_return is NULL" and
    "Call-back ... failed" to stderr when a Python callback raises, e.g. a Ctrl-C's
    ``KeyboardInterrupt`` landing in the vector field (``dsb-verify`` promises one line). The
    wrapped callback keeps the first exception, returns NaN (so the step fails at once; after
    an exception every call returns NaN without evaluating), and :func:`_drive` re-raises it
    when the step returns, so callers see the same exception as an unwrapped callback raises.
    """

    def __init__(self) -> None:
        self.exc: BaseException | None = None

    def wrap(
        self, fn: Callable[[float, NDArray[np.float64]], NDArray[np.float64]], *, matrix: bool = False
    ) -> Callable[[float, NDArray[np.float64]], NDArray[np.float64]]:
        """``fn`` with its exceptions kept; NaN of ``y``'s shape (``matrix``: ``(P, P)``) after one."""

        def call(t: float, y: NDArray[np.float64]) -> NDArray[np.float64]:
            if self.exc is None:
                try:
                    return fn(t, y)
                except BaseException as err:  # re-raised by raise_pending after the step
                    self.exc = err
            n = np.size(y)
            return np.full((n, n) if matrix else (n,), np.nan)

        return call

    def raise_pending(self) -> None:
        """Re-raise the kept exception, if any (once)."""
        exc, self.exc = self.exc, None
        if exc is not None:
            raise exc


def _drive(
    solver: scipy.integrate.OdeSolver,
    field: Callable[[float, NDArray[np.float64]], NDArray[np.float64]],
    checkpoints: NDArray[np.float64],
    ts: list[float],
    thetas: list[NDArray[np.float64]],
    *,
    t_max: float,
    gtol: float,
    deferred: _Deferred | None = None,
) -> tuple[str, str, int]:
    """Step ``solver`` to the end, appending checkpoints and the end point to ``ts``/``thetas``.

    Returns ``(status, message, n_steps)``. The end point (convergence stop,
    ``t_max`` or the last good state before a failure) is always recorded; if it
    coincides with a checkpoint, the solver state replaces the interpolant there.
    """
    last_t, last_y = 0.0, np.array(thetas[0])
    i_cp, n_steps = 0, 0
    status, message = "failed", ""
    while True:
        try:
            try:
                msg = solver.step()
            finally:
                if deferred is not None:
                    deferred.raise_pending()  # a callback's exception, as if unwrapped
        except _RECORDED_ERRORS as err:
            message = _describe(err, float(solver.t))
            break
        if solver.status == "failed":
            message = f"solver failed near t={float(solver.t):.6g}: {msg}"
            break
        n_steps += 1
        t_new, y_new = float(solver.t), np.array(solver.y, dtype=np.float64)
        j = int(np.searchsorted(checkpoints, t_new, side="right"))
        if j > i_cp:
            Y = np.atleast_2d(solver.dense_output()(checkpoints[i_cp:j]).T)
            if not np.all(np.isfinite(Y)):
                message = f"the dense output is not finite between t={last_t:.6g} and {t_new:.6g}"
                break
            ts.extend(float(c) for c in checkpoints[i_cp:j])
            thetas.extend(Y)
            i_cp = j
        if not np.all(np.isfinite(y_new)):
            message = f"the solver state is not finite at t={t_new:.6g}"
            break
        last_t, last_y = t_new, y_new
        try:
            g = float(scaled_norm(field(t_new, y_new)))
        except _RECORDED_ERRORS as err:
            message = _describe(err, t_new)
            break
        if g < gtol:
            status, message = "converged", f"|grad| = {g:.3g} < gtol = {gtol:.3g} at t={t_new:.6g}"
            break
        if solver.status == "finished":
            status, message = "t_max", f"reached t_max={t_max:.6g} with |grad| = {g:.3g} >= gtol"
            break
    if last_t > ts[-1]:
        ts.append(last_t)
        thetas.append(last_y)
    elif last_t == ts[-1]:
        thetas[-1] = last_y
    return status, message, n_steps


# ---- discrete gradient ascent ---------------------------------------------------
def gradient_ascent(
    model: EnergyModel,
    theta0: ArrayLike,
    q: ArrayLike,
    *,
    lr: float,
    n_steps: int,
    record_every: int = 1,
    gtol: float = 0.0,
) -> Trajectory:
    r"""Discrete gradient ascent :math:`\theta_{n+1} = \theta_n + \eta\,\nabla L(\theta_n)`.

    The explicit Euler discretisation of the flow of :func:`integrate_flow`,
    recorded at times :math:`t = n\eta` so the two compare directly; its error at
    a fixed time is :math:`O(\eta)` (docs/theory.md §6, discrete-time extension).

    Parameters
    ----------
    model, q
        As in :func:`integrate_flow`.
    theta0
        Initial parameters, shape ``(P,)``.
    lr
        Learning rate :math:`\eta > 0`.
    n_steps
        Number of steps (``>= 0``).
    record_every
        Record every this many steps; step 0 and the last state are always recorded.
    gtol
        Stop early once :math:`\|\nabla L(\theta_n)\| <` ``gtol`` (default 0: never,
        so every run takes exactly ``n_steps`` steps and ends at ``t = n_steps * lr``).

    Returns
    -------
    Trajectory
        Status ``"converged"`` (early stop), ``"t_max"`` (all steps taken) or
        ``"failed"`` (the gradient or the iterate became non-finite, or the model
        raised; the message says where). When the model raises at step ``k > 0``
        the run ends at step ``k - 1``, the last state where it could be evaluated;
        an error at the start itself propagates.
    """
    model = check_model(model)
    th0, qq = _check_start(model, theta0, q, batch=False, hint="")
    lr_ = _positive(lr, "lr")
    n = _count(n_steps, "n_steps", minimum=0)
    every = _count(record_every, "record_every", minimum=1)
    gtol_ = _check_gtol(gtol)
    return _ascent_one(model, th0, qq, lr_, n, every, gtol_)


def _ascent_one(
    model: EnergyModel,
    theta0: NDArray[np.float64],
    q: NDArray[np.float64],
    lr: float,
    n_steps: int,
    every: int,
    gtol: float,
) -> Trajectory:
    theta = theta0.copy()
    ts: list[float] = [0.0]
    thetas: list[NDArray[np.float64]] = [theta.copy()]
    status, message, step, nfev = "t_max", f"took all {n_steps} steps", 0, 0
    prev = theta
    while step < n_steps:
        try:
            g = grad_loglik(model, theta, q)
        except _RECORDED_ERRORS as err:
            status, message = "failed", _describe(err, step * lr) + f" (step {step})"
            if step > 0:  # as in integrate_flow, the state where the model failed is not recorded
                if ts[-1] == step * lr:
                    ts.pop()
                    thetas.pop()
                theta, step = prev, step - 1
            break
        nfev += 1
        if not np.all(np.isfinite(g)):
            status, message = "failed", f"the gradient is not finite at step {step} (t={step * lr:.6g})"
            break
        gn = float(scaled_norm(g))
        if gn < gtol:
            status, message = "converged", f"|grad| = {gn:.3g} < gtol = {gtol:.3g} at step {step}"
            break
        new = theta + lr * g
        if not np.all(np.isfinite(new)):
            status = "failed"
            message = f"the iterate is not finite at step {step + 1} (t={(step + 1) * lr:.6g})"
            break
        prev, theta, step = theta, new, step + 1
        if step % every == 0:
            ts.append(step * lr)
            thetas.append(theta.copy())
    if step * lr > ts[-1]:
        ts.append(step * lr)
        thetas.append(theta.copy())
    return _trajectory(
        model, q, ts, thetas, status=status, message=message, n_steps=step, nfev=nfev, method=_ASCENT
    )
