"""Run ``mutmut`` (3.x) with a faster call tracer, as ``python tests/mutation/mutmut_run.py run``.

With ``max_stack_depth`` (set in ``pyproject.toml``), mutmut records which test reaches
which function by walking the call stack of every traced call and resolving each frame's
file with ``Path.resolve(strict=True)``. That has two problems here (mutmut 3.8.1):

* a call made while a module is being imported has a frame whose "file" is
  ``<frozen importlib._bootstrap>``, so the walk raises ``FileNotFoundError`` and the
  statistics run stops;
* resolving paths for every frame of every call made inside an ODE solver's loop makes the
  statistics run last more than half an hour.

This wrapper replaces the recorder with the same rule (count the frames of mutated source
files between the call and the test, give up above ``max_stack_depth``), deciding once per
file name whether it is mutated source, then hands over to mutmut's own command line.
"""

from __future__ import annotations

import os
import sys

import mutmut.mutation.trampoline as _trampoline
import mutmut.stats as _stats
from mutmut.configuration import config
from mutmut.state import state

_IS_SOURCE: dict[str, bool] = {}


def _is_source(filename: str) -> bool:
    hit = _IS_SOURCE.get(filename)
    if hit is None:
        roots = tuple(os.path.join(str(p), "") for p in config().resolved_mutated_source_paths)
        hit = not filename.startswith("<") and os.path.realpath(filename).startswith(roots)
        _IS_SOURCE[filename] = hit
    return hit


def _record(name: str, caller: str | None = None) -> None:
    cfg = config()
    if cfg.max_stack_depth != -1:
        budget = cfg.max_stack_depth
        frame = sys._getframe(1)
        while budget and frame is not None:
            filename = frame.f_code.co_filename
            frame = frame.f_back
            if "pytest" in filename or "hammett" in filename or "unittest" in filename:
                break
            if _is_source(filename):
                budget -= 1
        if not budget:
            return
    state()._stats.add(name)
    if caller is not None and cfg.track_dependencies:
        state().function_dependencies[name].add(caller)


_stats.record_trampoline_hit = _record
_trampoline.record_trampoline_hit = _record  # type: ignore[assignment]

if __name__ == "__main__":
    from mutmut.__main__ import cli

    cli()
