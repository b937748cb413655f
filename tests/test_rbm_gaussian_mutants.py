"""Gaussian (central-limit) RBM couplings and stored RBM parameters: boundaries and exact limits.

Complements tests/test_rbm_io.py. Independent routes: where the hidden input
from the other spins has zero variance the Gaussian law is the exact one, so
the approximation must reproduce :meth:`theory.RBM.couplings`; the summary
numbers are recomputed from the coupling vectors by hand.
"""

import json
import re
import warnings

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.theory.rbm.gaussian import GRID_SPACING, compare_gaussian, conditioned_couplings
from dsb_verifier.theory.rbm.io import RBMParams
from dsb_verifier.theory.tolerances import transform_atol


def _exact(message: str) -> str:
    return f"^{re.escape(message)}$"


@pytest.fixture(scope="module")
def small_rbm():
    """N = 3 spins, M = 2 hidden bits, moderate random parameters."""
    model = T.RBM(3, 2, hidden="bit")
    theta = 0.8 * np.random.default_rng(11).standard_normal(model.n_params)
    return model, theta


# ---- quadrature spacing: (0, 1] ---------------------------------------------------
@pytest.mark.parametrize("spacing", [1, 1.0])
def test_spacing_one_is_accepted_and_still_accurate(small_rbm, spacing):
    """The upper end of (0, 1] is allowed; softplus is analytic in |Im x| < pi, so h = 1 errs by ~e^-20."""
    model, theta = small_rbm
    J = conditioned_couplings(model, theta, 3, spacing=spacing)
    J_fine = conditioned_couplings(model, theta, 3, spacing=GRID_SPACING / 2)
    np.testing.assert_allclose(J, J_fine, rtol=0, atol=1e-7)


@pytest.mark.parametrize("spacing", [1.0 + 1e-12, 2, -0.5, True])
def test_spacing_outside_the_unit_interval_is_refused(small_rbm, spacing):
    model, theta = small_rbm
    with pytest.raises(ValueError, match=_exact(f"spacing must be a number in (0, 1], got {spacing!r}")):
        conditioned_couplings(model, theta, spacing=spacing)


# ---- zero input variance: the Gaussian law is exact --------------------------------
@pytest.mark.parametrize("hidden", ["bit", "spin"])
def test_zero_variance_inputs_are_exact_and_silent(hidden):
    """|S| = N leaves no other spin (sigma = 0): J_S is exact, and no 0/0 warning is emitted.

    Hidden unit 0 also sees only spins 0 and 1, so for S = {0, 1} its input variance is 0 too.
    """
    model = T.RBM(3, 2, hidden=hidden)
    W = np.array([[0.9, -0.4], [-1.3, 0.7], [0.0, 1.1]])
    theta = model.pack(a=np.array([0.2, -0.1, 0.3]), c=np.array([0.5, -0.6]), W=W)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        JG = conditioned_couplings(model, theta, 3)
    J = model.couplings(theta)
    atol = transform_atol(3, 10.0)
    np.testing.assert_allclose(JG[0b111], J[0b111], rtol=0, atol=atol)
    # only unit 1 has a non-degenerate (two-point, not Gaussian) input for S = {0, 1}: the error is unit 1's
    model1 = T.RBM(3, 1, hidden=hidden)
    theta1 = model1.pack(a=np.zeros(3), c=np.array([-0.6]), W=W[:, 1:])
    err1 = conditioned_couplings(model1, theta1, 2)[0b011] - model1.couplings(theta1)[0b011]
    np.testing.assert_allclose(JG[0b011] - J[0b011], err1, rtol=0, atol=atol)


# ---- the comparison summary --------------------------------------------------------
def test_comparison_json_reports_the_exact_norms_per_order(small_rbm):
    model, theta = small_rbm
    cmp = compare_gaussian(model, theta)
    out = json.loads(json.dumps(cmp.to_json()))
    assert set(out) == {
        "orders",
        "max_abs_error",
        "frobenius_error",
        "exact_norm",
        "rel_frobenius_error",
        "quadrature_spacing",
    }
    J = model.couplings(theta)
    order = np.array([bin(S).count("1") for S in range(8)])
    exact_norm = [np.linalg.norm(J[order == k]) for k in (1, 2, 3)]
    np.testing.assert_allclose(out["exact_norm"], exact_norm, rtol=1e-14)
    rel = np.array(out["frobenius_error"]) / np.array(out["exact_norm"])
    np.testing.assert_allclose(out["rel_frobenius_error"][:2], rel[:2], rtol=1e-14)
    # order 3 = N is exact (no other spin feeds the hidden units): a rounding-level error reports 0
    assert out["frobenius_error"][2] < 1e-13 and out["rel_frobenius_error"][2] == 0.0
    assert out["orders"] == [1, 2, 3] and out["quadrature_spacing"] == GRID_SPACING


# ---- stored parameters: at least one visible and one hidden unit -------------------
def test_smallest_stored_rbm_is_accepted():
    p = RBMParams(np.ones((1, 1)), np.zeros(1), np.zeros(1))
    assert (p.n_visible, p.n_hidden) == (1, 1)


@pytest.mark.parametrize("shape", [(0, 2), (3, 0), (0, 0)])
def test_stored_rbm_without_units_is_refused(shape):
    message = f"weight_matrix must have shape (Nv, Nh) with Nv, Nh >= 1, got shape {shape}"
    with pytest.raises(ValueError, match=_exact(message)):
        RBMParams(np.zeros(shape), np.zeros(shape[0]), np.zeros(shape[1]))
