"""Refusals say exactly what was refused, and memory guards refuse exactly at their estimate.

Two contracts of the library's loud failures (issue 7, house rule 2, docs/development.md):

* every function taking a number of spins names *that* argument in its message
  (``N must be ...``), so a user knows which input to fix;
* every memory guard refuses a computation exactly when its documented working-set
  estimate exceeds the available memory, and names the computation. The tests fake the
  available memory (``dsb_verifier.theory._validation._available_bytes``) one byte below and at the
  estimate, so a wrong estimate (a factor, a power) is caught without allocating anything.

Found necessary by mutation testing (see docs/development.md): mutants that renamed the
argument in a message or changed an estimate's constant survived the rest of the suite.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.theory import _validation
from dsb_verifier.theory.models import RBM, DirectModel, TanhNetwork

N_CALLS: dict[str, Callable[[Any], Any]] = {
    "states": T.states,
    "subsets": T.subsets,
    "orders": T.orders,
    "subset_indices": lambda N: T.subset_indices(0, N),
    "subset_mask": lambda N: T.subset_mask((), N),
    "characters": lambda N: T.characters(0, N),
    "hadamard": T.hadamard,
    "order_masks": T.order_masks,
    "random_ising": lambda N: T.random_ising(N, {1: 0.1}, np.random.default_rng(0)),
    "dirichlet_target": lambda N: T.dirichlet_target(N, np.random.default_rng(0)),
    "k_body_target": lambda N: T.k_body_target(N, 1, 0.5),
    "rbm_teacher": lambda N: T.models.rbm_teacher(N, 1, np.random.default_rng(0), 0.1),
}


@pytest.mark.parametrize("name", sorted(N_CALLS))
@pytest.mark.parametrize(
    ("bad", "expected"), [(0, r"between 1 and \d+, got 0"), (True, r"an integer number")]
)
def test_number_of_spins_is_named_in_the_refusal(name, bad, expected):
    with pytest.raises(ValueError, match=r"^N must be ") as exc:
        N_CALLS[name](bad)
    assert re.search(expected, str(exc.value))


def test_subset_indices_bounds():
    assert T.subset_indices(7, 3) == (0, 1, 2)
    for S in (8, -1):
        with pytest.raises(ValueError, match=re.escape("S must be in [0, 2^N) = [0, 8), got ")):
            T.subset_indices(S, 3)


# name -> (call, estimated bytes, words the message must contain)
def _guards() -> dict[str, tuple[Callable[[], Any], float, str]]:
    N = 3
    p = T.dirichlet_target(N, np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((2, 2**N))
    rbm = RBM(N, 2)
    th = rbm.init(np.random.default_rng(2), 0.1)
    P = rbm.n_params
    tanh = TanhNetwork(N, (4,))
    tth = tanh.init(np.random.default_rng(3), 0.5)[None, :].repeat(2, axis=0)
    return {
        "states": (lambda: T.states(N), 2**N * N, f"states({N})"),
        # int8 result (2 x 2^N), one chunk's int64 indices + int8 parities (9 per entry), the int64
        # subset copy, and the parity table's int64 temporaries and int8 copy (17 per state)
        "characters": (
            lambda: T.characters([1, 2], N),
            2 * 2**N + 9 * 2 * 2**N + 8 * 2 + 17 * 2**N,
            f"characters for 2 subsets at N={N}",
        ),
        "hadamard": (
            lambda: T.hadamard(N),
            8 * 4**N + (4**N + 9 * 4**N + 8 * 2**N + 17 * 2**N),
            "the dense 8 x 8 Hadamard matrix",
        ),
        "wht": (lambda: T.wht(x), 3 * x.nbytes, "wht of an array of shape (2, 8)"),
        "polynomial_bits_to_spins": (
            lambda: T.polynomial_bits_to_spins(x),
            2 * x.nbytes,
            "polynomial_bits_to_spins",
        ),
        "polynomial_spins_to_bits": (
            lambda: T.polynomial_spins_to_bits(x),
            2 * x.nbytes,
            "polynomial_spins_to_bits",
        ),
        "fisher": (lambda: T.fisher(p), 3 * 8 * 4**N, "the 7 x 7 Fisher matrix"),
        "exact_hessian": (
            lambda: T.exact_hessian(rbm, th, p),
            8.0 * (3 * P * 2**N + 3 * P**2),
            "exact_hessian",
        ),
        "gauss_newton": (lambda: T.gauss_newton(rbm, th), 8.0 * (3 * P * 2**N + 2 * P**2), "gauss_newton"),
        "tangent_kernel": (
            lambda: T.tangent_kernel(DirectModel(N), T.couplings(p)[1:]),
            8.0 * (3 * 2**N * 2**N + 4 * 2**N * (2**N - 1)),  # K, K + K^T, result; the Jacobian's 4 n x P
            "the 7 x 7 tangent kernel",
        ),
        "maxent_fit": (
            lambda: T.maxent_fit(p, 1),
            3 * 8 * N**2 + 8 * 8 * 2**N,  # N couplings of order 1, float64 work vectors
            "max-ent projection with 3 couplings",
        ),
        "rbm du/dtheta": (
            lambda: rbm.grad_neg_energy(np.stack([th, th])),
            8 * 2 * (P + 2 * 2) * 2**N,  # a batch of 2: (P + 2M) arrays over the 2^N states
            f"du/dtheta of {rbm!r} for theta of shape (2, {P})",
        ),
        "tanh neg_energy": (
            lambda: tanh.neg_energy(tth),
            8 * 2 * 3 * 4 * 2**N,  # a batch of 2 theta, 3 arrays (2^N, 4 hidden)
            f"neg_energy of {tanh!r} for theta of shape (2, {tanh.n_params})",
        ),
        "tanh du/dtheta": (
            lambda: tanh.grad_neg_energy(tth),
            2 * 8 * 2 * (tanh.n_params + 4 * 4) * 2**N,
            f"du/dtheta of {tanh!r} for theta of shape (2, {tanh.n_params})",
        ),
        **{
            f"kernel_block_norms ({method})": (
                lambda method=method: T.kernel_block_norms(rbm, th, method=method),
                8.0 * (3 * 2**N * P + extra),  # du/dtheta twice over, plus the method's work
                "kernel_block_norms",
            )
            # largest order block: comb(3, 1) = 3 rows
            for method, extra in (("qr", min(3, P) ** 2), ("gram", N * P * P), ("dense", 3**2))
        },
        "empirical": (
            lambda: T.empirical(np.array([[1, -1, 1], [-1, -1, 1]]), pseudo_count=0.5),
            (2 * 8 + 24) * 6 + 8 * 2**N * 3,  # 6 int64 sample entries, then 3 arrays over the states
            "an empirical distribution over 2^3 states",
        ),
    }


GUARDS = sorted(_guards())


@pytest.mark.parametrize("name", GUARDS)
def test_memory_guard_refuses_exactly_above_its_estimate(name, monkeypatch):
    call, estimate, what = _guards()[name]
    # the guard may be reached more than once (nested calls); each sees the same budget
    monkeypatch.setattr(_validation, "_available_bytes", lambda: int(np.ceil(estimate)) - 1)
    with pytest.raises(ValueError, match=re.escape(what) + " needs an estimated ") as exc:
        call()
    assert "use a smaller N" in str(exc.value)
    monkeypatch.setattr(_validation, "_available_bytes", lambda: int(np.ceil(estimate)))
    call()  # exactly enough: accepted


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0.0 B"),
        (1023, "1023.0 B"),
        (1024, "1.0 KiB"),
        (1536 * 2**10, "1.5 MiB"),
        (3 * 2**30, "3.0 GiB"),
        (2**40, "1.0 TiB"),
        (5 * 2**50, "5.0 PiB"),
        (2**70, f"{2**20:.1f} PiB"),  # the largest unit keeps growing
    ],
)
def test_memory_sizes_are_quoted_in_binary_units(n, text):
    assert _validation._fmt_bytes(n) == text


_Q = np.full(8, 1 / 8)
_ZERO = np.array([0.5, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
DISTRIBUTION_CALLS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "fisher_eigenvalues": (T.fisher_eigenvalues, "p"),
    "fisher": (T.fisher, "p"),
    "entropy": (T.entropy, "p"),
    "couplings": (T.couplings, "p"),
    "moments": (T.moments, "p"),
    "kl(q, .)": (lambda p: T.kl(p, _Q), "q"),
    "kl(., p)": (lambda p: T.kl(_Q, p), "p"),
    "loglik": (lambda p: T.loglik(np.zeros(8), p), "q"),
    "maxent_fit": (lambda p: T.maxent_fit(p, 1), "q"),
}


@pytest.mark.parametrize("name", sorted(DISTRIBUTION_CALLS))
def test_distribution_argument_is_named_in_the_refusal(name):
    call, arg = DISTRIBUTION_CALLS[name]
    with pytest.raises(ValueError, match=rf"^{arg} must be strictly positive"):
        call(_ZERO)


def _named_refusals() -> dict[str, tuple[Callable[[], Any], str]]:
    from dsb_verifier.theory.dynamics.fixed_points import classify
    from dsb_verifier.theory.dynamics.hierarchy import fit_slopes, settle_times
    from dsb_verifier.theory.precision import couplings_disagreement, hessian_disagreement
    from dsb_verifier.theory.rbm.io import RBMParams
    from dsb_verifier.theory.symbolic.effective import symbolic_couplings

    q, m = np.full(8, 1 / 8), DirectModel(3)
    th = np.zeros(m.n_params)
    return {
        "classify hessian_rtol": (
            lambda: classify(m, th, q, hessian_rtol=0.0),
            "hessian_rtol must be a positive finite number, got 0.0",
        ),
        "integrate_flow t_min": (
            lambda: T.integrate_flow(m, th, q, t_min=0.0),
            "t_min must be a positive finite number, got 0.0",
        ),
        "couplings_disagreement shape": (
            lambda: couplings_disagreement(np.full((2, 4), 0.25)),
            "couplings_disagreement takes one p of shape (2^N,), got shape (2, 4)",
        ),
        "hessian_disagreement model": (
            lambda: hessian_disagreement(m, th, q),
            "hessian_disagreement has a 50-digit twin for dsb_verifier.theory.models.RBM only, got DirectModel",
        ),
        "RBMParams weight_matrix": (
            lambda: RBMParams(np.full((2, 3), np.nan), np.zeros(2), np.zeros(3)),
            "weight_matrix must be finite; it contains NaN or inf",
        ),
        "symbolic_couplings u": (
            lambda: symbolic_couplings([1, 2, 3]),
            "u must have length 2^N with 1 <= N <= 4 (2, 4, 8 or 16), got length 3",
        ),
        "symbolic_couplings u entry": (
            lambda: symbolic_couplings([1, [2], 3, 4]),
            "u[1] is not a sympy expression or number: [2]",
        ),
        "symbolic_couplings u kind": (
            lambda: symbolic_couplings("abcd"),
            "u must be a sequence or sympy Matrix of expressions, got str",
        ),
        "settle_times structure": (
            lambda: settle_times(np.array([0.0, 1.0]), np.ones((2, 3)), 0.1, structure=[np.nan, 1, 1]),
            "structure must be finite; it contains NaN or inf",
        ),
        "fit_slopes norms": (
            lambda: fit_slopes(np.array([0.1, 1.0]), np.array([[1.0, -1.0], [1.0, 1.0]]), (0.1, 1.0)),
            "norms must be non-negative",
        ),
        "model n_visible above 24": (lambda: RBM(25, 2), "n_visible must be between 1 and 24, got 25"),
    }


@pytest.mark.parametrize("name", sorted(_named_refusals()))
def test_the_refused_argument_is_named_in_a_whole_message(name):
    call, message = _named_refusals()[name]
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message
