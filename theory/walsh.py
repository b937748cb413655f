r"""The Walsh–Fourier core: states, subsets, characters and the fast transform.

This module is the one written statement of the project's conventions
(docs/theory.md §1); every other module refers here.

Conventions
-----------
* A state of ``N`` spins is an integer ``b`` in ``[0, 2^N)``; spin ``i`` is
  :math:`s_i = (-1)^{\text{bit } i \text{ of } b}` (bit 0 is variable 0), so bit 1
  means spin :math:`-1`.
* A subset :math:`S \subseteq \{0..N-1\}` is an integer bitmask in ``[0, 2^N)``;
  its order is :math:`|S| =` ``popcount(S)``; ``S = 0`` is the empty set.
* The character is :math:`\chi_S(s) = \prod_{i\in S} s_i = (-1)^{\mathrm{popcount}(b \,\&\, S)}`
  and ``H[S, b] = chi_S(b)`` is the Sylvester-ordered Hadamard matrix,
  :math:`H H = 2^N I`.
* Arrays over states or subsets put that axis LAST (length ``2^N``); batch axes
  come first.
* :func:`wht` is unnormalised, ``out[..., S] = sum_b chi_S(b) f[..., b]``;
  :func:`iwht` is its inverse, ``wht(f) / 2^N``.

Glossary: ``N`` number of spins, ``n = 2^N`` number of states, ``S``/``T`` subset
bitmasks, ``k`` an order, ``J`` coupling vector indexed by subsets.
"""

from __future__ import annotations

import math
import threading
from functools import lru_cache

import numpy as np
from dsb_verifier.theory._validation import (
    as_float_array,
    check_int,
    check_memory,
    check_n,
    n_from_length,
    refuse_masked,
    scaled_norm,
    state_vector,
)
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "characters",
    "hadamard",
    "iwht",
    "order_masks",
    "order_norms",
    "orders",
    "states",
    "subset_indices",
    "subset_mask",
    "subsets",
    "wht",
]

#: Largest Hadamard block applied as one matrix product inside :func:`wht`.
#: A block of k bits costs 2^(k+1) flops per entry per pass and there are N/k passes:
#: 4 bits (5 passes at N = 20) beat 5 bits (4 passes, 60 % more flops) by about 10 % on
#: the reference 2-core machine; 3 and 6 bits were slower (``python -m benchmarks``).
_WHT_BLOCK_BITS = 4


def states(N: int) -> NDArray[np.int8]:
    """All ``2^N`` spin configurations in state-index order.

    Parameters
    ----------
    N
        Number of spins.

    Returns
    -------
    ndarray of int8, shape (2^N, N)
        ``s[b, i] = (-1)^(bit i of b)``: row ``b`` is state ``b`` (docs/theory.md §1).
    """
    N = check_n(N, "N")
    # the int8 result is the only array allocated: each column is filled through a view
    check_memory(2**N * N, f"states({N})")
    s = np.empty((2**N, N), dtype=np.int8)
    for i in range(N):
        col = s.reshape(2 ** (N - i - 1), 2, 2**i, N)  # state b = (hi, bit i, lo)
        col[:, 0, :, i] = 1
        col[:, 1, :, i] = -1
    return s


def subsets(N: int) -> NDArray[np.int64]:
    """Subset bitmasks ``0 .. 2^N - 1`` in the order used along every subset axis."""
    N = check_n(N, "N")
    return np.arange(2**N, dtype=np.int64)


def orders(N: int) -> NDArray[np.int64]:
    """Order (popcount) of every subset bitmask, shape ``(2^N,)``."""
    N = check_n(N, "N")
    return _orders(N).copy()


@lru_cache(maxsize=32)
def _orders(N: int) -> NDArray[np.int64]:
    S = np.arange(2**N, dtype=np.int64)
    k = np.zeros_like(S)
    for i in range(N):
        k += (S >> i) & 1
    k.setflags(write=False)
    return k


def subset_indices(S: int, N: int) -> tuple[int, ...]:
    """Variable indices contained in the subset bitmask ``S`` (increasing)."""
    N = check_n(N, "N")
    S = check_int(S, "S")
    if not 0 <= int(S) < 2**N:
        raise ValueError(f"subset bitmask S must be in [0, 2^N) = [0, {2**N}), got {S}")
    return tuple(i for i in range(N) if (int(S) >> i) & 1)


def subset_mask(indices: tuple[int, ...] | list[int], N: int) -> int:
    """Bitmask of the subset given by variable indices (inverse of :func:`subset_indices`)."""
    N = check_n(N, "N")
    mask = 0
    if isinstance(indices, str) or not isinstance(indices, tuple | list):
        raise ValueError(f"indices must be a tuple or list of variable indices, got {indices!r}")
    for i in indices:
        i = check_int(i, "variable index")
        if not 0 <= int(i) < N:
            raise ValueError(f"variable index must be in [0, {N}), got {i}")
        if (mask >> int(i)) & 1:
            raise ValueError(f"variable index {i} appears twice in {tuple(indices)}")
        mask |= 1 << int(i)
    return mask


