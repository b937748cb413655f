"""Terminal output of ``dsb-verify`` that survives any stream encoding.

The verdict table, progress lines and help contain ``≤``, ``ᵀ``, ``σ``, ``±``...
A stream that cannot encode them (``PYTHONIOENCODING=ascii``, a latin-1 pipe, an
old Windows console) would raise ``UnicodeEncodeError`` after the report was
written. :func:`printable` returns text the stream can encode: unchanged when it
can, otherwise with the usual ASCII spellings (``<=``, ``^T``, ``sigma``) and
backslash escapes for anything else; :func:`emit` writes a line through it.
"""

from __future__ import annotations

import codecs
import io
import os
import sys
from typing import TextIO

__all__ = ["ASCII_FALLBACK", "emit", "printable", "silence_stdout"]

#: ASCII spellings used when the stream cannot encode a character (the rest: backslash escapes).
ASCII_FALLBACK: dict[str, str] = {
    "≤": "<=",
    "≥": ">=",
    "≠": "!=",
    "≈": "~",
    "ᵀ": "^T",
    "±": "+/-",
    "×": "x",
    "·": ".",
    "−": "-",
    "–": "-",
    "—": "--",
    "→": "->",
    "←": "<-",
    "↔": "<->",
    "…": "...",
    "‖": "||",
    "∞": "inf",
    "²": "^2",
    "³": "^3",
    "⁴": "^4",
    "α": "alpha",
    "β": "beta",
    "ε": "eps",
    "η": "eta",
    "θ": "theta",
    "λ": "lambda",
    "σ": "sigma",
    "τ": "tau",
    "χ": "chi",
    "ω": "omega",
    "Δ": "Delta",
}


def _encoding(stream: TextIO) -> str:
    """The stream's encoding, or ASCII when it names none that Python knows."""
    name = getattr(stream, "encoding", None) or "ascii"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "ascii"


def printable(text: str, stream: TextIO) -> str:
    """``text`` as ``stream`` can encode it: unchanged if possible, else ASCII spellings and escapes."""
    enc = _encoding(stream)
    try:
        text.encode(enc)
    except UnicodeEncodeError:
        return "".join(_char(ch, enc) for ch in text)
    return text


def _char(ch: str, enc: str) -> str:
    """``ch`` if ``enc`` encodes it, else its ASCII spelling, else its backslash escape."""
    try:
        ch.encode(enc)
    except UnicodeEncodeError:
        return ASCII_FALLBACK.get(ch) or ch.encode(enc, "backslashreplace").decode(enc)
    return ch


class StdoutWriteError(OSError):
    """Standard output cannot be written (a full disk, ``> /dev/full``, an I/O error); not a closed pipe."""


def emit(text: str, stream: TextIO | None = None) -> None:
    """Write ``text`` and a newline to ``stream`` (default: stdout) in an encoding it accepts, and flush.

    Raises
    ------
    StdoutWriteError
        If writing to standard output fails for another reason than a closed pipe
        (:class:`BrokenPipeError` passes through: the reader had enough).
    """
    out = sys.stdout if stream is None else stream
    try:
        out.write(printable(text, out) + "\n")
        out.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        if out is not sys.stdout:
            raise
        raise StdoutWriteError(exc.errno, exc.strerror or str(exc)) from exc


def silence_stdout() -> None:
    """Point stdout at the null device, so that Python's final flush cannot fail on a closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):  # not a real file (e.g. captured in tests)
        pass
    finally:
        os.close(devnull)
