"""Ctrl-C that cannot be lost: SIGINT is remembered as well as raised.

Python turns SIGINT into :class:`KeyboardInterrupt` in whatever Python code runs
at that instant. When that code is a finaliser or a weak-reference callback
(numpy, scipy and the garbage collector run many), the exception is printed as
"Exception ignored in ..." and *dropped*: in 145 Ctrl-C's sent at random moments
of quick runs, 2 were lost that way and the run went on to publish its report and
exit 0. :func:`handling_interrupts` installs a SIGINT handler that records the
signal before raising, so that the command can stop at the next safe point
(:func:`raise_if_interrupted`, called by the progress callback and by
:mod:`dsb_verifier.checks.cli.publish` just before anything is published) and
exit 130 even when the exception itself was swallowed. Python still prints such a
swallowed interrupt with its traceback ("Exception ignored in ..."); inside the block,
:func:`_quiet_unraisable` drops that print for interrupts already recorded (any other
unraisable error is printed as before), so an interrupted command prints its one line.

SIGTERM (``kill``, a batch system's time limit, ``docker stop``) and SIGHUP (the
terminal closed) are handled the same way: the command cleans up its staging
folder and locks, prints one line and exits ``128 + signal number`` (143, 129),
as a process killed by that signal would report in a shell. A signal that is
ignored when the block starts (``nohup`` ignores SIGHUP) stays ignored.

After an interrupt the command ends the process with :func:`exit_now` rather
than by a normal interpreter shutdown: the interrupt may have unwound through an
extension module in the middle of a call, and finalising such a module's objects
can abort the interpreter (seen once in CI: "Fatal Python error: PyThreadState_Get"
during finalisation, exit status -6 instead of 130). The command's own clean-up
(staging folders, locks, worker pool) is done in ``finally`` blocks before that.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, NoReturn

__all__ = [
    "SIGNALS",
    "exit_now",
    "handling_interrupts",
    "interrupted",
    "raise_if_interrupted",
    "received_signal",
]

#: Signals treated as an interrupt: what the command prints, and its exit code (128 + number).
SIGNALS: dict[int, tuple[str, int]] = {
    signal.SIGINT: ("interrupted", 128 + signal.SIGINT),
    signal.SIGTERM: ("terminated (SIGTERM)", 128 + signal.SIGTERM),
    signal.SIGHUP: ("hung up (SIGHUP)", 128 + signal.SIGHUP),
}


class _State:
    received = False
    signum = signal.SIGINT


def _handler(signum: int, frame: FrameType | None) -> None:
    if not _State.received:  # the first signal names the interruption
        _State.signum = signal.Signals(signum)
    _State.received = True
    raise KeyboardInterrupt


def _quiet_unraisable(previous: Any) -> Any:
    """An ``sys.unraisablehook`` that drops recorded interrupts and passes everything else to ``previous``."""

    def hook(args: Any) -> None:
        if isinstance(args.exc_value, KeyboardInterrupt) and _State.received:
            return
        previous(args)

    return hook


@contextmanager
def handling_interrupts() -> Iterator[None]:
    """Record every SIGINT, SIGTERM or SIGHUP received inside the block and raise :class:`KeyboardInterrupt`.

    Does nothing outside the main thread (where signal handlers cannot be set); a
    signal ignored when the block starts stays so (a background job started with
    SIGINT ignored, ``nohup``'s SIGHUP).
    The record is cleared when the block starts and when it ends, so a SIGINT of one
    command never stops code that runs outside it (a library call of
    :mod:`~dsb_verifier.checks.cli.publish`, a later command in the same process);
    the previous handler is restored on exit. An interrupt swallowed by a finaliser is
    not printed as "Exception ignored" (it is recorded and acted on).
    """
    _State.received = False
    _State.signum = signal.SIGINT
    previous: dict[int, Any] = {}
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _quiet_unraisable(previous_hook)
    if threading.current_thread() is threading.main_thread():
        for signum in SIGNALS:
            before = signal.getsignal(signum)
            if before is not signal.SIG_IGN:
                previous[signum] = before
                signal.signal(signum, _handler)
    try:
        yield
    finally:
        for signum, before in previous.items():
            signal.signal(signum, before if before is not None else signal.SIG_DFL)
        sys.unraisablehook = previous_hook
        _State.received = False


def interrupted() -> bool:
    """True if a SIGINT, SIGTERM or SIGHUP arrived inside the current :func:`handling_interrupts` block."""
    return _State.received


def received_signal() -> int:
    """The first signal of :data:`SIGNALS` received in the current block (SIGINT if none, or a plain Ctrl-C)."""
    return int(_State.signum)


def raise_if_interrupted() -> None:
    """Raise :class:`KeyboardInterrupt` if a SIGINT arrived, even one whose exception was swallowed."""
    if _State.received:
        raise KeyboardInterrupt


def exit_now(code: int) -> NoReturn:
    """Flush stdout and stderr and end the process with ``code`` without interpreter finalisation."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
