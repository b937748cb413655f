"""Counting completed cases for the runner's ``progress(done, total)`` callback.

A claim module whose ``run`` accepts ``progress`` (see :mod:`dsb_verifier.checks.runner`)
builds a :class:`Tally` over the number of cases it is about to evaluate and calls
:meth:`Tally.step` as each completes; with ``progress=None`` the tally does nothing.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["ProgressFn", "Tally"]

#: The runner's callback: ``progress(done, total)``.
ProgressFn = Callable[[int, int], None]


class Tally:
    """``done`` out of ``total`` cases, reported to ``progress`` at every step.

    Raises
    ------
    ValueError
        If ``total`` is not an integer ``>= 1``, or a step would pass ``total``.
    """

    def __init__(self, total: int, progress: ProgressFn | None) -> None:
        if isinstance(total, bool) or not isinstance(total, int) or total < 1:
            raise ValueError(f"total must be an integer >= 1, got {total!r}")
        self.total, self.done = total, 0
        self._progress = progress

    def step(self, n: int = 1) -> None:
        """Record ``n`` more completed cases and report."""
        if self.done + n > self.total:
            raise ValueError(f"step of {n} passes the total: {self.done} + {n} > {self.total}")
        self.done += n
        if self._progress is not None:
            self._progress(self.done, self.total)

    def finish(self) -> None:
        """Mark every case complete (reports ``total/total`` once if not already there)."""
        if self.done < self.total:
            self.step(self.total - self.done)
