"""The ``dsb-verify`` command.

``dsb-verify run [--profile quick|thorough] [--claims C1,C4] [--seed N] [--out DIR]``
runs the claim checks, shows progress on stderr, prints the verdict table and
writes ``report.json``, ``report.md`` and figures to DIR (default ``report/``).

Exit codes: 0 when the run completed (whatever the verdicts), 2 for bad input
(one line on stderr, no traceback), 1 for an internal error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from theory import __version__

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``dsb-verify``."""
    parser = _Parser(
        prog="dsb-verify",
        description=(
            "Verify the claims of 'Distributional simplicity bias and effective convexity "
            "in Energy Based Models' (arXiv:2605.07844) by exact enumeration for small N."
        ),
    )
    parser.add_argument("--version", action="version", version=f"dsb-verify {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    run = sub.add_parser("run", help="run the claim checks and write a report")
    run.add_argument("--profile", default="quick", help="quick (default, ~1 min) or thorough (~15 min)")
    run.add_argument("--claims", default=None, help="comma-separated claim ids, e.g. C1,C4 (default: all)")
    run.add_argument("--seed", type=int, default=0, help="seed of every generated case (default 0)")
    run.add_argument("--out", type=Path, default=Path("report"), help="output directory (default report/)")
    return parser


def _fail(message: str) -> int:
    sys.stderr.write(f"dsb-verify: error: {message}\n")
    return 2


def _prepare_out(out: Path) -> str | None:
    """Create ``out`` and prove it writable; return a reason on failure (leaving nothing behind)."""
    created: list[Path] = []
    probe_dir = out
    while not probe_dir.exists() and probe_dir.parent != probe_dir:
        created.append(probe_dir)
        probe_dir = probe_dir.parent
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".dsb-verify-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        for d in created:  # deepest first: remove only what we made
            try:
                d.rmdir()
            except OSError:
                pass
        return f"cannot write to output directory {str(out)!r}: {exc.strerror or exc}"
    return None


def _run(args: argparse.Namespace) -> int:
    from checks.profiles import get_profile
    from checks.report import verdict_table, write_report
    from checks.runner import parse_claims, run_checks

    try:
        profile = get_profile(args.profile)
        claims = parse_claims(args.claims)
    except ValueError as exc:
        return _fail(str(exc))
    if args.seed < 0:
        return _fail(f"--seed must be a non-negative integer, got {args.seed}")
    reason = _prepare_out(args.out)
    if reason:
        return _fail(reason)

    def progress(msg: str) -> None:
        sys.stderr.write(msg + "\n")
        sys.stderr.flush()

    report = run_checks(profile, args.seed, claims, out_dir=args.out, progress=progress)
    json_path, md_path = write_report(report, args.out)
    print(verdict_table(report))
    print(f"\nwrote {json_path} and {md_path} ({report.wall_seconds:.1f} s)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "run":
        return _run(args)
    parser.print_help(sys.stdout)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
