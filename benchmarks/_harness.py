r"""Timing, memory, scaling-fit and table helpers shared by every benchmark section.

Benchmarks *report*; they never assert a timing. Each section is a function
``run(config) -> SectionResult`` registered in :data:`benchmarks.SECTIONS`.

Measurement protocol
--------------------
* **Time** (:func:`time_calls`): ``time.perf_counter`` around a loop of ``number``
  calls, with the garbage collector off (as :mod:`timeit` does). ``number`` is
  chosen by a calibration run (which doubles as warm-up) so that one repeat lasts
  at least ``config.min_time`` seconds; the loop is repeated ``config.repeat``
  times and the per-call time of each repeat is kept. Routes compared in one row
  have their repeats interleaved. Tables show the *best* repeat (least disturbed
  by the rest of the machine); JSON also has the median.
* **Memory** (:func:`peak_memory`): a *separate* single call under
  :mod:`tracemalloc` (numpy reports its buffers to it), so tracing overhead never
  enters a timing. The value is the peak of bytes allocated *during* the call,
  above what was allocated before it: inputs prepared beforehand are not counted.
* **Scaling** (:func:`growth_exponent`): least-squares slope of
  :math:`\log t` against :math:`\log n`, :math:`n = 2^N`, over an explicit
  window of ``N`` (``numpy.polyfit``, degree 1). An ``O(n)`` routine gives 1;
  ``O(n \log n)`` gives slightly more (see :func:`nlogn_exponent`).

Glossary: ``N`` number of spins, ``n = 2^N`` vector length, ``t`` seconds per call.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Config",
    "Fit",
    "SectionResult",
    "Timing",
    "fmt_bytes",
    "fmt_ratio",
    "fmt_time",
    "format_table",
    "growth_exponent",
    "nlogn_exponent",
    "peak_memory",
    "ratio",
    "time_call",
    "time_calls",
]


@dataclass(frozen=True)
class Config:
    """Settings shared by all sections (from the command line).

    Attributes
    ----------
    max_n
        Largest number of spins any section may use.
    repeat
        Number of timed repeats per measurement (best and median are reported).
    min_time
        Minimum duration in seconds of one repeat; fast calls are looped.
    seed
        Seed of the ``numpy.random.Generator`` each section draws its inputs from.
    """

    max_n: int = 20
    repeat: int = 5
    min_time: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.max_n, bool) or not isinstance(self.max_n, int) or not 1 <= self.max_n <= 30:
            raise ValueError(f"max_n must be an integer in [1, 30], got {self.max_n!r}")
        if isinstance(self.repeat, bool) or not isinstance(self.repeat, int) or self.repeat < 1:
            raise ValueError(f"repeat must be a positive integer, got {self.repeat!r}")
        if not (math.isfinite(self.min_time) and self.min_time > 0):
            raise ValueError(f"min_time must be a positive number of seconds, got {self.min_time!r}")


@dataclass(frozen=True)
class Timing:
    """Per-call times of ``len(times)`` repeats, each a loop of ``number`` calls."""

    times: tuple[float, ...]
    number: int

    def __post_init__(self) -> None:
        if not self.times:
            raise ValueError("Timing needs at least one repeat")
        if self.number < 1:
            raise ValueError(f"Timing.number must be >= 1, got {self.number}")
        if any(not (math.isfinite(t) and t >= 0) for t in self.times):
            raise ValueError(f"Timing.times must be finite and non-negative, got {self.times}")

    @property
    def best(self) -> float:
        """Smallest per-call time over the repeats (seconds)."""
        return min(self.times)

    @property
    def median(self) -> float:
        """Median per-call time over the repeats (seconds)."""
        return statistics.median(self.times)

    def as_dict(self) -> dict[str, Any]:
        return {
            "best_s": self.best,
            "median_s": self.median,
            "number": self.number,
            "times_s": list(self.times),
        }


@dataclass(frozen=True)
class Fit:
    r"""Log–log fit :math:`\log t = p \log n + c` over ``N`` in ``window`` (inclusive)."""

    exponent: float
    intercept: float
    window: tuple[int, int]
    Ns: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.Ns) < 2:
            raise ValueError(f"a growth fit needs at least 2 sizes, got Ns={self.Ns}")
        if not all(self.window[0] <= N <= self.window[1] for N in self.Ns):
            raise ValueError(f"fit sizes {self.Ns} must lie in the window {self.window}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "exponent": self.exponent,
            "intercept": self.intercept,
            "window": list(self.window),
            "Ns": list(self.Ns),
        }


@dataclass(frozen=True)
class SectionResult:
    """What a section hands back: a table to print, summary lines, and JSON data.

    Attributes
    ----------
    name
        Section key in :data:`benchmarks.SECTIONS`.
    title
        One-line description printed above the table.
    columns
        Table header.
    rows
        Table body, already formatted as strings; each row has ``len(columns)`` cells.
    summary
        Lines printed after the table (headline ratios, growth exponents, notes).
    data
        JSON-serialisable raw results (seconds, bytes, fitted exponents).
    """

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    summary: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"row {i} of section {self.name!r} has {len(row)} cells, expected {len(self.columns)}"
                )

    def render(self) -> str:
        lines = [f"== {self.name}: {self.title}", format_table(self.columns, self.rows), *self.summary]
        return "\n".join(lines)


def time_call(fn: Callable[[], object], config: Config) -> Timing:
    """Time ``fn()``: calibrate the loop length, then ``config.repeat`` repeats.

    The calibration call(s) also warm caches (lru_caches, BLAS buffers, page faults).
    """
    return time_calls({"fn": fn}, config)["fn"]


def time_calls(fns: Mapping[str, Callable[[], object]], config: Config) -> dict[str, Timing]:
    """Time several routes side by side, interleaving their repeats.

    Each route's loop length is calibrated first; then repeat ``r`` of every
    route runs before repeat ``r + 1`` of any, so a burst of load from other
    processes hits all routes alike instead of one route's whole series.
    """
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        numbers = {name: _calibrate(fn, config.min_time) for name, fn in fns.items()}
        times: dict[str, list[float]] = {name: [] for name in fns}
        for _ in range(config.repeat):
            for name, fn in fns.items():
                times[name].append(_loop(fn, numbers[name]) / numbers[name])
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: Timing(times=tuple(times[name]), number=numbers[name]) for name in fns}


def _calibrate(fn: Callable[[], object], min_time: float) -> int:
    """Smallest loop length (roughly) whose duration reaches ``min_time`` seconds."""
    number = 1
    while True:
        elapsed = _loop(fn, number)
        if elapsed >= min_time:
            return number
        # aim a little above min_time; at least double to converge fast
        number = max(2 * number, math.ceil(1.2 * number * min_time / max(elapsed, 1e-9)))


def _loop(fn: Callable[[], object], number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return time.perf_counter() - t0


def peak_memory(fn: Callable[[], object]) -> int:
    """Peak bytes allocated during one call of ``fn()``, above the level before it.

    Run separately from :func:`time_call` (tracing slows allocation). Memory held
    by the result is included, since it is allocated during the call.
    """
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        gc.collect()
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
        del result
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return peak - before


def growth_exponent(Ns: Sequence[int], t: Sequence[float], window: tuple[int, int]) -> Fit:
    r"""Slope of :math:`\log t` against :math:`\log 2^N` over ``window[0] <= N <= window[1]``.

    Raises
    ------
    ValueError
        If lengths differ, a time is not positive, or fewer than two sizes fall
        in the window.
    """
    if len(Ns) != len(t):
        raise ValueError(f"Ns and t must have the same length, got {len(Ns)} and {len(t)}")
    lo, hi = window
    if lo > hi:
        raise ValueError(f"window must be (low, high) with low <= high, got {window}")
    pairs = [(int(N), float(ti)) for N, ti in zip(Ns, t, strict=True) if lo <= N <= hi]
    if len(pairs) < 2:
        raise ValueError(f"need at least 2 sizes with N in [{lo}, {hi}] to fit an exponent, got {len(pairs)}")
    if any(not (math.isfinite(ti) and ti > 0) for _, ti in pairs):
        raise ValueError("times must be finite and positive to take logarithms")
    x = np.array([N * math.log(2.0) for N, _ in pairs])
    y = np.log([ti for _, ti in pairs])
    slope, intercept = np.polyfit(x, y, 1)
    return Fit(
        exponent=float(slope), intercept=float(intercept), window=(lo, hi), Ns=tuple(N for N, _ in pairs)
    )


def nlogn_exponent(Ns: Sequence[int]) -> float:
    r"""The exponent :func:`growth_exponent` would return for :math:`t \propto n \log_2 n = 2^N N`."""
    Ns = list(Ns)
    fit = growth_exponent(Ns, [2.0**N * N for N in Ns], (min(Ns), max(Ns)))
    return fit.exponent


def fmt_time(t: float | None) -> str:
    """Seconds with an SI unit and 3 significant digits; ``-`` when not measured."""
    if t is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if t >= scale:
            return f"{t / scale:.3g} {unit}"
    return f"{t / 1e-9:.3g} ns"


def fmt_ratio(r: float | None) -> str:
    """A ratio as ``12.3x``; ``-`` when not measured."""
    if r is None:
        return "-"
    return f"{r:.3g}x" if r < 1000 else f"{r:,.0f}x"


def fmt_bytes(n: float | None) -> str:
    """Bytes in binary units; ``-`` when not measured."""
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def format_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(columns), rule, *(line(r) for r in rows)])


def ratio(num: float | None, den: float | None) -> float | None:
    """``num / den``, or None if either is missing."""
    if num is None or den is None or den <= 0:
        return None
    return num / den
