"""Model families (docs/theory.md §3): derivatives, couplings and Jacobians (C1), Hessians (C3/C4).

Every family is checked by two routes wherever two exist: analytic derivatives
against central finite differences, the fast-transform Jacobian against the
dense Hadamard route, the marginalised RBM against brute-force summation over
hidden configurations, the analytic one-layer tanh Hessian against complex step.
"""

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks.claims.strategies import distributions, n_spins
from dsb_verifier.theory.models import RBM, DirectModel, EnergyModel, TanhNetwork, TruncatedIsing, rbm_teacher
from dsb_verifier.theory.tolerances import EPS, FD_RTOL, ROUNDTRIP_RTOL, transform_atol
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import logsumexp

FAMILIES = ("direct", "truncated-2", "rbm-spin", "rbm-bit", "tanh-1", "tanh-2")

#: Central-difference step relative to the parameter size: EPS^(1/3) balances
#: truncation O(h^2) against rounding O(EPS / h).
FD_STEP = EPS ** (1 / 3)


def make_model(family: str, N: int, width: int) -> EnergyModel:
    if family == "direct":
        return DirectModel(N)
    if family == "truncated-2":
        return TruncatedIsing(N, min(2, N))
    if family == "rbm-spin":
        return RBM(N, width, hidden="spin")
    if family == "rbm-bit":
        return RBM(N, width, hidden="bit")
    if family == "tanh-1":
        return TanhNetwork(N, (width,))
    if family == "tanh-2":
        return TanhNetwork(N, (width, max(1, width - 1)))
    raise AssertionError(family)


def bounded_floats(bound: float) -> st.SearchStrategy[float]:
    return st.floats(-bound, bound, allow_nan=False, allow_infinity=False, allow_subnormal=False)


@st.composite
def model_and_theta(draw, family, max_n=5, bound=1.5):
    N = draw(n_spins(1, max_n))
    model = make_model(family, N, draw(st.integers(1, 3)))
    theta = draw(hnp.arrays(np.float64, model.n_params, elements=bounded_floats(bound)))
    return model, theta


def central_differences(f, theta):
    """``d f / d theta_j`` for a batched ``f: (..., P) -> (..., X)``; returns ``(P, X)``."""
    h = FD_STEP * max(1.0, float(np.abs(theta).max()))
    E = h * np.eye(theta.size)
    return (f(theta + E) - f(theta - E)) / (2 * h)


def assert_fd_close(analytic, fd):
    np.testing.assert_allclose(analytic, fd, rtol=FD_RTOL, atol=FD_RTOL * max(1.0, float(np.abs(fd).max())))


# ---- derivatives against finite differences --------------------------------


@pytest.mark.parametrize("family", FAMILIES)
@given(data=st.data())
def test_grad_neg_energy_matches_finite_differences(family, data):
    model, theta = data.draw(model_and_theta(family))
    G = model.grad_neg_energy(theta)
    assert G.shape == (model.n_params, 2**model.n_visible)
    assert_fd_close(G, central_differences(model.neg_energy, theta))


@pytest.mark.parametrize("family", FAMILIES)
@given(data=st.data())
def test_weighted_hessian_matches_finite_differences(family, data):
    """Claim C4 rests on this: sum_s w(s) d^2u/dtheta^2 for arbitrary weights w."""
    model, theta = data.draw(model_and_theta(family))
    w = data.draw(hnp.arrays(np.float64, 2**model.n_visible, elements=bounded_floats(1.0)))
    Hw = model.weighted_hessian(theta, w)
    assert Hw.shape == (model.n_params, model.n_params)
    np.testing.assert_allclose(Hw, Hw.T, rtol=0, atol=1e-12 * max(1.0, float(np.abs(Hw).max())))
    fd = central_differences(lambda th: model.grad_neg_energy(th) @ w, theta)
    assert_fd_close(Hw, fd)


@given(model_and_theta("tanh-1"), st.integers(0, 2**32 - 1))
def test_tanh_one_layer_hessian_analytic_equals_complex_step(mt, seed):
    model, theta = mt
    w = np.random.default_rng(seed).standard_normal(2**model.n_visible)
    analytic = model._hessian_one_layer(theta, w)
    cstep = model._hessian_complex_step(theta, w)
    np.testing.assert_allclose(cstep, analytic, rtol=0, atol=1e-13 * max(1.0, float(np.abs(analytic).max())))


