"""The integral route of RBM couplings (theory.rbm.integral) against independent routes.

* exact enumeration (``theory.RBM.couplings`` through ``rbm_from_params``) at N <= 16, every order;
* a high-precision (mpmath) evaluation of the defining expectation at N = 784, with the law of
  the other units' input obtained exactly by integer convolution (weights on a lattice);
* the x-space Gaussian mapping of ``theory.conditioned_couplings`` for ``law="gaussian"``.
"""

from __future__ import annotations

import itertools

import mpmath
import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.theory.rbm.accumulators import _model
from dsb_verifier.theory.tolerances import INTEGRAL_RTOL, gaussian_routes_atol, transform_atol
from dsb_verifier.theory.walsh import orders
from hypothesis import given
from hypothesis import strategies as st

UNITS = [(v, h) for v in ("bernoulli", "spin") for h in ("bernoulli", "spin")]
SCALES = (0.01, 0.3, 1.0, 3.0)


def _random_params(N, M, scale, visible, hidden, seed):
    rng = np.random.default_rng(seed)
    return T.RBMParams(
        scale * rng.standard_normal((N, M)), rng.standard_normal(N), rng.standard_normal(M), visible, hidden
    )


def _all_subsets(N):
    return [np.flatnonzero((b >> np.arange(N)) & 1) for b in range(1, 2**N)]


def _enumerated(params):
    model, theta = T.rbm_from_params(params)
    return model.couplings(theta)


@pytest.mark.parametrize("visible,hidden", UNITS)
@pytest.mark.parametrize("scale", SCALES)
def test_every_order_matches_enumeration_at_n12(visible, hidden, scale):
    N = 12
    p = _random_params(N, 6, scale, visible, hidden, seed=int(100 * scale) + len(visible) + 7 * len(hidden))
    J = _enumerated(p)
    tol = INTEGRAL_RTOL * np.max(np.abs(J[1:]))
    got = T.rbm_couplings(p, _all_subsets(N))
    err = np.abs(got - J[1:])
    assert err.max() <= tol, f"worst order {orders(N)[1:][np.argmax(err)]}: {err.max():.3e} > {tol:.3e}"
    # the all-at-once routes agree with the per-subset one and with enumeration
    assert np.abs(T.rbm_fields(p) - J[1 << np.arange(N)]).max() <= tol
    P = T.rbm_pairwise(p)
    i, j = np.triu_indices(N, 1)
    assert np.abs(P[i, j] - J[(1 << i) | (1 << j)]).max() <= tol
    assert np.array_equal(P, P.T) and np.all(np.diag(P) == 0)


def test_orders_above_14_use_log_magnitudes_and_match_enumeration_at_n16():
    N = 16
    p = _random_params(N, 3, 0.8, "bernoulli", "spin", seed=16)
    J = _enumerated(p)
    subs = [S for k in (13, 14, 15, 16) for S in itertools.combinations(range(N), k)]
    idx = np.array([sum(1 << i for i in S) for S in subs])
    got = T.rbm_couplings(p, subs)
    assert np.abs(got - J[idx]).max() <= INTEGRAL_RTOL * np.max(np.abs(J[1:]))
    assert np.max(np.abs(J[idx])) > 1e3 * INTEGRAL_RTOL * np.max(np.abs(J[1:]))  # not trivially small


def test_subset_order_and_index_order_do_not_matter():
    p = _random_params(10, 4, 0.5, "spin", "spin", seed=3)
    a = T.rbm_couplings(p, [[4, 1, 7], [1], [2, 9], [1, 4, 7]])
    assert a[0] == a[3]
    assert a[1] == pytest.approx(T.rbm_fields(p)[1], abs=1e-15)
    assert a[2] == pytest.approx(T.rbm_pairwise(p)[2, 9], abs=1e-15)


def test_error_bound_is_tiny_and_grid_is_resolved():
    p = _random_params(12, 6, 3.0, "bernoulli", "bernoulli", seed=5)
    g = _model(p, "exact").grid
    assert np.all(g.error_bound <= 2.0**-59)
    assert np.all(g.omega > 0)


# ---- high precision at N = 784 -------------------------------------------------------------


def _lattice_unit(N, seed, quantum=0.025, nmax=5):
    """A hidden unit with spin weights ``quantum * n_j``, integer ``n_j`` in [-nmax, nmax]."""
    rng = np.random.default_rng(seed)
    n = rng.integers(-nmax, nmax + 1, size=N)
    return n, quantum


def _counts(n):
    """Exact number of sign vectors with each value of sum_j n_j s_j (Python ints), and the offset."""
    R = int(np.sum(np.abs(n)))
    c = np.zeros(2 * R + 1, dtype=object)
    c[R] = 1
    for nj in map(int, n):
        if nj == 0:
            c = 2 * c
            continue
        new = np.zeros_like(c)
        a = abs(nj)
        new[a:] += c[:-a]
        new[:-a] += c[a:]
        c = new
    return c, R


