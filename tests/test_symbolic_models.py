"""Symbolic RBM derivations (C1: closed forms agree with numpy; C3/C4: flow, stationarity, Hessian).

Exact tests compare sympy expressions with each other (closed forms, spin/bit
duality, additivity over hidden units, exact rational targets); the lambdified
twin is compared with the numeric routes (:class:`dsb_verifier.theory.models.RBM`,
:mod:`dsb_verifier.theory.likelihood`) and with finite differences of itself.
"""

import dataclasses
import re

import numpy as np
import pytest
import sympy as sp
from dsb_verifier.checks.claims.strategies import distributions
from dsb_verifier.theory.likelihood import exact_hessian, grad_loglik, loglik, residual
from dsb_verifier.theory.models import RBM
from dsb_verifier.theory.symbolic.effective import coupling_symbols, lambdify_twin, symbolic_characters
from dsb_verifier.theory.symbolic.models import (
    MAX_TWIN_ABS_INPUT,
    lambdify_rbm,
    moment_symbols,
    rbm_couplings,
    rbm_derivation,
    rbm_derivation_latex,
    rbm_jacobian,
    rbm_log_partition,
    rbm_neg_energy,
    rbm_parameter_symbols,
    target_substitution,
)
from dsb_verifier.theory.tolerances import EPS, FD_RTOL, SYMBOLIC_RTOL
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

HIDDEN = ("spin", "bit")
CASES = [(N, M, hidden) for N in (1, 2, 3) for M in (1, 2) for hidden in HIDDEN]

#: Bound on every drawn parameter (|theta| <= 2, as the numeric families are tested).
THETA_BOUND = 2.0

#: Central-difference step: EPS^(1/3) balances truncation O(h^2) against rounding O(EPS/h).
FD_STEP = EPS ** (1 / 3)

LATEX_KEYS = {
    "parameters",
    "neg_energy",
    "couplings",
    "couplings_log_ratio",
    "couplings_zero_bias",
    "log_partition",
    "jacobian",
    "model_moments",
    "residual",
    "loglik",
    "flow_theta",
    "flow_J",
    "kernel",
    "hessian",
}


def assert_close(got, ref, rtol=SYMBOLIC_RTOL):
    """``rtol`` plus an absolute part ``rtol * max(1, max|ref|)``: entries can be exactly zero."""
    ref = np.asarray(ref, dtype=np.float64)
    atol = rtol * max(1.0, float(np.max(np.abs(ref))))
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol)


def thetas(N, M):
    P = N + M + N * M
    return hnp.arrays(
        np.float64, P, elements=st.floats(-THETA_BOUND, THETA_BOUND, allow_nan=False, allow_infinity=False)
    )


def params(N, M):
    """``(a, c, W)`` symbol blocks of :func:`rbm_parameter_symbols`."""
    theta = rbm_parameter_symbols(N, M)
    a, c = theta[:N], theta[N : N + M]
    W = [[theta[N + M + i * M + mu] for mu in range(M)] for i in range(N)]
    return a, c, W


def is_zero(expr):
    return sp.expand(expr) == 0


# --------------------------------------------------------------------------- validation


CLOSED_FORMS = [rbm_neg_energy, rbm_couplings, rbm_log_partition, rbm_jacobian]
FLOW_BUILDERS = [rbm_derivation, lambdify_rbm, rbm_derivation_latex]
BUILDERS = CLOSED_FORMS + FLOW_BUILDERS


@pytest.mark.parametrize("build", CLOSED_FORMS)
@pytest.mark.parametrize("N", [0, 5, -1])
def test_closed_forms_reject_n_out_of_range(build, N):
    with pytest.raises(ValueError, match=rf"N must be between 1 and 4 for the symbolic RBM .*, got {N}"):
        build(N, 1, "spin")


