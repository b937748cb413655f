r"""Bounded readers behind :mod:`dsb_verifier.checks.cli.io`: look before reading, read in blocks.

A user's file can declare anything: a 200-byte ``.npy`` header or a 1 KB HDF5
dataset can claim terabytes, a 2 GiB "text" file can be NUL bytes without a
newline, a ``.gz`` can be truncated or not compressed at all. Every reader here

* checks the declared shape, dtype and size *before* reading data, against the
  file's real size and the memory available now
  (:func:`dsb_verifier.theory._validation._available_bytes`), and refuses what
  would not fit with the size it would need;
* reads samples in blocks of at most :data:`BLOCK_ELEMENTS` values (text:
  :data:`CHUNK_BYTES` of input at a time), so memory stays bounded by the int8
  result plus one block, and refuses binary garbage in its first chunk.

Every refusal is an :class:`InputError` whose one-line message names the file
(undecodable bytes of its name shown as ``\xNN``) and what was expected.
"""

from __future__ import annotations

import bz2
import gzip
import io
import math
import os
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import IO, Any, cast

import numpy as np
from dsb_verifier.checks.cli.publish import display
from dsb_verifier.theory._validation import _available_bytes, _fmt_bytes
from numpy.typing import NDArray

__all__ = [
    "BLOCK_ELEMENTS",
    "HDF5_HINT",
    "h5_get",
    "h5py_module",
    "sniff_format",
    "CHUNK_BYTES",
    "InputError",
    "check_fits",
    "check_path",
    "npy_header",
    "one_line",
    "show",
]

#: Values converted per block when reading samples.
BLOCK_ELEMENTS = 1 << 22

#: Bytes of text read at a time.
CHUNK_BYTES = 1 << 22

#: Longest text line accepted (a sample of many columns; far beyond MAX_N_DATA kept).
MAX_LINE_BYTES = 1 << 26

#: How to install the optional HDF5 reader.
HDF5_HINT = "pip install 'dsb-verifier[hdf5]'"

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"

_COMPRESSED = {".gz": (b"\x1f\x8b", "gzip"), ".bz2": (b"BZh", "bzip2")}


class InputError(ValueError):
    """A user file or option that cannot be used; the message is one line naming file and key."""


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (its type name if it has none)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def show(path: str | os.PathLike[str]) -> str:
    r"""A path for messages and reports: undecodable bytes shown as ``\xNN``."""
    return display(path)


def check_path(path: object, name: str = "path") -> Path:
    """A file path argument: ``str`` or :class:`os.PathLike` of ``str`` (bytes and others refused)."""
    if isinstance(path, str | os.PathLike):
        fs = os.fspath(path)
        if isinstance(fs, str):
            if not fs or "\x00" in fs:
                raise InputError(f"{name} must be a non-empty file path without NUL characters, got {fs!r}")
            return Path(fs)
    raise InputError(
        f"{name} must be a file path (str or os.PathLike), got {type(path).__name__} {path!r}"[:300]
    )


def check_fits(where: str, what: str, n_bytes: float) -> None:
    """Refuse reading ``what`` if ``n_bytes`` exceed the memory available now."""
    avail = _available_bytes()
    if not math.isfinite(n_bytes) or n_bytes > avail:
        raise InputError(
            f"{where}: {what} would need {_fmt_bytes(n_bytes)} of memory but only {_fmt_bytes(avail)} "
            "is available"
        )


def _shape_bytes(shape: tuple[int, ...], itemsize: int) -> float:
    return float(math.prod(int(s) for s in shape)) * itemsize


