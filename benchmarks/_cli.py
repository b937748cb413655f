"""Command line of the benchmark suite: argument validation, running, printing, JSON."""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._harness import Config, SectionResult


def _sections_arg(value: str) -> list[str]:
    from benchmarks import SECTIONS

    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        known = ", ".join(SECTIONS)
        raise argparse.ArgumentTypeError(f"--only needs at least one section name; known: {known}")
    unknown = [v for v in names if v not in SECTIONS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown section(s) {', '.join(unknown)}; known sections: {', '.join(SECTIONS)}"
        )
    return names


def _int_in(lo: int, hi: int | None, what: str) -> Any:
    def parse(value: str) -> int:
        try:
            v = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be an integer, got {value!r}") from None
        if v < lo or (hi is not None and v > hi):
            bound = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
            raise argparse.ArgumentTypeError(f"{what} must be {bound}, got {v}")
        return v

    return parse


def build_parser() -> argparse.ArgumentParser:
    from benchmarks import ON_REQUEST, SECTIONS

    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time dsb-verifier's numerical kernels and print comparison tables.",
    )
    p.add_argument(
        "--only",
        type=_sections_arg,
        default=None,
        metavar="NAMES",
        help=(
            f"comma-separated sections to run (default: {', '.join(n for n in SECTIONS if n not in ON_REQUEST)}; "
            f"only when named: {', '.join(sorted(ON_REQUEST))})"
        ),
    )
    p.add_argument(
        "--max-n",
        type=_int_in(1, 30, "--max-n"),
        default=20,
        metavar="N",
        help="largest number of spins N (vector length 2^N); default 20",
    )
    p.add_argument(
        "--repeat",
        type=_int_in(1, None, "--repeat"),
        default=5,
        metavar="R",
        help="timed repeats per measurement; best and median are kept; default 5",
    )
    p.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write all results (raw seconds and bytes) as JSON to FILE",
    )
    return p


def environment() -> dict[str, Any]:
    """Versions and machine facts that a timing is meaningless without."""
    import scipy
    import sympy
    from dsb_verifier import theory

    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas_desc = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # pragma: no cover - depends on numpy build
        blas_desc = "unknown"
    return {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sympy": sympy.__version__,
        "theory": theory.__version__,
        "blas": blas_desc,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "thread_env": {
            k: os.environ[k]
            for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
            if k in os.environ
        },
    }


def _cpu_busy(interval: float = 0.5) -> float | None:
    """Fraction of all CPU time spent busy during ``interval`` seconds while this process sleeps.

    Measures contention from *other* processes (Linux ``/proc/stat``); None elsewhere.
    """

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields[:8]), idle

    try:
        total0, idle0 = sample()
        time.sleep(interval)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):  # pragma: no cover - non-Linux
        return None
    dt = total1 - total0
    return None if dt <= 0 else 1.0 - (idle1 - idle0) / dt


def main(argv: list[str] | None = None) -> int:
    from benchmarks import ON_REQUEST, SECTIONS

    args = build_parser().parse_args(argv)
    config = Config(max_n=args.max_n, repeat=args.repeat)
    names = args.only if args.only is not None else [n for n in SECTIONS if n not in ON_REQUEST]
    env = environment()
    print(
        f"dsb-verifier benchmarks: python {env['python']}, numpy {env['numpy']} ({env['blas']}), "
        f"sympy {env['sympy']}, {env['cpu_count']} CPUs; max N={config.max_n}, repeat={config.repeat}, "
        f"min {config.min_time * 1e3:g} ms per repeat; times are best-of-repeat seconds per call"
    )
    busy: dict[str, float | None] = {"start": _cpu_busy()}
    if busy["start"] is not None:
        print(f"CPU busy with other processes just before starting: {busy['start']:.0%}")
        if busy["start"] > 0.2:
            print(
                "note: other processes compete for the cores; multi-threaded BLAS (used by theory.wht) "
                "slows down sharply under contention. Re-run on an idle machine for comparable numbers."
            )
    results: dict[str, SectionResult] = {}
    elapsed: dict[str, float] = {}
    t_all = time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        res = SECTIONS[name](config)
        elapsed[name] = time.perf_counter() - t0
        results[name] = res
        print()
        print(res.render())
        busy[name] = after = _cpu_busy()
        busy_msg = "" if after is None else f"; CPU busy with other processes just after it: {after:.0%}"
        print(f"(section {name} took {elapsed[name]:.1f} s{busy_msg})", flush=True)
    total = time.perf_counter() - t_all
    print(f"\ntotal {total:.1f} s")

    if args.json is not None:
        payload = {
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "argv": sys.argv[1:] if argv is None else list(argv),
            "config": {
                "max_n": config.max_n,
                "repeat": config.repeat,
                "min_time_s": config.min_time,
                "seed": config.seed,
            },
            "environment": env,
            "cpu_busy_other_processes": busy,
            "sections": {
                name: {
                    "title": r.title,
                    "elapsed_s": elapsed[name],
                    "columns": list(r.columns),
                    "rows": [list(row) for row in r.rows],
                    "summary": list(r.summary),
                    "data": r.data,
                }
                for name, r in results.items()
            },
            "total_s": total,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0
