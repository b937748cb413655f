"""The ``dsb-verify`` command.

``dsb-verify run [--profile quick|thorough] [--claims C1,C4] [--seed N] [--out DIR]
[--workers N] [--data FILE [--columns 0,3,5] [--pseudo-count ALPHA]] [--json] [--quiet]
[--fail-on never|fails|not-holds]``
runs the claim checks, shows progress on stderr, prints the verdict table and
writes ``report.json``, ``report.md`` and figures to DIR (default ``report/``).
With ``--data`` the empirical distribution of the samples in FILE
(:func:`dsb_verifier.checks.cli.io.load_target`; default pseudo-count ``2^-N``, one virtual
sample spread uniformly) is passed to the claim checks that accept a target;
the report states which claims used it and which ran on generated targets only.
With ``--workers N > 1`` the independent flows of the checks run in a pool of
N local processes (:func:`dsb_verifier.checks.runner.process_executor`); the report is the
same as the serial one. ``--json`` prints the report document (the content of
``report.json``) to stdout and nothing else there; ``--quiet`` drops the progress and
the table; ``--fail-on`` makes chosen verdicts set the exit status (:data:`EXIT_CODES`).

``dsb-verify list`` names the claims; ``dsb-verify explain CLAIM`` prints what its check
tests, its decision rule, controls and tolerances, read from the claim module itself
(its docstring, ``STATEMENT``, ``TOLERANCES`` and public constants).

``dsb-verify effective MODEL [--checkpoint n | --all-checkpoints] [--method M] [--max-order K]
[--samples n] [--seed s] [--subsets SPEC] [--time update|effective_time] [--orders 1,2,3]
[--out FILE] [--format json|csv|npz] [--figure PNG] [--units ...] [--compare-gaussian]``
writes the effective couplings of every order of an RBM of any size (``.npz`` or
``rbms`` HDF5 checkpoints); see :mod:`dsb_verifier.checks.cli.effective`.

Terminal output goes through :mod:`dsb_verifier.checks.cli.console`, so a stream that
cannot encode ``≤`` or ``ᵀ`` gets ASCII spellings instead of a ``UnicodeEncodeError``.
Exit codes: :data:`EXIT_CODES` (0 completed, 1 internal error, 2 bad input or usage,
or an output that cannot be written: in use by another run, not a report folder, full
disk; 3 ``--fail-on`` matched, 130 interrupted), also printed by ``dsb-verify --help``.
Outputs are published as one unit (:mod:`dsb_verifier.checks.cli.publish`): an
interrupted or failed run leaves the previous outputs untouched.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dsb_verifier.checks.cli.console import StdoutWriteError, emit, printable, silence_stdout
from dsb_verifier.checks.cli.interrupts import (
    SIGNALS,
    exit_now,
    handling_interrupts,
    raise_if_interrupted,
    received_signal,
)
from dsb_verifier.checks.cli.outcome import EXIT_CODES, FAIL_ON, fail_on_matches

# Nothing above imports numpy or dsb_verifier.theory: the console script installs its Ctrl-C
# handling (main) before the heavy imports, which happen in build_parser and the commands.

__all__ = ["EXIT_CODES", "FAIL_ON", "build_parser", "console_main", "fail_on_matches", "main"]

_EXIT_HELP = "exit codes:\n" + "\n".join(f"  {code:<3}  {text}" for code, text in EXIT_CODES.items())
_EPILOG = (
    "'dsb-verify run' checks the claims (quick profile by default), 'dsb-verify list'\n"
    "names them, 'dsb-verify explain C5' says how one is checked; 'dsb-verify run --help'\n"
    "lists the options of a command.\n\n" + _EXIT_HELP
)


def _integer(text: str) -> int:
    """An integer option written with ASCII digits (``int`` alone also takes other scripts' digits)."""
    if not re.fullmatch(r"[+-]?[0-9]+", text.strip()):
        raise argparse.ArgumentTypeError(f"expected an integer written with the digits 0-9, got {text!r}")
    return int(text)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors, exit code 2, and output any stream can encode."""

    def error(self, message: str) -> None:  # type: ignore[override]
        emit(f"{self.prog}: error: {message}", sys.stderr)
        raise SystemExit(2)

    def _print_message(self, message: str, file: Any = None) -> None:
        if message:
            out = sys.stderr if file is None else file
            out.write(printable(message, out))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``dsb-verify``."""
    parser = _Parser(
        prog="dsb-verify",
        description=(
            "Verify the claims of 'Distributional simplicity bias and effective convexity\n"
            "in Energy Based Models' (arXiv:2605.07844) by exact enumeration for small N."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from dsb_verifier.theory import __version__  # the first heavy import, under handling_interrupts

    parser.add_argument("--version", action="version", version=f"dsb-verify {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    run = sub.add_parser(
        "run",
        help="run the claim checks and write a report",
        description="Run the claim checks; write report.json, report.md and figures to --out;\n"
        "progress on stderr, the verdict table on stdout.",
        epilog=_EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--profile", default="quick", help="quick (default, ~1 min) or thorough (~15 min)")
    run.add_argument("--claims", default=None, help="comma-separated claim ids, e.g. C1,C4 (default: all)")
    run.add_argument("--seed", type=_integer, default=0, help="seed of every generated case (default 0)")
    run.add_argument("--out", type=Path, default=Path("report"), help="output directory (default report/)")
    run.add_argument(
        "--workers",
        type=_integer,
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
    run.add_argument(
        "--json",
        action="store_true",
        help="print the report document (what report.json holds) to stdout, and nothing else there; "
        "the table goes to stderr",
    )
    run.add_argument("--quiet", action="store_true", help="no progress and no table (errors still on stderr)")
    run.add_argument(
        "--fail-on",
        choices=tuple(FAIL_ON),
        default="never",
        help="exit 3 when a claim's verdict is 'fails' (fails), or anything but 'holds' (not-holds), "
        "or a negative control was not caught (both); default never: exit 0 whatever the verdicts",
    )
    sub.add_parser(
        "list",
        help="list the claims with a one-line description",
        description="The claims C1-C6, each with the title of its check.",
    )
    explain = sub.add_parser(
        "explain",
        help="what the check of one claim tests, its decision rule, controls and tolerances",
        description="Print what the check of CLAIM tests, how it decides, its negative controls and its "
        "tolerances, from the claim module itself (docs/theory.md gives the reading).",
    )
    explain.add_argument("claim", help="claim id, e.g. C5")

    eff = sub.add_parser(
        "effective",
        help="effective couplings of every order of an RBM (.npz or rbms HDF5 checkpoints), any size",
        description="Effective couplings J_S of the visible marginal of an RBM and their per-order norms "
        "(the paper's Fig. 1): exact enumeration of the 2^Nv states where it fits in memory, else the "
        "exact one-dimensional integral (docs/theory.md §8). 0/1 units are converted exactly to "
        "spins s = 2x - 1.",
    )
    eff.add_argument(
        "model", type=Path, help=".npz (weight_matrix, vbias, hbias[, units]) or HDF5 (rbms layout)"
    )
    which = eff.add_mutually_exclusive_group()
    which.add_argument(
        "--checkpoint",
        type=_integer,
        default=None,
        metavar="N",
        help="HDF5: use update_N (default: the last)",
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
        type=_integer,
        default=None,
        metavar="K",
        help="orders 1..K (default: all with enumeration, min(N, 3) otherwise)",
    )
    eff.add_argument(
        "--samples",
        type=_integer,
        default=2000,
        help="subsets sampled per order whose C(N, k) is too large to evaluate all (default 2000)",
    )
    eff.add_argument("--seed", type=_integer, default=0, help="seed of the sampled subsets (default 0)")
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
    emit(f"dsb-verify: error: {message}", sys.stderr)
    return 2


def _run(args: argparse.Namespace) -> int:
    from dsb_verifier.checks.cli.report import write_report
    from dsb_verifier.checks.profiles import get_profile
    from dsb_verifier.checks.runner import parse_claims, run_checks_into

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
    from dsb_verifier.checks.cli.publish import PublishError, display, publish_directory

    shown = display(args.out)
    if args.data is not None and args.data.resolve().is_relative_to(args.out.resolve()):
        return _fail(
            f"--data {display(args.data)} lies inside --out {shown}, which is replaced as a whole; "
            "move the data or choose another output directory"
        )
    quiet, as_json = args.quiet, args.json

    def progress(msg: str) -> None:
        raise_if_interrupted()  # a Ctrl-C whose exception was swallowed stops the run here
        emit(msg, sys.stderr)

    from dsb_verifier.checks.executors import ExecutorPreflightError, WorkerMismatchError
    from dsb_verifier.theory._blas import one_blas_thread

    try:
        # everything is written into a staging folder, published as args.out only when complete
        with publish_directory(args.out) as staging:
            pool = _local_pool(args.workers, claims, (lambda _msg: None) if quiet else progress)
            try:
                with one_blas_thread():  # pyproject.toml: oversubscription
                    report = run_checks_into(  # into the staging folder, published below
                        profile,
                        args.seed,
                        claims,
                        out_dir=staging,
                        progress=None if quiet else progress,
                        target=target,
                        target_info=target_info,
                        executor=pool,
                    )
            except BaseException:
                _stop_pool(pool)  # Ctrl-C or an error: stop the workers now, not after their current flows
                raise
            if pool is not None:
                pool.shutdown()
            write_report(report, staging)
    except PublishError as exc:
        return _fail(str(exc))
    except (WorkerMismatchError, ExecutorPreflightError) as exc:
        return _fail(str(exc))
    except OSError as exc:  # e.g. a full disk while writing a figure into the staging folder
        return _fail(f"cannot write the report to {shown!r}: {exc.strerror or exc}; {shown!r} is unchanged")
    json_path, md_path = Path(display(args.out / "report.json")), Path(display(args.out / "report.md"))
    doc = report.to_json()
    hits = fail_on_matches(doc, args.fail_on)
    try:
        _show(report, doc, json_path, md_path, as_json=as_json, quiet=quiet)
    except BrokenPipeError:  # stdout's reader left (e.g. `| head`): the exit status still counts
        silence_stdout()
    if hits:
        emit(f"dsb-verify: --fail-on {args.fail_on}: {'; '.join(hits)} (exit 3)", sys.stderr)
        return 3
    return 0


def _show(
    report: Any, doc: dict[str, Any], json_path: Path, md_path: Path, *, as_json: bool, quiet: bool
) -> None:
    """The terminal output of ``run``: the document (``--json``), the table and where the files went."""
    from dsb_verifier.checks.cli.report import verdict_table

    table = sys.stderr if as_json else sys.stdout  # with --json, stdout holds the document only
    if as_json:
        emit(json.dumps(doc, indent=1, allow_nan=False))
    if quiet:
        return
    emit(verdict_table(report), table)
    user = report.provenance.get("user_target")
    if user is not None:
        emit(
            f"\nuser data {user['path']}: used by {', '.join(user['used_by']) or 'no claim'}; "
            f"generated targets only: {', '.join(user['generated_only']) or 'none'}",
            table,
        )
    emit(f"\nwrote {json_path} and {md_path} ({report.wall_seconds:.1f} s)", table)


def _local_pool(workers: int, claims: Sequence[str], say: Callable[[str], None]) -> Any:
    """The ``--workers`` pool, capped at the number of tasks and of cores (said once); None if 1."""
    from dsb_verifier.checks.executors import available_cores, capped_workers
    from dsb_verifier.checks.runner import process_executor, task_bound

    n_tasks = task_bound(claims)
    size = capped_workers(workers, n_tasks)
    if size < workers:
        tasks = "" if n_tasks is None else f"{n_tasks} task(s), "
        say(f"--workers {workers} capped at {size} ({tasks}{available_cores()} core(s))")
    return process_executor(size, n_tasks) if size > 1 else None


def _stop_pool(pool: Any) -> None:
    """Stop a local pool at once: cancel queued tasks, terminate the running workers and reap them.

    The worker processes are taken before ``shutdown``, which forgets them; without
    the explicit ``terminate`` they would finish their current flows (and, after an
    interrupt, outlive the command, which ends without interpreter finalisation).
    """
    if pool is None:
        return
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in workers:
        proc.terminate()
    for proc in workers:
        proc.join(timeout=10)


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
    # samples.path shows undecodable bytes of the file name as \xNN (report.md is UTF-8)
    replay = f"--data {samples.path}" + (f" --columns {args.columns}" if args.columns is not None else "")
    replay += f" --pseudo-count {alpha!r}" if args.pseudo_count is not None else ""
    info = {
        "path": samples.path,
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
    from dsb_verifier.checks.cli.publish import display

    def err(msg: str) -> None:
        sys.stderr.write(msg + "\n")
        sys.stderr.flush()

    try:
        run_effective(args, err)
    except ValueError as exc:
        return _fail(" ".join(str(exc).split()))
    except OSError as exc:
        return _fail(f"cannot write output: {exc.strerror or exc} ({exc.filename})")
    except OverflowError as exc:  # numbers of the model beyond float64 in a computation
        return _fail(
            f"{display(args.model)}: the computation overflowed float64 ({' '.join(str(exc).split())}); "
            "the weights are too large"
        )
    return 0


def _list(args: argparse.Namespace) -> int:
    from dsb_verifier.checks.cli.claims_info import claim_list

    emit(claim_list())
    return 0


def _explain(args: argparse.Namespace) -> int:
    from dsb_verifier.checks.cli.claims_info import explain

    try:
        text = explain(args.claim)
    except ValueError as exc:
        return _fail(str(exc))
    emit(text.rstrip("\n"))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code (:data:`EXIT_CODES`).

    Ctrl-C anywhere in a command gives one line on stderr and exit code 130 (SIGTERM:
    143, SIGHUP: 129, after the same clean-up), also
    when the :class:`KeyboardInterrupt` was swallowed on its way (a SIGINT that
    lands in a finaliser): :mod:`dsb_verifier.checks.cli.interrupts`.
    """
    try:
        with handling_interrupts():
            parser = build_parser()
            args = parser.parse_args(argv)
            commands = {"run": _run, "effective": _effective, "list": _list, "explain": _explain}
            if args.command is None:  # a bare dsb-verify is a usage error: say what there is to do
                parser.print_help(sys.stderr)
                return 2
            code = commands[args.command](args)
            raise_if_interrupted()
            return code
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM / SIGHUP (handled alike)
        what, code = SIGNALS[received_signal()]
        emit(f"dsb-verify: {what}", sys.stderr)
        return code
    except BrokenPipeError:  # `dsb-verify list | head -1`: the reader had enough
        silence_stdout()
        return 0
    except StdoutWriteError as exc:  # `> /dev/full`, a full disk: what was written elsewhere stays
        silence_stdout()
        emit(f"dsb-verify: cannot write to standard output: {exc.strerror}", sys.stderr)
        return 2


def console_main() -> None:
    """The ``dsb-verify`` console script: :func:`main`, then exit with its code.

    After an interrupt the process ends without interpreter finalisation
    (:func:`~dsb_verifier.checks.cli.interrupts.exit_now`), once the command has
    cleaned up after itself.
    """
    code = main()
    if code in {c for _what, c in SIGNALS.values()}:
        exit_now(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover, no mutate block
    console_main()
