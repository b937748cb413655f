"""Tests of dsb_verifier.theory.dynamics.flow: gradient flow, discrete ascent and Trajectory (Claims C2–C5)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from dsb_verifier import theory
from dsb_verifier.checks.claims._common import make_model as _roster_model
from dsb_verifier.theory.dynamics.flow import (
    FLOW_METHODS,
    Trajectory,
    gradient_ascent,
    integrate_flow,
    integrate_flows,
)
from dsb_verifier.theory.likelihood import grad_loglik, loglik, residual
from dsb_verifier.theory.models.base import DirectModel, EnergyModel, TruncatedIsing
from dsb_verifier.theory.walsh import order_norms
from hypothesis import given, settings
from hypothesis import strategies as st


def make_model(family: str, N: int) -> EnergyModel:
    """The roster of dsb_verifier.checks.claims._common, with 3 hidden units for RBMs ("truncated" is pairwise)."""
    return _roster_model({"truncated": "truncated-2"}.get(family, family), N, width=3)


def target(N: int, seed: int, scales: dict[int, float] | None = None) -> np.ndarray:
    """A moderate random target (well-conditioned Fisher matrix, so flows converge quickly)."""
    return theory.ising_target(N, scales or {1: 0.4, 2: 0.4, 3: 0.4}, np.random.default_rng(seed))


class Ball(DirectModel):
    """Deliberately broken model: du/dtheta is NaN outside the ball |theta| <= 1."""

    def _grad_neg_energy(self, theta: np.ndarray) -> np.ndarray:
        G = super()._grad_neg_energy(theta)
        G[np.linalg.norm(theta, axis=-1) > 1.0] = np.nan
        return G

    def _weighted_grad(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        g = super()._weighted_grad(theta, w)
        return g * np.nan if np.linalg.norm(theta) > 1.0 else g


FAMILIES = ["direct", "truncated", "rbm-spin", "rbm-bit"]


# ---- Claim §4: L never decreases, dL/dt = |A^T r|^2 -------------------------------
@settings(max_examples=8)
@given(family=st.sampled_from(FAMILIES), N=st.integers(2, 4), seed=st.integers(0, 2**32 - 1))
def test_loglik_never_decreases(family, N, seed):
    model = make_model(family, N)
    rng = np.random.default_rng(seed)
    traj = integrate_flow(model, model.init(rng, 0.5), theory.dirichlet_target(N, rng), t_max=300.0)
    assert traj.status in ("converged", "t_max"), traj.message
    assert np.all(np.diff(traj.L) >= -1e-11 * (1.0 + np.abs(traj.L[1:])))
    assert traj.L[-1] > traj.L[0]


@pytest.mark.parametrize("family", FAMILIES)
def test_dL_dt_equals_squared_gradient_norm(family):
    """Second-order finite differences of L(t) on the checkpoints vs |A^T r|^2."""
    model = make_model(family, 3)
    rng = np.random.default_rng(7)
    traj = integrate_flow(
        model, model.init(rng, 0.5), target(3, 1), t_min=1e-2, t_max=5.0, n_checkpoints=400, gtol=0.0
    )
    t, L = traj.t[1:], traj.L[1:]
    h1, h2 = np.diff(t)[:-1], np.diff(t)[1:]
    dLdt = (
        (-h2 / (h1 * (h1 + h2))) * L[:-2]
        + ((h2 - h1) / (h1 * h2)) * L[1:-1]
        + (h1 / (h2 * (h1 + h2))) * L[2:]
    )
    g2 = traj.grad_norm[2:-1] ** 2
    np.testing.assert_allclose(dLdt, g2, rtol=2e-3, atol=1e-6 * g2.max())


# ---- C2, C3: end points -------------------------------------------------------------
def test_direct_model_converges_to_target_couplings_from_any_start():
    """C2: the flow of the direct model reaches J(q) from several random starts."""
    N = 4
    q = target(N, 2)
    model = DirectModel(N)
    starts = np.stack([model.init(np.random.default_rng(s), 1.0) for s in range(3)])
    trajs = integrate_flows(model, starts, q)
    assert isinstance(trajs, list) and len(trajs) == 3
    for traj in trajs:
        assert traj.status == "converged", traj.message
        assert traj.grad_norm[-1] < 1e-9
        np.testing.assert_allclose(traj.J[-1], theory.couplings(q), atol=1e-7)
        assert traj.coupling_error_order_norms[-1].max() < 1e-7


def test_truncated_model_converges_to_maxent_projection():
    """C3: an under-expressive model ends at the max-ent fit, a spurious point with r != 0."""
    N, K = 4, 2
    q = target(N, 3, {1: 0.3, 2: 0.3, 3: 0.8})
    model = TruncatedIsing(N, K)
    traj = integrate_flow(model, model.init(np.random.default_rng(0), 0.5), q)
    assert traj.status == "converged", traj.message
    np.testing.assert_allclose(traj.J[-1], theory.maxent_projection(q, K), atol=1e-7)
    r_end = traj.residual_order_norms[-1]
    assert r_end[: K + 1].max() < 1e-8  # matched moments up to order K
    assert r_end[K + 1 :].max() > 1e-2  # unmatched above: r in ker A^T, not 0
    assert theory.kl(q, model.prob(traj.theta[-1])) > 1e-3


def test_already_stationary_start_stops_at_once():
    N = 3
    q = target(N, 4)
    model = DirectModel(N)
    traj = integrate_flow(model, model.params_from_couplings(theory.couplings(q)), q)
    assert traj.status == "converged" and traj.t.shape == (1,) and traj.n_steps == 0
    assert "t=0" in traj.message


# ---- solvers ------------------------------------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
def test_stiff_and_explicit_methods_agree(family):
    model = make_model(family, 3)
    rng = np.random.default_rng(11)
    theta0, q = model.init(rng, 0.5), target(3, 5)
    ends = {
        m: integrate_flow(model, theta0, q, method=m, t_max=20.0, n_checkpoints=10, gtol=0.0)
        for m in FLOW_METHODS
    }
    for m, traj in ends.items():
        assert traj.status == "t_max", (m, traj.message)
        assert traj.t[-1] == 20.0 and traj.method == m
        np.testing.assert_allclose(traj.theta[-1], ends["LSODA"].theta[-1], rtol=1e-6, atol=1e-6, err_msg=m)


def test_checkpoint_grid_and_diagnostics():
    """Recorded times are 0 + log-spaced checkpoints; stored diagnostics match dsb_verifier.theory.likelihood."""
    model = make_model("rbm-spin", 3)
    rng = np.random.default_rng(2)
    q = target(3, 6)
    traj = integrate_flow(model, model.init(rng, 0.3), q, t_min=0.1, t_max=10.0, n_checkpoints=25, gtol=0.0)
    np.testing.assert_allclose(traj.t, np.concatenate([[0.0], np.geomspace(0.1, 10.0, 25)]), rtol=1e-15)
    J_star = theory.couplings(q)
    for i in (0, 7, 25):
        th = traj.theta[i]
        r_full = np.concatenate([[0.0], residual(model, th, q)])
        np.testing.assert_allclose(traj.J[i], model.couplings(th), rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(traj.L[i], loglik(model, th, q), rtol=1e-13)
        np.testing.assert_allclose(traj.residual_order_norms[i], order_norms(r_full), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(
            traj.coupling_error_order_norms[i], order_norms(traj.J[i] - J_star), rtol=1e-13
        )
        np.testing.assert_allclose(traj.grad_norm[i], np.linalg.norm(grad_loglik(model, th, q)), rtol=1e-12)
    for arr in (traj.t, traj.theta, traj.L):
        assert not arr.flags.writeable


def test_batch_equals_individual_runs():
    model = TruncatedIsing(3, 2)
    rng = np.random.default_rng(9)
    starts, q = np.stack([model.init(rng, 0.5) for _ in range(2)]), target(3, 7)
    batch = integrate_flows(model, starts, q, t_max=50.0)
    for row, traj in zip(starts, batch, strict=True):
        single = integrate_flow(model, row, q, t_max=50.0)
        np.testing.assert_array_equal(traj.theta, single.theta)
        assert traj.status == single.status


# ---- failures are reported ----------------------------------------------------------
@pytest.mark.parametrize("method", FLOW_METHODS)
def test_failing_integration_is_reported(method):
    """Negative control: a vector field that turns NaN mid-flow gives status 'failed'."""
    q = target(3, 8, {1: 1.0, 2: 1.0})  # |J(q)| > 1: the flow must leave the ball
    traj = integrate_flow(Ball(3), np.zeros(7), q, method=method)
    assert traj.status == "failed"
    assert "not finite" in traj.message
    assert 0 < traj.t[-1] < 10.0
    assert np.linalg.norm(traj.theta, axis=-1).max() <= 1.0 + 1e-9


def test_failing_ascent_is_reported():
    q = target(3, 8, {1: 1.0, 2: 1.0})
    traj = gradient_ascent(Ball(3), np.zeros(7), q, lr=0.1, n_steps=1000)
    assert traj.status == "failed" and "not finite" in traj.message
    assert traj.n_steps < 1000


# ---- discrete gradient ascent -------------------------------------------------------
@pytest.mark.parametrize("family", ["truncated", "rbm-spin"])
def test_ascent_converges_to_flow_at_first_order(family):
    """Euler's global error at fixed time is O(lr): log-log slope in [0.7, 1.3]."""
    model = make_model(family, 3)
    rng = np.random.default_rng(4)
    theta0, q, T = model.init(rng, 0.5), target(3, 9), 2.0
    ref = integrate_flow(model, theta0, q, t_max=T, method="DOP853", rtol=1e-12, atol=1e-14, gtol=0.0)
    assert ref.status == "t_max"
    lrs = np.array([0.1, 0.05, 0.025, 0.0125])
    errs = []
    for lr in lrs:
        traj = gradient_ascent(model, theta0, q, lr=float(lr), n_steps=round(T / lr), record_every=1000)
        assert traj.status == "t_max" and np.isclose(traj.t[-1], T)
        errs.append(np.linalg.norm(traj.theta[-1] - ref.theta[-1]))
    slope = np.polyfit(np.log(lrs), np.log(errs), 1)[0]
    assert 0.7 <= slope <= 1.3, (slope, errs)