def characters(S: int | ArrayLike, N: int) -> NDArray[np.int8]:
    r"""Characters :math:`\chi_S(b)` over all states for one or several subsets.

    Parameters
    ----------
    S
        Subset bitmask(s), integers in ``[0, 2^N)``.
    N
        Number of spins.

    Returns
    -------
    ndarray of int8, shape ``np.shape(S) + (2^N,)``
        ``(-1)^popcount(b & S)`` with the state axis last.
    """
    N = check_n(N, "N")
    refuse_masked(S, "S")
    S_arr = np.asarray(S)
    if not np.issubdtype(S_arr.dtype, np.integer):
        raise ValueError(f"S must be integer subset bitmask(s), got dtype {S_arr.dtype}")
    if np.any((S_arr < 0) | (S_arr >= 2**N)):
        raise ValueError(f"subset bitmasks S must lie in [0, 2^N) = [0, {2**N})")
    n = 2**N
    rows = _characters_chunk_rows(N)
    check_memory(_characters_bytes(S_arr.size, N), f"characters for {S_arr.size} subsets at N={N}")
    out = np.empty(S_arr.shape + (n,), dtype=np.int8)
    flat_S, flat_out = S_arr.reshape(-1).astype(np.int64), out.reshape(-1, n)
    parity = (_orders(N) & 1).astype(np.int8)
    b = np.arange(n, dtype=np.int64)
    # explicit work buffers, so the peak is what _characters_bytes counts whatever numpy does
    # with temporaries: the chunk's int64 indices, and the parities taken straight into out
    idx = np.empty((min(rows, flat_S.size), n), dtype=np.int64)
    for lo in range(0, flat_S.size, rows):
        m = min(rows, flat_S.size - lo)
        np.bitwise_and(flat_S[lo : lo + m, None], b, out=idx[:m])
        chi = flat_out[lo : lo + m]
        np.take(parity, idx[:m], out=chi, mode="clip")  # int8 parities of b & S (indices in range)
        chi *= -2
        chi += 1
    return out


#: Entries of the int64 index array of one chunk of :func:`characters`.
_CHAR_CHUNK_ENTRIES = 2**16


