"""RBM files -> spin RBM (exact change of units), the Gaussian approximation, and sample loading."""

import itertools
import re
import sys

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks.cli.io import (
    HDF5_HINT,
    InputError,
    default_pseudo_count,
    load_rbm,
    load_samples,
    load_target,
    parse_columns,
)
from dsb_verifier.theory.rbm.gaussian import (
    GRID_SPACING,
    GaussianComparison,
    compare_gaussian,
    conditioned_couplings,
)
from dsb_verifier.theory.rbm.io import RBMParams, _affine_bits_of_spins, parse_units, rbm_from_params
from dsb_verifier.theory.tolerances import ROUNDTRIP_RTOL, transform_atol
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import logsumexp

h5py = pytest.importorskip("h5py")

UNIT_VALUES = {"bernoulli": (0, 1), "spin": (-1, 1)}


def _brute_force_log_marginal(params: RBMParams) -> tuple[np.ndarray, np.ndarray]:
    """All visible configurations (file units) and log p(v), summing exp(-E(v, h)) over every h."""
    W, b, d = params.weight_matrix, params.vbias, params.hbias
    v = np.array(list(itertools.product(UNIT_VALUES[params.visible], repeat=params.n_visible)), float)
    h = np.array(list(itertools.product(UNIT_VALUES[params.hidden], repeat=params.n_hidden)), float)
    neg_E = (v @ b)[:, None] + (h @ d)[None, :] + v @ W @ h.T  # (2^Nv, 2^Nh)
    logp = logsumexp(neg_E, axis=1)
    return v, logp - logsumexp(logp)


def _state_of(v: np.ndarray, visible: str) -> np.ndarray:
    """State index of file-unit rows through the project's one mapping (spins_from_bits)."""
    s = T.spins_from_bits(v.astype(np.int64)) if visible == "bernoulli" else v.astype(np.int8)
    return T.state_index(s)


@given(
    Nv=st.integers(1, 5),
    Nh=st.integers(1, 3),
    units=st.sampled_from(["bernoulli", "spin", "bernoulli,spin", "spin,bernoulli"]),
    scale=st.floats(0.05, 3.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_conversion_matches_brute_force_marginal(Nv, Nh, units, scale, seed):
    rng = np.random.default_rng(seed)
    visible, hidden = parse_units(units)
    params = RBMParams(
        scale * rng.standard_normal((Nv, Nh)),
        scale * rng.standard_normal(Nv),
        scale * rng.standard_normal(Nh),
        visible=visible,
        hidden=hidden,
    )
    v, logp = _brute_force_log_marginal(params)
    model, theta = rbm_from_params(params)
    assert model.hidden == ("bit" if hidden == "bernoulli" else "spin")
    log_model = model.log_prob(theta)[_state_of(v, visible)]
    np.testing.assert_allclose(log_model, logp, rtol=ROUNDTRIP_RTOL, atol=1e-12)


def test_bernoulli_conversion_formula():
    rng = np.random.default_rng(0)
    W, b, d = rng.standard_normal((3, 2)), rng.standard_normal(3), rng.standard_normal(2)
    a, c, Wp = RBMParams(W, b, d).spin_parameters()
    np.testing.assert_allclose(a, b / 2)
    np.testing.assert_allclose(c, d + W.sum(axis=0) / 2)
    np.testing.assert_allclose(Wp, W / 2)
    a, c, Wp = RBMParams(W, b, d, visible="spin").spin_parameters()
    np.testing.assert_array_equal(Wp, W)


def test_affine_map_is_the_projects_mapping():
    alpha, beta = _affine_bits_of_spins()
    s = np.array([-1, 1])
    np.testing.assert_array_equal(alpha + beta * s, T.bits_from_spins(s))
    np.testing.assert_array_equal(T.spins_from_bits(alpha + beta * s), s)


def test_x_one_is_spin_up_in_converted_model():
    # a single visible unit with a large positive vbias is mostly x = 1, i.e. spin up (state 0)
    model, theta = rbm_from_params(RBMParams(np.zeros((1, 1)), np.array([4.0]), np.zeros(1)))
    assert model.prob(theta)[0] > 0.98  # state 0 is s = +1
    assert model.couplings(theta)[1] > 0  # a positive field on spin 0


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("bernoulli", ("bernoulli", "bernoulli")),
        ("Spin", ("spin", "spin")),
        ("bernoulli, spin", ("bernoulli", "spin")),
    ],
)
def test_parse_units(spec, expected):
    assert parse_units(spec) == expected