@pytest.mark.parametrize("family", ["tanh-1", "tanh-2"])
@given(data=st.data())
def test_tanh_weighted_gradient_equals_contracted_gradient(family, data):
    model, theta = data.draw(model_and_theta(family))
    w = data.draw(hnp.arrays(np.float64, 2**model.n_visible, elements=bounded_floats(1.0)))
    np.testing.assert_allclose(
        model._weighted_grad(theta, w), model.grad_neg_energy(theta) @ w, rtol=ROUNDTRIP_RTOL, atol=1e-13
    )


# ---- couplings and Jacobians (Claim C1) -------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
@given(data=st.data())
def test_jacobian_fast_dense_and_finite_difference_routes(family, data):
    model, theta = data.draw(model_and_theta(family))
    N = model.n_visible
    A = model.jacobian(theta)
    assert A.shape == (2**N - 1, model.n_params)
    G = model.grad_neg_energy(theta)
    dense = (T.hadamard(N) @ G.T / 2**N)[1:]
    np.testing.assert_allclose(A, dense, rtol=0, atol=transform_atol(N, float(np.abs(G).max())))
    fd = central_differences(lambda th: model.couplings(th)[..., 1:], theta).T
    assert_fd_close(A, fd)


@pytest.mark.parametrize("family", FAMILIES)
@given(data=st.data())
def test_couplings_are_walsh_transform_of_neg_energy(family, data):
    model, theta = data.draw(model_and_theta(family))
    N = model.n_visible
    J = model.couplings(theta)
    logp = model.log_prob(theta)
    u = model.neg_energy(theta)
    # J comes from log p, the other route from u = log p + log Z: both sizes enter the rounding
    atol = transform_atol(N, max(float(np.abs(logp).max()), float(np.abs(u).max())))
    np.testing.assert_allclose(T.wht(J), logp, rtol=0, atol=atol)
    np.testing.assert_allclose(J[1:], (T.wht(u) / 2**N)[1:], rtol=0, atol=atol)
    np.testing.assert_allclose(J, T.couplings(model.prob(theta)), rtol=0, atol=atol)


