r"""Exact effective couplings of an RBM at any N, by one integral per hidden unit (docs/theory.md §8).

Every coupling :math:`J_S = 2^{-N}\sum_s \chi_S(s)\,u(s)`, :math:`S \ne \emptyset`, of
:math:`u(s) = a\cdot s + \sum_\mu f(c_\mu + s\cdot W_{:\mu})` (Claim C1; the spin form
of any stored RBM, :meth:`RBMParams.spin_parameters`) is the sum over hidden units
of a one-dimensional integral of the hidden unit's characteristic function; no state
is enumerated and no central-limit approximation is made. The integral, the
trapezoid rule and its error bound are in :mod:`.quadrature`; the derivation is in
docs/notes/integral.md. The error of every coupling is at most
``sum_mu Grid.error_bound[mu]`` (``<= 2^-59 M``) plus rounding.

The numerics shared by every order (cosine products, tangents, the all-pairs matrix
product, the Gaussian-law scaling) are in :mod:`.accumulators`.

``law="gaussian"`` replaces the law of :math:`\sum_{j\notin S} w_j s_j` by the normal law of
the same mean (0) and variance, the mapping of Decelle, Furtlehner, Navas Gómez and
Seoane, SciPost Phys. 16, 095 (2024): :math:`\prod_{j\notin S}\cos(\omega w_j) \to
\exp(-\omega^2\sigma_S^2/2)`, the members of ``S`` kept exact — the same quantity as
:func:`theory.conditioned_couplings` with ``input_law="gaussian"`` (tested).

Glossary: ``N`` visible units, ``M`` hidden units, ``a, c, W`` spin-convention fields,
biases and weights, ``S`` subset (array of member indices), ``k = |S|``, ``C`` cosine
product, ``t`` tangents, ``D`` column weights, ``u = omega^2 w^2 / 2``, ``V = omega^2 sigma^2 / 2``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from dsb_verifier.theory.rbm._checks import (
    LAWS,
    _check_law,
    _check_params,
    _check_subset_array,
    _check_subsets,
)
from dsb_verifier.theory.rbm.accumulators import _fields, _model, _pairwise, _subset_couplings
from dsb_verifier.theory.rbm.io import RBMParams
from numpy.typing import NDArray

__all__ = ["LAWS", "rbm_couplings", "rbm_fields", "rbm_pairwise"]


def rbm_fields(params: RBMParams, *, law: str = "exact") -> NDArray[np.float64]:
    r"""All order-1 couplings :math:`J_i` of an RBM (spin convention, visible fields included).

    Parameters
    ----------
    params
        The RBM as stored (0/1 or ±1 units; converted exactly, :mod:`.io`).
    law
        ``"exact"`` (docs/theory.md §8) or ``"gaussian"`` (SciPost 2024 mapping).

    Returns
    -------
    ndarray, shape ``(N,)``
        Equal to the enumeration's ``J[1 << i]`` up to ``sum(grid.error_bound)`` plus rounding.
    """
    return _fields(_model(_check_params(params), _check_law(law)))[0]


def rbm_pairwise(params: RBMParams, *, law: str = "exact") -> NDArray[np.float64]:
    r"""All order-2 couplings :math:`J_{ij}` as a symmetric ``(N, N)`` matrix with zero diagonal.

    Cost ``O(N^2 \sum_\mu L_\mu)`` in BLAS plus ``O(N \sum_\mu L_\mu)`` sines and cosines;
    memory ``O(N^2)`` plus fixed-size chunk tables. See :func:`rbm_fields` for the arguments.
    """
    return _pairwise(_model(_check_params(params), _check_law(law)))[0]


def rbm_couplings(
    params: RBMParams, subsets: Sequence[Sequence[int]], *, law: str = "exact"
) -> NDArray[np.float64]:
    r"""Couplings :math:`J_S` of chosen subsets (each of order ``>= 1``, any mix of orders).

    Parameters
    ----------
    params
        The RBM as stored.
    subsets
        Sequences of distinct visible indices in ``[0, N)``; the order of the
        indices within a subset does not matter. A 2-D integer array (one order,
        one subset per row) is validated and evaluated without per-row Python work.
    law
        ``"exact"`` or ``"gaussian"``.

    Returns
    -------
    ndarray, shape ``(len(subsets),)``
        ``J_S`` in the order given. Cost ``O(k L M)`` per subset after ``O(N L M)`` shared work.

    Raises
    ------
    ValueError
        For an index outside ``[0, N)``, a repeated index, an empty subset or an order above ``N``.
    """
    p = _check_params(params)
    lw = _check_law(law)
    if isinstance(subsets, np.ndarray) and subsets.ndim == 2 and np.issubdtype(subsets.dtype, np.integer):
        S_arr = _check_subset_array(subsets, p.n_visible)  # one order: no per-row Python work
        if S_arr.shape[0] == 0:
            return np.zeros(0)
        model = _model(p, lw)
        if S_arr.shape[1] == 1:
            return _fields(model)[0][S_arr[:, 0]]
        return _subset_couplings(model, S_arr)[0]
    S_list = _check_subsets(subsets, p.n_visible)
    J = np.zeros(len(S_list))
    if not S_list:
        return J
    model = _model(p, lw)
    k_of = np.array([S.size for S in S_list])
    if np.any(k_of == 1):
        fields = _fields(model)[0]
        idx = np.flatnonzero(k_of == 1)
        J[idx] = fields[[int(S_list[i][0]) for i in idx]]
    for k in np.unique(k_of[k_of >= 2]):
        idx = np.flatnonzero(k_of == k)
        J[idx] = _subset_couplings(model, np.stack([S_list[i] for i in idx]))[0]
    return J