# ---- .npy headers ------------------------------------------------------------------
def npy_header(fh: IO[bytes], where: str) -> tuple[tuple[int, ...], bool, np.dtype[Any], int]:
    """``(shape, fortran_order, dtype, data_offset)`` of the ``.npy`` stream ``fh`` (data not read).

    Raises
    ------
    InputError
        If the header is not a valid ``.npy`` header, or declares an object
        (pickled) dtype.
    """
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    except (ValueError, OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise InputError(f"{where}: not a readable .npy array ({one_line(exc)})") from None
    if dtype.hasobject:
        raise InputError(
            f"{where}: not a readable .npy array (dtype {dtype} holds Python objects, which need "
            "allow_pickle=True; save numbers instead)"
        )
    return tuple(int(s) for s in shape), bool(fortran), dtype, fh.tell()


def npy_data_size(shape: tuple[int, ...], dtype: np.dtype[Any]) -> float:
    """Bytes of the data an ``.npy`` header declares."""
    return _shape_bytes(shape, dtype.itemsize)


# ---- samples: blocks of rows --------------------------------------------------------
def npy_blocks(path: Path, where: str) -> tuple[tuple[int, ...], np.dtype[Any], Iterator[NDArray[Any]]]:
    """Shape, dtype and row blocks of an ``.npy`` file, checked against the file size first."""
    try:
        with path.open("rb") as fh:
            shape, _fortran, dtype, offset = npy_header(fh, where)
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{where}: cannot read ({exc.strerror or exc})") from None
    need = npy_data_size(shape, dtype)
    if need > size - offset:
        raise InputError(
            f"{where}: not a readable .npy array (truncated: the header declares shape {shape} of {dtype}, "
            f"{_fmt_bytes(need)}, but the file holds {_fmt_bytes(max(size - offset, 0))} of data)"
        )

    def blocks() -> Iterator[NDArray[Any]]:
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(f"{where}: not a readable .npy array ({one_line(exc)})") from None
        step = max(1, BLOCK_ELEMENTS // max(1, shape[1]))
        for i in range(0, shape[0], step):
            yield np.array(arr[i : i + step])

    return shape, dtype, blocks()


def hdf5_blocks(dset: Any, where: str) -> Iterator[NDArray[Any]]:
    """Row blocks of a 2-D HDF5 dataset (shape and dtype already checked)."""
    M, N = dset.shape
    step = max(1, BLOCK_ELEMENTS // max(1, N))
    for i in range(0, M, step):
        yield np.asarray(dset[i : i + step])


def _open_text(path: Path, where: str) -> IO[bytes]:
    """The byte stream of a text file, decompressed if it is gzip or bzip2 (by content)."""
    with path.open("rb") as fh:
        head = fh.read(3)
    for suffix, (magic, kind) in _COMPRESSED.items():
        named = path.name.lower().endswith(suffix)
        if head.startswith(magic):
            opened: Any = gzip.open(path, "rb") if kind == "gzip" else bz2.open(path, "rb")
            return cast(IO[bytes], opened)
        if named:
            raise InputError(
                f"{where}: the name ends in {suffix} but the file is not {kind}-compressed; "
                f"compress it or rename it without {suffix}"
            )
    return path.open("rb")


def _chunks(stream: IO[bytes], where: str) -> Iterator[tuple[int, bytes]]:
    """``(line number of the first line, bytes of whole lines)``, at most about :data:`CHUNK_BYTES` each."""
    carry = b""
    line = 1
    offset = 0
    while True:
        try:
            data = stream.read(CHUNK_BYTES)
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise InputError(f"{where}: compressed data is truncated or corrupt ({one_line(exc)})") from None
        nul = data.find(b"\x00")
        if nul >= 0:
            raise InputError(
                f"{where}: not a whitespace-separated table of numbers (binary data: a NUL byte at byte "
                f"{offset + nul})"
            )
        offset += len(data)
        if not data:
            if carry:
                yield line, carry
            return
        buf = carry + data
        cut = buf.rfind(b"\n") + 1
        if cut == 0:
            if len(buf) > MAX_LINE_BYTES:
                raise InputError(
                    f"{where}: not a whitespace-separated table of numbers (line {line} is longer than "
                    f"{_fmt_bytes(MAX_LINE_BYTES)})"
                )
            carry = buf
            continue
        yield line, buf[:cut]
        line += buf.count(b"\n", 0, cut)
        carry = buf[cut:]


def text_blocks(path: Path, where: str) -> Iterator[NDArray[np.float64]]:
    """Row blocks of a whitespace-separated table (``#`` comments), read a chunk at a time."""
    try:
        stream = _open_text(path, where)
    except OSError as exc:
        raise InputError(f"{where}: cannot read ({exc.strerror or exc})") from None
    with stream:
        for first_line, chunk in _chunks(stream, where):
            try:
                text = chunk.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad_line = first_line + chunk.count(b"\n", 0, exc.start)
                raise InputError(
                    f"{where}: not a whitespace-separated table of numbers (not UTF-8 text: byte "
                    f"{chunk[exc.start]:#04x} on line {bad_line})"
                ) from None
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # numpy warns on a chunk without data
                    block = np.loadtxt(io.StringIO(text), dtype=np.float64, ndmin=2, comments="#")
            except ValueError as exc:
                raise InputError(
                    f"{where}: not a whitespace-separated table of numbers ({one_line(exc)}; "
                    f"counting from line {first_line})"
                ) from None
            if block.size:
                yield block


# ---- formats and HDF5 ----------------------------------------------------------------
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


def h5py_module(path: Path) -> ModuleType:
    try:
        import h5py
    except ImportError:
        raise InputError(
            f"{show(path)}: reading HDF5 files needs h5py; install it with {HDF5_HINT}"
        ) from None
    return h5py


def _hard_link_types() -> tuple[type, ...]:
    """h5py's hard-link class (a soft or external link may lead nowhere; a hard link cannot)."""
    import h5py

    return (h5py.HardLink,)


def h5_get(f: Any, name: str, where: str, what: str) -> Any:
    """The object at ``name`` (None if absent); a link that leads nowhere is refused by name."""
    link = f.get(name, getlink=True)
    if link is None:
        return None
    try:
        return f[name]
    except (KeyError, OSError, RuntimeError, ValueError) as exc:
        if not isinstance(link, _hard_link_types()):
            raise InputError(
                f"{where}: {what} '{name}' is a link to nothing ({type(link).__name__}); fix the file"
            ) from None
        raise InputError(f"{where}: {what} '{name}' cannot be opened ({one_line(exc)})") from None
