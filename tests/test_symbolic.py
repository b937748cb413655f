"""Symbolic twin of the effective model (Claim C1: sympy and numpy agree; C2: F > 0)."""

from fractions import Fraction
from functools import cache

import numpy as np
import pytest
import sympy as sp
from dsb_verifier import theory as T
from dsb_verifier.checks.claims.strategies import ORDER_PROFILES, coupling_vectors, distributions
from dsb_verifier.theory.symbolic.effective import (
    MAX_TWIN_ABS_COUPLING,
    NumericTwin,
    coupling_symbols,
    lambdify_twin,
    symbolic_characters,
    symbolic_couplings,
    symbolic_fisher,
    symbolic_log_partition,
    symbolic_moments,
    symbolic_neg_energy,
    symbolic_states,
)
from dsb_verifier.theory.tolerances import ROUNDTRIP_RTOL, SYMBOLIC_RTOL
from hypothesis import given, settings
from hypothesis import strategies as st

NS = [1, 2, 3, 4]

#: Moments and Fisher entries lie in [-1, 1] and can be 0: the absolute part of
#: the parity tolerance is SYMBOLIC_RTOL times that unit scale.
SYMBOLIC_ATOL = SYMBOLIC_RTOL

#: Profiles for parity draws: the shared ones plus large couplings (|J_S| <= 5,
#: strongly peaked distributions) at the edge of the twin's documented range.
PARITY_PROFILES = {**ORDER_PROFILES, "large": {k: 5.0 for k in range(1, 5)}}


def _laurent(expr: sp.Expr, N: int) -> sp.Expr:
    """Rewrite exp(sum_S c_S J_S) as prod_S x_S^c_S: a rational function of the x_S.

    Lets ``sympy.cancel`` decide exact equality of expressions in exponentials.
    """
    J = coupling_symbols(N)
    x = dict(zip(J, sp.symbols(f"x1:{2**N}", positive=True), strict=True))

    def monomial(arg: sp.Expr) -> sp.Expr:
        coeffs = sp.expand(arg).as_coefficients_dict()
        assert set(coeffs) <= set(J), f"exponent {arg} is not linear in the couplings"
        return sp.Mul(*[x[s] ** c for s, c in coeffs.items()])

    return expr.replace(lambda e: isinstance(e, sp.exp), lambda e: monomial(e.args[0]))


def _exactly_equal(a: sp.Expr, b: sp.Expr, N: int) -> bool:
    return sp.cancel(_laurent(a - b, N)) == 0


@cache
def _gradient_route(N: int):
    """m_S = d log Z / dJ_S by sympy.diff in J, lambdified (the non-default route)."""
    J = coupling_symbols(N)
    log_Z = symbolic_log_partition(N)
    return sp.lambdify([list(J)], [sp.diff(log_Z, s) for s in J], modules="numpy", cse=True)


# --------------------------------------------------------------------------- conventions


@pytest.mark.parametrize("N", NS)
def test_states_match_numpy(N):
    s = symbolic_states(N)
    assert s.shape == (2**N, N)
    assert all(isinstance(v, sp.Integer) for v in s)
    np.testing.assert_array_equal(np.array(s.tolist(), dtype=np.int64), T.states(N))


@pytest.mark.parametrize("N", NS)
def test_characters_match_hadamard(N):
    H = symbolic_characters(N)
    assert H.shape == (2**N, 2**N)
    assert all(isinstance(v, sp.Integer) and v in (1, -1) for v in H)
    np.testing.assert_array_equal(np.array(H.tolist(), dtype=np.int64), T.hadamard(N).astype(np.int64))


@pytest.mark.parametrize("N", NS)
def test_hadamard_squares_to_scaled_identity_exactly(N):
    H = symbolic_characters(N)
    assert H * H == 2**N * sp.eye(2**N)
    assert H == H.T


@pytest.mark.parametrize("N", NS)
def test_coupling_symbols_are_named_by_subset(N):
    J = coupling_symbols(N)
    assert len(J) == 2**N - 1
    assert len(set(J)) == len(J)
    for i, s in enumerate(J):
        assert s.is_real
        assert s.name == "J_" + "".join(map(str, T.subset_indices(i + 1, N)))
    if N == 4:
        assert [s.name for s in J[:4]] == ["J_0", "J_1", "J_01", "J_2"]
        assert J[-1].name == "J_0123"


# --------------------------------------------------------------------------- exact transforms


