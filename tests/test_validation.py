"""The input checks every public function relies on (theory/_validation.py).

Each check accepts exactly the documented kinds of value and refuses the rest with a
one-line ``ValueError`` naming the argument and what was expected (house rule 2, docs/development.md).
The public functions are tested through them in ``test_bad_inputs.py``; these tests pin
the checks themselves, so a weakened check is caught even where no public function
happens to pass the offending value.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from dsb_verifier.theory import _validation as V


@pytest.mark.parametrize("x", [0, 7, -3, np.int64(5), np.uint8(2)])
def test_check_int_accepts_integers(x):
    out = V.check_int(x, "k")
    assert out == int(x) and type(out) is int


@pytest.mark.parametrize("x", [True, np.bool_(False), 2.0, 2.5, "3", None, 1 + 0j])
def test_check_int_refuses_non_integers(x):
    with pytest.raises(ValueError, match=rf"^k must be an integer, got {re.escape(repr(x))}$"):
        V.check_int(x, "k")


def test_check_int_minimum():
    assert V.check_int(3, "k", minimum=3) == 3
    with pytest.raises(ValueError, match=r"^k must be an integer >= 3, got 2$"):
        V.check_int(2, "k", minimum=3)


@pytest.mark.parametrize(
    ("kw", "x", "expected"),
    [
        ({}, np.inf, "a finite real number"),
        ({"positive": True}, 0.0, "a positive finite number"),
        ({"positive": True, "finite": False}, -1.0, "a positive number"),
        ({"nonnegative": True}, -0.5, "a finite number >= 0"),
        ({"nonnegative": True, "finite": False}, -np.inf, "a number >= 0"),
        ({"finite": False}, "x", "a real number"),
        ({}, True, "a finite real number"),
    ],
)
def test_check_real_refusals_say_what_is_expected(kw, x, expected):
    with pytest.raises(ValueError, match=rf"^t must be {expected}, got "):
        V.check_real(x, "t", **kw)


def test_check_real_accepts():
    assert V.check_real(np.float32(0.5), "t") == 0.5
    assert V.check_real(0, "t", nonnegative=True) == 0.0
    assert V.check_real(np.inf, "t", positive=True, finite=False) == np.inf
    assert type(V.check_real(np.int64(2), "t")) is float


def test_check_flag_and_rng():
    assert V.check_flag(np.bool_(True), "f") is True
    for bad in (1, "yes", None):
        with pytest.raises(ValueError, match=r"^f must be True or False, got "):
            V.check_flag(bad, "f")
    g = np.random.default_rng(0)
    assert V.check_rng(g) is g
    with pytest.raises(ValueError, match=r"^rng must be a numpy\.random\.Generator .*, got int$"):
        V.check_rng(0)


@pytest.mark.parametrize(("length", "N"), [(2, 1), (8, 3), (2**20, 20)])
def test_n_from_length(length, N):
    assert V.n_from_length(length, "v") == N


@pytest.mark.parametrize("length", [0, 1, 3, 6, 12])
def test_n_from_length_refuses(length):
    with pytest.raises(ValueError, match=rf"^v must have a last axis of length 2\^N .*got length {length}$"):
        V.n_from_length(length, "v")


def test_as_float_array():
    out = V.as_float_array([[1, 2]], "a")
    assert out.dtype == np.float64 and out.shape == (1, 2)
    assert V.as_float_array(np.array([True]), "a").tolist() == [1.0]
    with pytest.raises(ValueError, match=r"^a must have at least 2 dimension\(s\), got shape \(2,\)$"):
        V.as_float_array([1.0, 2.0], "a", min_ndim=2)
    with pytest.raises(ValueError, match=r"^a must be finite; it contains NaN or inf$"):
        V.as_float_array([1.0, np.nan], "a")
    assert np.isnan(V.as_float_array([np.nan], "a", finite=False)[0])
    for bad in (np.array([1 + 1j]), np.array(["x"]), np.array([object()], dtype=object)):
        with pytest.raises(ValueError, match=r"^a must be a real numeric array, got dtype "):
            V.as_float_array(bad, "a")


def test_distribution_normalises_only_when_asked():
    p, N = V.distribution(np.array([1.0, 3.0]), "p", normalize=True)
    assert N == 1 and p.tolist() == [0.25, 0.75]
    with pytest.raises(ValueError, match=r"^p must sum to 1 along its last axis"):
        V.distribution(np.array([1.0, 3.0]), "p")
    with pytest.raises(ValueError, match=r"^normalize must be True or False"):
        V.distribution(np.array([0.5, 0.5]), "p", normalize=1)


def test_logsumexp_axes_and_extremes():
    x = np.array([[0.0, -1000.0], [1000.0, 1000.0]])
    np.testing.assert_allclose(V.logsumexp(x), [0.0, 1000.0 + np.log(2)], rtol=1e-15)
    np.testing.assert_allclose(V.logsumexp(x, axis=0), [1000.0, 1000.0], rtol=1e-15)
    assert V.logsumexp(x, keepdims=True).shape == (2, 1)