def test_ascent_recording_and_early_stop():
    model = TruncatedIsing(3, 2)
    q = target(3, 10)
    traj = gradient_ascent(model, np.zeros(model.n_params), q, lr=0.5, n_steps=10, record_every=3)
    np.testing.assert_allclose(traj.t, 0.5 * np.array([0, 3, 6, 9, 10]))
    assert traj.status == "t_max" and traj.n_steps == 10 and traj.nfev == 10
    assert traj.method == "gradient_ascent"
    stopped = gradient_ascent(model, np.zeros(model.n_params), q, lr=0.5, n_steps=100_000, gtol=1e-6)
    assert stopped.status == "converged" and stopped.n_steps < 100_000
    assert stopped.grad_norm[-1] < 1e-6


# ---- validation ---------------------------------------------------------------------
def test_flow_validation_messages():
    model = TruncatedIsing(3, 2)
    theta0, q = np.zeros(model.n_params), target(3, 0)
    with pytest.raises(ValueError, match=r"target q describes N=2 spins but the model has n_visible=3"):
        integrate_flow(model, theta0, np.full(4, 0.25))
    with pytest.raises(ValueError, match=r"theta must have last axis of length P=6"):
        integrate_flow(model, np.zeros(5), q)
    with pytest.raises(
        ValueError, match=r"theta0 must have shape \(P,\) with P=6, got \(2, 6\); for a batch use"
    ):
        integrate_flow(model, np.zeros((2, 6)), q)
    with pytest.raises(
        ValueError, match=r"theta0 must have a batch \(B, P\) with P=6, got \(6,\); for one start"
    ):
        integrate_flows(model, np.zeros(6), q)
    with pytest.raises(ValueError, match=r"theta0 must have shape \(P,\) with P=6, got \(2, 6\)$"):
        gradient_ascent(model, np.zeros((2, 6)), q, lr=0.1, n_steps=2)
    with pytest.raises(ValueError, match=r"t_max must be a positive finite number, got -1"):
        integrate_flow(model, theta0, q, t_max=-1.0)
    with pytest.raises(ValueError, match=r"t_min must be smaller than t_max"):
        integrate_flow(model, theta0, q, t_max=1e-4)
    with pytest.raises(
        ValueError, match=r"method must be one of \('RK45', 'DOP853', 'Radau', 'BDF', 'LSODA'\), got 'Euler'"
    ):
        integrate_flow(model, theta0, q, method="Euler")
    with pytest.raises(ValueError, match=r"n_checkpoints must be an integer >= 1"):
        integrate_flow(model, theta0, q, n_checkpoints=0)
    with pytest.raises(ValueError, match=r"gtol must be a finite number >= 0"):
        integrate_flow(model, theta0, q, gtol=-1.0)
    with pytest.raises(ValueError, match=r"lr must be a positive finite number, got 0"):
        gradient_ascent(model, theta0, q, lr=0.0, n_steps=3)
    with pytest.raises(ValueError, match=r"n_steps must be an integer >= 0"):
        gradient_ascent(model, theta0, q, lr=0.1, n_steps=1.5)
    with pytest.raises(ValueError, match=r"q must be one target distribution"):
        integrate_flow(model, theta0, np.stack([q, q]))


