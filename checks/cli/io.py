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
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
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


class InputError(ValueError):
    """A user file or option that cannot be used; the message is one line naming file and key."""


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def sniff_format(path: str | Path) -> str:
    """``"npz"``, ``"npy"``, ``"hdf5"`` or ``"text"`` from the file's first bytes.

    Raises
    ------
    InputError
        If the path does not exist, is not a regular file, or is empty.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if not p.is_file():
        raise InputError(f"{p}: not a regular file")
    try:
        with p.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror or exc})") from None
    if not head:
        raise InputError(f"{p}: empty file")
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
        raise InputError(f"{path}: reading HDF5 files needs h5py; install it with {HDF5_HINT}") from None
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
    effective_times
        HDF5 from ``rbms``: ``update_<n>/effective_time`` of each checkpoint
        (cumulative learning rate); ``None`` when any checkpoint lacks it.
    """

    path: str
    format: str
    checkpoints: tuple[int | None, ...]
    params: tuple[RBMParams, ...]
    units_source: str
    effective_times: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not self.params or len(self.params) != len(self.checkpoints):
            raise ValueError("RBMCheckpoints needs one RBMParams per checkpoint (at least one)")
        if self.effective_times is not None and len(self.effective_times) != len(self.params):
            raise ValueError("RBMCheckpoints needs one effective time per checkpoint")
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
            f"{path}: {where} says units {','.join(file_units)} but units {','.join(req)} were requested; "
            "drop the request or fix the file"
        )
    if file_units is not None:
        return file_units, "file"
    if req is not None:
        return req, "requested"
    return ("bernoulli", "bernoulli"), "default"


def _params(where: str, arrays: dict[str, Any], units: tuple[str, str]) -> RBMParams:
    try:
        return RBMParams(
            arrays["weight_matrix"], arrays["vbias"], arrays["hbias"], visible=units[0], hidden=units[1]
        )
    except ValueError as exc:
        msg = _one_line(exc)
        if "weight_matrix" in msg and np.ndim(arrays["weight_matrix"]) == 3:
            msg += " (a 3-D weight_matrix is a Potts RBM, which is not supported)"
        raise InputError(f"{where}: {msg}") from None


def _read_npz(path: Path, selecting: bool, units: str | None) -> RBMCheckpoints:
    if selecting:
        raise InputError(f"{path}: an .npz file holds one model and has no checkpoints to select")
    arrays: dict[str, Any] = {}
    file_units = None
    try:
        with np.load(path, allow_pickle=False) as z:
            found = list(z.files)
            for key, shape in _NPZ_KEYS.items():
                if key not in found:
                    raise InputError(
                        f"{path}: missing key '{key}' (expected an array of shape {shape}); "
                        f"found keys: {', '.join(found) or 'none'}"
                    )
                try:
                    arrays[key] = z[key]
                except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
                    raise InputError(f"{path}: key '{key}' cannot be read ({_one_line(exc)})") from None
            if "units" in found:
                raw = z["units"]
                if raw.dtype.kind not in "US" or raw.size != 1:
                    raise InputError(f"{path}: key 'units' must be a string such as 'bernoulli' or 'spin'")
                text = raw.item()
                text = text.decode() if isinstance(text, bytes) else str(text)
                try:
                    file_units = parse_units(text)
                except ValueError as exc:
                    raise InputError(f"{path}: key 'units': {_one_line(exc)}") from None
    except InputError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise InputError(f"{path}: not a readable .npz archive ({_one_line(exc)})") from None
    resolved, source = _resolve_units(path, file_units, "key 'units'", units)
    return RBMCheckpoints(str(path), "npz", (None,), (_params(str(path), arrays, resolved),), source)