def _mp_coupling(n, q, c, S, hidden, dps=30):
    """``E[chi_S f(c + w.s)]`` in mpmath, the law of the other units by exact convolution."""
    mpmath.mp.dps = dps
    S = list(S)
    rest = np.delete(n, S)
    cnt, R = _counts(rest)
    nz = [(y - R, int(v)) for y, v in enumerate(cnt) if v]
    total = mpmath.mpf(2) ** len(rest)
    f = (
        (lambda x: mpmath.log(2 * mpmath.cosh(x)))
        if hidden == "spin"
        else (lambda x: mpmath.log1p(mpmath.exp(x)))
    )
    out = mpmath.mpf(0)
    for signs in itertools.product((-1, 1), repeat=len(S)):
        base = mpmath.mpf(c) + mpmath.mpf(q) * sum(int(s) * int(n[i]) for s, i in zip(signs, S, strict=True))
        chi = int(np.prod(signs))
        out += chi * mpmath.fsum(v * f(base + mpmath.mpf(q) * y) for y, v in nz) / total
    return out / 2 ** len(S)


def _unit_params(n, q, c, visible, hidden):
    """One hidden unit as stored: spin weights q n, spin bias c (converted exactly for 0/1 files)."""
    w = q * n.astype(np.float64)
    if visible == "spin":
        return T.RBMParams(w[:, None], np.zeros(n.size), np.array([c]), "spin", hidden)
    W = 2.0 * w  # s = 2v - 1: W' = W / 2, c' = d + sum W / 2
    return T.RBMParams(W[:, None], np.zeros(n.size), np.array([c - W.sum() / 2.0]), "bernoulli", hidden)


def _check_784(visible, hidden, positions, seed):
    """``positions`` index the units with nonzero weight (a zero weight gives J_S = 0 exactly)."""
    n, q = _lattice_unit(784, seed)
    nz = np.flatnonzero(n)
    subsets = [nz[list(pos)].tolist() for pos in positions]
    c = 0.7
    p = _unit_params(n, q, c, visible, hidden)
    got = T.rbm_couplings(p, subsets)
    ref = np.array([float(_mp_coupling(n, q, c, S, hidden)) for S in subsets])
    scale = np.max(np.abs(T.rbm_fields(p)))
    assert np.abs(got - ref).max() <= INTEGRAL_RTOL * scale, (got, ref)
    assert np.all(np.abs(ref) > 1e3 * INTEGRAL_RTOL * scale)  # each checked coupling is resolvable


def test_n784_matches_mpmath_fast():
    _check_784("spin", "spin", [[5], [3, 400], [1, 2, -1]], seed=1)


@pytest.mark.slow
@pytest.mark.parametrize("visible,hidden", UNITS)
def test_n784_matches_mpmath_more_orders(visible, hidden):
    _check_784(
        visible, hidden, [[0], [-1], [10, 11], [5, 300, 600], [7, 70, 500, 600]], seed=len(visible + hidden)
    )


@pytest.mark.slow
@pytest.mark.parametrize("hidden", ["bernoulli", "spin"])
def test_n784_gaussian_law_matches_mpmath_quadrature(hidden):
    n, q = _lattice_unit(784, 9)
    c = -0.4
    p = _unit_params(n, q, c, "spin", hidden)
    w = q * n.astype(np.float64)
    mpmath.mp.dps = 30
    f = (
        (lambda x: mpmath.log(2 * mpmath.cosh(x)))
        if hidden == "spin"
        else (lambda x: mpmath.log1p(mpmath.exp(x)))
    )
    for S in ([4, 9], [1, 2, 3]):
        sig = mpmath.sqrt(mpmath.mpf(float(np.sum(np.delete(w, S) ** 2))))
        ref = mpmath.mpf(0)
        for signs in itertools.product((-1, 1), repeat=len(S)):
            x = mpmath.mpf(c) + sum(mpmath.mpf(float(w[i])) * s for s, i in zip(signs, S, strict=True))
            g = mpmath.quad(
                lambda z, x=x, sig=sig: f(x + sig * z) * mpmath.npdf(z), [-mpmath.inf, 0, mpmath.inf]
            )
            ref += int(np.prod(signs)) * g
        ref /= 2 ** len(S)
        got = T.rbm_couplings(p, [S], law="gaussian")[0]
        assert abs(got - float(ref)) <= INTEGRAL_RTOL * np.max(np.abs(T.rbm_fields(p))), (S, got, ref)


# ---- the Gaussian mapping ------------------------------------------------------------------