@pytest.mark.parametrize("build", FLOW_BUILDERS)
@pytest.mark.parametrize("N", [0, 4, -1])
def test_flow_builders_reject_n_out_of_range(build, N):
    with pytest.raises(ValueError, match=rf"N must be between 1 and 3 for the symbolic RBM .*, got {N}"):
        build(N, 1, "spin")


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("N", [2.0, True, "2"])
def test_rejects_non_integer_n(build, N):
    with pytest.raises(ValueError, match="N must be an integer number of visible spins"):
        build(N, 1, "spin")


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("M", [0, 3, 1.0, True])
def test_rejects_bad_number_of_hidden_units(build, M):
    with pytest.raises(ValueError, match="M must be 1 or 2 hidden units for the symbolic RBM"):
        build(2, M, "spin")


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("hidden", ["ising", "Spin", None, 1])
def test_rejects_unknown_hidden_kind(build, hidden):
    with pytest.raises(ValueError, match="hidden must be 'spin' or 'bit', got"):
        build(2, 1, hidden)


def test_rejects_unknown_coupling_form():
    with pytest.raises(ValueError, match="form must be 'sum' or 'log_ratio', got 'ratio'"):
        rbm_couplings(2, 1, "spin", form="ratio")


@pytest.mark.parametrize(
    ("q", "match"),
    [
        ([0.5, 0.5], "q must be exact"),
        ([sp.Rational(1, 3)] * 3, "q must have length 2"),
        ([sp.Rational(1, 16)] * 16, r"q must have length 2\^N with 1 <= N <= 3"),
        ([sp.Rational(1, 2), sp.Rational(1, 3)], "sum to exactly 1"),
        ([sp.Integer(1), sp.Integer(0)], "strictly positive"),
        ("ab", "exact sympy numbers"),
        ([object(), 1], "exact sympy numbers"),
    ],
)
def test_target_substitution_rejects_inexact_or_invalid_targets(q, match):
    with pytest.raises(ValueError, match=match):
        target_substitution(q)


def test_twin_validates_its_inputs():
    twin = lambdify_rbm(2, 1, "spin")
    q = np.full(4, 0.25)
    with pytest.raises(ValueError, match=r"theta must have shape \(P,\) = \(5,\)"):
        twin.couplings(np.zeros(4))
    with pytest.raises(ValueError, match="theta must be finite"):
        twin.jacobian([0, 0, np.nan, 0, 0])
    with pytest.raises(ValueError, match="exceeds 300: the symbolic twin"):
        twin.couplings([MAX_TWIN_ABS_INPUT, 0, 0, 0, 1])
    with pytest.raises(ValueError, match=r"q must be one target of shape \(2\^N,\) = \(4,\)"):
        twin.grad_loglik(np.zeros(5), np.full(8, 1 / 8))
    with pytest.raises(ValueError, match="q must sum to 1"):
        twin.hessian(np.zeros(5), 2 * q)
    with pytest.raises(ValueError, match="q must be strictly positive"):
        twin.loglik(np.zeros(5), [0.5, 0.5, 0.0, 0.0])


def test_dataclasses_check_their_invariants():
    twin = lambdify_rbm(1, 1, "spin")
    with pytest.raises(ValueError, match=r"RBMTwin\.hessian_fn must be callable"):
        dataclasses.replace(twin, hessian_fn=None)
    with pytest.raises(ValueError, match="M must be 1 or 2"):
        dataclasses.replace(twin, M=3)
    d = rbm_derivation(1, 1, "spin")
    with pytest.raises(ValueError, match=r"RBMDerivation\.A must have shape \(1, 3\)"):
        dataclasses.replace(d, A=sp.ImmutableMatrix([[1, 2]]))
    with pytest.raises(ValueError, match=r"RBMDerivation\.L has unexpected free symbols"):
        dataclasses.replace(d, L=d.L + sp.Symbol("z"))


# --------------------------------------------------------------------------- symbols and caching


