"""Batched gradient flows against one-at-a-time LSODA (issue 14 item 11; Claims C3–C5).

Two routes, one answer: :func:`integrate_flows_batched` (scipy's BDF, vectorised
over flows, eigen-solves of the exact Hessian) and :func:`integrate_flow` (LSODA)
integrate the same flows at the same tolerances. Both control the local error of
each step to ``rtol * |theta| + atol``; without amplification the global error is
at most the sum of the local ones, so the two routes may differ by
``n_steps * (rtol * max|theta| + atol)`` (:func:`agreement_tol`, fixed before any
comparison was run), with ``n_steps`` the larger number of accepted steps.
"""

from __future__ import annotations

import numpy as np
import pytest
from dsb_verifier import theory
from dsb_verifier.checks.claims._common import make_model
from dsb_verifier.theory.dynamics.batch_flow import integrate_flows_batched
from dsb_verifier.theory.dynamics.batch_kernels import batch_gradient, batch_hessian
from dsb_verifier.theory.dynamics.flow import BATCH_METHOD, Trajectory, integrate_flow, integrate_flows
from dsb_verifier.theory.likelihood import exact_hessian, grad_loglik
from dsb_verifier.theory.models.base import DirectModel

FAMILIES = ["direct", "truncated-2", "rbm-spin", "rbm-bit", "tanh-1"]
RTOL, ATOL = 1e-8, 1e-10
OPTIONS = {"t_max": 300.0, "t_min": 1e-2, "n_checkpoints": 30, "gtol": 1e-7, "rtol": RTOL, "atol": ATOL}


def agreement_tol(a: Trajectory, b: Trajectory) -> float:
    """Sum of the local error allowances of the longer run: ``n_steps * (rtol * max|theta| + atol)``."""
    scale = max(float(np.max(np.abs(a.theta))), float(np.max(np.abs(b.theta))))
    return max(a.n_steps, b.n_steps, 1) * (RTOL * scale + ATOL)


def targets(N: int) -> list[np.ndarray]:
    """Three targets of different structure: pairwise Ising, all orders to 3, a Dirichlet draw."""
    rng = np.random.default_rng(100 + N)
    return [
        theory.ising_target(N, {1: 0.3, 2: 0.5}, rng),
        theory.ising_target(N, {k: 0.4 for k in range(1, min(N, 3) + 1)}, rng),
        theory.dirichlet_target(N, rng),
    ]


def starts(model, n: int, scales=(0.01, 0.3)) -> np.ndarray:
    rng = np.random.default_rng(7)
    return np.stack([model.init(rng, scales[i % len(scales)]) for i in range(n)])


def assert_same_flow(a: Trajectory, b: Trajectory) -> None:
    """Same stopping outcome; end points and every common checkpoint within :func:`agreement_tol`."""
    assert a.status == b.status, (a.message, b.message)
    tol = agreement_tol(a, b)
    assert np.max(np.abs(a.theta[-1] - b.theta[-1])) <= tol
    if a.status == "t_max":
        assert a.t[-1] == b.t[-1] == OPTIONS["t_max"]
    # checkpoints: the same log-spaced times are recorded by both (the end point may differ)
    ta, tb = a.t[1:-1], b.t[1:-1]
    common, ia, ib = np.intersect1d(ta, tb, return_indices=True)
    assert common.size >= min(ta.size, tb.size) - 1
    np.testing.assert_array_less(np.abs(a.theta[1:-1][ia] - b.theta[1:-1][ib]), tol)
    # settle-relevant curves: order norms of the residual, Lipschitz in theta with the
    # gradient's bound |d r / d theta| <= max |du/dtheta| (|p' - p| summed over states)
    r_a, r_b = a.residual_order_norms[1:-1][ia], b.residual_order_norms[1:-1][ib]
    assert np.max(np.abs(r_a - r_b), initial=0.0) <= 2 * tol * a.theta.shape[1] * (
        1 + np.max(np.abs(a.theta))
    )