@pytest.mark.parametrize("visible,hidden", UNITS)
@pytest.mark.parametrize("scale", SCALES)
def test_gaussian_law_matches_conditioned_couplings(visible, hidden, scale):
    N, M = 8, 4
    p = _random_params(N, M, scale, visible, hidden, seed=11 + int(10 * scale))
    model, theta = T.rbm_from_params(p)
    ref = T.conditioned_couplings(model, theta, 3, input_law="gaussian")
    subs = [S for k in (1, 2, 3) for S in itertools.combinations(range(N), k)]
    idx = np.array([sum(1 << i for i in S) for S in subs])
    got = T.rbm_couplings(p, subs, law="gaussian")
    tol = gaussian_routes_atol(M, float(np.max(np.abs(ref))))
    assert np.abs(got - ref[idx]).max() <= tol
    i, j = np.triu_indices(N, 1)
    assert np.abs(T.rbm_pairwise(p, law="gaussian")[i, j] - ref[(1 << i) | (1 << j)]).max() <= tol
    assert np.abs(T.rbm_fields(p, law="gaussian") - ref[1 << np.arange(N)]).max() <= tol


def test_gaussian_pair_route_with_one_dominant_weight_is_finite_and_right():
    """A weight so large that the scaled pair product would overflow goes element-wise."""
    W = np.full((6, 2), 0.01)
    W[0, 0] = 6.0
    p = T.RBMParams(W, np.zeros(6), np.array([0.3, -0.2]), "spin", "spin")
    P = T.rbm_pairwise(p, law="gaussian")
    i, j = np.triu_indices(6, 1)
    per_subset = T.rbm_couplings(p, np.stack([i, j], axis=1).tolist(), law="gaussian")
    assert np.all(np.isfinite(P))
    assert np.abs(P[i, j] - per_subset).max() <= INTEGRAL_RTOL * np.max(np.abs(per_subset))


def _gaussian_rel_errors(scale, route):
    N, M = 10, 6
    rng = np.random.default_rng(21)
    W0, b, d = rng.standard_normal((N, M)), rng.standard_normal(N), rng.standard_normal(M)
    p = T.RBMParams(scale * W0, b, d, "spin", "spin")
    subs = [S for k in (1, 2, 3) for S in itertools.combinations(range(N), k)]
    exact = T.rbm_couplings(p, subs)
    if route == "integral":
        approx = T.rbm_couplings(p, subs, law="gaussian")
    else:
        model, theta = T.rbm_from_params(p)
        JG = T.conditioned_couplings(model, theta, 3, input_law="gaussian")
        approx = JG[np.array([sum(1 << i for i in S) for S in subs])]
    k = np.array([len(S) for S in subs])
    return np.array(
        [np.linalg.norm((approx - exact)[k == o]) / np.linalg.norm(exact[k == o]) for o in (1, 2, 3)]
    )


@pytest.mark.parametrize("route", ["integral", "conditioned"])
def test_gaussian_error_shrinks_as_weights_shrink(route):
    """Both Gaussian routes: the relative error of each order 1..3 strictly decreases with the scale."""
    scales = np.array([0.4, 0.2, 0.1, 0.05])
    rel = np.array([_gaussian_rel_errors(s, route) for s in scales])  # (scale, order)
    assert np.all(np.diff(rel, axis=0) < 0), rel


def test_gaussian_error_scales_like_the_fourth_cumulant():
    """Leading error: the fourth cumulant -2 sum_j w_j^4 of the input, i.e. at weight scale s an
    absolute error ~ s^k s^4 on an order-k coupling ~ s^k (order 1: ~ a_i + s, so ~ s^5).

    Windows stated from that expansion: log-log slope of the relative error in [4, 6] for
    order 1 and [3, 5] for orders 2, 3. A first window of scales (0.4..0.1) gave slopes
    3.4, 2.3, 2.7: pre-asymptotic (sigma^2 = N s^2 up to 1.6, and the cumulant series of
    log 2cosh converges only for small sigma), so the fit uses 0.1..0.025, where the
    expansion applies; only the integral route resolves errors that small.
    """
    scales = np.array([0.1, 0.05, 0.025])
    rel = np.array([_gaussian_rel_errors(s, "integral") for s in scales])
    slopes = np.polyfit(np.log(scales), np.log(rel), 1)[0]
    assert 4 <= slopes[0] <= 6 and np.all((slopes[1:] >= 3) & (slopes[1:] <= 5)), slopes


def test_gaussian_law_above_order_7_goes_element_wise_and_matches_conditioned_couplings():
    N, M = 10, 3
    p = _random_params(N, M, 0.5, "spin", "bernoulli", seed=31)
    model, theta = T.rbm_from_params(p)
    ref = T.conditioned_couplings(model, theta, 10, input_law="gaussian")
    subs = [S for k in (6, 7, 8, 9, 10) for S in itertools.combinations(range(N), k)]
    idx = np.array([sum(1 << i for i in S) for S in subs])
    got = T.rbm_couplings(p, subs, law="gaussian")
    assert np.abs(got - ref[idx]).max() <= gaussian_routes_atol(M, float(np.max(np.abs(ref))))


