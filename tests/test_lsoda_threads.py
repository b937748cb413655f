"""LSODA from several threads (issue 15 item 4): same results as serial, with and without the guard.

scipy's LSODA before 1.17 keeps one problem in process-global state, so concurrent
solves raised ``IntegratorConcurrencyError``; :mod:`dsb_verifier.theory.dynamics.flow`
holds a lock around every LSODA solve on those versions. The guard is exercised here
on whatever scipy is installed by forcing it on, and the version rule is tested directly.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy
from dsb_verifier import theory
from dsb_verifier.theory.dynamics import flow
from dsb_verifier.theory.dynamics.flow import integrate_flow
from dsb_verifier.theory.models import RBM

OPTIONS = {"t_max": 200.0, "t_min": 1e-2, "n_checkpoints": 20, "gtol": 1e-7, "method": "LSODA"}


def _cases() -> list[tuple[RBM, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(3)
    model = RBM(3, 3)
    q = theory.ising_target(3, {1: 0.4, 2: 0.4, 3: 0.4}, rng)
    return [(model, model.init(rng, 0.3), q) for _ in range(8)]


def _run(case: tuple[RBM, np.ndarray, np.ndarray]) -> flow.Trajectory:
    model, theta0, q = case
    return integrate_flow(model, theta0, q, **OPTIONS)


@pytest.mark.parametrize("forced", [False, True])
def test_flows_from_four_threads_equal_serial(forced, monkeypatch):
    if forced:
        monkeypatch.setattr(flow, "LSODA_NEEDS_LOCK", True)
    cases = _cases()
    serial = [_run(c) for c in cases]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(_run, cases))
    for a, b in zip(serial, threaded, strict=True):
        assert a.status == b.status != "failed", (a.message, b.message)
        np.testing.assert_array_equal(a.t, b.t)
        np.testing.assert_array_equal(a.theta, b.theta)
        assert a.nfev == b.nfev


@pytest.mark.parametrize(
    ("version", "reentrant"),
    [("1.11.0", False), ("1.16.3", False), ("1.17.0", True), ("1.17.1", True), ("2.0.0rc1", True)],
)
def test_version_rule(version, reentrant, monkeypatch):
    monkeypatch.setattr(scipy, "__version__", version)
    assert flow._scipy_lsoda_is_reentrant() is reentrant


def test_guard_holds_the_lock_only_for_lsoda(monkeypatch):
    monkeypatch.setattr(flow, "LSODA_NEEDS_LOCK", True)
    with flow._solver_guard("LSODA"):
        assert flow._LSODA_LOCK._is_owned()  # type: ignore[attr-defined]
    with flow._solver_guard("BDF"):
        assert not flow._LSODA_LOCK._is_owned()  # type: ignore[attr-defined]


@pytest.mark.parametrize("where", ["_grad_unchecked", "exact_hessian"])
@pytest.mark.parametrize("exc", [KeyboardInterrupt, flow._NonFiniteError])
def test_an_exception_in_lsodas_callbacks_surfaces_unchanged_and_silently(monkeypatch, capfd, exc, where):
    """A Ctrl-C landing in the vector field or its Jacobian: the same exception, nothing on stderr.

    scipy's Fortran LSODA (before 1.17) printed "capi_return is NULL" and "Call-back
    cb_jac_in_lsoda__user__routines failed." to stderr when a callback raised (seen with
    scipy 1.11 for the Jacobian); ``dsb-verify`` promises one line on Ctrl-C. A recorded
    error still ends the flow as failed, with its message.
    """
    model, theta0, q = _cases()[0]
    real, calls = getattr(flow, where), []
    at = 30 if where == "_grad_unchecked" else 3

    def flaky(*args):
        calls.append(1)
        if len(calls) == at:
            raise exc("injected")
        return real(*args)

    monkeypatch.setattr(flow, where, flaky)
    if exc is KeyboardInterrupt:
        with pytest.raises(KeyboardInterrupt, match="injected"):
            integrate_flow(model, theta0, q, **OPTIONS)
    else:
        tr = integrate_flow(model, theta0, q, **OPTIONS)
        assert tr.status == "failed" and "injected" in tr.message
    err = capfd.readouterr().err
    assert "capi_return" not in err and "Call-back" not in err
    assert len(calls) == at  # no evaluation after the exception: the step fails at once


def test_deferred_keeps_the_first_exception_and_returns_nan():
    d = flow._Deferred()

    def boom(t, y):
        raise KeyboardInterrupt("first")

    f, J = d.wrap(boom), d.wrap(boom, matrix=True)
    assert np.isnan(f(0.0, np.zeros(3))).all() and f(0.0, np.zeros(3)).shape == (3,)
    assert J(0.0, np.zeros(3)).shape == (3, 3)
    with pytest.raises(KeyboardInterrupt, match="first"):
        d.raise_pending()
    d.raise_pending()  # once only
