"""Every memory guard's estimate bounds the measured peak of the call it guards (issue 16).

Each representative call runs under :mod:`tracemalloc` (numpy reports its array
allocations to it) while every ``check_memory`` of the package is wrapped to record
the estimates it is given; the largest estimate of the call must be at least the
peak of newly allocated bytes, up to :data:`SLACK` bytes of Python objects.
Module-level caches are warmed by a first call on other inputs of the same size.
"""

from __future__ import annotations

import sys
import tracemalloc

import numpy as np
import pytest
from dsb_verifier import theory
from dsb_verifier.theory import _validation
from dsb_verifier.theory.dynamics.batch_flow import integrate_flows_batched
from dsb_verifier.theory.dynamics.kernel import kernel_block_norms, tangent_kernel
from dsb_verifier.theory.likelihood import exact_hessian, gauss_newton
from dsb_verifier.theory.models import RBM, TanhNetwork
from dsb_verifier.theory.rbm.gaussian import conditioned_couplings
from dsb_verifier.theory.walsh import characters, hadamard, states, wht

#: Bytes of Python bookkeeping (lists, small arrays' headers) not counted by the estimates.
SLACK = 64 * 1024


def _record(monkeypatch) -> list[float]:
    seen: list[float] = []
    real = _validation.check_memory

    def spy(n_bytes, what, **kw):
        seen.append(float(n_bytes))
        return real(n_bytes, what, **kw)

    for name, mod in list(sys.modules.items()):
        if name.startswith("dsb_verifier.theory") and getattr(mod, "check_memory", None) is real:
            monkeypatch.setattr(mod, "check_memory", spy)
    return seen


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    del out
    return peak


def _rng():
    return np.random.default_rng(0)


def _cases():
    rng = _rng()
    q8 = theory.dirichlet_target(8, rng)
    rbm = RBM(8, 16)
    th = rbm.init(rng, 0.5)
    rbm10 = RBM(10, 8)
    th10 = np.stack([rbm10.init(rng, 0.5) for _ in range(3)])
    tanh = TanhNetwork(10, (8,))
    tht = np.stack([tanh.init(rng, 0.5) for _ in range(3)])
    samples = rng.choice([-1, 1], size=(4000, 12))
    samples2 = samples[::-1].copy()
    x = rng.standard_normal((4, 2**14))
    x2, q8r = x[::-1].copy(), q8[::-1].copy()
    q10 = theory.ising_target(10, {1: 0.3, 2: 0.3, 3: 0.2}, rng)
    q10r = q10[::-1].copy()
    rbm6 = RBM(6, 8)
    th6 = np.stack([rbm6.init(rng, 0.1) for _ in range(16)])
    q6 = theory.dirichlet_target(6, rng)
    return {
        "states": (lambda: states(17), lambda: states(17)),
        "characters": (lambda: characters(np.arange(64), 12), lambda: characters(np.arange(64, 128), 12)),
        "hadamard": (lambda: hadamard(9), lambda: hadamard(9)),
        "wht": (lambda: wht(x), lambda: wht(x2)),
        "empirical": (
            lambda: theory.empirical(samples, pseudo_count=0.5),
            lambda: theory.empirical(samples2, pseudo_count=0.5),
        ),
        "fisher": (lambda: theory.fisher(q8), lambda: theory.fisher(q8r)),
        "exact_hessian": (lambda: exact_hessian(rbm, th, q8), lambda: exact_hessian(rbm, -th, q8)),
        "gauss_newton": (lambda: gauss_newton(rbm, th), lambda: gauss_newton(rbm, -th)),
        "rbm du/dtheta": (lambda: rbm10.grad_neg_energy(th10), lambda: rbm10.grad_neg_energy(-th10)),
        "rbm jacobian": (lambda: rbm10.jacobian(th10), lambda: rbm10.jacobian(-th10)),
        "tanh u": (lambda: tanh.neg_energy(tht), lambda: tanh.neg_energy(-tht)),
        "tanh du/dtheta": (lambda: tanh.grad_neg_energy(tht), lambda: tanh.grad_neg_energy(-tht)),
        "tangent_kernel": (lambda: tangent_kernel(rbm, th), lambda: tangent_kernel(rbm, -th)),
        "kernel_block_norms": (lambda: kernel_block_norms(rbm, th), lambda: kernel_block_norms(rbm, -th)),
        "polynomial": (
            lambda: theory.polynomial_bits_to_spins(x),
            lambda: theory.polynomial_bits_to_spins(x2),
        ),
        "maxent": (lambda: theory.maxent_fit(q10, 2), lambda: theory.maxent_fit(q10r, 2)),
        "gaussian couplings": (
            lambda: conditioned_couplings(rbm, th, 3),
            lambda: conditioned_couplings(rbm, -th, 3),
        ),
        "model states": (lambda: RBM(14, 2)._sT, lambda: RBM(14, 2)._sT),
        "batched flows": (
            lambda: integrate_flows_batched(rbm6, th6, q6, t_max=5.0, n_checkpoints=10),
            lambda: integrate_flows_batched(rbm6, -th6, q6, t_max=5.0, n_checkpoints=10),
        ),
        "init": (lambda: RBM(3, 200_000).init(_rng(), 0.1), lambda: RBM(3, 200_000).init(_rng(), 0.2)),
    }


CASES = _cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_estimate_bounds_measured_peak(name, monkeypatch):
    warm, call = CASES[name]
    warm()
    seen = _record(monkeypatch)
    peak = _peak(call)
    assert seen, f"{name}: no memory guard ran"
    assert peak <= max(seen) + SLACK, f"{name}: peak {peak} B > estimate {max(seen):.0f} B"


def test_states_28_is_refused_or_fits():
    """The estimate of states(N) is its result (2^N * N bytes): what is checked is what is allocated."""
    seen: list[float] = []
    real = _validation.check_memory

    def spy(n_bytes, what, **kw):
        seen.append(float(n_bytes))
        raise ValueError("stop")  # never allocate here

    import dsb_verifier.theory.walsh as walsh

    old = walsh.check_memory
    walsh.check_memory = spy
    try:
        with pytest.raises(ValueError, match="stop"):
            states(28)
    finally:
        walsh.check_memory = old
    assert seen == [2**28 * 28]
    assert real is _validation.check_memory


def test_huge_model_init_is_a_clean_error(monkeypatch):
    monkeypatch.setattr(_validation, "_available_bytes", lambda: 2**30)
    with pytest.raises(
        ValueError, match=r"parameters of RBM\(n_visible=3, n_hidden=1000000000.*use a smaller model"
    ):
        RBM(3, 10**9).init(_rng(), 0.1)