@pytest.mark.parametrize("N", [1, 2, 3, 4])
@pytest.mark.parametrize("M", [1, 2])
def test_parameter_symbols_follow_the_numeric_layout(N, M):
    theta = rbm_parameter_symbols(N, M)
    blocks = RBM(N, M).unpack(np.arange(N + M + N * M, dtype=np.float64))
    assert len(theta) == N + M + N * M
    assert all(s.is_real for s in theta)
    for i in range(N):
        assert str(theta[int(blocks["a"][i])]) == f"a_{i}"
        for mu in range(M):
            assert str(theta[int(blocks["W"][i, mu])]) == f"W_{{{i},{mu}}}"
    for mu in range(M):
        assert str(theta[int(blocks["c"][mu])]) == f"c_{mu}"


@pytest.mark.parametrize("N", [1, 2, 3, 4])
def test_moment_symbols_are_named_like_the_couplings(N):
    m, J = moment_symbols(N), coupling_symbols(N)
    assert [str(x)[2:] for x in m] == [str(x)[2:] for x in J]
    assert all(str(x).startswith("m_") for x in m)


def test_builds_are_cached_and_validated_arguments_share_the_cache():
    assert lambdify_rbm(2, 1, "spin") is lambdify_rbm(np.int64(2), np.int64(1), "spin")
    assert rbm_derivation(2, 1, "bit") is rbm_derivation(2, 1, "bit")
    latex = rbm_derivation_latex(1, 1, "spin")
    latex["couplings"] = "changed"
    assert rbm_derivation_latex(1, 1, "spin")["couplings"] != "changed"
    J = rbm_couplings(1, 1, "spin")
    J[0] = 0
    assert rbm_couplings(1, 1, "spin")[0] != 0


# --------------------------------------------------------------------------- exact closed forms


def test_pairwise_coupling_of_one_hidden_spin_without_bias():
    """J_01 = (1/2) log[cosh(W_0 + W_1) / cosh(W_0 - W_1)] (Decelle et al., SciPost Phys. 16, 095)."""
    a, _, W = params(2, 1)
    W0, W1 = W[0][0], W[1][0]
    J = rbm_couplings(2, 1, "spin", zero_bias=True)
    expected = (sp.log(sp.cosh(W0 + W1)) - sp.log(sp.cosh(W0 - W1))) / 2
    assert is_zero(J[2] - expected)
    assert J[0] == a[0] and J[1] == a[1]
    ratio = rbm_couplings(2, 1, "spin", zero_bias=True, form="log_ratio")
    assert ratio[2] == sp.log(sp.cosh(W0 + W1) / sp.cosh(W0 - W1)) / 2


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("M", [1, 2])
def test_zero_bias_kills_odd_couplings_of_order_three(hidden, M):
    a, _, W = params(3, M)
    J = rbm_couplings(3, M, hidden, zero_bias=True)
    assert J[0b111 - 1] == 0
    for i in range(3):
        field = a[i] + (sp.Add(*W[i]) / 2 if hidden == "bit" else 0)
        assert is_zero(J[(1 << i) - 1] - field)
    assert all(J[S - 1] != 0 for S in (0b011, 0b101, 0b110))


@pytest.mark.parametrize(("N", "M", "hidden"), CASES)
def test_log_ratio_form_expands_to_the_sum_form(N, M, hidden):
    for zero_bias in (False, True):
        total = rbm_couplings(N, M, hidden, zero_bias=zero_bias)
        ratio = rbm_couplings(N, M, hidden, zero_bias=zero_bias, form="log_ratio")
        for t, r in zip(total, ratio, strict=True):
            assert is_zero(sp.expand_log(r, force=True) - t)