@given(
    N=st.integers(1, 7),
    M=st.integers(1, 4),
    log_scale=st.floats(-3.0, np.log10(5.0)),
    bias_scale=st.floats(0.0, 10.0),
    visible=st.sampled_from(["bernoulli", "spin"]),
    hidden=st.sampled_from(["bernoulli", "spin"]),
    seed=st.integers(0, 2**16),
)
def test_random_rbms_match_enumeration_at_every_order(N, M, log_scale, bias_scale, visible, hidden, seed):
    """Random shapes, weight scales 1e-3..5, biases up to 10: every coupling within
    INTEGRAL_RTOL x max|J| plus the enumeration's own rounding (transform_atol / 2^N)."""
    rng = np.random.default_rng(seed)
    p = T.RBMParams(
        10.0**log_scale * rng.standard_normal((N, M)),
        bias_scale * rng.standard_normal(N),
        bias_scale * rng.standard_normal(M),
        visible,
        hidden,
    )
    model, theta = T.rbm_from_params(p)
    J = model.couplings(theta)
    logp = np.log(model.prob(theta))
    tol = INTEGRAL_RTOL * np.max(np.abs(J[1:])) + transform_atol(N, float(np.max(np.abs(logp)))) / 2.0**N
    assert np.abs(T.rbm_couplings(p, _all_subsets(N)) - J[1:]).max() <= tol


def test_tiny_couplings_keep_relative_accuracy():
    """Weights of 1e-4: couplings of orders 2..5 from 3e-8 down to 1e-19 against 40-digit
    mpmath. The guaranteed bound is absolute (2^-59 per hidden unit), but the integrand has
    no cancellation here, so each coupling is accurate relative to itself (measured 4e-16 to
    1.5e-12; asserted with a factor ~1000 margin: 1e-9)."""
    rng = np.random.default_rng(3)
    n = rng.integers(1, 6, size=10) * rng.choice([-1, 1], 10)
    p = _unit_params(n, 1e-4, 0.7, "spin", "spin")
    for S in ([0, 1], [0, 1, 2], [0, 1, 2, 3], [2, 4, 6, 8, 9]):
        ref = float(_mp_coupling(n, 1e-4, 0.7, S, "spin", dps=40))
        got = T.rbm_couplings(p, [S])[0]
        assert abs(got - ref) <= 1e-9 * abs(ref), (S, got, ref)


def test_log_magnitude_route_matches_the_tangent_route(monkeypatch):
    """The log-magnitude products (used above order 14) forced at every order >= 2, N = 12 and N = 784."""
    from dsb_verifier.theory.rbm import accumulators

    p = _random_params(12, 4, 1.0, "bernoulli", "spin", seed=41)
    n, q = _lattice_unit(784, 2)
    big = _unit_params(n, q, 0.3, "spin", "bernoulli")
    subs = [S for k in (2, 3, 4) for S in itertools.combinations(range(12), k)]
    big_subs = [[0, 1], [5, 300, 600], [7, 70, 500, 700]]
    tan_route = T.rbm_couplings(p, subs), T.rbm_couplings(big, big_subs)
    monkeypatch.setattr(accumulators, "_MAX_TAN_ORDER", 1)
    log_route = T.rbm_couplings(p, subs), T.rbm_couplings(big, big_subs)
    for a, b, q_ in zip(tan_route, log_route, (p, big), strict=True):
        assert np.abs(a - b).max() <= INTEGRAL_RTOL * np.max(np.abs(T.rbm_fields(q_)))


def test_reporting_progress_counts_every_chunk_and_changes_nothing(monkeypatch):
    from dsb_verifier.theory.rbm import accumulators

    monkeypatch.setattr(accumulators, "_CHUNK_ENTRIES", 64)  # many chunks on a small model
    rng = np.random.default_rng(3)
    p = T.RBMParams(
        rng.standard_normal((8, 5)) * 0.5, rng.standard_normal(8) * 0.1, rng.standard_normal(5) * 0.1
    )
    plain = T.rbm_pairwise(p)
    calls: list[tuple[int, int]] = []
    with T.rbm.reporting_progress(lambda done, total: calls.append((done, total))):
        seen = T.rbm_pairwise(p)
    np.testing.assert_array_equal(seen, plain)
    total = calls[0][1]
    assert total > 1 and calls == [(i, total) for i in range(1, total + 1)]
    T.rbm_pairwise(p)  # outside the block: no calls
    assert len(calls) == total
    with pytest.raises(ValueError, match="callback must be callable"):
        with T.rbm.reporting_progress(3):  # type: ignore[arg-type]
            pass