def _read_hdf5_rbm(
    path: Path, checkpoint: int | None, all_checkpoints: bool, units: str | None
) -> RBMCheckpoints:
    h5py = _h5py(path)
    try:
        with h5py.File(path, "r") as f:
            groups = {
                int(m.group(1)): name
                for name in f.keys()
                if (m := _UPDATE.fullmatch(name)) and isinstance(f[name], h5py.Group)
            }
            if not groups:
                raise InputError(
                    f"{path}: no checkpoint groups 'update_<n>' (expected the rbms layout "
                    "update_<n>/params/weight_matrix (Nv, Nh), vbias (Nv,), hbias (Nh,))"
                )
            file_units = None
            if "model_type" in f:
                raw = f["model_type"][()]
                model_type = raw.decode() if isinstance(raw, bytes) else str(raw)
                if model_type not in _MODEL_TYPES:
                    raise InputError(
                        f"{path}: model_type '{model_type}' is not supported "
                        "(supported: BBRBM with 0/1 units, IIRBM with ±1 units)"
                    )
                file_units = _MODEL_TYPES[model_type]
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
                    f"{path}: no checkpoint update_{checkpoint}; the file has {len(available)} "
                    f"checkpoint(s): {shown}"
                )
            params = []
            eff_times: list[float] | None = []
            for n in chosen:
                grp = f[groups[n]]
                eff_times = _effective_time(path, grp, n, h5py, eff_times)
                src = grp["params"] if isinstance(grp.get("params"), h5py.Group) else grp
                arrays: dict[str, Any] = {}
                for key, shape in _NPZ_KEYS.items():
                    obj = src.get(key)
                    if not isinstance(obj, h5py.Dataset):
                        raise InputError(
                            f"{path}: checkpoint update_{n} has no dataset '{key}' in '{src.name}' "
                            f"(expected shape {shape})"
                        )
                    arrays[key] = obj[()]
                params.append(_params(f"{path} [{src.name.lstrip('/')}]", arrays, resolved))
    except InputError:
        raise
    except (OSError, KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: not a readable HDF5 file ({_one_line(exc)})") from None
    shapes = {p.weight_matrix.shape for p in params}
    if len(shapes) != 1:
        raise InputError(
            f"{path}: checkpoints disagree on the weight_matrix shape (Nv, Nh): {sorted(shapes)}"
        )
    times = tuple(eff_times) if eff_times is not None else None
    return RBMCheckpoints(str(path), "hdf5", tuple(chosen), tuple(params), source, times)


def _effective_time(
    path: Path, grp: Any, n: int, h5py: ModuleType, acc: list[float] | None
) -> list[float] | None:
    """Append ``update_<n>/effective_time`` (scalar or one-element array) to ``acc``; ``None`` if absent."""
    obj = grp.get("effective_time")
    if acc is None or not isinstance(obj, h5py.Dataset):
        return None
    raw = np.asarray(obj[()])
    if raw.size != 1 or raw.dtype.kind not in "biuf" or not np.isfinite(raw).all():
        raise InputError(
            f"{path}: checkpoint update_{n}: 'effective_time' must be one finite number, "
            f"got shape {raw.shape} dtype {raw.dtype}"
        )
    acc.append(float(raw.reshape(())))
    return acc


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
        The model file; its format is sniffed from its first bytes.
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
        Missing or misnamed keys, inconsistent shapes, non-finite values, a
        checkpoint that does not exist, an unreadable file, or h5py missing.
    """
    p = Path(path)
    if checkpoint is not None and all_checkpoints:
        raise InputError("choose either one checkpoint or all checkpoints, not both")
    fmt = sniff_format(p)
    if fmt == "npz":
        return _read_npz(p, checkpoint is not None or all_checkpoints, units)
    if fmt == "hdf5":
        return _read_hdf5_rbm(p, checkpoint, all_checkpoints, units)
    raise InputError(f"{p}: not an .npz archive or an HDF5 file (detected {fmt}); cannot read an RBM from it")


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
    """Parse ``"0,3,5"`` into column indices (non-negative, distinct)."""
    parts = [s.strip() for s in str(spec).split(",")]
    if not parts or any(not s.isdigit() for s in parts):
        raise InputError(f"columns must be comma-separated non-negative integers such as 0,3,5; got {spec!r}")
    cols = tuple(int(s) for s in parts)
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise InputError(f"columns must be distinct; {dup[0]} appears more than once in {spec!r}")
    return cols


def _raw_samples(path: Path) -> NDArray[Any]:
    fmt = sniff_format(path)
    if fmt == "npy":
        try:
            return np.asarray(np.load(path, allow_pickle=False))
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(f"{path}: not a readable .npy array ({_one_line(exc)})") from None
    if fmt == "hdf5":
        h5py = _h5py(path)
        try:
            with h5py.File(path, "r") as f:
                obj = f.get("samples")
                if not isinstance(obj, h5py.Dataset):
                    raise InputError(
                        f"{path}: no dataset 'samples' (expected shape (M, N)); "
                        f"found: {', '.join(f.keys()) or 'nothing'}"
                    )
                return np.asarray(obj[()])
        except InputError:
            raise
        except (OSError, KeyError, RuntimeError, TypeError, ValueError) as exc:
            raise InputError(f"{path}: not a readable HDF5 file ({_one_line(exc)})") from None
    if fmt == "npz":
        raise InputError(
            f"{path}: samples must be a .npy array, an HDF5 file or a text file, not an .npz archive"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy warns on an empty file; we refuse it below
            return np.loadtxt(path, dtype=np.float64, ndmin=2, comments="#")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a whitespace-separated table of numbers ({_one_line(exc)})") from None


def load_samples(path: str | Path, *, columns: tuple[int, ...] | None = None) -> Samples:
    """Read binary samples, shape ``(M, N)``, values all 0/1 or all ±1.

    Parameters
    ----------
    path
        ``.npy``, HDF5 (dataset ``samples``) or whitespace-separated text.
    columns
        Column indices to keep (e.g. from :func:`parse_columns`); all by default.
        At most :data:`MAX_N_DATA` variables may remain.

    Raises
    ------
    InputError
        Unreadable file, not 2-D, no samples, non-binary or mixed values, no
        column selected, a column selected twice or out of range, or too many
        variables for exact enumeration.
    """
    p = Path(path)
    raw = _raw_samples(p)
    if raw.ndim != 2 or raw.shape[0] < 1 or raw.shape[1] < 1:
        raise InputError(
            f"{p}: samples must be a 2-D array (M samples, N variables) with M, N >= 1, got shape {raw.shape}"
        )
    if raw.dtype.kind not in "biuf":
        raise InputError(f"{p}: samples must be numeric 0/1 or ±1 values, got dtype {raw.dtype}")
    uniq = np.unique(raw)
    if np.all(np.isin(uniq, (0, 1))):
        values = "bit"
    elif np.all(np.isin(uniq, (-1, 1))):
        values = "spin"
    else:
        bad = ~np.isin(raw, (0, 1, -1))
        if np.any(bad):
            r, c = (int(i) for i in np.argwhere(bad)[0])
            raise InputError(
                f"{p}: samples must be all 0/1 or all ±1; found {raw[r, c].item()!r} at row {r}, column {c}"
            )
        raise InputError(f"{p}: samples mix 0/1 and ±1 values (found both 0 and -1); use one convention")
    n_cols = raw.shape[1]
    cols = tuple(range(n_cols)) if columns is None else tuple(int(c) for c in columns)
    if not cols:
        raise InputError(f"{p}: no columns selected; give at least one of the {n_cols} column indices")
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise InputError(f"{p}: columns must be distinct; {dup[0]} is selected more than once")
    out = [c for c in cols if not 0 <= c < n_cols]
    if out:
        raise InputError(
            f"{p}: column {out[0]} does not exist; the samples have {n_cols} columns (0..{n_cols - 1})"
        )
    if len(cols) > MAX_N_DATA:
        raise InputError(
            f"{p}: {len(cols)} variables is too many for exact enumeration (at most {MAX_N_DATA}); "
            "select columns, e.g. --columns 0,1,2"
        )
    x = np.ascontiguousarray(raw[:, list(cols)]).astype(np.int8)
    return Samples(x=x, values=values, columns=cols, path=str(p))


def default_pseudo_count(N: int) -> float:
    r"""Default pseudo-count :math:`\alpha = 2^{-N}`: one virtual sample spread uniformly.

    With :func:`theory.empirical`, :math:`q = (c + \alpha)/(M + \alpha 2^N)`
    becomes :math:`q = (M f + 2^{-N})/(M + 1)`: the empirical frequencies
    :math:`f` mixed with the uniform distribution at weight :math:`1/(M + 1)`.
    It keeps ``q`` strictly positive (unseen states get :math:`2^{-N}/(M+1)`),
    vanishes as ``M`` grows, and does not depend on a tuning choice.
    """
    return 2.0 ** -int(N)


def target_from_samples(samples: Samples, pseudo_count: float | None = None) -> NDArray[np.float64]:
    """Empirical distribution of ``samples`` by :func:`theory.empirical` (default alpha ``2^-N``)."""
    alpha = default_pseudo_count(samples.n_variables) if pseudo_count is None else pseudo_count
    try:
        return empirical(samples.x, pseudo_count=alpha, values=samples.values)
    except ValueError as exc:
        raise InputError(f"{samples.path}: {_one_line(exc)}") from None


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
