"""Input validation shared by every public function of :mod:`theory`.

House rule 2 (docs/development.md): validate, never coerce. Each helper raises
:class:`ValueError` with a message that names the argument, says what was
wrong, and says what is expected. Tests match these messages.
"""

from __future__ import annotations

import os

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Largest number of spins any exact-enumeration routine accepts outright;
#: beyond it the memory estimate decides (see :func:`check_memory`).
MAX_N_HARD = 30


def _available_bytes() -> int:
    """Physical memory currently available, or 8 GiB if it cannot be read."""
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # non-POSIX; pragma: no cover, no mutate block
        return 8 * 2**30


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover, no mutate


def logsumexp(x: NDArray[np.float64], axis: int = -1, keepdims: bool = False) -> NDArray[np.float64]:
    r""":math:`\log\sum e^{x}` along ``axis``, stabilised by the maximum (finite input).

    The one normalisation routine of the package. Plain numpy: ``scipy.special.logsumexp``
    gives the same values (tested) but its array-API dispatch dominated the cost of
    gradient flows on small state spaces (about 60% of a quick run, measured with cProfile).
    """
    m = np.max(x, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def check_memory(
    n_bytes: float, what: str, *, hint: str = "use a smaller N (exact enumeration costs 2^N per state vector)"
) -> None:
    """Refuse a computation whose working set would not fit in memory.

    Parameters
    ----------
    n_bytes
        Estimated peak working set of the computation in bytes.
    what
        Human description used in the error message.
    hint
        What the user can change, appended to the message.

    Raises
    ------
    ValueError
        If ``n_bytes`` exceeds the physical memory available right now.
    """
    avail = _available_bytes()
    if n_bytes > avail:
        raise ValueError(
            f"{what} needs an estimated {_fmt_bytes(n_bytes)} of memory but only "
            f"{_fmt_bytes(avail)} is available; {hint}"
        )


def check_n(n: object, name: str = "n", *, max_n: int = MAX_N_HARD) -> int:
    """Validate a number of spins: an integer in ``[1, max_n]``."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise ValueError(f"{name} must be an integer number of spins, got {n!r}")
    if not 1 <= int(n) <= max_n:
        raise ValueError(f"{name} must be between 1 and {max_n}, got {n}")
    return int(n)


def check_real(
    x: object, name: str, *, positive: bool = False, nonnegative: bool = False, finite: bool = True
) -> float:
    """Validate a real scalar (bool, str, None and complex are refused, not coerced)."""
    if positive:
        expected = "a positive finite number" if finite else "a positive number"
    elif nonnegative:
        expected = "a finite number >= 0" if finite else "a number >= 0"
    else:
        expected = "a finite real number" if finite else "a real number"
    if isinstance(x, bool | np.bool_) or not isinstance(x, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be {expected}, got {x!r}")
    v = float(x)
    if (finite and not np.isfinite(v)) or (positive and not v > 0) or (nonnegative and not v >= 0):
        raise ValueError(f"{name} must be {expected}, got {x!r}")
    return v


def check_int(x: object, name: str, *, minimum: int | None = None) -> int:
    """Validate an integer scalar (bool and non-integral floats are refused)."""
    if isinstance(x, bool | np.bool_) or not isinstance(x, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {x!r}")
    if minimum is not None and int(x) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {x!r}")
    return int(x)


def check_rng(rng: object) -> np.random.Generator:
    """Validate an explicit source of randomness (the only one the package uses)."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            "rng must be a numpy.random.Generator (e.g. np.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )
    return rng


def check_flag(x: object, name: str) -> bool:
    """Validate a boolean flag (truthy strings or numbers are refused)."""
    if not isinstance(x, bool | np.bool_):
        raise ValueError(f"{name} must be True or False, got {x!r}")
    return bool(x)


def n_from_length(length: int, name: str) -> int:
    """Number of spins N from a state-axis length, which must be 2^N with N >= 1."""
    if length < 2 or length & (length - 1):
        raise ValueError(
            f"{name} must have a last axis of length 2^N with N >= 1 (2, 4, 8, ...), got length {length}"
        )
    return length.bit_length() - 1


def refuse_masked(x: object, name: str) -> None:
    """Refuse a :class:`numpy.ma.MaskedArray`: numpy's conversions drop its mask silently.

    Every array validator calls this first, so masked entries can never be read
    as if they were data.
    """
    if np.ma.isMaskedArray(x):
        raise ValueError(
            f"{name} must not be a masked array (its mask would be ignored); pass the data "
            "you mean explicitly, e.g. x.filled(value) or x.compressed()"
        )


def scaled_norm(x: NDArray[np.float64], axis: int = -1) -> NDArray[np.float64]:
    r"""Euclidean norm along ``axis`` without overflow or underflow of the squares.

    :math:`\|x\| = m \sqrt{\sum (x/m)^2}` with ``m = max|x|`` (``np.hypot``-style
    scaling): ``[1e200, 1e200]`` gives ``1.414e200``, not ``inf``. The result is ``inf``
    only when the norm itself exceeds the float64 range; NaN propagates.
    """
    a = np.abs(np.asarray(x, dtype=np.float64))
    ax = axis % a.ndim
    if a.shape[ax] == 0:
        return np.zeros(a.shape[:ax] + a.shape[ax + 1 :])
    m = np.max(a, axis=ax, keepdims=True)
    safe = np.where((m > 0) & np.isfinite(m), m, 1.0)  # inf and NaN propagate through a / 1
    with np.errstate(over="ignore", invalid="ignore"):
        r = np.sqrt(np.sum((a / safe) ** 2, axis=ax, keepdims=True)) * safe
    return np.squeeze(r, axis=ax)


def as_float_array(x: ArrayLike, name: str, *, min_ndim: int = 1, finite: bool = True) -> NDArray[np.float64]:
    """Convert to a float64 array, refusing NaN/inf, complex or non-numeric input.

    ``finite=False`` skips the NaN/inf scan (one pass over the data) for a caller
    that checks its *result* instead and calls this again on failure, as
    :func:`theory.wht` does. Masked arrays are refused (:func:`refuse_masked`).
    """
    refuse_masked(x, name)
    arr = np.asarray(x)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating)
        or np.issubdtype(arr.dtype, np.integer)
        or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise ValueError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimension(s), got shape {arr.shape}")
    arr = arr.astype(np.float64, copy=False)
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    return arr


