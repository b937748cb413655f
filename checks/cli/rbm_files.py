r"""Read users' RBMs: one ``.npz`` model or the HDF5 training checkpoints of the ``rbms`` package.

The file layouts and unit conventions are documented in :mod:`dsb_verifier.checks.cli.io`
(which re-exports :func:`load_rbm` and :class:`RBMCheckpoints`). Declared array sizes are
checked before reading (:func:`dsb_verifier.checks.cli._readers.check_fits`); checkpoint
groups with one update index twice, an index above ``2^63 - 1``, a ``model_type`` that is
not one string and links that lead nowhere are refused by name.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from dsb_verifier.checks.cli._readers import (
    InputError,
    check_fits,
    check_path,
    h5_get,
    h5py_module,
    npy_data_size,
    npy_header,
    one_line,
    show,
    sniff_format,
)
from dsb_verifier.theory._validation import check_flag, check_int
from dsb_verifier.theory.rbm.io import RBMParams, parse_units

__all__ = ["MAX_CHECKPOINT", "RBMCheckpoints", "load_rbm"]

_NPZ_KEYS = {"weight_matrix": "(Nv, Nh)", "vbias": "(Nv,)", "hbias": "(Nh,)"}
_MODEL_TYPES = {"BBRBM": ("bernoulli", "bernoulli"), "IIRBM": ("spin", "spin")}
_UPDATE = re.compile(r"update_([0-9]+)")

#: Largest update index n of a checkpoint group update_<n> (stored as int64 in outputs).
MAX_CHECKPOINT = 2**63 - 1

#: Largest sum of |weights| and |biases| accepted: energies up to this size keep
#: log-sum-exp and the Walsh transform of log p finite in float64 (about 1e308 / 2^24).
_MAX_ENERGY = 1e300

_one_line = one_line
_h5py = h5py_module
_h5_get = h5_get


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
            eff_times: list[float] | None = []
            total = 0.0
            for n in chosen:
                grp = f[groups[n]]
                eff_times = _effective_time(where, grp, n, h5py, eff_times)
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
    times = tuple(eff_times) if eff_times is not None else None
    return RBMCheckpoints(where, "hdf5", tuple(chosen), tuple(params), source, times)


def _effective_time(
    where: str, grp: Any, n: int, h5py: ModuleType, acc: list[float] | None
) -> list[float] | None:
    """Append ``update_<n>/effective_time`` (scalar or one-element array) to ``acc``; ``None`` if absent."""
    obj = grp.get("effective_time", getlink=True)
    if acc is None or not isinstance(obj, h5py.HardLink):
        return None
    ds = grp["effective_time"]
    if not isinstance(ds, h5py.Dataset) or ds.size != 1:
        raise InputError(
            f"{where}: checkpoint update_{n}: 'effective_time' must be one finite number, "
            f"got {'a group' if not isinstance(ds, h5py.Dataset) else f'shape {ds.shape}'}"
        )
    raw = np.asarray(ds[()])
    if raw.dtype.kind not in "biuf" or not np.isfinite(raw).all():
        raise InputError(
            f"{where}: checkpoint update_{n}: 'effective_time' must be one finite number, "
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
