"""Walsh core: conventions, transform identities, two routes (fast vs dense)."""

import math

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks.claims.strategies import n_spins
from dsb_verifier.theory.tolerances import transform_atol
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@st.composite
def batched_vectors(draw, max_n=8):
    N = draw(n_spins(1, max_n))
    lead = draw(st.sampled_from([(), (3,), (2, 2)]))
    return N, draw(hnp.arrays(np.float64, (*lead, 2**N), elements=finite))


def test_states_follow_the_convention():
    s = T.states(3)
    assert s.dtype == np.int8 and s.shape == (8, 3)
    # state b = 0b110 has bits 1 and 2 set: spins 1 and 2 are -1
    assert s[6].tolist() == [1, -1, -1]
    assert s[1].tolist() == [-1, 1, 1]


def test_state_index_inverts_states():
    for N in range(1, 9):
        np.testing.assert_array_equal(T.state_index(T.states(N)), np.arange(2**N))


def test_orders_are_popcounts():
    k = T.orders(5)
    assert k.tolist() == [bin(S).count("1") for S in range(32)]
    masks = T.order_masks(5)
    assert masks.sum(axis=1).tolist() == [math.comb(5, j) for j in range(6)]
    assert np.all(masks.sum(axis=0) == 1)


def test_subset_indices_round_trip():
    for S in range(2**5):
        assert T.subset_mask(T.subset_indices(S, 5), 5) == S
    assert T.subset_indices(0b1011, 4) == (0, 1, 3)


def test_characters_match_products_of_spins():
    N = 4
    s = T.states(N).astype(int)
    for S in range(2**N):
        idx = list(T.subset_indices(S, N))
        expected = np.prod(s[:, idx], axis=1) if idx else np.ones(2**N)
        np.testing.assert_array_equal(T.characters(S, N), expected)


def test_characters_multiply_by_xor():
    N = 5
    chi = T.characters(np.arange(2**N), N).astype(int)
    S, U = np.meshgrid(np.arange(2**N), np.arange(2**N), indexing="ij")
    np.testing.assert_array_equal(chi[S] * chi[U], chi[S ^ U])


def test_hadamard_squares_to_scaled_identity():
    for N in range(1, 8):
        H = T.hadamard(N)
        np.testing.assert_array_equal(H @ H, 2**N * np.eye(2**N))


@given(batched_vectors())
def test_fast_transform_equals_dense_matrix(case):
    N, f = case
    atol = transform_atol(N, float(np.max(np.abs(f), initial=1.0)))
    np.testing.assert_allclose(T.wht(f), f @ T.hadamard(N).T, rtol=0, atol=atol)


@given(batched_vectors(max_n=12))
def test_transform_twice_is_scaled_identity(case):
    N, f = case
    atol = transform_atol(N, float(np.max(np.abs(f), initial=1.0)))
    np.testing.assert_allclose(T.wht(T.wht(f)), 2**N * f, rtol=0, atol=2**N * atol)
    np.testing.assert_allclose(T.iwht(T.wht(f)), f, rtol=0, atol=atol)


@given(batched_vectors(max_n=12))
def test_parseval(case):
    N, f = case
    lhs = np.sum(T.wht(f) ** 2, axis=-1)
    rhs = 2**N * np.sum(f**2, axis=-1)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-300)


@given(batched_vectors(max_n=10))
def test_batched_transform_equals_loop(case):
    N, f = case
    flat = f.reshape(-1, 2**N)
    loop = np.stack([T.wht(row) for row in flat]).reshape(f.shape)
    np.testing.assert_allclose(T.wht(f), loop, rtol=1e-13, atol=transform_atol(N, 1e3))


def test_transform_of_delta_is_character_column():
    N = 6
    for b in (0, 5, 63):
        e = np.zeros(2**N)
        e[b] = 1.0
        np.testing.assert_array_equal(T.wht(e), T.characters(np.arange(2**N), N)[:, b])


def test_large_n_uses_all_blocks():
    # N = 13 splits into several Hadamard blocks; compare against the dense route on a slice
    N = 13
    rng = np.random.default_rng(0)
    f = rng.standard_normal(2**N)
    rows = np.array([0, 1, 77, 2**N - 1])
    dense = T.characters(rows, N) @ f
    np.testing.assert_allclose(T.wht(f)[rows], dense, rtol=0, atol=transform_atol(N, 4.0))