@pytest.mark.parametrize("spec", ["ising", "bernoulli,spin,spin", "", 3])
def test_parse_units_refuses(spec):
    with pytest.raises(ValueError, match="units must be"):
        parse_units(spec)


@pytest.mark.parametrize(
    ("W", "b", "d", "message"),
    [
        (np.zeros(3), np.zeros(3), np.zeros(1), r"weight_matrix must have shape \(Nv, Nh\)"),
        (np.zeros((3, 2)), np.zeros(4), np.zeros(2), r"vbias must have shape \(Nv,\) = \(3,\)"),
        (np.zeros((3, 2)), np.zeros(3), np.zeros(3), r"hbias must have shape \(Nh,\) = \(2,\)"),
        (np.full((3, 2), np.nan), np.zeros(3), np.zeros(2), "weight_matrix must be finite"),
    ],
)
def test_params_validation(W, b, d, message):
    with pytest.raises(ValueError, match=message):
        RBMParams(W, b, d)


# ---- Gaussian approximation ----------------------------------------------------
@pytest.mark.parametrize("hidden", ["bit", "spin"])
def test_exact_input_law_recovers_couplings(hidden):
    rng = np.random.default_rng(3)
    model = T.RBM(6, 4, hidden=hidden)
    theta = rng.standard_normal(model.n_params)
    J = model.couplings(theta)
    Jc = conditioned_couplings(model, theta, 6, input_law="exact")
    np.testing.assert_allclose(Jc[1:], J[1:], rtol=0, atol=transform_atol(6, 10.0))


def test_gaussian_quadrature_converged():
    rng = np.random.default_rng(4)
    model = T.RBM(8, 5, hidden="bit")
    theta = 1.5 * rng.standard_normal(model.n_params)
    J = conditioned_couplings(model, theta, 3)
    J_fine = conditioned_couplings(model, theta, 3, spacing=GRID_SPACING / 3)
    np.testing.assert_allclose(J, J_fine, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("hidden", "scale"), [("bit", 0.05), ("bit", 6.0), ("spin", 0.7), ("spin", 6.0)])
def test_gaussian_quadrature_against_scipy_quad(hidden, scale):
    # one hidden unit, N = 3: J_{0} and J_{01} as 1-D Gaussian integrals done by scipy.integrate.quad
    from scipy.integrate import quad

    a, c, W = np.array([0.3, -0.2, 0.1]), np.array([0.4]), scale * np.array([[1.0], [-0.8], [0.6]])
    model = T.RBM(3, 1, hidden=hidden)
    J = conditioned_couplings(model, model.pack(a=a, c=c, W=W), 2)
    f = (lambda x: np.logaddexp(0.0, x)) if hidden == "bit" else (lambda x: np.logaddexp(x, -x))
    w0, w1, w2 = W[:, 0]

    def gauss_mean(g, sigma):
        val, _ = quad(lambda x: g(x) * np.exp(-0.5 * (x / sigma) ** 2), -12 * sigma, 12 * sigma, limit=400)
        return val / (sigma * np.sqrt(2 * np.pi))

    J0 = a[0] + gauss_mean(lambda x: (f(c[0] + w0 + x) - f(c[0] - w0 + x)) / 2, np.hypot(w1, w2))

    def d2(x):
        e = c[0] + x
        return (f(e + w0 + w1) - f(e + w0 - w1) - f(e - w0 + w1) + f(e - w0 - w1)) / 4

    J01 = gauss_mean(d2, abs(w2))
    np.testing.assert_allclose([J[1], J[3]], [J0, J01], rtol=1e-9, atol=1e-13)


