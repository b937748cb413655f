r"""Change of variables between 0/1 bits and ±1 spins, for states and energies.

Data files and RBM codes use 0/1 units ``x_i``; the theory uses spins ``s_i``.
The ONE mapping used everywhere (docs/theory.md §1, physics convention):

.. math:: s_i = 2 x_i - 1, \qquad x_i = (1 + s_i) / 2 .

So ``x = 1`` is spin up. The state-index bit is the opposite: state ``b`` has
``s_i = (-1)^{bit_i(b)}``, hence ``x_i = 1 - bit_i(b)``.

Energies written as multilinear polynomials in the bits,
:math:`u(x) = \sum_T c_T \prod_{i\in T} x_i`, and in the spins,
:math:`u(s) = \sum_S J_S \chi_S(s)`, are related exactly at every order:

.. math::

    J_S = \sum_{T \supseteq S} 2^{-|T|} c_T, \qquad
    c_T = \sum_{S \supseteq T} 2^{|T|} (-1)^{|S| - |T|} J_S .

Both are superset-sum transforms computed in ``O(N 2^N)``. The constant term
(``S = T = 0``) is carried along, so the two polynomials are the same function.

Glossary: ``x`` bits, ``s`` spins, ``c`` bit-polynomial coefficients,
``J`` spin couplings, both indexed by subset bitmask on the last axis.
"""

from __future__ import annotations

import numpy as np
from dsb_verifier.theory._validation import check_memory, refuse_masked, state_vector
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "bits_from_spins",
    "polynomial_bits_to_spins",
    "polynomial_spins_to_bits",
    "spins_from_bits",
    "state_index",
]


def _binary_array(x: ArrayLike, name: str, allowed: tuple[int, int]) -> NDArray[np.int8]:
    refuse_masked(x, name)
    arr = np.asarray(x)
    real = np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    if arr.dtype == object or not (real or np.issubdtype(arr.dtype, np.bool_)):
        raise ValueError(f"{name} must be a real numeric array of values {allowed}, got dtype {arr.dtype}")
    if arr.size and not np.all(np.isin(arr, allowed)):
        bad = arr[~np.isin(arr, allowed)].ravel()[0]
        raise ValueError(f"{name} must contain only the values {allowed}; found {bad!r}")
    return arr.astype(np.int8)


def spins_from_bits(x: ArrayLike) -> NDArray[np.int8]:
    """Map 0/1 units to spins, ``s = 2 x - 1`` (x = 1 is spin up).

    The single place the physics convention of docs/theory.md §1 is applied; every
    loader and converter calls this.

    Raises
    ------
    ValueError
        If ``x`` contains values other than 0 and 1.
    """
    return (2 * _binary_array(x, "x", (0, 1)) - 1).astype(np.int8)


def bits_from_spins(s: ArrayLike) -> NDArray[np.int8]:
    """Inverse of :func:`spins_from_bits`: ``x = (1 + s) / 2``."""
    return ((_binary_array(s, "s", (-1, 1)) + 1) // 2).astype(np.int8)


def state_index(s: ArrayLike) -> NDArray[np.int64]:
    """State index ``b`` of spin rows: bit ``i`` of ``b`` is 1 iff ``s_i = -1``.

    Parameters
    ----------
    s
        Array of shape ``(..., N)`` with values ±1.

    Returns
    -------
    ndarray of int64, shape ``(...)``
        Inverse of :func:`theory.states`: ``state_index(states(N)) == arange(2^N)``.
    """
    arr = _binary_array(s, "s", (-1, 1))
    if arr.ndim < 1:
        raise ValueError("s must have a last axis over the N spins")
    if arr.shape[-1] > 62:
        raise ValueError(f"state_index supports at most 62 spins, got {arr.shape[-1]}")
    weights = np.left_shift(np.int64(1), np.arange(arr.shape[-1], dtype=np.int64))
    return ((arr == -1).astype(np.int64) * weights).sum(axis=-1)


def _superset_transform(v: NDArray[np.float64], N: int, a: float, b: float) -> NDArray[np.float64]:
    """Apply per bit the 2x2 map ``(v0, v1) -> (v0 + a v1, b v1)``.

    Index ``0``/``1`` of the pair is whether the bit is absent/present in the
    subset. Composed over all bits this is a weighted superset sum.
    """
    out = v.copy()
    lead = v.shape[:-1]
    tmp = np.empty((*lead, v.shape[-1] // 2))  # the one temporary: half of the array
    for i in range(N):
        view = out.reshape((*lead, 2 ** (N - i - 1), 2, 2**i))
        t = tmp.reshape((*lead, 2 ** (N - i - 1), 2**i))
        np.multiply(view[..., 1, :], a, out=t)
        np.add(view[..., 0, :], t, out=view[..., 0, :])
        np.multiply(view[..., 1, :], b, out=view[..., 1, :])
    return out


def polynomial_bits_to_spins(c: ArrayLike) -> NDArray[np.float64]:
    r"""Spin couplings of an energy given as a multilinear polynomial in 0/1 bits.

    Parameters
    ----------
    c
        Array ``(..., 2^N)``: ``c[..., T]`` multiplies :math:`\prod_{i \in T} x_i`.

    Returns
    -------
    ndarray, shape ``(..., 2^N)``
        ``J[..., S]`` multiplying :math:`\chi_S(s)`, with
        :math:`J_S = \sum_{T \supseteq S} 2^{-|T|} c_T`, constant term included.
    """
    x, N = state_vector(c, "c")
    check_memory(2 * x.nbytes, "polynomial_bits_to_spins")
    return _superset_transform(x, N, 0.5, 0.5)


def polynomial_spins_to_bits(J: ArrayLike) -> NDArray[np.float64]:
    r"""Inverse of :func:`polynomial_bits_to_spins`.

    .. math:: c_T = \sum_{S \supseteq T} 2^{|T|} (-1)^{|S|-|T|} J_S
    """
    x, N = state_vector(J, "J")
    check_memory(2 * x.nbytes, "polynomial_spins_to_bits")
    return _superset_transform(x, N, -1.0, 2.0)