@given(st.data())
def test_couplings_round_trip_exact_rationals(data):
    N = data.draw(st.sampled_from(NS))
    fracs = data.draw(
        st.lists(st.fractions(min_value=-10, max_value=10, max_denominator=50), min_size=2**N, max_size=2**N)
    )
    u = sp.Matrix([sp.Rational(f.numerator, f.denominator) for f in fracs])
    c = symbolic_couplings(u)
    assert all(isinstance(v, sp.Rational) for v in c)
    assert symbolic_characters(N) * c == u
    # the constant coefficient is the mean
    assert c[0] == sp.Rational(sum(fracs, Fraction(0)) / 2**N)


@pytest.mark.parametrize("N", NS)
def test_couplings_round_trip_symbolic(N):
    u = sp.Matrix(sp.symbols(f"u0:{2**N}"))
    c = symbolic_couplings(u)
    assert (symbolic_characters(N) * c).applyfunc(sp.expand) == u


@pytest.mark.parametrize("N", NS)
def test_couplings_of_neg_energy_are_the_symbols(N):
    c = symbolic_couplings(symbolic_neg_energy(N))
    assert list(c) == [0, *coupling_symbols(N)]


@pytest.mark.parametrize("N", [1, 2, 3])
def test_couplings_of_log_p_recover_J_and_minus_log_Z(N):
    log_p = symbolic_neg_energy(N) - sp.ones(2**N, 1) * symbolic_log_partition(N)
    c = symbolic_couplings(log_p)
    assert list(c[1:]) == list(coupling_symbols(N))
    assert sp.simplify(c[0] + symbolic_log_partition(N)) == 0


@settings(max_examples=15)
@given(st.data())
def test_couplings_of_rational_distribution_match_numpy(data):
    N = data.draw(st.sampled_from([1, 2, 3]))
    w = data.draw(st.lists(st.integers(1, 1000), min_size=2**N, max_size=2**N))
    p = [sp.Rational(wi, sum(w)) for wi in w]
    c = symbolic_couplings([sp.log(pi) for pi in p])
    exact = np.array([float(ci.evalf(30)) for ci in c])
    numeric = T.couplings(np.array([float(pi) for pi in p]))
    np.testing.assert_allclose(numeric, exact, rtol=ROUNDTRIP_RTOL, atol=1e-12)


# --------------------------------------------------------------------------- exact identities


@pytest.mark.parametrize("N", NS)
def test_model_at_zero_couplings_is_uniform(N):
    zero = [0] * 2**N
    assert sp.simplify(symbolic_log_partition(N, zero) - N * sp.log(2)) == 0
    assert list(symbolic_moments(N, zero)) == [1] + [0] * (2**N - 1)
    assert symbolic_fisher(N, zero) == sp.eye(2**N - 1)


def test_one_spin_closed_forms():
    (J0,) = coupling_symbols(1)
    assert sp.simplify(sp.exp(symbolic_log_partition(1)) - 2 * sp.cosh(J0)) == 0
    assert sp.simplify((symbolic_moments(1)[1] - sp.tanh(J0)).rewrite(sp.exp)) == 0
    assert sp.simplify((symbolic_fisher(1)[0, 0] - (1 - sp.tanh(J0) ** 2)).rewrite(sp.exp)) == 0


@pytest.mark.parametrize("N", [1, 2])
def test_moments_two_routes_simplify_to_zero(N):
    m = symbolic_moments(N)
    log_Z = symbolic_log_partition(N)
    assert m[0] == 1
    for i, s in enumerate(coupling_symbols(N)):
        assert sp.simplify(sp.diff(log_Z, s) - m[i + 1]) == 0


def test_moments_two_routes_exact_three_spins():
    N = 3
    m = symbolic_moments(N)
    log_Z = symbolic_log_partition(N)
    for i, s in enumerate(coupling_symbols(N)):
        assert _exactly_equal(sp.diff(log_Z, s), m[i + 1], N)


@settings(max_examples=20)
@given(st.data())
def test_moments_two_routes_numerically(data):
    N = data.draw(st.sampled_from([3, 4]))
    J = data.draw(coupling_vectors(N, ORDER_PROFILES["flat"]))
    grad = np.asarray(_gradient_route(N)(J[1:]), dtype=np.float64)
    np.testing.assert_allclose(grad, lambdify_twin(N).moments(J)[1:], rtol=SYMBOLIC_RTOL, atol=SYMBOLIC_ATOL)


@pytest.mark.parametrize("N", [1, 2, 3])
def test_fisher_is_the_hessian_in_J(N):
    J = coupling_symbols(N)
    brute = sp.hessian(symbolic_log_partition(N), J)
    F = symbolic_fisher(N)
    for i in range(len(J)):
        for j in range(len(J)):
            assert _exactly_equal(F[i, j], brute[i, j], N), (i, j)