def _characters_chunk_rows(N: int) -> int:
    return max(1, _CHAR_CHUNK_ENTRIES // 2**N)


def _characters_bytes(n_subsets: int, N: int) -> int:
    """Peak bytes of :func:`characters`: the int8 result, one chunk's int64 indices (and a
    chunk of int8 slack), and the parity table and state indices (int64 temporaries of
    ``_orders & 1``)."""
    n = 2**N
    chunk = min(n_subsets, _characters_chunk_rows(N)) * n
    return n_subsets * n + 9 * chunk + 8 * n_subsets + 17 * n


def hadamard(N: int) -> NDArray[np.float64]:
    """Dense Sylvester Hadamard matrix ``H[S, b] = chi_S(b)`` (float64, 2^N x 2^N).

    Only for small N and for cross-checks: :func:`wht` never forms it.
    """
    N = check_n(N, "N")
    # the float64 result and everything characters() allocates for all 2^N subsets
    check_memory(8 * 4**N + _characters_bytes(2**N, N), f"the dense {2**N} x {2**N} Hadamard matrix")
    return characters(np.arange(2**N), N).astype(np.float64)


@lru_cache(maxsize=16)
def _hadamard_block(k: int) -> NDArray[np.float64]:
    H = np.ones((1, 1))
    for _ in range(k):
        H = np.block([[H, H], [H, -H]])
    H.setflags(write=False)
    return H


#: Largest scratch buffer :func:`wht` keeps between calls (per thread), in bytes.
_SCRATCH_MAX_BYTES = 64 * 2**20
_SCRATCH = threading.local()


def _scratch(size: int) -> NDArray[np.float64]:
    """A float64 work buffer of ``size`` entries, reused between calls of this thread.

    Buffers above :data:`_SCRATCH_MAX_BYTES` are allocated afresh (not kept).
    """
    if 8 * size > _SCRATCH_MAX_BYTES:
        return np.empty(size)
    buf = getattr(_SCRATCH, "buf", None)
    if buf is None or buf.size < size:
        buf = np.empty(size)
        _SCRATCH.buf = buf
    return buf[:size]


def _block_bits(N: int) -> list[int]:
    """Split N bits into nearly equal chunks of at most ``_WHT_BLOCK_BITS``."""
    n_blocks = -(-N // _WHT_BLOCK_BITS)
    base, extra = divmod(N, n_blocks)
    return [base + 1] * extra + [base] * (n_blocks - extra)


def wht(f: ArrayLike) -> NDArray[np.float64]:
    r"""Fast unnormalised Walsh–Hadamard transform along the last axis.

    .. math:: \mathrm{out}[..., S] = \sum_b \chi_S(b)\, f[..., b]

    The Hadamard matrix of order ``2^N`` is the Kronecker product of small
    Hadamard blocks; each block is applied to its group of bits as one batched
    matrix product, so the cost is ``O(2^N N)`` with few passes over memory.
    Applying it twice multiplies by ``2^N`` (Claim C1 rests on this bijection).

    Parameters
    ----------
    f
        Real array of shape ``(..., 2^N)``, finite.

    Returns
    -------
    ndarray of float64, same shape as ``f``

    Raises
    ------
    ValueError
        If the last axis is not a power of two ``>= 2``, ``f`` is not finite, or the
        transform overflows float64 (entries near ``1e308 / 2^N``).

    Notes
    -----
    Works in the result array and one scratch array of the same size, which is kept
    per thread between calls (up to 64 MiB; larger ones are freed): re-touching fresh
    memory at every call cost about 40 % of the time at ``N = 20``. Peak memory is the
    input plus two arrays of its size.
    """
    return _wht(f, "f")


def _wht(f: ArrayLike, name: str) -> NDArray[np.float64]:
    # Finiteness is checked on the result: NaN or inf anywhere in the input reaches the
    # sum of the output (inf - inf = NaN), so one read-only reduction replaces the scan
    # of the input; the input is scanned only to word the error.
    x = as_float_array(f, name, finite=False)
    N = n_from_length(x.shape[-1], name)
    check_memory(3 * x.nbytes, f"wht of an array of shape {x.shape}")
    lead = x.shape[:-1]
    n = x.shape[-1]
    B = math.prod(lead)
    out = x.reshape(B, n)
    L, R = B, n
    # bits are processed from the most significant group down, so the block
    # axis of each step sits between a leading (L) and trailing (R) axis.
    # Two buffers used in turn (each step reads one and writes the other): the result
    # and a scratch buffer kept per thread between calls. Arrays allocated afresh at
    # every step are first-touched page by page each time, which cost about 40 % of the
    # time at N = 20 (benchmarks/, section transform).
    blocks = _block_bits(N)
    bufs = [np.empty((B, n)), _scratch(B * n)]
    with np.errstate(over="ignore", invalid="ignore"):  # non-finite results are refused below
        for i, k in enumerate(blocks):
            R //= 2**k
            H = _hadamard_block(k)
            y = out.reshape(L, 2**k, R)
            # the last step writes the result buffer (0), never the scratch or the input
            dst = bufs[(len(blocks) - 1 - i) % 2]
            if R == 1:
                np.matmul(y.reshape(-1, 2**k), H, out=dst.reshape(-1, 2**k))
            else:
                np.matmul(H, y, out=dst.reshape(L, 2**k, R))
            out = dst
            L *= 2**k
        finite = bool(np.isfinite(out.sum())) or bool(np.all(np.isfinite(out)))
    if not finite:
        as_float_array(x, name)  # raises for NaN/inf input
        raise ValueError(
            f"the transform of {name} overflows float64 (largest |{name}| is {np.max(np.abs(x)):.3g}, "
            f"2^N = {n}); rescale {name}"
        )
    return out.reshape(x.shape)


def iwht(F: ArrayLike) -> NDArray[np.float64]:
    """Inverse of :func:`wht`: ``wht(F) / 2^N``, so ``iwht(wht(f)) == f``."""
    out = _wht(F, "F")  # a fresh result array: divided in place (2^N, exact)
    out /= out.shape[-1]
    return out


def order_masks(N: int) -> NDArray[np.bool_]:
    """Boolean masks of the subsets of each order, shape ``(N + 1, 2^N)``.

    ``order_masks(N)[k, S]`` is True iff ``popcount(S) == k``.
    """
    N = check_n(N, "N")
    return _orders(N)[None, :] == np.arange(N + 1)[:, None]


def order_norms(J: ArrayLike, *, include_empty: bool = False) -> NDArray[np.float64]:
    r"""Euclidean norm of a coupling vector restricted to each order.

    .. math:: \|J_k\| = \Big(\sum_{|S| = k} J_S^2\Big)^{1/2}

    This is the Frobenius norm of the order-k coupling tensor stored once per
    subset (no symmetric copies). Used by the hierarchy analysis (Claim C5).

    Parameters
    ----------
    J
        Array of shape ``(..., 2^N)`` indexed by subset bitmasks.
    include_empty
        If False (default) entry ``k = 0`` of the result is 0 whatever ``J[..., 0]``
        is, since ``J_0`` is the normalisation and not a coupling.

    Returns
    -------
    ndarray, shape ``(..., N + 1)``
        Entry ``k`` is the norm of the order-``k`` block, computed with scaling by the
        largest entry, so ``order_norms([0, 1e200, 1e200, 0])`` is ``[0, 1.41e200]``.

    Raises
    ------
    ValueError
        If ``J`` is not finite, or a norm exceeds the float64 range.
    """
    x, N = state_vector(J, "J")
    k = _orders(N)
    out = np.zeros((*x.shape[:-1], N + 1))
    for order in range(0 if include_empty else 1, N + 1):
        out[..., order] = scaled_norm(x[..., k == order], axis=-1)  # no overflow of the squares
    if not np.all(np.isfinite(out)):
        raise ValueError(
            "J has an order whose Euclidean norm exceeds the float64 range (about 1.8e308); "
            "rescale J before taking norms"
        )
    return out