def test_trajectory_checks_its_invariants():
    model = TruncatedIsing(3, 2)
    traj = integrate_flow(model, np.zeros(model.n_params), target(3, 0), t_max=10.0, n_checkpoints=5)
    with pytest.raises(ValueError, match=r"t must start at 0 and be strictly increasing"):
        dataclasses.replace(traj, t=traj.t[::-1].copy())
    with pytest.raises(ValueError, match=r"Trajectory.L must have shape"):
        dataclasses.replace(traj, L=traj.L[:-1])
    with pytest.raises(ValueError, match=r"Trajectory.theta must be finite"):
        dataclasses.replace(traj, theta=np.full_like(traj.theta, np.nan))
    with pytest.raises(ValueError, match=r"status must be one of"):
        dataclasses.replace(traj, status="ok")
    with pytest.raises(ValueError, match=r"Trajectory.residual_order_norms must have shape"):
        dataclasses.replace(traj, residual_order_norms=traj.residual_order_norms[:, :-1])
    assert isinstance(dataclasses.replace(traj), Trajectory)


def test_roster_builds_every_family_with_its_documented_default_width():
    from dsb_verifier.checks.claims._common import FAMILIES as ROSTER
    from dsb_verifier.checks.claims._common import roster

    models = roster(3)
    assert [repr(m) for m in models] == [
        "DirectModel(n_visible=3, P=7)",
        "TruncatedIsing(n_visible=3, max_order=2, P=6)",
        "RBM(n_visible=3, n_hidden=8, hidden='spin', P=35)",  # 2^N hidden units
        "RBM(n_visible=3, n_hidden=8, hidden='bit', P=35)",
        "TanhNetwork(n_visible=3, hidden=(6,), P=30)",  # 2N tanh units per layer
        "TanhNetwork(n_visible=3, hidden=(6, 6), P=72)",
    ]
    assert len(ROSTER) == len(models)
    narrow = roster(2, ("rbm-bit", "tanh-2", "truncated-2"), width=3)
    assert [repr(m) for m in narrow] == [
        "RBM(n_visible=2, n_hidden=3, hidden='bit', P=11)",
        "TanhNetwork(n_visible=2, hidden=(3, 3), P=24)",
        "TruncatedIsing(n_visible=2, max_order=2, P=3)",
    ]
    assert repr(roster(1, ("truncated-2",))[0]) == "TruncatedIsing(n_visible=1, max_order=1, P=1)"
    with pytest.raises(ValueError, match="unknown family 'rbm'; expected one of direct, truncated-2"):
        roster(3, ("rbm",))