def _clt_case(N, seed, M=4):
    """Equal-magnitude random-sign weights with total input variance 1.5^2: the central-limit regime."""
    rng = np.random.default_rng(seed)
    model = T.RBM(N, M, hidden="bit")
    W = rng.choice([-1.0, 1.0], (N, M)) * 1.5 / np.sqrt(N)
    return model, model.pack(a=0.2 * rng.standard_normal(N), c=0.5 * rng.standard_normal(M), W=W)


def test_gaussian_error_shrinks_like_one_over_n():
    Ns = np.array([6, 8, 10, 12, 14])
    rel = np.array(
        [
            np.median([compare_gaussian(*_clt_case(N, s)).rel_frobenius_error for s in range(4)], axis=0)
            for N in Ns
        ]
    )
    slopes = [np.polyfit(np.log(Ns), np.log(rel[:, k]), 1)[0] for k in range(3)]
    # Edgeworth: the error is the fourth cumulant, -2 sum W^4 / (sum W^2)^2 = -2/N -> slope -1
    for k, slope in enumerate(slopes, 1):
        assert -1.6 < slope < -0.6, f"order {k}: log-log slope {slope:.2f} not near -1"
    assert np.all(rel[-1] < 0.05)


def test_gaussian_error_large_for_few_large_weights():
    rng = np.random.default_rng(0)
    N, M = 12, 6
    W = np.zeros((N, M))
    for mu in range(M):  # each hidden unit sees 4 visible units with weight +-4: far from Gaussian
        W[rng.choice(N, 4, replace=False), mu] = 4.0 * rng.choice([-1.0, 1.0], 4)
    model = T.RBM(N, M, hidden="bit")
    cmp = compare_gaussian(model, model.pack(a=np.zeros(N), c=rng.standard_normal(M), W=W))
    assert cmp.rel_frobenius_error[2] > 0.3
    assert cmp.max_abs_error[1] > 1e-3


def test_vanishing_exact_order_reports_zero_relative_error():
    # every hidden unit sees exactly two spins: no three-body couplings, pairs are exact (X = 0)
    N, M = 6, 3
    W = np.zeros((N, M))
    for mu in range(M):
        W[[2 * mu, 2 * mu + 1], mu] = [3.0, -2.0]
    model = T.RBM(N, M, hidden="bit")
    cmp = compare_gaussian(model, model.pack(a=np.zeros(N), c=np.ones(M), W=W))
    assert cmp.exact_norm[2] < 1e-12 and cmp.rel_frobenius_error[2] == 0.0
    assert cmp.rel_frobenius_error[1] == 0.0 and cmp.rel_frobenius_error[0] > 1e-3


def test_comparison_result_checks_itself():
    model, theta = _clt_case(6, 0)
    cmp = compare_gaussian(model, theta)
    assert isinstance(cmp, GaussianComparison) and cmp.orders == (1, 2, 3)
    assert cmp.to_json()["orders"] == [1, 2, 3]
    with pytest.raises(ValueError, match="max_abs_error must be 3"):
        GaussianComparison((1, 2, 3), np.zeros(2), np.zeros(3), np.ones(3), cmp.J_exact, cmp.J_gaussian, 0.1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_order": 0}, "max_order must be an integer in"),
        ({"input_law": "poisson"}, "input_law must be one of"),
        ({"spacing": 0.0}, r"spacing must be a number in \(0, 1\]"),
    ],
)
def test_conditioned_couplings_validation(kwargs, message):
    model, theta = _clt_case(4, 0)
    with pytest.raises(ValueError, match=message):
        conditioned_couplings(model, theta, **kwargs)