def state_vector(x: ArrayLike, name: str) -> tuple[NDArray[np.float64], int]:
    """A finite float64 array whose last axis is a state (or subset) axis of length 2^N."""
    arr = as_float_array(x, name)
    return arr, n_from_length(arr.shape[-1], name)


def distribution(
    p: ArrayLike, name: str = "p", *, normalize: bool = False
) -> tuple[NDArray[np.float64], int]:
    """Validate strictly positive probability vectors over 2^N states (batched).

    Parameters
    ----------
    p
        Array of shape ``(..., 2^N)``.
    name
        Argument name for messages.
    normalize
        If True, rescale each vector to sum to one instead of refusing an
        unnormalised one (positivity and finiteness are still required).
    """
    normalize = check_flag(normalize, "normalize")
    arr, n = state_vector(p, name)
    if arr.size == 0:
        raise ValueError(f"{name} must hold at least one distribution over 2^N states, got shape {arr.shape}")
    if np.any(arr <= 0):
        raise ValueError(
            f"{name} must be strictly positive (log p must be finite); smallest entry is {arr.min():.3g}"
        )
    total = arr.sum(axis=-1, keepdims=True)
    if normalize:
        return arr / total, n
    err = float(np.max(np.abs(total - 1.0)))
    tol = 64 * np.finfo(np.float64).eps * arr.shape[-1] ** 0.5 + 1e-12
    if err > tol:
        raise ValueError(
            f"{name} must sum to 1 along its last axis (|sum - 1| = {err:.3g} > {tol:.1g}); "
            "pass normalize=True to rescale explicitly"
        )
    return arr, n