@pytest.mark.parametrize(("N", "M"), [(1, 1), (2, 2), (3, 1), (3, 2)])
def test_bit_rbm_is_a_spin_rbm_with_halved_parameters(N, M):
    """RBM-bit(a, c, W) and RBM-spin(a + W 1/2, c/2, W/2) have the same couplings, exactly."""
    a, c, W = params(N, M)
    sub = {a[i]: a[i] + sp.Add(*W[i]) / 2 for i in range(N)}
    sub |= {c[mu]: c[mu] / 2 for mu in range(M)}
    sub |= {W[i][mu]: W[i][mu] / 2 for i in range(N) for mu in range(M)}
    spin = rbm_couplings(N, M, "spin").xreplace(sub)
    bit = rbm_couplings(N, M, "bit")
    assert all(is_zero(x - y) for x, y in zip(spin, bit, strict=True))


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("N", [1, 2, 3, 4])
def test_hidden_units_contribute_additively(N, hidden):
    """J(M=2) = J(M=1) + the M=1 hidden term of unit 1 (visible fields counted once)."""
    _, c2, W2 = params(N, 2)
    a1, c1, W1 = params(N, 1)
    one = rbm_couplings(N, 1, hidden)
    unit1 = one.xreplace({**{x: 0 for x in a1}, c1[0]: c2[1], **{W1[i][0]: W2[i][1] for i in range(N)}})
    assert all(is_zero(x - y - z) for x, y, z in zip(rbm_couplings(N, 2, hidden), one, unit1, strict=True))


def test_softplus_identity_behind_the_bit_closed_form():
    h = sp.Symbol("h", real=True)
    lhs = sp.exp(h / 2) * 2 * sp.cosh(h / 2)  # = exp(h/2 + log 2 cosh(h/2))
    assert sp.simplify(lhs.rewrite(sp.exp) - (1 + sp.exp(h))) == 0


@pytest.mark.parametrize(("N", "M", "hidden"), [*CASES, (4, 2, "spin"), (4, 2, "bit")])
def test_closed_form_is_the_walsh_transform_of_the_raw_energy(N, M, hidden):
    """J_S = 2^-N sum_b chi_S(b) u_b, from the raw log 2cosh / log(1 + e^h) energy (Claim C1)."""
    x = sp.Wild("x")
    u = rbm_neg_energy(N, M, hidden)
    if hidden == "spin":
        u = u.applyfunc(lambda e: sp.expand_log(e, force=True))
    else:
        u = u.replace(sp.log(1 + sp.exp(x)), x / 2 + sp.log(2) + sp.log(sp.cosh(x / 2)))
    assert not u.has(sp.exp)
    H, n = symbolic_characters(N), 2**N
    walsh = (H * u / n)[1:, :]
    assert all(is_zero(w - j) for w, j in zip(walsh, rbm_couplings(N, M, hidden), strict=True))


@pytest.mark.parametrize(("M", "hidden"), [(1, "spin"), (2, "bit")])
def test_four_spin_couplings_and_jacobian_match_the_numeric_rbm(M, hidden):
    """N = 4: the closed forms (no flow) lambdified and compared with RBM.couplings / jacobian."""
    theta = rbm_parameter_symbols(4, M)
    J = sp.lambdify([list(theta)], [-rbm_log_partition(4, M, hidden), *rbm_couplings(4, M, hidden)], cse=True)
    A = sp.lambdify([list(theta)], rbm_jacobian(4, M, hidden), cse=True)
    model = RBM(4, M, hidden)
    for th in np.random.default_rng(4).uniform(-THETA_BOUND, THETA_BOUND, (5, model.n_params)):
        assert_close(np.array(J(th), dtype=np.float64), model.couplings(th))
        assert_close(np.array(A(th), dtype=np.float64), model.jacobian(th))


def test_exact_rational_target_at_the_origin():
    """At theta = 0 the model is uniform: r = m(q) exactly and theta-dot = A(0)^T m(q)."""
    q = [sp.Rational(1, 2), sp.Rational(1, 4), sp.Rational(1, 8), sp.Rational(1, 8)]
    sub = target_substitution(q)
    m = moment_symbols(2)
    assert [sub[x] for x in m] == [sp.Rational(1, 4), sp.Rational(1, 2), sp.Rational(1, 4)]
    for hidden in HIDDEN:
        d = rbm_derivation(2, 1, hidden)
        origin = {x: sp.Integer(0) for x in d.theta}
        r = d.r.xreplace(origin).xreplace(sub).applyfunc(sp.simplify)
        assert list(r) == [sub[x] for x in m]
        grad = d.grad.xreplace(origin).xreplace(sub).applyfunc(sp.simplify)
        expected = d.A.xreplace(origin).T * sp.Matrix([sub[x] for x in m])
        assert grad == expected.applyfunc(sp.simplify)