# ---- files --------------------------------------------------------------------
def _write_rbms_h5(path, updates, Nv=4, Nh=3, old_layout=False, model_type=b"BBRBM", seed=0):
    rng = np.random.default_rng(seed)
    arrays = {}
    with h5py.File(path, "w") as f:
        if model_type is not None:
            f["model_type"] = model_type
        for n in updates:
            g = f.create_group(f"update_{n}")
            dst = g if old_layout else g.create_group("params")
            arrays[n] = (rng.standard_normal((Nv, Nh)), rng.standard_normal(Nv), rng.standard_normal(Nh))
            dst["weight_matrix"], dst["vbias"], dst["hbias"] = arrays[n]
            g["time"] = float(n)
    return arrays


@pytest.mark.parametrize("old_layout", [False, True])
def test_hdf5_checkpoints(tmp_path, old_layout):
    path = tmp_path / "rbm.h5"
    arrays = _write_rbms_h5(path, [10, 0, 3], old_layout=old_layout)
    last = load_rbm(path)
    assert last.checkpoints == (10,) and last.format == "hdf5" and last.units_source == "file"
    np.testing.assert_array_equal(last.params[0].weight_matrix, arrays[10][0])
    allc = load_rbm(path, all_checkpoints=True)
    assert allc.checkpoints == (0, 3, 10)
    np.testing.assert_array_equal(allc.params[1].hbias, arrays[3][2])
    assert load_rbm(path, checkpoint=3).params[0].visible == "bernoulli"
    with pytest.raises(InputError, match=r"no checkpoint update_7; the file has 3 checkpoint\(s\): 0, 3, 10"):
        load_rbm(path, checkpoint=7)


def test_hdf5_model_types(tmp_path):
    path = tmp_path / "ii.h5"
    _write_rbms_h5(path, [1], model_type=b"IIRBM")
    p = load_rbm(path).params[0]
    assert (p.visible, p.hidden) == ("spin", "spin")
    with pytest.raises(InputError, match="units spin,spin but units bernoulli,bernoulli were requested"):
        load_rbm(path, units="bernoulli")
    _write_rbms_h5(tmp_path / "p.h5", [1], model_type=b"PBRBM")
    with pytest.raises(InputError, match="model_type 'PBRBM' is not supported"):
        load_rbm(tmp_path / "p.h5")
    _write_rbms_h5(tmp_path / "none.h5", [1], model_type=None)
    got = load_rbm(tmp_path / "none.h5", units="spin")
    assert got.units_source == "requested" and got.params[0].visible == "spin"
    assert load_rbm(tmp_path / "none.h5").units_source == "default"


def test_npz_units_key(tmp_path):
    W, b, d = np.ones((2, 3)), np.zeros(2), np.zeros(3)
    np.savez(tmp_path / "a.npz", weight_matrix=W, vbias=b, hbias=d, units="bernoulli,spin")
    p = load_rbm(tmp_path / "a.npz").params[0]
    assert (p.visible, p.hidden) == ("bernoulli", "spin")
    np.savez(tmp_path / "b.npz", weight_matrix=W, vbias=b, hbias=d, units="potts")
    with pytest.raises(InputError, match=r"b\.npz: key 'units': units must be"):
        load_rbm(tmp_path / "b.npz")
    with pytest.raises(InputError, match="has no checkpoints to select"):
        load_rbm(tmp_path / "a.npz", checkpoint=1)


def test_missing_h5py_names_the_extra(tmp_path, monkeypatch):
    path = tmp_path / "rbm.h5"
    _write_rbms_h5(path, [1])
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(InputError, match="needs h5py") as exc:
        load_rbm(path)
    assert HDF5_HINT in str(exc.value) and "\n" not in str(exc.value)


# ---- samples ------------------------------------------------------------------
def _bits(M=50, N=5, seed=0):
    return (np.random.default_rng(seed).random((M, N)) < 0.3).astype(np.int64)


def test_samples_formats_agree(tmp_path):
    x = _bits()
    np.save(tmp_path / "x.npy", x)
    np.savetxt(tmp_path / "x.txt", 2 * x - 1, fmt="%d", header="spins")
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["samples"] = x.astype(np.uint8)
    q = T.empirical(x, pseudo_count=default_pseudo_count(5))
    for name in ("x.npy", "x.txt", "x.h5"):
        np.testing.assert_allclose(load_target(tmp_path / name), q, rtol=1e-14)
    assert load_samples(tmp_path / "x.txt").values == "spin"