@pytest.mark.parametrize("N", [1, 2, 3])
def test_fisher_is_covariance_of_characters_exactly(N):
    m = symbolic_moments(N)
    F = symbolic_fisher(N)
    for S in range(1, 2**N):
        for Tt in range(1, 2**N):
            cov = m[S ^ Tt] - m[S] * m[Tt]
            assert _exactly_equal(F[S - 1, Tt - 1], cov, N), (S, Tt)


@pytest.mark.parametrize("N", [1, 2, 3])
def test_fisher_is_symmetric_exactly(N):
    F = symbolic_fisher(N)
    assert all(_exactly_equal(v, 0, N) for v in F - F.T)


@pytest.mark.parametrize("N", [2, 3])
def test_package_length_J_ignores_constant(N):
    q = sp.symbols(f"q0:{2**N}")
    short = list(q[1:])
    full = [sp.Symbol("whatever"), *short]
    assert symbolic_neg_energy(N, full) == symbolic_neg_energy(N, short)
    assert symbolic_log_partition(N, full) == symbolic_log_partition(N, short)
    assert symbolic_fisher(N, full) == symbolic_fisher(N, short)
    assert symbolic_fisher(N, short).free_symbols <= set(short)


# --------------------------------------------------------------------------- numeric parity


@pytest.mark.parametrize("N", NS)
@given(data=st.data())
def test_twin_matches_numpy_route(N, data):
    profile = data.draw(st.sampled_from(sorted(PARITY_PROFILES)))
    J = data.draw(coupling_vectors(N, PARITY_PROFILES[profile]))
    twin = lambdify_twin(N)
    p = T.prob(J)

    log_Z = twin.log_partition(J)
    assert log_Z.shape == () and log_Z.dtype == np.float64
    np.testing.assert_allclose(log_Z, T.log_partition(J), rtol=SYMBOLIC_RTOL, atol=SYMBOLIC_ATOL)

    m = twin.moments(J)
    assert m.shape == (2**N,) and m.dtype == np.float64
    assert m[0] == 1.0
    np.testing.assert_allclose(m, T.moments(p), rtol=SYMBOLIC_RTOL, atol=SYMBOLIC_ATOL)

    F = twin.fisher(J)
    assert F.shape == (2**N - 1, 2**N - 1) and F.dtype == np.float64
    np.testing.assert_allclose(F, T.fisher(p), rtol=SYMBOLIC_RTOL, atol=SYMBOLIC_ATOL)


@pytest.mark.parametrize("N", NS)
@given(data=st.data())
def test_twin_fisher_is_symmetric_positive_definite(N, data):
    profile = data.draw(st.sampled_from(["fields", "pairwise", "planted-3", "planted-4", "flat"]))
    J = data.draw(coupling_vectors(N, ORDER_PROFILES[profile]))
    F = lambdify_twin(N).fisher(J)
    np.testing.assert_allclose(F, F.T, rtol=0, atol=SYMBOLIC_ATOL)
    assert np.linalg.eigvalsh((F + F.T) / 2).min() > 0
    np.linalg.cholesky(F)


@settings(max_examples=20)
@given(st.data())
def test_twin_matches_symbolic_expressions_at_exact_points(data):
    N = data.draw(st.sampled_from([2, 3]))
    J = data.draw(coupling_vectors(N))
    exact = [sp.Rational(float(v)) for v in J]  # the float's exact binary value
    twin = lambdify_twin(N)
    m = np.array([float(v.evalf(30)) for v in symbolic_moments(N, exact)])
    np.testing.assert_allclose(twin.moments(J), m, rtol=SYMBOLIC_RTOL, atol=SYMBOLIC_ATOL)
    log_Z = float(symbolic_log_partition(N, exact).evalf(30))
    np.testing.assert_allclose(twin.log_partition(J), log_Z, rtol=SYMBOLIC_RTOL, atol=SYMBOLIC_ATOL)


@given(distributions(3, min_log10=-3.0))
def test_twin_at_couplings_of_a_target_reproduces_its_moments(q):
    J = T.couplings(q)
    np.testing.assert_allclose(lambdify_twin(3).moments(J), T.moments(q), rtol=SYMBOLIC_RTOL, atol=1e-12)


@given(coupling_vectors(3))
def test_twin_ignores_J0(J):
    shifted = J.copy()
    shifted[0] = 7.0
    twin = lambdify_twin(3)
    np.testing.assert_array_equal(twin.log_partition(J), twin.log_partition(shifted))
    np.testing.assert_array_equal(twin.fisher(J), twin.fisher(shifted))