# --------------------------------------------------------------------------- parity with numeric routes


@pytest.mark.parametrize(("N", "M", "hidden"), CASES)
def test_twin_matches_numeric_routes(N, M, hidden):
    """J, A (RBM) and r, L, grad L, Hess L (dsb_verifier.theory.likelihood) agree with the lambdified twin (C1, C4)."""
    twin, model = lambdify_rbm(N, M, hidden), RBM(N, M, hidden)

    @given(theta=thetas(N, M), q=distributions(N, min_log10=-3))
    def check(theta, q):
        assert_close(twin.couplings(theta), model.couplings(theta))
        assert_close(twin.jacobian(theta), model.jacobian(theta))
        assert_close(twin.residual(theta, q), residual(model, theta, q))
        assert_close(twin.loglik(theta, q), loglik(model, theta, q))
        assert_close(twin.grad_loglik(theta, q), grad_loglik(model, theta, q))
        assert_close(twin.hessian(theta, q), exact_hessian(model, theta, q))

    check()


# --------------------------------------------------------------------------- self-consistency


def central_difference(f, x, h):
    """Jacobian of ``f`` at ``x`` by central differences, shape ``f(x).shape + (len(x),)``."""
    cols = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h))
    return np.stack(cols, axis=-1)


@pytest.mark.parametrize(("N", "M", "hidden"), [(2, 2, "spin"), (2, 2, "bit"), (3, 2, "spin"), (3, 2, "bit")])
def test_twin_derivatives_match_its_own_finite_differences(N, M, hidden):
    """A = dJ/dtheta, grad = dL/dtheta, Hess = d grad/dtheta, J-dot = d J(theta + t grad)/dt at t = 0."""
    twin = lambdify_rbm(N, M, hidden)

    @given(theta=thetas(N, M), q=distributions(N, min_log10=-3))
    @settings(max_examples=20)
    def check(theta, q):
        h = FD_STEP * THETA_BOUND
        assert_close(twin.jacobian(theta), central_difference(twin.couplings, theta, h)[1:], FD_RTOL)
        grad = twin.grad_loglik(theta, q)
        assert_close(grad, central_difference(lambda t: twin.loglik(t, q), theta, h), FD_RTOL)
        assert_close(
            twin.hessian(theta, q), central_difference(lambda t: twin.grad_loglik(t, q), theta, h), FD_RTOL
        )
        g = grad / max(1.0, float(np.linalg.norm(grad)))
        along = central_difference(lambda t: twin.couplings(theta + t[0] * g), np.zeros(1), h)[1:, 0]
        assert_close(twin.coupling_flow(theta, q) / max(1.0, float(np.linalg.norm(grad))), along, FD_RTOL)

    check()


@pytest.mark.parametrize("hidden", HIDDEN)
def test_flow_is_the_gradient_of_the_likelihood_expression(hidden):
    """A^T r (the flow) equals sympy's gradient of L; A A^T r equals the stored J-dot (N = 2, M = 2)."""
    d, twin = rbm_derivation(2, 2, hidden), lambdify_rbm(2, 2, hidden)
    args = [list(d.theta), list(d.m)]
    dL = sp.lambdify(args, [sp.diff(d.L, x) for x in d.theta], cse=True)
    J_dot = sp.lambdify(args, list(d.J_dot), cse=True)
    H = np.array(symbolic_characters(2).tolist(), dtype=np.float64)
    rng = np.random.default_rng(7)
    for _ in range(5):
        theta = rng.uniform(-THETA_BOUND, THETA_BOUND, len(d.theta))
        q = rng.dirichlet(np.ones(4))
        m = (H @ q)[1:]
        assert_close(np.array(dL(theta, m), dtype=np.float64), twin.grad_loglik(theta, q))
        assert_close(np.array(J_dot(theta, m), dtype=np.float64), twin.coupling_flow(theta, q))


