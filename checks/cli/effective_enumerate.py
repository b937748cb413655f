r"""Exact effective couplings of an RBM by enumeration, streamed over blocks of states.

Same quantity as :meth:`theory.RBM.couplings` (docs/theory.md §2-3): with the
spin parameters ``(a, c, W)`` of :meth:`RBMParams.spin_parameters`,
:math:`u(s) = a\cdot s + \sum_\mu f(c_\mu + \sum_i W_{i\mu} s_i)` over all
:math:`2^N` states in the project's order (bit ``i`` of the state index set
means :math:`s_i = -1`), then :math:`J = H u / 2^N` for ``S != 0`` and
:math:`J_0 = \operatorname{mean}(u) - \log\sum_s e^{u(s)}`.

:class:`theory.RBM` materialises the ``(N, 2^N)`` spin table and the
``(M, 2^N)`` hidden inputs (about 9.7 GB at ``N = 24``). Here the hidden
inputs are built block by block: the low ``L`` bits of the state index give a
table ``H_low = c + s_low W_low`` of shape ``(2^L, M)`` computed once, and a
block of ``2^L`` consecutive states only adds the constant input of its high
bits. The extra memory is one block, so the peak is the state vector ``u``, its
transform and :func:`theory.wht`'s scratch (:func:`enumeration_bytes`).

Glossary: ``N`` visible spins, ``M`` hidden units, ``L`` low bits per block,
``u`` negative energy over states, ``J`` couplings indexed by subset bitmask.
"""

from __future__ import annotations

import numpy as np
from dsb_verifier.theory.rbm.io import RBMParams
from dsb_verifier.theory.walsh import wht
from numpy.typing import NDArray

__all__ = ["BLOCK_ENTRIES", "enumerate_couplings", "enumeration_bytes", "order_norms_streamed"]

#: Entries of one ``(2^L, M)`` block of hidden inputs (8 MiB of float64).
BLOCK_ENTRIES = 2**20

#: Scratch of :func:`theory.wht` (kept per thread, at most 64 MiB) plus interpreter slack.
_FIXED_BYTES = 192 * 2**20


def enumeration_bytes(N: int, M: int, *, kept: int = 1) -> float:
    """Upper bound on the peak memory of :func:`enumerate_couplings` and the norms of its result.

    ``u`` and its transform (``2 x 8 * 2^N``), the order of every subset and
    the squared couplings of :func:`order_norms_streamed` (``2 x 8 * 2^N``),
    three block-sized temporaries, the transform's scratch, and ``kept - 1``
    further coupling vectors held by the caller (one per checkpoint kept).
    """
    block = 3 * 8.0 * max(BLOCK_ENTRIES, M)
    return 8.0 * 2.0**N * (4 + max(kept, 1) - 1) + block + _FIXED_BYTES


def _f_inplace(h: NDArray[np.float64], hidden: str) -> NDArray[np.float64]:
    """Hidden function in place: ``log 2cosh`` (spin) or softplus (bernoulli), stable forms."""
    if hidden == "spin":  # |x| + log1p(exp(-2|x|))
        np.abs(h, out=h)
        t = np.multiply(h, -2.0)
    else:  # max(x, 0) + log1p(exp(-|x|))
        t = -np.abs(h)
        np.maximum(h, 0.0, out=h)
    np.exp(t, out=t)
    np.log1p(t, out=t)
    h += t
    return h


def _spins(n_bits: int) -> NDArray[np.float64]:
    """``(2^n, n)`` spins of the states ``0 .. 2^n - 1``: bit ``i`` set means ``s_i = -1``."""
    b = np.arange(2**n_bits, dtype=np.int64)[:, None]
    return np.asarray(1.0 - 2.0 * ((b >> np.arange(n_bits)) & 1), dtype=np.float64)


def negative_energy(params: RBMParams) -> NDArray[np.float64]:
    """``u(s)`` of the visible marginal over all ``2^N`` spin states, block by block (module docstring)."""
    a, c, W = params.spin_parameters()
    N, M = W.shape
    L = int(min(N, max(0, np.floor(np.log2(BLOCK_ENTRIES / M)))))
    s_low = _spins(L)
    H_low = s_low @ W[:L] + c  # (2^L, M)
    u_low = s_low @ a[:L]
    s_high = _spins(N - L)
    h_high = s_high @ W[L:]  # (2^(N-L), M)
    u_high = s_high @ a[L:]
    u = np.empty(2**N)
    block = np.empty_like(H_low)
    for j in range(2 ** (N - L)):
        np.add(H_low, h_high[j], out=block)
        lo = j << L
        np.sum(_f_inplace(block, params.hidden), axis=1, out=u[lo : lo + 2**L])
        u[lo : lo + 2**L] += u_low
        u[lo : lo + 2**L] += u_high[j]
    return u


def enumerate_couplings(params: RBMParams) -> NDArray[np.float64]:
    """Exact couplings ``J`` (length ``2^N``, by subset bitmask; ``J[0] = -log Z``) of ``params``.

    Agrees with :meth:`theory.RBM.couplings` of :func:`rbm_from_params` to rounding (tested).
    """
    u = negative_energy(params)
    top = float(u.max())
    log_z = top + float(np.log(np.sum(np.exp(u - top))))
    J = wht(u)
    del u
    J /= float(2**params.n_visible)
    J[0] -= log_z
    return J


def order_norms_streamed(J: NDArray[np.float64]) -> NDArray[np.float64]:
    """``||J_k||`` for ``k = 0..N`` (entry 0 is 0) by one ``bincount`` over the subset orders.

    Same values as :func:`theory.order_norms` without its per-order boolean masks.
    """
    N = int(J.shape[-1]).bit_length() - 1
    k = np.zeros(2**N, dtype=np.int64)
    for i in range(N):  # popcount, bit by bit (in place: one int64 vector)
        k[1 << i : 1 << (i + 1)] = k[: 1 << i] + 1
    sq = np.bincount(k, weights=J * J, minlength=N + 1)
    sq[0] = 0.0
    return np.sqrt(sq)