def test_lambdify_twin_is_cached_per_N():
    assert lambdify_twin(2) is lambdify_twin(2)
    assert lambdify_twin(np.int64(2)) is lambdify_twin(2)
    assert lambdify_twin(2) is not lambdify_twin(3)
    assert lambdify_twin(3).N == 3


# --------------------------------------------------------------------------- validation

_N_FUNCTIONS = [
    symbolic_states,
    symbolic_characters,
    coupling_symbols,
    symbolic_neg_energy,
    symbolic_log_partition,
    symbolic_moments,
    symbolic_fisher,
    lambdify_twin,
]


@pytest.mark.parametrize("fn", _N_FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("N", [0, 5, -1])
def test_N_out_of_range_is_refused(fn, N):
    with pytest.raises(ValueError, match=rf"N must be between 1 and 4 for the symbolic twin, got {N}"):
        fn(N)


@pytest.mark.parametrize("fn", _N_FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("N", [2.0, True, "2"])
def test_N_not_an_integer_is_refused(fn, N):
    with pytest.raises(ValueError, match="N must be an integer number of spins"):
        fn(N)


_J_FUNCTIONS = [symbolic_neg_energy, symbolic_log_partition, symbolic_moments, symbolic_fisher]


@pytest.mark.parametrize("fn", _J_FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("length", [0, 2, 5, 9])
def test_wrong_length_J_is_refused(fn, length):
    expected = rf"J must have length 2\^N - 1 = 7 .* or 2\^N = 8 .* got length {length}"
    with pytest.raises(ValueError, match=expected):
        fn(3, [0] * length)


def test_non_expression_J_is_refused():
    with pytest.raises(ValueError, match=r"J\[1\] is not a sympy expression"):
        symbolic_neg_energy(1, [0, "x"])
    with pytest.raises(ValueError, match="J must be a sequence or sympy Matrix"):
        symbolic_neg_energy(1, 3)
    with pytest.raises(ValueError, match=r"J must be a vector .* got a \(2, 2\) Matrix"):
        symbolic_neg_energy(1, sp.eye(2))


@pytest.mark.parametrize("length", [0, 1, 3, 6, 32])
def test_symbolic_couplings_wrong_length_is_refused(length):
    with pytest.raises(ValueError, match=rf"u must have length 2\^N with 1 <= N <= 4 .* got length {length}"):
        symbolic_couplings([sp.Integer(1)] * length)


def test_symbolic_couplings_refuses_floats():
    with pytest.raises(ValueError, match=r"u must be exact, but u\[1\] = 0.5\d* contains a float"):
        symbolic_couplings([sp.Integer(1), 0.5])
    with pytest.raises(ValueError, match=r"u must be exact, but u\[0\]"):
        symbolic_couplings([sp.log(sp.Float(0.25)), sp.Integer(0)])


@pytest.mark.parametrize("shape", [(7,), (9,), (2, 8), ()])
def test_twin_wrong_shape_J_is_refused(shape):
    twin = lambdify_twin(3)
    if shape == ():
        with pytest.raises(ValueError, match="J must have at least 1 dimension"):
            twin.moments(np.zeros(shape))
        return
    expected = r"J must be one coupling vector of shape \(2\^N,\) = \(8,\) for the N=3 twin, got shape"
    with pytest.raises(ValueError, match=expected):
        twin.moments(np.zeros(shape))


def test_twin_refuses_non_finite_and_too_large_J():
    twin = lambdify_twin(2)
    with pytest.raises(ValueError, match="J must be finite"):
        twin.fisher(np.array([0.0, np.nan, 0.0, 0.0]))
    big = np.array([0.0, MAX_TWIN_ABS_COUPLING, 1.0, 0.0])
    with pytest.raises(ValueError, match=r"sum_\(S != 0\) \|J_S\| = 301 exceeds 300"):
        twin.log_partition(big)
    big[0] = 1e6  # J[0] does not count
    big[2] = 0.0
    assert np.isfinite(twin.log_partition(big))


def test_numeric_twin_validates_itself():
    good = lambdify_twin(1)
    with pytest.raises(ValueError, match="N must be between 1 and 4 for the symbolic twin, got 5"):
        NumericTwin(5, good.G_fn, good.log_partition_fn, good.moments_fn, good.fisher_fn)
    with pytest.raises(ValueError, match=r"NumericTwin\.fisher_fn must be callable"):
        NumericTwin(1, good.G_fn, good.log_partition_fn, good.moments_fn, None)