# ---- kernels ------------------------------------------------------------------------------
@pytest.mark.parametrize("family", [*FAMILIES, "tanh-2"])
def test_batch_kernels_equal_the_single_routes(family):
    model = make_model(family, 3, width=3)
    q = targets(3)[1]
    th = starts(model, 4, scales=(0.5,))
    g, H = batch_gradient(model, th, np.tile(q, (4, 1))), batch_hessian(model, th, np.tile(q, (4, 1)))
    for i in range(4):
        np.testing.assert_allclose(g[i], grad_loglik(model, th[i], q), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(H[i], exact_hessian(model, th[i], q), rtol=1e-12, atol=1e-13)


class Gained(DirectModel):
    """A subclass that overrides ``_weighted_grad`` (like C5's controls): the generic route must be used."""

    def _neg_energy(self, theta):
        return super()._neg_energy(2.0 * theta)

    def _grad_neg_energy(self, theta):
        return 2.0 * super()._grad_neg_energy(theta)

    def _weighted_grad(self, theta, w):
        return 2.0 * super()._weighted_grad(theta, w)


def test_overridden_weighted_grad_is_respected():
    model = Gained(3)
    q = targets(3)[0]
    th = starts(model, 3, scales=(0.4,))
    g = batch_gradient(model, th, np.tile(q, (3, 1)))
    for i in range(3):
        np.testing.assert_allclose(g[i], grad_loglik(model, th[i], q), rtol=1e-12, atol=1e-14)


# ---- two routes, one answer -------------------------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
def test_batched_flows_agree_with_lsoda(family):
    N = 3
    model = make_model(family, N, width=3)
    qs = targets(N)
    th0 = starts(model, 2 * len(qs))
    q_rows = np.stack([qs[i % len(qs)] for i in range(th0.shape[0])])
    batched = integrate_flows_batched(model, th0, q_rows, **OPTIONS)
    assert len(batched) == th0.shape[0]
    for i, tr in enumerate(batched):
        ref = integrate_flow(model, th0[i], q_rows[i], **OPTIONS)
        assert tr.method == BATCH_METHOD
        assert_same_flow(tr, ref)


def test_stopping_rules_agree_converged_and_t_max():
    """A loose gtol converges in both routes; gtol = 0 runs both to t_max."""
    model = make_model("direct", 3)
    q = targets(3)[0]
    th0 = starts(model, 3)
    for gtol, t_max, status in ((1e-4, 1e4, "converged"), (0.0, 50.0, "t_max")):
        opts = {**OPTIONS, "gtol": gtol, "t_max": t_max}
        for tr, th in zip(integrate_flows_batched(model, th0, q, **opts), th0, strict=True):
            ref = integrate_flow(model, th, q, **opts)
            assert tr.status == ref.status == status
            if status == "converged":
                assert tr.grad_norm[-1] < gtol and ref.grad_norm[-1] < gtol
                assert tr.t[-1] == pytest.approx(ref.t[-1], rel=0.5)
            assert np.max(np.abs(tr.theta[-1] - ref.theta[-1])) <= agreement_tol(tr, ref) + 10 * gtol


def test_converged_at_start_and_per_flow_targets():
    model = make_model("direct", 2)
    q = targets(2)[0]
    J = theory.couplings(q)[1:]
    th0 = np.stack([J, J + 0.3])
    out = integrate_flows_batched(model, th0, np.stack([q, q]), **{**OPTIONS, "gtol": 1e-6})
    assert out[0].status == "converged" and out[0].t.tolist() == [0.0]
    assert out[1].status == "converged" and out[1].t[-1] > 0


def test_integrate_flows_routes_the_batched_method():
    model = make_model("rbm-spin", 3, width=2)
    q = targets(3)[1]
    th0 = starts(model, 3)
    a = integrate_flows(model, th0, q, method=BATCH_METHOD, **OPTIONS)
    b = integrate_flows_batched(model, th0, q, **OPTIONS)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.theta, y.theta)
        assert x.method == BATCH_METHOD


# ---- failures: recorded per flow, never contaminating the others --------------------------
class Ball(DirectModel):
    """du/dtheta is NaN outside the ball |theta| <= 1 (as in test_flow.py)."""

    def _grad_neg_energy(self, theta):
        G = super()._grad_neg_energy(theta)
        G[np.linalg.norm(theta, axis=-1) > 1.0] = np.nan
        return G

    def _weighted_grad(self, theta, w):
        g = super()._weighted_grad(theta, w)
        return g * np.nan if np.linalg.norm(theta) > 1.0 else g


class Raises(DirectModel):
    """The energy raises ValueError once |theta| exceeds 1."""

    def _neg_energy(self, theta):
        if np.any(np.linalg.norm(theta, axis=-1) > 1.0):
            raise ValueError("outside the domain")
        return super()._neg_energy(theta)


@pytest.mark.parametrize("kind", [Ball, Raises])
def test_a_failing_flow_fails_alone(kind):
    model = kind(2)
    q = theory.prob(np.array([0.0, 1.5, -1.5, 1.5]))  # the optimum J* lies far outside the ball
    th0 = np.stack([np.full(3, 0.1), np.zeros(3), np.full(3, -0.2)])
    direct = DirectModel(2)
    healthy = integrate_flows_batched(direct, th0, q, **OPTIONS)
    out = integrate_flows_batched(model, th0, q, **OPTIONS)
    for i, th in enumerate(th0):
        ref = integrate_flow(model, th, q, **OPTIONS)
        assert out[i].status == ref.status == "failed", (out[i].message, ref.message)
        assert healthy[i].status != "failed"
        assert np.all(np.linalg.norm(out[i].theta, axis=1) <= 1.0 + 1e-9)
        assert out[i].t[-1] > 0
        k = np.searchsorted(healthy[i].t, out[i].t[-1], side="right")
        assert out[i].t[-1] <= healthy[i].t[min(k, healthy[i].t.size - 1)]


@pytest.mark.parametrize("kind", [Ball, Raises])
def test_a_start_where_the_model_fails_is_refused_by_index(kind):
    model = kind(2)
    q = targets(2)[0]
    with pytest.raises(ValueError, match=r"theta0\[1\]: "):
        integrate_flows_batched(model, np.stack([np.zeros(3), np.full(3, 2.0)]), q, **OPTIONS)


def test_validation_messages():
    model = make_model("direct", 2)
    q = targets(2)[0]
    with pytest.raises(ValueError, match=r"theta0 must be a batch of shape \(B, P\)"):
        integrate_flows_batched(model, np.zeros(3), q)
    with pytest.raises(ValueError, match=r"q must be one target of shape \(2\^N,\) or one per start"):
        integrate_flows_batched(model, np.zeros((2, 3)), np.stack([q, q, q]))
    with pytest.raises(ValueError, match="rtol must be a positive"):
        integrate_flows_batched(model, np.zeros((2, 3)), q, rtol=0.0)
    with pytest.raises(ValueError, match="t_min must be smaller than t_max"):
        integrate_flows_batched(model, np.zeros((2, 3)), q, t_min=5.0, t_max=1.0)
    with pytest.raises(ValueError, match="n_checkpoints must be an integer >= 1"):
        integrate_flows_batched(model, np.zeros((2, 3)), q, n_checkpoints=True)
