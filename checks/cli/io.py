r"""Read users' RBMs and binary samples from files (the CLI's ``effective`` and ``run --data``).

File I/O lives here, outside :mod:`theory`; the exact change of units of an RBM
is :mod:`dsb_verifier.theory.rbm.io` and the empirical distribution is
:func:`theory.empirical`, both through the one bit/spin mapping
:func:`theory.spins_from_bits` (``x = 1`` is spin up, shared/THEORY.md §1).

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
    ``n``. Units: a root dataset ``model_type`` of ``"BBRBM"`` means 0/1 units,
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
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from dsb_verifier.checks.cli._readers import (
    InputError,
    check_fits,
    check_path,
    hdf5_blocks,
    npy_blocks,
    npy_data_size,
    npy_header,
    one_line,
    show,
    text_blocks,
)
from dsb_verifier.theory._validation import check_flag, check_int
from dsb_verifier.theory.rbm.io import RBMParams, parse_units
from dsb_verifier.theory.targets import empirical
from numpy.typing import NDArray

__all__ = [
    "HDF5_HINT",
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

#: How to install the optional HDF5 reader.
HDF5_HINT = "pip install 'dsb-verifier[hdf5]'"

#: Largest number of variables of a data target (after column selection).
MAX_N_DATA = 20

_NPZ_KEYS = {"weight_matrix": "(Nv, Nh)", "vbias": "(Nv,)", "hbias": "(Nh,)"}
_MODEL_TYPES = {"BBRBM": ("bernoulli", "bernoulli"), "IIRBM": ("spin", "spin")}
_UPDATE = re.compile(r"update_(\d+)")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


#: Largest update index n of a checkpoint group update_<n> (stored as int64 in outputs).
MAX_CHECKPOINT = 2**63 - 1

_one_line = one_line

#: Largest sum of |weights| and |biases| accepted: energies up to this size keep
#: log-sum-exp and the Walsh transform of log p finite in float64 (about 1e308 / 2^24).
_MAX_ENERGY = 1e300


def sniff_format(path: str | Path) -> str:
    """``"npz"``, ``"npy"``, ``"hdf5"`` or ``"text"`` from the file's first bytes.

    Raises
    ------
    InputError
        If the path does not exist, is not a regular file, or is empty.
    """
    p = check_path(path)
    if not p.exists():
        raise InputError(f"{show(p)}: no such file")
    if not p.is_file():
        raise InputError(f"{show(p)}: not a regular file")
    try:
        with p.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise InputError(f"{show(p)}: cannot read ({exc.strerror or exc})") from None
    if not head:
        raise InputError(f"{show(p)}: empty file")
    if head.startswith(_HDF5_MAGIC):
        return "hdf5"
    if head.startswith(b"PK"):
        return "npz"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    return "text"


def _h5py(path: Path) -> ModuleType:
    try:
        import h5py
    except ImportError:
        raise InputError(
            f"{show(path)}: reading HDF5 files needs h5py; install it with {HDF5_HINT}"
        ) from None
    return h5py


# ---- RBMs -------------------------------------------------------------------
@dataclass(frozen=True)
class RBMCheckpoints:
    """RBM parameters read from one file.

    Attributes
    ----------
    path
        The file read.
    format
        ``"npz"`` or ``"hdf5"``.
    checkpoints
        Update index ``n`` (training time) of each entry of ``params``,
        increasing; ``(None,)`` for an ``.npz`` model.
    params
        Parameters with their unit conventions, one per checkpoint.
    units_source
        ``"file"``, ``"requested"`` or ``"default"`` (0/1 units).
    """

    path: str
    format: str
    checkpoints: tuple[int | None, ...]
    params: tuple[RBMParams, ...]
    units_source: str

    def __post_init__(self) -> None:
        if not self.params or len(self.params) != len(self.checkpoints):
            raise ValueError("RBMCheckpoints needs one RBMParams per checkpoint (at least one)")
        shapes = {p.weight_matrix.shape for p in self.params}
        if len(shapes) != 1:
            raise ValueError(f"{self.path}: checkpoints disagree on weight_matrix shape: {sorted(shapes)}")

    @property
    def n_visible(self) -> int:
        """Number of visible units ``Nv``."""
        return self.params[0].n_visible

    @property
    def n_hidden(self) -> int:
        """Number of hidden units ``Nh``."""
        return self.params[0].n_hidden


def _resolve_units(
    path: Path, file_units: tuple[str, str] | None, where: str, requested: str | None
) -> tuple[tuple[str, str], str]:
    req = None
    if requested is not None:
        try:
            req = parse_units(requested)
        except ValueError as exc:
            raise InputError(_one_line(exc)) from None
    if file_units is not None and req is not None and file_units != req:
        raise InputError(
            f"{show(path)}: {where} says units {','.join(file_units)} but units {','.join(req)} were requested; "
            "drop the request or fix the file"
        )
    if file_units is not None:
        return file_units, "file"
    if req is not None:
        return req, "requested"
    return ("bernoulli", "bernoulli"), "default"


def _params(where: str, arrays: dict[str, Any], units: tuple[str, str]) -> RBMParams:
    try:
        params = RBMParams(
            arrays["weight_matrix"], arrays["vbias"], arrays["hbias"], visible=units[0], hidden=units[1]
        )
    except ValueError as exc:
        msg = _one_line(exc)
        if "weight_matrix" in msg and np.ndim(arrays["weight_matrix"]) == 3:
            msg += " (a 3-D weight_matrix is a Potts RBM, which is not supported)"
        raise InputError(f"{where}: {msg}") from None
    # the largest |energy| of a state must be a float64 number (x = 1e300 weights overflow)
    with np.errstate(over="ignore"):
        W = np.abs(params.weight_matrix)
        scale = np.sum(np.abs(params.vbias)) + np.sum(np.abs(params.hbias)) + np.sum(W) if W.size else 0.0
    if not np.isfinite(scale) or scale > _MAX_ENERGY:
        key = max(
            ("weight_matrix", "vbias", "hbias"),
            key=lambda k: float(np.max(np.abs(getattr(params, k)), initial=0.0)),
        )
        biggest = float(np.max(np.abs(getattr(params, key)), initial=0.0))
        raise InputError(
            f"{where}: {key} is too large (|{key}| up to {biggest:.3g}; the energies of the model would "
            f"exceed {_MAX_ENERGY:.0e}, beyond which the couplings cannot be computed in float64)"
        )
    return params


def _check_member(where: str, key: str, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
    """Refuse a declared RBM array that would not fit in memory (as float64) before reading it."""
    check_fits(where, f"key '{key}' of shape {shape}", float(np.prod(shape, dtype=np.float64)) * 8.0)


def _read_npz(path: Path, selecting: bool, units: str | None) -> RBMCheckpoints:
    if selecting:
        raise InputError(f"{show(path)}: an .npz file holds one model and has no checkpoints to select")
    arrays: dict[str, Any] = {}
    file_units = None
    where = show(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            found = list(z.files)
            for key, shape in _NPZ_KEYS.items():
                if key not in found:
                    raise InputError(
                        f"{where}: missing key '{key}' (expected an array of shape {shape}); "
                        f"found keys: {', '.join(found) or 'none'}"
                    )
                try:
                    info = z.zip.getinfo(f"{key}.npy")
                    with z.zip.open(info) as member:
                        dshape, _f, dtype, offset = npy_header(member, f"{where}: key '{key}'")
                    if not dtype.hasobject and npy_data_size(dshape, dtype) > info.file_size - offset:
                        raise InputError(
                            f"{where}: key '{key}' cannot be read (truncated: it declares shape {dshape} "
                            f"but holds {max(info.file_size - offset, 0)} bytes of data)"
                        )
                    _check_member(where, key, dshape, dtype)
                    arrays[key] = z[key]
                except InputError as exc:
                    if "not a readable .npy array" in str(exc):
                        raise InputError(
                            f"{where}: key '{key}' cannot be read ({str(exc).split('(', 1)[-1]}"
                        ) from None
                    raise
                except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
                    raise InputError(f"{where}: key '{key}' cannot be read ({_one_line(exc)})") from None
            if "units" in found:
                raw = z["units"]
                if raw.dtype.kind not in "US" or raw.size != 1:
                    raise InputError(f"{where}: key 'units' must be a string such as 'bernoulli' or 'spin'")
                text = raw.item()
                text = text.decode() if isinstance(text, bytes) else str(text)
                try:
                    file_units = parse_units(text)
                except ValueError as exc:
                    raise InputError(f"{where}: key 'units': {_one_line(exc)}") from None
    except InputError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise InputError(f"{where}: not a readable .npz archive ({_one_line(exc)})") from None
    resolved, source = _resolve_units(path, file_units, "key 'units'", units)
    return RBMCheckpoints(where, "npz", (None,), (_params(where, arrays, resolved),), source)


def h5_hard_link_types() -> tuple[type, ...]:
    """h5py's hard-link class (a soft or external link may lead nowhere; a hard link cannot)."""
    import h5py

    return (h5py.HardLink,)


