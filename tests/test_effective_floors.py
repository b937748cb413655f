"""``dsb-verify effective``: per-order floors (figure and outputs), the coupling table of every
exhaustive order with the integral, readable subset bitmasks at large ``N``.

Audit findings: the figure shaded standard-error bands below the floor and used one floor of
``100 eps x`` the largest block instead of the library's per-order floors, which no output
carried; the integral's table stopped at order 2 although orders ``3..K`` were computed in full;
at ``N > 53`` the ``subset`` bitmask was an integer that JSON/CSV readers round.
"""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np
import pytest
from dsb_verifier.checks.cli import effective_compute as cc
from dsb_verifier.checks.cli import effective_request as cr
from dsb_verifier.checks.cli.io import RBMCheckpoints
from dsb_verifier.theory import rbm as trbm
from dsb_verifier.theory.rbm.io import RBMParams


def _params(Nv: int, Nh: int, seed: int) -> RBMParams:
    rng = np.random.default_rng(seed)
    return RBMParams(
        0.5 * rng.standard_normal((Nv, Nh)), 0.3 * rng.standard_normal(Nv), 0.3 * rng.standard_normal(Nh)
    )


def _series(Nv: int = 6, Nh: int = 2, checkpoints: tuple[int, ...] = (1, 10, 100, 1000)) -> RBMCheckpoints:
    params = tuple(_params(Nv, Nh, seed) for seed in range(len(checkpoints)))
    return RBMCheckpoints("ck.h5", "hdf5", checkpoints, params, "file", tuple(0.05 * n for n in checkpoints))


def _single(Nv: int = 6, Nh: int = 2) -> RBMCheckpoints:
    return RBMCheckpoints("m.npz", "npz", (None,), (_params(Nv, Nh, 0),), "default")


@pytest.fixture(scope="module")
def sampled():
    """Integral series with order 3 sampled (exhaustive_limit 0) and compared with the Gaussian mapping."""
    req = cr.Request(
        method="integral", max_order=3, samples=50, keep=False, exhaustive_limit=0, compare_gaussian=True
    )
    return cc.compute(_series(), req)


# ---- library -------------------------------------------------------------------------------
def test_rbm_order_couplings_gives_the_couplings_and_the_floors_of_rbm_order_norms():
    p = _params(8, 3, 1)
    S3 = np.array(list(combinations(range(8), 3)))
    S4 = trbm.sample_subsets(8, 4, 20, np.random.default_rng(4))
    oc = trbm.rbm_order_couplings(p, [None, None, S3, S4], [True, True, True, False])
    ref = trbm.rbm_order_norms(p, 4, samples=20, exhaustive_limit=comb(8, 3))  # C(8, 4) = 70 sampled
    np.testing.assert_array_equal(oc.floor, ref.floor)
    np.testing.assert_allclose(oc.values[0], trbm.rbm_fields(p), rtol=0, atol=1e-15)
    np.testing.assert_allclose(oc.pairwise, trbm.rbm_pairwise(p), rtol=0, atol=1e-15)
    np.testing.assert_allclose(oc.values[2], trbm.rbm_couplings(p, S3), rtol=0, atol=1e-15)
    assert oc.values[1].shape == (28,) and oc.values[3].shape == (20,)


@pytest.mark.parametrize(
    "subsets, exhaustive, message",
    [
        ([None, np.zeros((1, 2), int)], [True, True], r"subsets\[1\] must be None"),
        (
            [None, None, np.zeros((2, 2), int)],
            [True, True, True],
            r"subsets\[2\] must be an \(n, 3\) integer",
        ),
        ([None, None], [True, False], "exhaustive must be 2 flags, True for orders 1 and 2"),
        ([None] * 8, [True] * 8, "1 <= K <= N = 7, got 8 entries"),
    ],
)
def test_rbm_order_couplings_refusals_name_the_argument(subsets, exhaustive, message):
    with pytest.raises(ValueError, match=message):
        trbm.rbm_order_couplings(_params(7, 3, 1), subsets, exhaustive)