# ---- ascent: default recording and recorded model errors ------------------------------
def test_ascent_records_every_step_by_default():
    """``record_every`` defaults to 1: the trajectory holds every iterate theta_n at t = n lr."""
    model = TruncatedIsing(3, 2)
    q = target(3, 10)
    traj = gradient_ascent(model, np.zeros(model.n_params), q, lr=0.25, n_steps=4)
    np.testing.assert_allclose(traj.t, 0.25 * np.arange(5))
    theta = np.zeros(model.n_params)  # independent route: the Euler recursion by hand
    for n in range(5):
        np.testing.assert_allclose(traj.theta[n], theta, rtol=1e-13, atol=1e-15)
        theta = theta + 0.25 * grad_loglik(model, theta, q)


class Fuse(DirectModel):
    """Deliberately broken model: the gradient route of the ascent raises ValueError outside |theta| <= 1.

    Only ``_weighted_grad`` (the ascent's hot path) raises: the diagnostics of the recorded states
    (``log_prob``, ``grad_neg_energy``) stay computable, so the failed run can be returned.
    """

    def _weighted_grad(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        if np.linalg.norm(theta) > 1.0:
            raise ValueError("fuse blown outside the unit ball")
        return super()._weighted_grad(theta, w)


def test_ascent_records_a_model_error_with_its_step():
    """A ValueError raised by the model ends the run as 'failed', naming the error, the time and the step."""
    q = target(3, 8, {1: 1.0, 2: 1.0})  # |J(q)| > 1: the ascent must leave the ball
    lr = 0.1
    # independent route: the same iterates from the unbroken model; the first one outside the ball fails
    free = gradient_ascent(DirectModel(3), np.zeros(7), q, lr=lr, n_steps=40)
    k = int(np.argmax(np.linalg.norm(free.theta, axis=-1) > 1.0))
    assert k > 0
    traj = gradient_ascent(Fuse(3), np.zeros(7), q, lr=lr, n_steps=1000)
    # the run ends at the last state the model could evaluate (step k - 1), after k gradient evaluations
    assert traj.status == "failed" and traj.n_steps == k - 1 and traj.nfev == k
    assert traj.message == f"ValueError near t={k * lr:.6g}: fuse blown outside the unit ball (step {k})"
    np.testing.assert_array_equal(traj.theta, free.theta[:k])
    # recording every 3rd step: the last evaluable state is appended, the failing one never is
    sparse = gradient_ascent(Fuse(3), np.zeros(7), q, lr=lr, n_steps=1000, record_every=3)
    assert sparse.t[-1] == pytest.approx((k - 1) * lr) and sparse.n_steps == k - 1
    np.testing.assert_array_equal(sparse.theta[-1], free.theta[k - 1])


class Burnt(DirectModel):
    """Broken everywhere outside the unit ball: energy, its gradient and the ascent's route all raise."""

    @staticmethod
    def _check(theta: np.ndarray) -> None:
        if np.any(np.linalg.norm(theta, axis=-1) > 1.0):  # theta may be a batch of points
            raise ValueError("burnt outside the unit ball")

    def _neg_energy(self, theta: np.ndarray) -> np.ndarray:
        self._check(theta)
        return super()._neg_energy(theta)

    def _grad_neg_energy(self, theta: np.ndarray) -> np.ndarray:
        self._check(theta)
        return super()._grad_neg_energy(theta)

    def _weighted_grad(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        self._check(theta)
        return super()._weighted_grad(theta, w)


def test_ascent_returns_a_failed_run_even_when_the_diagnostics_would_raise_at_the_failing_state():
    q = target(3, 8, {1: 1.0, 2: 1.0})
    free = gradient_ascent(DirectModel(3), np.zeros(7), q, lr=0.1, n_steps=40)
    k = int(np.argmax(np.linalg.norm(free.theta, axis=-1) > 1.0))
    traj = gradient_ascent(Burnt(3), np.zeros(7), q, lr=0.1, n_steps=1000)
    assert traj.status == "failed" and traj.n_steps == k - 1
    assert traj.message.endswith(f"burnt outside the unit ball (step {k})")
    np.testing.assert_array_equal(traj.theta, free.theta[:k])
    with pytest.raises(ValueError, match="burnt outside the unit ball"):
        gradient_ascent(Burnt(3), np.full(7, 1.0), q, lr=0.1, n_steps=5)  # fails at the start itself


# ---- refusals of integrate_flow, exact (mutation testing, round 3) ------------------------------
def test_integrate_flow_refusals_name_the_argument_and_what_was_expected():
    model, q = DirectModel(2), np.full(4, 0.25)
    th = np.zeros(3)
    with pytest.raises(
        ValueError, match=r"gtol must be a number >= 0 \(0 disables the convergence stop\), got 'x'$"
    ):
        integrate_flow(model, th, q, gtol="x")
    with pytest.raises(ValueError, match=r"^t_min must be smaller than t_max, got t_min=5\.0, t_max=5\.0$"):
        integrate_flow(model, th, q, t_min=5.0, t_max=5.0)  # equal is refused too
    with pytest.raises(ValueError, match=r"^max_step "):
        integrate_flow(model, th, q, max_step=-1.0)
    with pytest.raises(ValueError, match=r"; for a batch use integrate_flows"):
        integrate_flow(model, np.zeros((2, 3)), q)