def _h5_get(f: Any, name: str, where: str, what: str) -> Any:
    """The object at ``name`` (None if absent); a link that leads nowhere is refused by name."""
    link = f.get(name, getlink=True)
    if link is None:
        return None
    try:
        return f[name]
    except (KeyError, OSError, RuntimeError, ValueError) as exc:
        if not isinstance(link, h5_hard_link_types()):
            raise InputError(
                f"{where}: {what} '{name}' is a link to nothing ({type(link).__name__}); fix the file"
            ) from None
        raise InputError(f"{where}: {what} '{name}' cannot be opened ({_one_line(exc)})") from None


def _model_type_units(f: Any, h5py: ModuleType, where: str) -> tuple[str, str] | None:
    obj = _h5_get(f, "model_type", where, "dataset")
    if obj is None:
        return None
    if not isinstance(obj, h5py.Dataset) or obj.size != 1 or obj.dtype.kind not in "SUOiuf":
        kind = "a group" if isinstance(obj, h5py.Group) else f"shape {getattr(obj, 'shape', '?')}"
        raise InputError(
            f"{where}: model_type must be one string such as 'BBRBM' (0/1 units) or 'IIRBM' (±1 units), "
            f"got {kind}"
        )
    raw = obj[()]
    raw = raw.reshape(-1)[0] if isinstance(raw, np.ndarray) else raw
    model_type = raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else str(raw)
    if model_type not in _MODEL_TYPES:
        raise InputError(
            f"{where}: model_type '{model_type}' is not supported "
            "(supported: BBRBM with 0/1 units, IIRBM with ±1 units)"
        )
    return _MODEL_TYPES[model_type]