@given(batched_vectors(max_n=8))
def test_order_norms_partition_the_squared_norm(case):
    N, J = case
    norms = T.order_norms(J, include_empty=True)
    assert norms.shape == (*J.shape[:-1], N + 1)
    np.testing.assert_allclose(np.sum(norms**2, axis=-1), np.sum(J**2, axis=-1), rtol=1e-12)
    np.testing.assert_array_equal(T.order_norms(J)[..., 0], 0.0)


def test_order_norms_of_a_single_order():
    J = np.zeros(16)
    J[[3, 5, 6, 9]] = [3.0, 4.0, 0.0, 0.0]  # all order 2
    assert T.order_norms(J).tolist() == [0.0, 0.0, 5.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("arg", "match"),
    [
        (np.ones(3), "length 2\\^N"),
        (np.ones(1), "length 2\\^N"),
        (np.ones((2, 6)), "length 2\\^N"),
        (np.array([1.0, np.nan]), "finite"),
        (np.array([1.0, np.inf, 0, 0]), "finite"),
        (np.array([1 + 1j, 0]), "real numeric"),
        (np.array(["a", "b"]), "real numeric"),
        (np.float64(1.0), "at least 1 dimension"),
    ],
)
def test_wht_rejects_bad_input(arg, match):
    with pytest.raises(ValueError, match=match):
        T.wht(arg)


@pytest.mark.parametrize("N", [0, -1, 31, 2.5, True])
def test_bad_number_of_spins(N):
    with pytest.raises(ValueError, match="N must be"):
        T.states(N)


def test_bad_subsets():
    with pytest.raises(ValueError, match=r"\[0, 2\^N\)"):
        T.characters(16, 4)
    with pytest.raises(ValueError, match="integer subset"):
        T.characters(1.5, 4)
    with pytest.raises(ValueError, match="appears twice"):
        T.subset_mask([1, 1], 4)
    with pytest.raises(ValueError, match=r"variable index must be in \[0, 4\)"):
        T.subset_mask([4], 4)


def test_memory_refusal_names_the_estimate(monkeypatch):
    import dsb_verifier.theory._validation as V

    monkeypatch.setattr(V, "_available_bytes", lambda: 1024)
    with pytest.raises(ValueError, match=r"needs an estimated .* of memory but only 1\.0 KiB"):
        T.wht(np.zeros(2**10))
    with pytest.raises(ValueError, match="Hadamard matrix"):
        T.hadamard(8)


def test_subsets_are_the_bitmasks_in_order():
    S = T.subsets(4)
    assert S.dtype == np.int64
    np.testing.assert_array_equal(S, np.arange(16))
    np.testing.assert_array_equal(T.orders(4), [bin(s).count("1") for s in S])


def test_wht_scratch_buffer_is_reused_per_thread_up_to_its_cap():
    """The work array is kept between calls (no re-touching fresh memory), within 64 MiB."""
    import threading

    from dsb_verifier.theory import walsh

    a = walsh._scratch(1000)
    b = walsh._scratch(500)
    assert a.size == 1000 and b.size == 500 and np.shares_memory(a, b)  # one buffer, reused
    big = walsh._scratch(walsh._SCRATCH_MAX_BYTES // 8 + 1)
    assert not np.shares_memory(big, walsh._scratch(1000))  # above the cap: not kept
    assert walsh._scratch(1000).base.size < big.size
    other: list[np.ndarray] = []
    t = threading.Thread(target=lambda: other.append(walsh._scratch(1000)))
    t.start()
    t.join()
    assert not np.shares_memory(other[0], walsh._scratch(1000))  # one buffer per thread


def test_a_transform_that_overflows_float64_is_refused_with_the_largest_entry():
    big = np.array([1e308, 1e308, -1e308, 1e308])
    with pytest.raises(ValueError) as err:
        T.wht(big)
    assert str(err.value) == (
        "the transform of f overflows float64 (largest |f| is 1e+308, 2^N = 4); rescale f"
    )
    with pytest.raises(ValueError) as err:
        T.iwht(big)
    assert str(err.value).startswith("the transform of F overflows float64 (largest |F| is 1e+308, ")
    ok = np.array([1e307, 1e307, -1e307, 1e307])  # sums reach 3e307 < 1.8e308: representable
    np.testing.assert_allclose(T.wht(ok), 1e307 * T.wht(ok / 1e307), rtol=1e-15)