@pytest.mark.parametrize(("N", "M", "hidden"), [(2, 1, "spin"), (2, 2, "bit"), (3, 2, "spin"), (3, 1, "bit")])
def test_hessian_at_a_data_consistent_point_is_minus_AtFA(N, M, hidden):
    """Claim C4: with q = p_theta, grad L = 0 and Hess L = -A^T F A (F from the symbolic Fisher twin)."""
    twin, model, fisher = lambdify_rbm(N, M, hidden), RBM(N, M, hidden), lambdify_twin(N)

    @given(theta=thetas(N, M))
    @settings(max_examples=30)
    def check(theta):
        q = model.prob(theta)
        A = twin.jacobian(theta)
        F = fisher.fisher(twin.couplings(theta))
        Hs = twin.hessian(theta, q)
        assert_close(twin.grad_loglik(theta, q), np.zeros(len(theta)))
        assert_close(Hs, -A.T @ F @ A)
        assert np.max(np.linalg.eigvalsh(Hs)) <= SYMBOLIC_RTOL * max(1.0, float(np.max(np.abs(Hs))))

    check()


def test_negative_controls():
    """The checks above can fail: away from q = p_theta the residual term of the Hessian is
    nonzero, and the twin of the other hidden kind does not match the numeric RBM."""
    rng = np.random.default_rng(3)
    twin, model, fisher = lambdify_rbm(3, 2, "spin"), RBM(3, 2, "spin"), lambdify_twin(3)
    theta = rng.uniform(-THETA_BOUND, THETA_BOUND, model.n_params)
    q = rng.dirichlet(np.ones(8))
    A = twin.jacobian(theta)
    gauss_newton = -A.T @ fisher.fisher(twin.couplings(theta)) @ A
    assert np.max(np.abs(twin.hessian(theta, q) - gauss_newton)) > 1e-3
    with pytest.raises(AssertionError):
        assert_close(lambdify_rbm(3, 2, "bit").couplings(theta), model.couplings(theta))


@pytest.mark.parametrize("hidden", HIDDEN)
def test_independent_site_point_is_stationary_but_spurious(hidden):
    """Claim C3: W = 0 with matched magnetisations has A^T r = 0 while r != 0 (a correlated target)."""
    twin, model = lambdify_rbm(3, 2, hidden), RBM(3, 2, hidden)

    @given(q=distributions(3, min_log10=-3), c=hnp.arrays(np.float64, 2, elements=st.floats(-2, 2)))
    @settings(max_examples=30)
    def check(q, c):
        theta = model.fields_matching(q, c=c)
        r = twin.residual(theta, q)
        assert_close(twin.grad_loglik(theta, q), np.zeros(len(theta)))
        assert_close(r[[0, 1, 3]], np.zeros(3))  # the order-1 moments S = 1, 2, 4 match
        assert_close(r, residual(model, theta, q))

    check()


# --------------------------------------------------------------------------- LaTeX


@pytest.mark.parametrize(("N", "M", "hidden"), [(1, 1, "spin"), (2, 1, "bit"), (3, 2, "bit")])
def test_latex_covers_every_object(N, M, hidden):
    latex = rbm_derivation_latex(N, M, hidden)
    assert set(latex) == LATEX_KEYS
    assert all(isinstance(v, str) and v for v in latex.values())
    assert r"\cosh" in latex["couplings"] and r"\tanh" in latex["jacobian"]
    assert r"\log" in latex["loglik"] and "r_{0}" in latex["flow_theta"]
    assert latex["couplings"].count("&=") == 2**N - 1
    assert latex["flow_theta"].count("&=") == N + M + N * M
    kind = r"2 \cosh" if hidden == "spin" else "e^{"
    assert kind in latex["neg_energy"]


def test_latex_of_the_zero_bias_pairwise_coupling():
    _, _, W = params(2, 1)
    expected = sp.log(sp.cosh(W[0][0] + W[1][0]) / sp.cosh(W[0][0] - W[1][0])) / 2
    latex = rbm_derivation_latex(2, 1, "spin")["couplings_zero_bias"]
    assert rf"J_{{01}} &= {sp.latex(expected)}" in latex


