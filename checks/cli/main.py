"""The ``dsb-verify`` command.

``dsb-verify run [--profile quick|thorough] [--claims C1,C4] [--seed N] [--out DIR]
[--workers N] [--data FILE [--columns 0,3,5] [--pseudo-count ALPHA]]``
runs the claim checks, shows progress on stderr, prints the verdict table and
writes ``report.json``, ``report.md`` and figures to DIR (default ``report/``).
With ``--data`` the empirical distribution of the samples in FILE
(:func:`dsb_verifier.checks.cli.io.load_target`; default pseudo-count ``2^-N``, one virtual
sample spread uniformly) is passed to the claim checks that accept a target;
the report states which claims used it and which ran on generated targets only.
With ``--workers N > 1`` the independent flows of the checks run in a pool of
N local processes (:func:`dsb_verifier.checks.runner.process_executor`); the report is the
same as the serial one.

``dsb-verify effective MODEL [--checkpoint n | --all-checkpoints] [--method M] [--max-order K]
[--samples n] [--seed s] [--subsets SPEC] [--time update|effective_time] [--orders 1,2,3]
[--out FILE] [--format json|csv|npz] [--figure PNG] [--units ...] [--compare-gaussian]``
writes the effective couplings of every order of an RBM of any size (``.npz`` or
``rbms`` HDF5 checkpoints); see :mod:`dsb_verifier.checks.cli.effective`.

Exit codes: 0 when the run completed (whatever the verdicts), 2 for bad input
(one line on stderr, no traceback), 1 for an internal error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dsb_verifier.theory import __version__

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
    run.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes for the independent flows (default 1: serial, in this process); same report",
    )
    run.add_argument(
        "--data",
        type=Path,
        default=None,
        help="binary samples (.npy, HDF5 dataset 'samples', or whitespace-separated text; 0/1 or ±1): "
        "claim checks that accept a target run on their empirical distribution",
    )
    run.add_argument("--columns", default=None, help="comma-separated columns of --data to keep, e.g. 0,3,5")
    run.add_argument(
        "--pseudo-count",
        type=float,
        default=None,
        help="pseudo-count alpha added to every state's count (default 2^-N: one virtual sample, uniform)",
    )

    eff = sub.add_parser(
        "effective",
        help="effective couplings of every order of an RBM (.npz or rbms HDF5 checkpoints), any size",
        description="Effective couplings J_S of the visible marginal of an RBM and their per-order norms "
        "(the paper's Fig. 1): exact enumeration of the 2^Nv states where it fits in memory, else the "
        "exact one-dimensional integral (shared/THEORY.md §8). 0/1 units are converted exactly to "
        "spins s = 2x - 1.",
    )
    eff.add_argument(
        "model", type=Path, help=".npz (weight_matrix, vbias, hbias[, units]) or HDF5 (rbms layout)"
    )
    which = eff.add_mutually_exclusive_group()
    which.add_argument(
        "--checkpoint", type=int, default=None, metavar="N", help="HDF5: use update_N (default: the last)"
    )
    which.add_argument(
        "--all-checkpoints",
        action="store_true",
        help="HDF5: per-order norms of every checkpoint against training time, plus the Fig. 1 PNG",
    )
    eff.add_argument(
        "--method",
        choices=("auto", "enumerate", "integral", "gaussian"),
        default="auto",
        help="auto (default: enumeration where it fits in memory, else the integral), enumerate, "
        "integral (exact at any N), gaussian (the central-limit mapping)",
    )
    eff.add_argument(
        "--max-order",
        type=int,
        default=None,
        metavar="K",
        help="orders 1..K (default: all with enumeration, min(N, 3) otherwise)",
    )
    eff.add_argument(
        "--samples",
        type=int,
        default=2000,
        help="subsets sampled per order whose C(N, k) is too large to evaluate all (default 2000)",
    )
    eff.add_argument("--seed", type=int, default=0, help="seed of the sampled subsets (default 0)")
    eff.add_argument(
        "--subsets",
        default=None,
        metavar="SPEC",
        help='chosen couplings, variable indices: "0,1;2,5,7" (the table rows become these)',
    )
    eff.add_argument(
        "--time",
        choices=("update", "effective_time"),
        default="update",
        help="time axis of --all-checkpoints: update index n (default) or rbms's effective_time",
    )
    eff.add_argument(
        "--orders", default=None, help="orders drawn in the figure, e.g. 1,2,3 (default: all computed)"
    )
    eff.add_argument(
        "--format",
        choices=("json", "csv", "npz"),
        default=None,
        help="output format (default: from the --out suffix .json/.csv/.npz, else json)",
    )
    eff.add_argument("--out", type=Path, default=None, help="output file (default: stdout; npz needs --out)")
    eff.add_argument(
        "--figure",
        type=Path,
        default=None,
        help="PNG path with --all-checkpoints (default: --out with suffix .png, "
        "else <MODEL stem>_order_norms.png in the current directory)",
    )
    eff.add_argument(
        "--units",
        default=None,
        help="unit convention: bernoulli (0/1, default), spin (±1), or VISIBLE,HIDDEN e.g. bernoulli,spin",
    )
    eff.add_argument(
        "--compare-gaussian",
        action="store_true",
        help="also evaluate the Gaussian (central-limit) mapping on the same subsets, orders 1..K, "
        "and its error per order",
    )
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
    for name in ("report.json", "report.md", "figures"):
        target = out / name
        if target.exists() and (target.is_dir() != (name == "figures")):
            kind = "a directory" if target.is_dir() else "a file"
            return f"cannot write to output directory {str(out)!r}: {name} exists there as {kind}"
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
    from dsb_verifier.checks.cli.report import verdict_table, write_report
    from dsb_verifier.checks.profiles import get_profile
    from dsb_verifier.checks.runner import parse_claims, run_checks

    try:
        profile = get_profile(args.profile)
        claims = parse_claims(args.claims)
    except ValueError as exc:
        return _fail(str(exc))
    if args.seed < 0:
        return _fail(f"--seed must be a non-negative integer, got {args.seed}")
    if args.workers < 1:
        return _fail(f"--workers must be an integer >= 1, got {args.workers}")
    try:
        target, target_info = _load_data(args)
    except ValueError as exc:
        return _fail(str(exc))
    reason = _prepare_out(args.out)
    if reason:
        return _fail(reason)

    def progress(msg: str) -> None:
        sys.stderr.write(msg + "\n")
        sys.stderr.flush()

    from contextlib import nullcontext

    from dsb_verifier.checks.runner import process_executor
    from threadpoolctl import threadpool_limits

    pool = process_executor(args.workers) if args.workers > 1 else nullcontext(None)
    with pool as executor, threadpool_limits(limits=1, user_api="blas"):  # pyproject.toml: oversubscription
        report = run_checks(
            profile,
            args.seed,
            claims,
            out_dir=args.out,
            progress=progress,
            target=target,
            target_info=target_info,
            executor=executor,
        )
    json_path, md_path = write_report(report, args.out)
    print(verdict_table(report))
    user = report.provenance.get("user_target")
    if user is not None:
        print(
            f"\nuser data {user['path']}: used by {', '.join(user['used_by']) or 'no claim'}; "
            f"generated targets only: {', '.join(user['generated_only']) or 'none'}"
        )
    print(f"\nwrote {json_path} and {md_path} ({report.wall_seconds:.1f} s)")
    return 0


def _load_data(args: argparse.Namespace) -> tuple[Any, dict[str, Any] | None]:
    """The empirical target of ``--data`` (or ``None``) and its description for the report."""
    from dsb_verifier.checks.cli.io import (
        default_pseudo_count,
        load_samples,
        parse_columns,
        target_from_samples,
    )

    if args.data is None:
        if args.columns is not None or args.pseudo_count is not None:
            raise ValueError("--columns and --pseudo-count need --data FILE")
        return None, None
    columns = None if args.columns is None else parse_columns(args.columns)
    samples = load_samples(args.data, columns=columns)
    alpha = default_pseudo_count(samples.n_variables) if args.pseudo_count is None else args.pseudo_count
    q = target_from_samples(samples, alpha)
    replay = f"--data {args.data}" + (f" --columns {args.columns}" if args.columns is not None else "")
    replay += f" --pseudo-count {alpha!r}" if args.pseudo_count is not None else ""
    info = {
        "path": str(args.data),
        "columns": list(samples.columns),
        "n_samples": samples.n_samples,
        "n_variables": samples.n_variables,
        "values": samples.values,
        "pseudo_count": alpha,
        "pseudo_count_rule": "explicit"
        if args.pseudo_count is not None
        else "default 2^-N (one virtual sample)",
        "replay_args": replay,
    }
    return q, info


def _effective(args: argparse.Namespace) -> int:
    from dsb_verifier.checks.cli.effective import run_effective

    def err(msg: str) -> None:
        sys.stderr.write(msg + "\n")
        sys.stderr.flush()

    try:
        run_effective(args, err)
    except ValueError as exc:
        return _fail(" ".join(str(exc).split()))
    except OSError as exc:
        return _fail(f"cannot write output: {exc.strerror or exc} ({exc.filename})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "effective":
        return _effective(args)
    parser.print_help(sys.stdout)
    return 0


if __name__ == "__main__":  # pragma: no cover, no mutate block
    sys.exit(main())