@pytest.mark.parametrize("family", FAMILIES)
@given(data=st.data())
@settings(max_examples=20)
def test_batched_equals_loop(family, data):
    N = data.draw(n_spins(1, 4))
    model = make_model(family, N, data.draw(st.integers(1, 3)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    thetas = rng.uniform(-1.5, 1.5, size=(2, 3, model.n_params))
    for name in ("neg_energy", "grad_neg_energy", "couplings", "jacobian"):
        batched = getattr(model, name)(thetas)
        loop = np.array([[getattr(model, name)(thetas[i, j]) for j in range(3)] for i in range(2)])
        assert batched.shape == loop.shape
        np.testing.assert_allclose(batched, loop, rtol=ROUNDTRIP_RTOL, atol=1e-12, err_msg=name)


# ---- RBM-specific -----------------------------------------------------------


def brute_force_rbm(model: RBM, theta):
    """``u(s) = log sum_h exp(a.s + c.h + s^T W h)`` by explicit hidden enumeration."""
    b = model.unpack(theta)
    s = T.states(model.n_visible).astype(float)
    h = T.states(model.n_hidden).astype(float)
    if model.hidden == "bit":
        h = (1.0 - h) / 2.0  # hidden bits in {0, 1}
    joint = (s @ b["a"])[:, None] + (h @ b["c"])[None, :] + s @ b["W"] @ h.T
    return logsumexp(joint, axis=1)


@pytest.mark.parametrize("hidden", ["spin", "bit"])
@given(N=st.integers(1, 3), M=st.integers(1, 2), data=st.data())
def test_rbm_marginal_equals_hidden_enumeration(hidden, N, M, data):
    model = RBM(N, M, hidden=hidden)
    theta = data.draw(hnp.arrays(np.float64, model.n_params, elements=bounded_floats(3.0)))
    u = model.neg_energy(theta)
    np.testing.assert_allclose(u, brute_force_rbm(model, theta), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("family", ["rbm-spin", "rbm-bit"])
@given(data=st.data())
def test_rbm_shifted_jacobian_equals_generic_route(family, data):
    """RBM.jacobian (M transforms + subset shifts) == EnergyModel.jacobian (P transforms)."""
    model, theta = data.draw(model_and_theta(family, bound=3.0))
    batch = np.stack([theta, -theta])
    generic = EnergyModel.jacobian(model, batch)
    atol = transform_atol(model.n_visible, 1.0)  # |f'| <= 1
    np.testing.assert_allclose(model.jacobian(batch), generic, rtol=0, atol=atol)


@given(data=st.data())
def test_rbm_bit_equals_rescaled_spin_rbm(data):
    """log(1 + e^h) = h/2 + log 2cosh(h/2): bit(a, c, W) = spin(a + W1/2, c/2, W/2) + sum(c)/2."""
    bit, theta = data.draw(model_and_theta("rbm-bit", bound=3.0))
    N, M = bit.n_visible, bit.n_hidden
    b = bit.unpack(theta)
    spin = RBM(N, M, hidden="spin")
    theta_spin = spin.pack(a=b["a"] + b["W"].sum(axis=1) / 2, c=b["c"] / 2, W=b["W"] / 2)
    diff = bit.neg_energy(theta) - spin.neg_energy(theta_spin)
    np.testing.assert_allclose(diff, np.full(2**N, b["c"].sum() / 2), rtol=0, atol=1e-12)
    np.testing.assert_allclose(bit.couplings(theta)[1:], spin.couplings(theta_spin)[1:], rtol=0, atol=1e-12)


def test_rbm_layout_is_a_c_W_row_major():
    N, M = 3, 2
    model = RBM(N, M)
    theta = np.arange(model.n_params, dtype=float)
    b = model.unpack(theta)
    np.testing.assert_array_equal(b["a"], theta[:N])
    np.testing.assert_array_equal(b["c"], theta[N : N + M])
    for i in range(N):
        for mu in range(M):
            assert b["W"][i, mu] == theta[N + M + i * M + mu]
    assert model.layout == (("a", (N,)), ("c", (M,)), ("W", (N, M)))
    assert (model.family, RBM(N, M, hidden="bit").family) == ("rbm-spin", "rbm-bit")


@pytest.mark.parametrize("family", ["rbm-spin", "rbm-bit", "tanh-1", "tanh-2"])
@pytest.mark.parametrize("seed", [0, 1])
def test_large_weights_stay_finite(family, seed):
    """|W| = 50: no overflow, NaN or inf anywhere; log_prob stays normalised."""
    N = 5
    model = make_model(family, N, 3)
    rng = np.random.default_rng(seed)
    theta = 50.0 * rng.choice([-1.0, 1.0], size=model.n_params)
    w = rng.standard_normal(2**N)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        results = {
            "neg_energy": model.neg_energy(theta),
            "grad": model.grad_neg_energy(theta),
            "couplings": model.couplings(theta),
            "jacobian": model.jacobian(theta),
            "weighted_hessian": model.weighted_hessian(theta, w),
        }
        logp = model.log_prob(theta)
    for name, value in results.items():
        assert np.all(np.isfinite(value)), name
    assert float(logsumexp(logp)) == pytest.approx(0.0, abs=1e-12)
    assert model.prob(theta).sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("hidden", ["spin", "bit"])
def test_large_weights_rbm_still_matches_enumeration(hidden):
    model = RBM(3, 2, hidden=hidden)
    theta = 50.0 * np.random.default_rng(3).choice([-1.0, 1.0], size=model.n_params)
    np.testing.assert_allclose(model.neg_energy(theta), brute_force_rbm(model, theta), rtol=1e-14, atol=0)


@pytest.mark.parametrize("hidden", ["spin", "bit"])
@given(q=distributions(max_n=5, min_log10=-6.0), M=st.integers(1, 3), c=bounded_floats(2.0))
def test_fields_matching_is_a_stationary_independent_point(hidden, q, M, c):
    """Claim C3's constructive spurious point: W = 0, magnetisations of q, A^T r = 0."""
    N = q.size.bit_length() - 1
    model = RBM(N, M, hidden=hidden)
    for cc in (None, np.full(M, c)):
        theta = model.fields_matching(q, c=cc)
        b = model.unpack(theta)
        np.testing.assert_array_equal(b["W"], 0.0)
        np.testing.assert_array_equal(b["c"], 0.0 if cc is None else cc)
        order1 = T.orders(N) == 1
        m_q, m_p = T.moments(q), T.moments(model.prob(theta))
        np.testing.assert_allclose(m_p[order1], m_q[order1], rtol=0, atol=1e-10)
        np.testing.assert_allclose(model.prob(theta), T.independent_sites(m_q[order1]), rtol=1e-9, atol=0)
        r = (m_q - m_p)[1:]
        np.testing.assert_allclose(model.jacobian(theta).T @ r, 0.0, rtol=0, atol=1e-10)


@pytest.mark.parametrize("hidden", ["spin", "bit"])
@pytest.mark.parametrize("seed", [0, 7])
def test_rbm_teacher_is_a_valid_target_of_its_own_model(hidden, seed):
    model, theta, q = rbm_teacher(4, 3, np.random.default_rng(seed), 0.8, hidden=hidden)
    assert (model.n_visible, model.n_hidden, model.hidden) == (4, 3, hidden)
    assert np.all(q > 0)
    assert q.sum() == pytest.approx(1.0, abs=1e-14)
    np.testing.assert_array_equal(q, model.prob(theta))
    np.testing.assert_array_equal(model.check_target(q), q)
    _, theta2, _ = rbm_teacher(4, 3, np.random.default_rng(seed), 0.8, hidden=hidden)
    np.testing.assert_array_equal(theta, theta2)


@pytest.mark.parametrize("family", FAMILIES)
def test_init_recipe(family):
    model = make_model(family, 4, 3)
    t1 = model.init(np.random.default_rng(5), 1.0)
    assert t1.shape == (model.n_params,) and t1.dtype == np.float64
    np.testing.assert_allclose(model.init(np.random.default_rng(5), 0.25), 0.25 * t1, rtol=1e-15)
    np.testing.assert_array_equal(model.init(np.random.default_rng(9), 0.0), 0.0)


def test_tanh_layout_and_family():
    one, two = TanhNetwork(3, (4,)), TanhNetwork(3, (4, 2))
    assert one.layout == (("W1", (4, 3)), ("b1", (4,)), ("v", (4,)))
    assert two.layout == (("W1", (4, 3)), ("b1", (4,)), ("W2", (2, 4)), ("b2", (2,)), ("v", (2,)))
    assert (one.family, two.family) == ("tanh-1", "tanh-2")
    assert (one.n_params, two.n_params) == (20, 16 + 10 + 2)


def test_tanh_two_layer_formula():
    model = TanhNetwork(3, (4, 2))
    theta = np.random.default_rng(2).standard_normal(model.n_params)
    b = model.unpack(theta)
    s = T.states(3).astype(float)
    expected = np.tanh(np.tanh(s @ b["W1"].T + b["b1"]) @ b["W2"].T + b["b2"]) @ b["v"]
    np.testing.assert_allclose(model.neg_energy(theta), expected, rtol=1e-14, atol=1e-14)


def test_exported_from_theory():
    for name in ("RBM", "TanhNetwork", "DirectModel", "TruncatedIsing", "EnergyModel"):
        assert getattr(T, name) is getattr(__import__("dsb_verifier.theory.models", fromlist=[name]), name)


# ---- validation -------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_bad_theta_and_target_are_refused(family):
    model = make_model(family, 3, 2)
    P = model.n_params
    with pytest.raises(ValueError, match=rf"theta must have last axis of length P={P}"):
        model.neg_energy(np.zeros(P + 1))
    with pytest.raises(ValueError, match="theta must be finite"):
        model.grad_neg_energy(np.full(P, np.nan))
    with pytest.raises(ValueError, match="real numeric"):
        model.neg_energy(np.zeros(P, dtype=complex))
    with pytest.raises(ValueError, match="target q describes N=4 spins but the model has n_visible=3"):
        model.check_target(np.full(16, 1 / 16))
    with pytest.raises(ValueError, match=r"w must have shape \(2\^N,\)"):
        model.weighted_hessian(np.zeros(P), np.ones(16))
    with pytest.raises(ValueError, match="weighted_hessian takes one theta"):
        model.weighted_hessian(np.zeros((2, P)), np.ones(8))
    with pytest.raises(ValueError, match=r"rng must be a numpy\.random\.Generator"):
        model.init(0, 1.0)
    with pytest.raises(ValueError, match="scale must be a finite number >= 0"):
        model.init(np.random.default_rng(0), -1.0)


@pytest.mark.parametrize("n_hidden", [0, -1, 2.0, True, "3"])
def test_rbm_refuses_bad_n_hidden(n_hidden):
    with pytest.raises(ValueError, match="n_hidden must be a positive integer"):
        RBM(3, n_hidden)


@pytest.mark.parametrize("hidden", ["foo", "Spin", None])
def test_rbm_refuses_bad_hidden_kind(hidden):
    with pytest.raises(ValueError, match="hidden must be 'spin' or 'bit'"):
        RBM(3, 2, hidden=hidden)


@pytest.mark.parametrize("hidden", [(), (0,), (3, -1), (2, 2, 2), "ab", 4, (2.5,)])
def test_tanh_refuses_bad_widths(hidden):
    with pytest.raises(ValueError, match="hidden must be a tuple of one or two positive integer widths"):
        TanhNetwork(3, hidden)


@pytest.mark.parametrize("max_order", [0, -1])
def test_truncated_refuses_order_zero(max_order):
    with pytest.raises(ValueError, match=r"max_order must be in \[1, N\]"):
        TruncatedIsing(3, max_order)


def test_fields_matching_refuses_bad_targets():
    model = RBM(3, 2)
    with pytest.raises(ValueError, match="target q describes N=2 spins"):
        model.fields_matching(np.full(4, 0.25))
    with pytest.raises(ValueError, match="strictly positive"):
        model.fields_matching(np.array([0.5, 0.5, 0, 0, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match="fields_matching takes one target"):
        model.fields_matching(np.full((2, 8), 1 / 8))
    with pytest.raises(ValueError, match=r"block 'c' must have shape \(2,\)"):
        model.fields_matching(np.full(8, 1 / 8), c=np.zeros(3))


def test_rbm_teacher_refuses_underflowing_scale():
    with pytest.raises(ValueError, match="underflow to 0"):
        rbm_teacher(5, 4, np.random.default_rng(0), 200.0)


@pytest.mark.parametrize("family", ["direct", "truncated", "rbm-spin", "rbm-bit", "tanh-1", "tanh-2"])
def test_weighted_grad_two_routes(family):
    """The O(2^N) weighted gradient equals du/dtheta @ w (the flow's hot path)."""
    from dsb_verifier.checks.claims._common import make_model

    fam = {"truncated": "truncated-2"}.get(family, family)
    model = make_model(fam, 4, width=3)
    rng = np.random.default_rng(11)
    theta = model.init(rng, 0.7)
    w = rng.standard_normal(16)
    np.testing.assert_allclose(
        model.weighted_grad(theta, w), model.grad_neg_energy(theta) @ w, rtol=1e-12, atol=1e-12
    )
    with pytest.raises(ValueError, match="w must have shape"):
        model.weighted_grad(theta, w[:8])


def test_weighted_grad_refuses_with_what_it_expects():
    m = RBM(3, 2)
    th = m.init(np.random.default_rng(0), 0.1)
    with pytest.raises(ValueError, match=r"^weighted_grad takes one theta of shape \(P,\), got \(2, 11\)$"):
        m.weighted_grad(np.stack([th, th]), np.zeros(8))
    with pytest.raises(ValueError, match=r"^w must have shape \(2\^N,\) = \(8,\), got \(4,\)$"):
        m.weighted_grad(th, np.zeros(4))
    with pytest.raises(ValueError, match=r"^w must be finite"):
        m.weighted_grad(th, np.full(8, np.nan))


def test_repr_names_family_size_and_parameters():
    assert repr(DirectModel(3)) == "DirectModel(n_visible=3, P=7)"
    assert repr(TruncatedIsing(3, 1)).startswith("TruncatedIsing(")


@pytest.mark.parametrize("model", [DirectModel(3), TruncatedIsing(3, 2)], ids=repr)
def test_params_from_couplings_round_trip_and_refusals(model):
    rng = np.random.default_rng(1)
    theta = model.init(rng, 0.5)
    J = model.couplings(theta)
    J[..., 0] = 123.0  # the normalisation entry is never a parameter
    np.testing.assert_allclose(model.params_from_couplings(J), theta, rtol=0, atol=1e-12)
    batch = np.stack([J, 2 * J])
    assert model.params_from_couplings(batch).shape == (2, model.n_params)
    with pytest.raises(ValueError, match=r"^J must have last axis 2\^N = 8, got \(4,\)$"):
        model.params_from_couplings(np.zeros(4))
    with pytest.raises(ValueError, match=r"^J must be finite"):
        model.params_from_couplings(np.full(8, np.inf))
    if isinstance(model, TruncatedIsing):
        bad = np.zeros(8)
        bad[7] = 0.1  # the 3-body coupling, outside a pairwise model
        with pytest.raises(ValueError, match=r"^J has nonzero couplings outside the subsets of Trunc"):
            model.params_from_couplings(bad)
        ok = np.zeros(8)
        ok[[1, 2, 3]] = 1.0  # fields and one pair are inside
        assert np.count_nonzero(model.params_from_couplings(ok)) == 3


def test_unpack_keeps_batch_axes_and_pack_inverts_it():
    m = RBM(3, 2)
    rng = np.random.default_rng(4)
    thetas = rng.normal(size=(4, 5, m.n_params))
    b = m.unpack(thetas)
    assert b["a"].shape == (4, 5, 3) and b["c"].shape == (4, 5, 2) and b["W"].shape == (4, 5, 3, 2)
    one = m.unpack(thetas[2, 3])
    np.testing.assert_array_equal(m.pack(**one), thetas[2, 3])
    np.testing.assert_array_equal(b["W"][2, 3], one["W"])
    with pytest.raises(ValueError, match=r"^pack needs exactly the blocks \['a', 'c', 'W'\]"):
        m.pack(a=one["a"], c=one["c"])
    with pytest.raises(ValueError, match=r"^block 'W' must have shape \(3, 2\), got \(2, 3\)$"):
        m.pack(a=one["a"], c=one["c"], W=one["W"].T)


@pytest.mark.parametrize("hidden", ["spin", "bit"])
def test_rbm_blocks_of_states_give_the_unblocked_result(hidden, monkeypatch):
    """Energy in blocks of states and Hessian sums in chunks: any block size, same numbers."""
    from dsb_verifier.theory.models import rbm as rbm_module

    m = RBM(5, 3, hidden=hidden)
    rng = np.random.default_rng(11)
    th = m.init(rng, 0.7)
    q = T.dirichlet_target(5, rng)
    u, H = m.neg_energy(th), T.exact_hessian(m, th, q)
    monkeypatch.setattr(rbm_module, "_STATE_BLOCK_ENTRIES", 7)  # blocks of 2 states, a ragged last one
    monkeypatch.setattr(rbm_module, "_HESS_CHUNK_ENTRIES", 3 * 16)  # several chunks of states
    np.testing.assert_allclose(m.neg_energy(th), u, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(T.exact_hessian(m, th, q), H, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("hidden", ["spin", "bit"])
def test_rbm_energy_is_exact_for_huge_hidden_fields(hidden):
    """log 2cosh(h) and softplus(h) in their stable forms for |h| ~ 1e3 (naive exp overflows)."""
    m = RBM(2, 1, hidden=hidden)
    th = m.pack(a=np.zeros(2), c=np.zeros(1), W=np.array([[-400.0], [-400.0]]))
    h = T.states(2) @ np.array([-400.0, -400.0])  # hidden field per state: -800, 0, 0, 800
    f = np.abs(h) + np.log1p(np.exp(-2 * np.abs(h))) if hidden == "spin" else np.logaddexp(0.0, h)
    np.testing.assert_allclose(m.neg_energy(th), f, rtol=1e-15, atol=1e-12)
    assert np.all(np.isfinite(m.log_prob(th)))
