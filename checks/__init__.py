"""dsb-verifier's claim checks (C1–C6 of docs/theory.md §5) and their command.

This package holds the hypothesis strategies shared by the test suite and
the checks (:mod:`dsb_verifier.checks.claims.strategies`) and the ``dsb-verify`` command
(:mod:`dsb_verifier.checks.cli.main`).
"""

from dsb_verifier.theory import __version__

__all__ = ["__version__"]