def _checkpoint_groups(f: Any, h5py: ModuleType, where: str) -> dict[int, str]:
    """``{n: name}`` of the groups ``update_<n>``; duplicated or out-of-range indices refused."""
    groups: dict[int, str] = {}
    for name in f.keys():
        m = _UPDATE.fullmatch(name)
        if m is None:
            continue
        n = int(m.group(1))
        if n > MAX_CHECKPOINT:
            raise InputError(
                f"{where}: checkpoint group '{name}' has an update index above 2^63 - 1 "
                "(the largest supported); rename it"
            )
        if not isinstance(_h5_get(f, name, where, "checkpoint group"), h5py.Group):
            continue
        if n in groups:
            a, b = sorted((groups[n], name))
            raise InputError(
                f"{where}: checkpoint groups '{a}' and '{b}' both have update index {n}; "
                "keep one (each update index must name one checkpoint)"
            )
        groups[n] = name
    return groups


def _read_hdf5_rbm(
    path: Path, checkpoint: int | None, all_checkpoints: bool, units: str | None
) -> RBMCheckpoints:
    h5py = _h5py(path)
    where = show(path)
    try:
        with h5py.File(path, "r") as f:
            groups = _checkpoint_groups(f, h5py, where)
            if not groups:
                raise InputError(
                    f"{where}: no checkpoint groups 'update_<n>' (expected the rbms layout "
                    "update_<n>/params/weight_matrix (Nv, Nh), vbias (Nv,), hbias (Nh,))"
                )
            file_units = _model_type_units(f, h5py, where)
            resolved, source = _resolve_units(path, file_units, "'model_type'", units)
            available = sorted(groups)
            if all_checkpoints:
                chosen = available
            elif checkpoint is None:
                chosen = [available[-1]]
            elif checkpoint in groups:
                chosen = [checkpoint]
            else:
                shown = ", ".join(str(n) for n in available[:8]) + (", ..." if len(available) > 8 else "")
                raise InputError(
                    f"{where}: no checkpoint update_{checkpoint}; the file has {len(available)} "
                    f"checkpoint(s): {shown}"
                )
            params = []
            total = 0.0
            for n in chosen:
                grp = f[groups[n]]
                inner = _h5_get(grp, "params", where, f"{groups[n]}/")
                src = inner if isinstance(inner, h5py.Group) else grp
                arrays: dict[str, Any] = {}
                for key, shape in _NPZ_KEYS.items():
                    obj = _h5_get(src, key, where, f"{src.name.lstrip('/')}/ dataset")
                    if not isinstance(obj, h5py.Dataset):
                        raise InputError(
                            f"{where}: checkpoint update_{n} has no dataset '{key}' in '{src.name}' "
                            f"(expected shape {shape})"
                        )
                    total += float(np.prod(obj.shape, dtype=np.float64)) * 8.0
                    _check_member(f"{where} [{src.name.lstrip('/')}]", key, obj.shape, obj.dtype)
                    check_fits(where, f"{len(chosen)} checkpoint(s) up to update_{n}", total)
                    arrays[key] = obj[()]
                params.append(_params(f"{where} [{src.name.lstrip('/')}]", arrays, resolved))
    except InputError:
        raise
    except (OSError, KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise InputError(f"{where}: not a readable HDF5 file ({_one_line(exc)})") from None
    shapes = {p.weight_matrix.shape for p in params}
    if len(shapes) != 1:
        raise InputError(
            f"{where}: checkpoints disagree on the weight_matrix shape (Nv, Nh): {sorted(shapes)}"
        )
    return RBMCheckpoints(where, "hdf5", tuple(chosen), tuple(params), source)


def load_rbm(
    path: str | Path,
    *,
    checkpoint: int | None = None,
    all_checkpoints: bool = False,
    units: str | None = None,
) -> RBMCheckpoints:
    """Read an RBM (``.npz``) or its training checkpoints (HDF5, ``rbms`` layout).

    Parameters
    ----------
    path
        The model file (``str`` or :class:`os.PathLike`); its format is sniffed
        from its first bytes.
    checkpoint
        HDF5 only: the update index ``n`` of the checkpoint ``update_<n>``;
        default the last one (largest ``n``).
    all_checkpoints
        HDF5 only: read every checkpoint, in increasing ``n``.
    units
        Requested unit convention (:func:`dsb_verifier.theory.rbm.io.parse_units`); refused
        if it contradicts the file.

    Raises
    ------
    InputError
        Arguments of the wrong type; missing or misnamed keys, inconsistent
        shapes, non-finite or overflowing values, arrays whose declared size
        would not fit in memory (checked before reading), a checkpoint that does
        not exist, two groups with the same update index (``update_01`` and
        ``update_1``), an index above ``2^63 - 1``, a dangling link, an
        unreadable file, or h5py missing.
    """
    p = check_path(path)
    try:
        if checkpoint is not None:
            check_int(checkpoint, "checkpoint")
        check_flag(all_checkpoints, "all_checkpoints")
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if units is not None and not isinstance(units, str):
        raise InputError(f"units must be None or a string such as 'bernoulli' or 'spin', got {units!r}")
    if checkpoint is not None and all_checkpoints:
        raise InputError("choose either one checkpoint or all checkpoints, not both")
    fmt = sniff_format(p)
    if fmt == "npz":
        return _read_npz(p, checkpoint is not None or all_checkpoints, units)
    if fmt == "hdf5":
        return _read_hdf5_rbm(
            p, None if checkpoint is None else int(checkpoint), bool(all_checkpoints), units
        )
    raise InputError(
        f"{show(p)}: not an .npz archive or an HDF5 file (detected {fmt}); cannot read an RBM from it"
    )


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
        underflows to 0 (the claim checks need ``log q`` finite): refused here,
        before any check runs.
    """
    if not isinstance(samples, Samples):
        raise InputError(f"samples must be a Samples (from load_samples), got {type(samples).__name__}")
    alpha = default_pseudo_count(samples.n_variables) if pseudo_count is None else pseudo_count
    try:
        q = empirical(samples.x, pseudo_count=alpha, values=samples.values)
    except ValueError as exc:
        raise InputError(f"{samples.path}: {_one_line(exc)}") from None
    if not (np.all(np.isfinite(q)) and np.all(q > 0)):
        raise InputError(
            f"{samples.path}: pseudo_count={alpha!r} is too small: unseen states get probability 0 in "
            f"float64 (log q must be finite); use a pseudo-count of at least "
            f"{samples.n_samples * 1e-300:.0e}"
        )
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
