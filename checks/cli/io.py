r"""Read users' RBMs and binary samples from files (the CLI's ``effective`` and ``run --data``).

File I/O lives here, outside :mod:`theory`; the exact change of units of an RBM
is :mod:`dsb_verifier.theory.rbm.io` and the empirical distribution is
:func:`theory.empirical`, both through the one bit/spin mapping
:func:`theory.spins_from_bits` (``x = 1`` is spin up, docs/theory.md §1).

RBM files
---------
``.npz`` (one model)
    keys ``weight_matrix`` (Nv, Nh), ``vbias`` (Nv,), ``hbias`` (Nh,) and
    optionally ``units``: a string, ``"bernoulli"`` (0/1 units, the default),
    ``"spin"`` (±1 units) or ``"VISIBLE,HIDDEN"`` such as ``"bernoulli,spin"``.
    Other keys are ignored.
HDF5 (training checkpoints, the layout of the public ``rbms`` package)
    groups ``update_<n>`` holding ``params/weight_matrix``, ``params/vbias``,
    ``params/hbias`` (older files: the three datasets directly under
    ``update_<n>``). The training time of a checkpoint is its update index
    ``n``; ``rbms`` also stores ``update_<n>/effective_time`` (the cumulative
    learning rate, a float or a one-element array), read when present. Units: a root dataset ``model_type`` of ``"BBRBM"`` means 0/1 units,
    ``"IIRBM"`` ±1 units; other model types (Potts, Gaussian) are refused;
    without it units default to 0/1. Needs the ``hdf5`` extra (h5py).

Units may also be requested by the caller (the CLI's ``--units``); a request
that contradicts the file is refused rather than silently overridden.

Sample files
------------
``.npy`` (2-D array), HDF5 (root dataset ``samples``), or text (whitespace
separated, one sample per line, ``#`` comments). Values all 0/1 or all ±1,
decided on the whole file before any column selection.

Every problem raises :class:`InputError` (a ``ValueError``) with a one-line
message naming the file, the key and the expected shape. The format is sniffed
from the file's first bytes, not its extension.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from dsb_verifier.checks.cli._readers import (
    HDF5_HINT,
    InputError,
    check_fits,
    check_path,
    h5_get,
    h5py_module,
    hdf5_blocks,
    npy_blocks,
    one_line,
    show,
    sniff_format,
    text_blocks,
)
from dsb_verifier.checks.cli.rbm_files import MAX_CHECKPOINT, RBMCheckpoints, load_rbm
from dsb_verifier.theory._validation import check_int
from dsb_verifier.theory.targets import empirical
from numpy.typing import NDArray

__all__ = [
    "HDF5_HINT",
    "MAX_CHECKPOINT",
    "MAX_N_DATA",
    "InputError",
    "RBMCheckpoints",
    "Samples",
    "default_pseudo_count",
    "load_rbm",
    "load_samples",
    "load_target",
    "parse_columns",
    "sniff_format",
    "target_from_samples",
]

#: Largest number of variables of a data target (after column selection).
MAX_N_DATA = 20

_one_line = one_line
_h5py = h5py_module
_h5_get = h5_get


# ---- samples ----------------------------------------------------------------
@dataclass(frozen=True)
class Samples:
    """Binary samples read from a file.

    Attributes
    ----------
    x
        ``(M, N)`` int8 array of the selected columns, values as in the file.
    values
        ``"bit"`` (0/1; 1 is spin up) or ``"spin"`` (±1).
    columns
        Indices of the file's columns kept, in order (all by default).
    path
        The file read.
    """

    x: NDArray[np.int8]
    values: str
    columns: tuple[int, ...]
    path: str

    def __post_init__(self) -> None:
        if self.x.ndim != 2 or self.x.shape[1] != len(self.columns) or self.x.shape[0] < 1:
            raise ValueError("Samples.x must be (M, len(columns)) with M >= 1")
        if not self.columns or len(set(self.columns)) != len(self.columns):
            raise ValueError(f"Samples.columns must be distinct and at least one, got {self.columns!r}")
        if self.values not in ("bit", "spin"):
            raise ValueError(f"values must be 'bit' or 'spin', got {self.values!r}")

    @property
    def n_samples(self) -> int:
        """Number of samples ``M``."""
        return int(self.x.shape[0])

    @property
    def n_variables(self) -> int:
        """Number of variables ``N`` after column selection."""
        return int(self.x.shape[1])


def parse_columns(spec: str) -> tuple[int, ...]:
    """Parse ``"0,3,5"`` (the CLI's ``--columns``) into column indices (non-negative, distinct).

    Only the ASCII digits 0-9 are accepted (``"²"`` or ``"٣"`` are refused, not read
    as numbers).
    """
    if not isinstance(spec, str):
        raise InputError(f"columns must be a string such as '0,3,5', got {type(spec).__name__} {spec!r}")
    parts = [s.strip() for s in spec.split(",")]
    if not parts or any(not re.fullmatch(r"[0-9]+", s) for s in parts):
        raise InputError(
            f"columns must be comma-separated non-negative integers such as 0,3,5; got {spec!r}"[:300]
        )
    cols = tuple(int(s) for s in parts)
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise InputError(f"columns must be distinct; {dup[0]} appears more than once in {spec!r}"[:300])
    return cols


def _check_columns(columns: object) -> tuple[int, ...] | None:
    """The ``columns`` argument: None or a list/tuple of non-negative integers (no bool, no float)."""
    if columns is None:
        return None
    if not isinstance(columns, list | tuple | np.ndarray) or (
        isinstance(columns, np.ndarray) and columns.ndim != 1
    ):
        raise InputError(
            f"columns must be None or a tuple of column indices such as (0, 3, 5), got {type(columns).__name__}"
        )
    for c in list(columns):
        if isinstance(c, bool | np.bool_) or not isinstance(c, int | np.integer) or c < 0:
            raise InputError(
                f"columns must be non-negative integer column indices such as (0, 3, 5), got {c!r} in "
                f"{list(columns)!r}"[:300]
            )
    return tuple(int(c) for c in columns)


def _check_shape(where: str, shape: tuple[int, ...]) -> None:
    if len(shape) != 2 or shape[0] < 1 or shape[1] < 1:
        raise InputError(
            f"{where}: samples must be a 2-D array (M samples, N variables) with M, N >= 1, got shape {shape}"
        )


def _check_dtype(where: str, dtype: np.dtype[Any]) -> None:
    if dtype.kind not in "biuf":
        raise InputError(f"{where}: samples must be numeric 0/1 or ±1 values, got dtype {dtype}")


def _blocks(p: Path, where: str) -> Iterable[NDArray[Any]]:
    """Row blocks of the samples in ``p``, shape and dtype checked before any data is read."""
    fmt = sniff_format(p)
    if fmt == "npy":
        shape, dtype, blocks = npy_blocks(p, where)
        _check_shape(where, shape)
        _check_dtype(where, dtype)
        check_fits(where, f"samples of shape {shape}", 2.0 * shape[0] * shape[1])
        return blocks
    if fmt == "hdf5":
        return _hdf5_sample_blocks(p, where)
    if fmt == "npz":
        raise InputError(
            f"{where}: samples must be a .npy array, an HDF5 file or a text file, not an .npz archive"
        )
    return text_blocks(p, where)


def _hdf5_sample_blocks(p: Path, where: str) -> Iterable[NDArray[Any]]:
    h5py = _h5py(p)
    try:
        with h5py.File(p, "r") as f:
            obj = _h5_get(f, "samples", where, "dataset")
            if not isinstance(obj, h5py.Dataset):
                raise InputError(
                    f"{where}: no dataset 'samples' (expected shape (M, N)); "
                    f"found: {', '.join(f.keys()) or 'nothing'}"
                )
            shape = tuple(int(s) for s in obj.shape) if obj.shape is not None else ()
            _check_shape(where, shape)
            _check_dtype(where, obj.dtype)
            check_fits(where, f"samples of shape {shape}", 2.0 * shape[0] * shape[1])
            if obj.id.get_storage_size() == 0 and obj.chunks is not None:
                raise InputError(
                    f"{where}: dataset 'samples' declares shape {shape} but holds no data; write the samples"
                )
            return list(hdf5_blocks(obj, where))
    except InputError:
        raise
    except (OSError, KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise InputError(f"{where}: not a readable HDF5 file ({_one_line(exc)})") from None


def _binary_samples(where: str, blocks: Iterable[NDArray[Any]]) -> tuple[NDArray[np.int8], str]:
    """All rows as int8 and their convention, checked a block at a time (bounded memory)."""
    parts: list[NDArray[np.int8]] = []
    rows = 0
    n_cols = None
    seen_zero = seen_minus = False
    first_bad: tuple[int, int, Any] | None = None
    for block in blocks:
        _check_dtype(where, block.dtype)
        if n_cols is None:
            n_cols = block.shape[1]
        elif block.shape[1] != n_cols:
            raise InputError(
                f"{where}: not a whitespace-separated table of numbers (row {rows} has {block.shape[1]} "
                f"columns, the rows before it {n_cols})"
            )
        with np.errstate(invalid="ignore"):
            bad = ~np.isin(block, (0, 1, -1))
        if first_bad is None and np.any(bad):
            r, c = (int(i) for i in np.argwhere(bad)[0])
            first_bad = (rows + r, c, block[r, c].item())
        if first_bad is None:
            seen_zero = seen_zero or bool(np.any(block == 0))
            seen_minus = seen_minus or bool(np.any(block == -1))
            parts.append(block.astype(np.int8))
            check_fits(where, f"{rows + block.shape[0]} samples", 2.0 * (rows + block.shape[0]) * n_cols)
        rows += block.shape[0]
        if first_bad is not None:
            break
    if n_cols is None:
        raise InputError(
            f"{where}: samples must be a 2-D array (M samples, N variables) with M, N >= 1, got no samples"
        )
    if first_bad is not None:
        r, c, v = first_bad
        raise InputError(f"{where}: samples must be all 0/1 or all ±1; found {v!r} at row {r}, column {c}")
    if seen_zero and seen_minus:
        raise InputError(f"{where}: samples mix 0/1 and ±1 values (found both 0 and -1); use one convention")
    x = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return x, ("spin" if seen_minus else "bit")


def load_samples(path: str | Path, *, columns: tuple[int, ...] | None = None) -> Samples:
    """Read binary samples, shape ``(M, N)``, values all 0/1 or all ±1.

    Parameters
    ----------
    path
        ``.npy``, HDF5 (dataset ``samples``) or whitespace-separated text
        (gzip- or bzip2-compressed text too, recognised by content); ``str`` or
        :class:`os.PathLike`.
    columns
        Column indices to keep (e.g. from :func:`parse_columns`); all by default.
        At most :data:`MAX_N_DATA` variables may remain.

    Raises
    ------
    InputError
        Arguments of the wrong type; unreadable, truncated or binary file, not
        2-D, no samples, non-binary or mixed values, a declared size that would
        not fit in memory (checked before reading), no column selected, a column
        selected twice or out of range, or too many variables for exact enumeration.
    """
    p = check_path(path)
    cols_arg = _check_columns(columns)
    where = show(p)
    raw, values = _binary_samples(where, _blocks(p, where))
    n_cols = raw.shape[1]
    cols = tuple(range(n_cols)) if cols_arg is None else cols_arg
    if not cols:
        raise InputError(f"{where}: no columns selected; give at least one of the {n_cols} column indices")
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise InputError(f"{where}: columns must be distinct; {dup[0]} is selected more than once")
    out = [c for c in cols if not 0 <= c < n_cols]
    if out:
        raise InputError(
            f"{where}: column {out[0]} does not exist; the samples have {n_cols} columns (0..{n_cols - 1})"
        )
    if len(cols) > MAX_N_DATA:
        raise InputError(
            f"{where}: {len(cols)} variables is too many for exact enumeration (at most {MAX_N_DATA}); "
            "select columns, e.g. --columns 0,1,2"
        )
    x = raw if cols == tuple(range(n_cols)) else np.ascontiguousarray(raw[:, list(cols)])
    return Samples(x=x, values=values, columns=cols, path=where)


def default_pseudo_count(N: int) -> float:
    r"""Default pseudo-count :math:`\alpha = 2^{-N}`: one virtual sample spread uniformly.

    With :func:`theory.empirical`, :math:`q = (c + \alpha)/(M + \alpha 2^N)`
    becomes :math:`q = (M f + 2^{-N})/(M + 1)`: the empirical frequencies
    :math:`f` mixed with the uniform distribution at weight :math:`1/(M + 1)`.
    It keeps ``q`` strictly positive (unseen states get :math:`2^{-N}/(M+1)`),
    vanishes as ``M`` grows, and does not depend on a tuning choice.
    """
    try:
        n = check_int(N, "N", minimum=1)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    return 2.0**-n


def target_from_samples(samples: Samples, pseudo_count: float | None = None) -> NDArray[np.float64]:
    """Empirical distribution of ``samples`` by :func:`theory.empirical` (default alpha ``2^-N``).

    Raises
    ------
    InputError
        If ``samples`` is not a :class:`Samples`, or the pseudo-count is not a
        positive finite number or is so small that some state's probability
        underflows (refused by :func:`theory.empirical`, whose message names the
        smallest usable value), before any check runs.
    """
    if not isinstance(samples, Samples):
        raise InputError(f"samples must be a Samples (from load_samples), got {type(samples).__name__}")
    alpha = default_pseudo_count(samples.n_variables) if pseudo_count is None else pseudo_count
    try:
        q = empirical(samples.x, pseudo_count=alpha, values=samples.values)
    except ValueError as exc:
        raise InputError(f"{samples.path}: {_one_line(exc)}") from None
    return np.asarray(q, dtype=np.float64)


def load_target(
    path: str | Path, columns: tuple[int, ...] | None = None, pseudo_count: float | None = None
) -> NDArray[np.float64]:
    """Empirical target distribution of the samples in ``path``: shape ``(2^N,)``, dsb_verifier.theory.walsh order.

    Parameters
    ----------
    path, columns
        As in :func:`load_samples`.
    pseudo_count
        ``alpha > 0`` of :func:`theory.empirical`; default
        :func:`default_pseudo_count` ``(N) = 2^-N``.
    """
    return target_from_samples(load_samples(path, columns=columns), pseudo_count)
