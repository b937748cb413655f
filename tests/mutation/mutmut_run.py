"""Run ``mutmut`` (3.x) with one work-around, as ``python tests/mutation/mutmut_run.py run``.

mutmut's ``max_stack_depth`` option (set in ``pyproject.toml``) walks the call stack of
every traced call and resolves each frame's source file with ``strict=True``. A call made
while a module is being imported has a frame whose "file" is
``<frozen importlib._bootstrap>``, so the walk raises ``FileNotFoundError`` and the
statistics run stops (mutmut 3.8.1). Such calls happen at import, not inside a test, so
they carry no information about which test reaches which function: this wrapper simply
does not record them, then hands over to mutmut's own command line unchanged.
"""

from __future__ import annotations

import mutmut.mutation.trampoline as _trampoline
import mutmut.stats as _stats

_record = _stats.record_trampoline_hit


def _record_outside_imports(name: str, caller: str | None = None) -> None:
    try:
        _record(name, caller=caller)
    except FileNotFoundError:  # a frame of importlib: an import-time call, not a test's
        return


_stats.record_trampoline_hit = _record_outside_imports
_trampoline.record_trampoline_hit = _record_outside_imports  # type: ignore[assignment]

if __name__ == "__main__":
    from mutmut.__main__ import cli

    cli()
