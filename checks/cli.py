"""The ``dsb-verify`` command.

Subcommands are added as capabilities land (the claim checks add ``run``).
Errors in user input print one line to stderr and exit with code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from theory import __version__

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``dsb-verify``."""
    parser = argparse.ArgumentParser(
        prog="dsb-verify",
        description=(
            "Verify the claims of 'Distributional simplicity bias and effective convexity "
            "in Energy Based Models' (arXiv:2605.07844) by exact enumeration for small N."
        ),
    )
    parser.add_argument("--version", action="version", version=f"dsb-verify {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help(sys.stdout)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
