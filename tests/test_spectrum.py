"""Fisher eigenvalues by the secular equation vs the dense route (Claim C2)."""

import contextlib

import mpmath
import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks.claims.strategies import distributions, n_spins
from dsb_verifier.theory import fisher_spectrum
from dsb_verifier.theory.fisher_spectrum import fisher_eigenvalues
from dsb_verifier.theory.tolerances import EPS
from hypothesis import given, settings
from hypothesis import strategies as st


def spectrum_atol(N: int, lam_max: float) -> float:
    """Absolute tolerance between two eigenvalue routes for the (2^N - 1)-square Fisher matrix.

    The dense route is off by about ``n * EPS * scale`` at worst (``n = 2^N``): the
    symmetric eigensolver is backward stable (``EPS * ||F||``), and each entry
    ``m_{S^T} - m_S m_T`` of ``fisher(p)`` is a difference of moments of size up to
    one, so it carries an absolute error ``~ EPS`` even when ``||F||`` is small
    (``scale = max(lam_max, 1)``). We allow a factor 32 over that. The secular
    route itself is accurate to a few ulps of each eigenvalue.
    """
    return 32.0 * max(2**N, 8) * EPS * max(lam_max, 1.0)


#: Relative accuracy of the smallest eigenvalue of the secular route against a 50-digit
#: reference, whatever the conditioning (the dense route cannot offer this); about 6 EPS
#: is observed, we allow 64 EPS.
SMALLEST_RTOL = 64 * EPS


def _dense(p):
    return np.linalg.eigvalsh(T.fisher(p))


def _n_of(p):
    return p.size.bit_length() - 1


@st.composite
def tied_distributions(draw, max_n=8):
    """Distributions with many repeated probabilities: weights drawn from a small pool."""
    N = draw(n_spins(1, max_n))
    pool = np.array(draw(st.lists(st.floats(-12.0, 0.0), min_size=1, max_size=4)))
    idx = np.array(draw(st.lists(st.integers(0, pool.size - 1), min_size=2**N, max_size=2**N)))
    w = 10.0 ** pool[idx]
    return w / w.sum()


@settings(max_examples=40)
@given(distributions(max_n=8, min_log10=-12.0))
def test_matches_dense_eigvalsh(p):
    N = _n_of(p)
    lam, ref = fisher_eigenvalues(p), _dense(p)
    assert lam.shape == (2**N - 1,)
    np.testing.assert_allclose(lam, ref, rtol=0, atol=spectrum_atol(N, ref[-1]))


@settings(max_examples=30)
@given(tied_distributions())
def test_matches_dense_with_repeated_probabilities(p):
    N = _n_of(p)
    lam, ref = fisher_eigenvalues(p), _dense(p)
    np.testing.assert_allclose(lam, ref, rtol=0, atol=spectrum_atol(N, ref[-1]))


@settings(max_examples=20)
@given(st.data())
def test_k_body_targets(data):
    N = data.draw(n_spins(1, 7))
    S = data.draw(st.integers(1, 2**N - 1))
    beta = data.draw(st.floats(-3.0, 3.0))
    p = T.k_body_target(N, S, beta)
    lam, ref = fisher_eigenvalues(p), _dense(p)
    np.testing.assert_allclose(lam, ref, rtol=0, atol=spectrum_atol(N, ref[-1]))


@pytest.mark.parametrize("N", [1, 2, 5, 9])
def test_uniform_gives_identity(N):
    # F = I for the uniform distribution: every probability equal, all roots deflated
    lam = fisher_eigenvalues(np.full(2**N, 2.0**-N))
    np.testing.assert_allclose(lam, np.ones(2**N - 1), rtol=4 * EPS, atol=0)


def test_one_spin_closed_form():
    a = 0.3
    assert fisher_eigenvalues([a, 1 - a]) == pytest.approx([4 * a * (1 - a)], rel=4 * EPS)


@settings(max_examples=40)
@given(distributions(max_n=8, min_log10=-12.0))
def test_positive_and_interlacing(p):
    # Claim C2: F positive definite; eigenvalues interlace 2^N * sorted(p)
    N = _n_of(p)
    lam = fisher_eigenvalues(p)
    assert np.all(lam > 0)
    assert np.all(np.diff(lam) >= 0)
    d = np.sort(p) * 2.0**N
    slack = 4 * EPS * d
    assert np.all(lam >= d[:-1] - slack[:-1])
    assert np.all(lam <= d[1:] + slack[1:])


@settings(max_examples=30)
@given(distributions(max_n=7, min_log10=-2.0))
def test_smallest_eigenvalue_relative_accuracy_when_well_conditioned(p):
    # the dense route is accurate to ~EPS * n * lam_max absolutely, i.e. to EPS * n * kappa
    # relatively for the smallest eigenvalue; with kappa <= ~10^3 both routes agree closely
    N = _n_of(p)
    lam, ref = fisher_eigenvalues(p), _dense(p)
    kappa = ref[-1] / ref[0]
    assert lam[0] == pytest.approx(ref[0], rel=32 * 2**N * EPS * kappa)