def test_columns_and_pseudo_count(tmp_path):
    x = _bits(N=6)
    np.save(tmp_path / "x.npy", x)
    q = load_target(tmp_path / "x.npy", parse_columns("4,0,2"), 0.5)
    np.testing.assert_allclose(q, T.empirical(x[:, [4, 0, 2]], pseudo_count=0.5))
    # default alpha = 2^-N: one virtual sample spread uniformly, q = (M f + 2^-N) / (M + 1)
    q0 = load_target(tmp_path / "x.npy", (1, 3))
    f = T.empirical(x[:, [1, 3]], pseudo_count=1e-300)
    np.testing.assert_allclose(q0, (x.shape[0] * f + 0.25) / (x.shape[0] + 1), rtol=1e-12)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("0 1\n1 2\n", r"found 2\.0 at row 1, column 1"),
        ("0 1\n-1 1\n", "mix 0/1 and ±1"),
        ("0 1\n1 x\n", "not a whitespace-separated table"),
        ("0 1 1\n1 0\n", "not a whitespace-separated table"),
    ],
)
def test_bad_text_samples(tmp_path, content, message):
    (tmp_path / "s.txt").write_text(content)
    with pytest.raises(InputError, match=message):
        load_samples(tmp_path / "s.txt")


def test_sample_limits(tmp_path):
    np.save(tmp_path / "wide.npy", np.zeros((3, 21), dtype=np.int8))
    with pytest.raises(InputError, match="21 variables is too many"):
        load_samples(tmp_path / "wide.npy")
    assert load_samples(tmp_path / "wide.npy", columns=(0, 20)).n_variables == 2
    with pytest.raises(InputError, match="column 21 does not exist"):
        load_samples(tmp_path / "wide.npy", columns=(21,))
    with pytest.raises(InputError, match="appears more than once"):
        parse_columns("1,1")
    with pytest.raises(InputError, match="comma-separated non-negative integers"):
        parse_columns("a,1")
    with pytest.raises(
        InputError, match=r"wide\.npy: no columns selected; give at least one of the 21 column"
    ):
        load_samples(tmp_path / "wide.npy", columns=())
    with pytest.raises(
        InputError, match=r"wide\.npy: columns must be distinct; 3 is selected more than once$"
    ):
        load_samples(tmp_path / "wide.npy", columns=(3, 0, 3))


def test_text_samples_refusal_quotes_the_parser_detail(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("0 1\n1 x\n")
    with pytest.raises(InputError) as info:
        load_samples(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: not a whitespace-separated table of numbers (")
    assert "'x'" in msg and "None" not in msg  # numpy's reason, on one line


def test_hdf5_model_type_conflict_names_the_model_type_key(tmp_path):
    path = tmp_path / "m.h5"
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        f["model_type"] = b"BBRBM"
        g = f.create_group("update_1").create_group("params")
        g["weight_matrix"], g["vbias"], g["hbias"] = rng.standard_normal((2, 1)), np.zeros(2), np.zeros(1)
    message = (
        f"{path}: 'model_type' says units bernoulli,bernoulli but units spin,spin were requested; "
        "drop the request or fix the file"
    )
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        load_rbm(path, units="spin")


def test_params_are_stored_as_read_only_float64_copies():
    W, b, d = [[1, 2, 3], [4, 5, 6]], np.array([1, 2]), np.zeros(3, dtype=np.float32)
    params = RBMParams(W, b, d)
    for name, value in (("weight_matrix", W), ("vbias", b), ("hbias", d)):
        arr = getattr(params, name)
        assert isinstance(arr, np.ndarray) and arr.dtype == np.float64 and not arr.flags.writeable, name
        np.testing.assert_array_equal(arr, np.asarray(value, dtype=np.float64))
    assert not np.shares_memory(params.vbias, b)
