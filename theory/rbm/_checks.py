"""Argument checks of the integral route (:mod:`.integral`, :mod:`.norms`): messages name the argument."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from dsb_verifier.theory import _validation
from dsb_verifier.theory.rbm.io import RBMParams
from numpy.typing import NDArray

#: Laws of the input from the units outside ``S``: the exact one, or the Gaussian mapping.
LAWS: tuple[str, str] = ("exact", "gaussian")


def _check_params(params: object) -> RBMParams:
    if not isinstance(params, RBMParams):
        raise ValueError(f"params must be an RBMParams, got {type(params).__name__}")
    return params


def _check_law(law: object) -> str:
    if law not in LAWS:
        raise ValueError(f"law must be one of {LAWS}, got {law!r}")
    return str(law)


def _check_subset_array(S: NDArray[np.integer], N: int) -> NDArray[np.int64]:
    """Vectorised validation of a 2-D integer array of subsets (one order); rows come back sorted."""
    if S.shape[1] == 0:
        raise ValueError("subsets[0] must be a non-empty sequence of integer indices, got []")
    if S.shape[1] > N:
        raise ValueError(f"subsets[0] has order {S.shape[1]}, above N = {N}")
    bad = np.flatnonzero(np.any((S < 0) | (S >= N), axis=1))
    if bad.size:
        n = int(bad[0])
        raise ValueError(f"subsets[{n}] = {S[n].tolist()} has an index outside [0, N) = [0, {N})")
    Ss = np.sort(S, axis=1).astype(np.int64)
    rep = np.flatnonzero(np.any(np.diff(Ss, axis=1) == 0, axis=1))
    if rep.size:
        n = int(rep[0])
        raise ValueError(f"subsets[{n}] = {S[n].tolist()} repeats an index; a subset lists each unit once")
    return Ss


def _check_subsets(subsets: object, N: int) -> list[NDArray[np.int64]]:
    """Validate a sequence of subsets of ``range(N)``: non-empty, integer, in range, no repeats."""
    if isinstance(subsets, np.ndarray) and subsets.ndim == 2 and np.issubdtype(subsets.dtype, np.integer):
        return list(_check_subset_array(subsets, N))
    if isinstance(subsets, str | bytes) or not isinstance(subsets, Sequence | np.ndarray):
        raise ValueError(f"subsets must be a sequence of index sequences, got {type(subsets).__name__}")
    out = []
    for n, S in enumerate(subsets):
        arr = np.asarray(S)
        if arr.ndim != 1 or arr.size == 0 or not (np.issubdtype(arr.dtype, np.integer)):
            raise ValueError(f"subsets[{n}] must be a non-empty sequence of integer indices, got {S!r}")
        if arr.size > N:
            raise ValueError(f"subsets[{n}] has order {arr.size}, above N = {N}")
        if np.any(arr < 0) or np.any(arr >= N):
            raise ValueError(f"subsets[{n}] = {arr.tolist()} has an index outside [0, N) = [0, {N})")
        if np.unique(arr).size != arr.size:
            raise ValueError(f"subsets[{n}] = {arr.tolist()} repeats an index; a subset lists each unit once")
        out.append(np.sort(arr).astype(np.int64))
    return out


def check_fits(n_bytes: float, what: str, hint: str) -> None:
    """Refuse work whose arrays would not fit in the memory available now, saying what to change.

    Same test as :func:`dsb_verifier.theory._validation.check_memory`, with a hint that fits the
    integral route (which enumerates no states) instead of the enumeration advice.
    """
    avail = _validation._available_bytes()
    if n_bytes > avail:
        raise ValueError(
            f"{what} needs an estimated {_validation._fmt_bytes(n_bytes)} of memory but only "
            f"{_validation._fmt_bytes(avail)} is available; {hint}"
        )
