"""dsb-verifier's claim checks (C1–C6 of docs/theory.md §5) and their command.

This package holds the claim checks (:mod:`dsb_verifier.checks.claims`; their cases
are drawn from seeded numpy streams, :mod:`dsb_verifier.checks.claims.cases`), the
runner with its provenance and executors, and the ``dsb-verify`` command
(:mod:`dsb_verifier.checks.cli.main`).
"""

from dsb_verifier.theory import __version__

__all__ = ["__version__"]