# --------------------------------------------------------------------------- exact messages and LaTeX layout


@pytest.mark.parametrize(
    ("build", "what"),
    [
        (rbm_neg_energy, "energy"),
        (rbm_couplings, "couplings"),
        (rbm_log_partition, "log-partition"),
        (rbm_jacobian, "Jacobian"),
    ],
)
def test_closed_form_refusal_names_the_object(build, what):
    """The refusal says which symbolic object was asked for, and the accepted range."""
    message = f"N must be between 1 and 4 for the symbolic RBM {what}, got 5"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        build(5, 1, "spin")


def test_target_substitution_inexact_refusal_is_the_documented_sentence():
    message = "q must be exact: every entry an Integer or Rational (use sympy.Rational)"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        target_substitution([sp.Float(0.5), sp.Rational(1, 2)])


def _aligned_rows(latex: str) -> list[tuple[str, str]]:
    """``(lhs, rhs)`` rows of one ``aligned`` block, checking its frame and one ``&=`` per row."""
    head, tail = "\\begin{aligned}\n", "\n\\end{aligned}"
    assert latex.startswith(head) and latex.endswith(tail), latex[:40]
    rows = latex[len(head) : -len(tail)].split(" \\\\\n")
    assert all(row.count(" &= ") == 1 for row in rows), rows
    return [tuple(row.split(" &= ")) for row in rows]


def test_latex_lists_are_aligned_blocks():
    """N = 2, M = 1: three couplings, one aligned row each, in subset order J_0, J_1, J_01."""
    latex = rbm_derivation_latex(2, 1, "spin")
    rows = _aligned_rows(latex["couplings"])
    assert [lhs for lhs, _ in rows] == ["J_{0}", "J_{1}", "J_{01}"]
    assert latex["couplings_zero_bias"].startswith(r"c = 0:\quad \begin{aligned}")


@pytest.mark.parametrize(("key", "lhs"), [("kernel", r"K = A A^{\top}"), ("hessian", r"\nabla^2_\theta L")])
def test_cse_latex_lists_definitions_then_the_result(key, lhs):
    """Smallest case (N = M = 1): rows x_0, x_1, ... (each used later), then the named result."""
    rows = _aligned_rows(rbm_derivation_latex(1, 1, "spin")[key])
    *defs, (result_lhs, result_rhs) = rows
    assert result_lhs == lhs and result_rhs.startswith(r"\left[\begin{matrix}")
    assert len(defs) >= 1
    assert [name for name, _ in defs] == [f"x_{{{k}}}" for k in range(len(defs))]
    for k, (name, _) in enumerate(defs):
        later = " ".join(rhs for _, rhs in rows[k + 1 :])
        assert name in later, f"{name} is defined but never used"
    assert "W_{0,0}" in " ".join(rhs for _, rhs in defs)


@pytest.mark.parametrize("N", [0, 5])
def test_moment_symbols_refusal_names_the_moments_and_the_range(N):
    message = f"N must be between 1 and 4 for the symbolic RBM moments, got {N}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        moment_symbols(N)


def test_twin_accepts_sum_abs_theta_equal_to_the_bound_and_refuses_just_above():
    """|theta|_1 = MAX_TWIN_ABS_INPUT is accepted (and still matches the numeric RBM); above it is refused."""
    twin, model = lambdify_rbm(2, 1, "spin"), RBM(2, 1, "spin")
    theta = np.array([100.0, -100.0, 50.0, 0.0, 50.0])
    assert np.abs(theta).sum() == MAX_TWIN_ABS_INPUT
    np.testing.assert_allclose(twin.couplings(theta), model.couplings(theta), rtol=1e-12, atol=1e-12)
    above = theta.copy()
    above[4] += 1e-12  # |theta|_1 = 300 + 1e-12 (an ulp at 300 is 6e-14)
    assert np.abs(above).sum() > MAX_TWIN_ABS_INPUT
    with pytest.raises(ValueError, match=r"^sum_j \|theta_j\| = 300 exceeds 300: the symbolic twin"):
        twin.couplings(above)
