"""dsb-verifier's claim checks (C1–C6 of docs/theory.md §5) and their command.

This package holds the claim checks (:mod:`dsb_verifier.checks.claims`; their cases
are drawn from seeded numpy streams, :mod:`dsb_verifier.checks.claims.cases`), the
runner with its provenance and executors, and the ``dsb-verify`` command
(:mod:`dsb_verifier.checks.cli.main`).
"""

from typing import Any

__all__ = ["__version__"]


def __getattr__(name: str) -> Any:
    """``__version__`` on first use: importing this package does not import numpy or
    :mod:`dsb_verifier.theory`, so the ``dsb-verify`` console script can install its Ctrl-C
    handling before the heavy imports."""
    if name == "__version__":
        from dsb_verifier.theory import __version__

        return __version__
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