def _smallest_reference(p, dps=50):
    """Smallest root > 0 of 1 - sum p^2 / (p - x) by 50-digit bisection in (p_(1), p_(2)).

    ``p`` is renormalised in 50 digits: the zero root (and the identity) need ``sum p = 1``
    exactly, and float ``p`` only sums to one within a few ulps.
    """
    with mpmath.workdps(dps):
        d = sorted(mpmath.mpf(float(x)) for x in p)
        total = sum(d)
        d = [x / total for x in d]
        f = lambda x: 1 - sum(v * v / (v - x) for v in d)  # noqa: E731
        lo, hi = d[0], d[1]
        for _ in range(dps * 4):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if f(mid) > 0 else (lo, mid)
        return float((lo + hi) / 2 * 2 ** (len(p).bit_length() - 1))


@settings(max_examples=15)
@given(distributions(max_n=4, min_log10=-12.0))
def test_smallest_eigenvalue_relative_accuracy_near_degenerate(p):
    # distinct smallest probabilities (ties deflate to p itself, exactly)
    d = np.sort(p)
    if d[1] - d[0] <= 1e-6 * d[1]:
        return
    lam = fisher_eigenvalues(p)
    assert lam[0] == pytest.approx(_smallest_reference(p), rel=SMALLEST_RTOL)


@given(distributions(max_n=6))
def test_chunking_does_not_change_the_result(p):
    # Chunks split the secular sums differently, so the summation order (and the last
    # ulps of each root) may change; both runs must stay within the route's own accuracy.
    # (4 EPS was too tight: a peaked p at N = 4 differed by 2.8e-15 relative.)
    chunked = fisher_eigenvalues(p, chunk=1)
    np.testing.assert_allclose(chunked, fisher_eigenvalues(p), rtol=SMALLEST_RTOL, atol=0)


@pytest.mark.parametrize(
    ("p", "kwargs", "match"),
    [
        ([0.5, 0.25, 0.25], {}, "length 2\\^N"),
        ([0.5, 0.6, -0.1, 0.0], {}, "strictly positive"),
        ([0.5, np.nan, 0.25, 0.25], {}, "finite"),
        ([0.5, 0.5, 0.5, 0.5], {}, "must sum to 1"),
        ([[0.5, 0.5], [0.5, 0.5]], {}, "one distribution of shape"),
        ([0.5, 0.5], {"chunk": 0}, "chunk must be a positive integer"),
        ([0.5, 0.5], {"chunk": 2.0}, "chunk must be a positive integer"),
    ],
)
def test_bad_input_messages(p, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fisher_eigenvalues(p, **kwargs)


def test_negative_control_parity_detects_a_perturbed_distribution():
    # the parity tolerance is tight enough to see a 1e-6 relative change of p
    rng = np.random.default_rng(0)
    w = rng.uniform(0.5, 1.5, 2**5)
    p = w / w.sum()
    q = p * (1 + 1e-6 * rng.standard_normal(p.size))
    q /= q.sum()
    ref = _dense(p)
    assert np.max(np.abs(fisher_eigenvalues(q) - ref)) > spectrum_atol(5, ref[-1])


def test_memory_stays_linear_in_state_count():
    # N = 11: the dense Fisher matrix alone would take 2047^2 * 8 B = 32 MiB
    import tracemalloc

    w = np.random.default_rng(1).uniform(0.5, 1.5, 2**11)
    p = w / w.sum()
    tracemalloc.start()
    try:
        lam = fisher_eigenvalues(p)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lam.shape == (2**11 - 1,)
    assert peak < 4 * 2**20


#: Iterations the secular solver may take per root. Its rational ("middle way") step
#: converges in at most 8 iterations on every input tried (N = 2..10, Dirichlet
#: concentrations 0.05..5, peaked Ising targets, 1000 random strategy examples with
#: probabilities down to 1e-14 and ties); the bisection safeguard alone would need about
#: 50 to reach 4 EPS. A wrong step (sign, pole, bracket, tolerance) leaves the answer right
#: but costs iterations, which this budget catches.
FAST_ITERATIONS = 10


@contextlib.contextmanager
def _iteration_budget(n):
    saved = fisher_spectrum._MAX_ITER
    fisher_spectrum._MAX_ITER = n
    try:
        yield
    finally:
        fisher_spectrum._MAX_ITER = saved


@settings(max_examples=30)
@given(st.one_of(distributions(max_n=8, min_log10=-12.0), tied_distributions(max_n=6)))
def test_secular_solver_converges_fast(p):
    with _iteration_budget(FAST_ITERATIONS):
        lam = fisher_eigenvalues(p)
    N = _n_of(p)
    ref = _dense(p)
    np.testing.assert_allclose(lam, ref, rtol=0, atol=spectrum_atol(N, ref[-1]))


def test_iteration_budget_is_enforced():
    p = T.dirichlet_target(4, np.random.default_rng(0))
    message = r"secular equation: \d+ roots did not converge in 1 steps"
    with _iteration_budget(1), pytest.raises(RuntimeError, match=message):
        fisher_eigenvalues(p)


def test_chunk_bounds_the_working_set():
    """``chunk`` roots at a time: O(2^N chunk) memory instead of O(4^N) (the docstring's claim)."""
    import tracemalloc

    p = T.dirichlet_target(10, np.random.default_rng(0), floor=1e-5)

    def peak(**kw):
        tracemalloc.start()
        try:
            fisher_eigenvalues(p, **kw)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, whole = peak(chunk=1), peak(chunk=2**10)
    assert small < 64 * 2**10 * 8  # a few vectors of 2^N entries
    assert whole > 2**10 * 2**10 * 8 / 2  # the full (roots x poles) matrix
