"""What ``dsb-verify`` exits with: the documented exit codes and ``run --fail-on``.

:data:`EXIT_CODES` is printed by ``dsb-verify --help`` and the README's table follows it;
:func:`fail_on_matches` decides, from the report document, whether ``--fail-on`` turns a
completed run into exit code 3.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EXIT_CODES", "FAIL_ON", "fail_on_matches"]

#: Exit status of ``dsb-verify`` and what each means (also in ``dsb-verify --help``).
EXIT_CODES: dict[int, str] = {
    0: "completed (whatever the verdicts, unless --fail-on matched)",
    1: "internal error (a traceback follows: please report it)",
    2: "bad input or usage, including a bare 'dsb-verify', or output that cannot be written (one line on stderr)",
    3: "a verdict matched --fail-on (the claims are named on stderr)",
    129: "hung up (SIGHUP; cleaned up as for Ctrl-C, one line on stderr)",
    130: "interrupted (Ctrl-C; one line on stderr)",
    143: "terminated (SIGTERM; cleaned up as for Ctrl-C, one line on stderr)",
}

#: ``--fail-on`` choices: the verdict statuses that make ``run`` exit 3.
FAIL_ON: dict[str, tuple[str, ...]] = {
    "never": (),
    "fails": ("fails",),
    "not-holds": ("fails", "holds-under-conditions", "inconclusive"),
}


def fail_on_matches(doc: dict[str, Any], fail_on: str) -> list[str]:
    """What in the report document ``doc`` matches ``--fail-on fail_on`` (empty: nothing; exit 0).

    Under ``fails`` and ``not-holds``: each claim whose status is in :data:`FAIL_ON`
    (``"C5 fails"``), and each negative control that was not caught (a defective check,
    ``"C2 control fisher-or-not-xor not caught"``).

    Raises
    ------
    ValueError
        If ``fail_on`` is not one of :data:`FAIL_ON`.
    """
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON)}, got {fail_on!r}")
    if fail_on == "never":
        return []
    hits = [f"{c['id']} {c['status']}" for c in doc["claims"] if c["status"] in FAIL_ON[fail_on]]
    hits += [f"{x['claim']} control {x['name']} not caught" for x in doc["controls"] if not x["caught"]]
    return hits
