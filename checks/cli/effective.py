r"""``dsb-verify effective``: effective couplings of a user's RBM at any size, by order.

Usage::

    dsb-verify effective MODEL [--checkpoint n | --all-checkpoints]
        [--method auto|enumerate|integral|gaussian] [--max-order K]
        [--samples n] [--seed s] [--subsets "0,1;2,5,7"] [--compare-gaussian]
        [--time update|effective_time] [--orders 1,2,3] [--figure PNG]
        [--out FILE] [--format json|csv|npz] [--units bernoulli|spin|VISIBLE,HIDDEN]

MODEL is an ``.npz`` file or an HDF5 checkpoint file of the ``rbms`` package
(:mod:`dsb_verifier.checks.cli.io`). The couplings are those of docs/theory.md
§2, :math:`\log p(s) = \sum_S J_S \chi_S(s)` with :math:`s = 2x - 1`, computed by
exact enumeration or by the exact integral of §8 (``--method``,
:mod:`dsb_verifier.checks.cli.effective_compute`); orders ``1..K`` (``--max-order``,
default ``N`` with enumeration and ``min(N, 3)`` otherwise).

Outputs (:mod:`dsb_verifier.checks.cli.effective_output`): the format comes from the
``--out`` suffix (``.json``, ``.csv``, ``.npz``); ``--format`` is needed only for
stdout or another suffix, and is refused when it contradicts the suffix. One model:
the per-order norms and the coupling rows (with a single-model CSV and ``--out``,
the per-order rows go to ``FILE``'s stem + ``_norms.csv``). ``--all-checkpoints``: the
per-order norms of every checkpoint against the time axis ``--time``, exact and
Gaussian side by side, and the Fig. 1 PNG (:mod:`dsb_verifier.checks.cli.fig1`) at
``--figure``, else next to ``--out`` (suffix ``.png``), else
``<MODEL stem>_order_norms.png``.

Every file is written by :func:`_write_all` (one place), after everything is
computed. A short human summary goes to stderr.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from math import comb
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from dsb_verifier.checks.cli import effective_output as out_fmt
from dsb_verifier.checks.cli.effective_compute import EffectiveResult, compute
from dsb_verifier.checks.cli.effective_request import (
    EXHAUSTIVE_LIMIT,
    METHODS,
    Request,
    parse_subsets,
    resolve,
    table_orders,
)
from dsb_verifier.checks.cli.fig1 import write_figure
from dsb_verifier.checks.cli.io import InputError, load_rbm
from dsb_verifier.checks.cli.publish import FileSet, display, same_file
from dsb_verifier.theory._validation import _fmt_bytes

__all__ = ["FORMATS", "METHODS", "TIME_AXES", "run_effective"]

#: Output formats of the command.
FORMATS = ("json", "csv", "npz")

#: Time axes of ``--time``.
TIME_AXES = ("update", "effective_time")

#: Most coupling rows a JSON or CSV table may hold (2^24: every subset at N = 24, about 1 GB of text).
MAX_TABLE_ROWS = 2**24


def _write_all(outputs: list[tuple[Path, Callable[[Any], None], bool]], files: FileSet | None = None) -> None:
    """Publish every ``(path, writer, binary)`` together (:class:`dsb_verifier.checks.cli.publish.FileSet`).

    Each file is written to a hidden temporary beside it, then all are renamed
    into place as one set: after any interruption the earlier files are all
    there, or all the new ones. ``files`` was opened (destinations checked, locks
    taken) before anything was computed; None opens one here, for the writing only.
    """

    def as_binary(writer: Callable[[Any], None], binary: bool) -> Callable[[BinaryIO], None]:
        if binary:
            return writer

        def text(fh: BinaryIO) -> None:
            wrapper = io.TextIOWrapper(fh, encoding="utf-8", errors="backslashreplace", newline="")
            writer(wrapper)
            wrapper.flush()
            wrapper.detach()

        return text

    binary = [(path, as_binary(w, b)) for path, w, b in outputs]
    if files is None:
        with FileSet([p for p, _ in binary]) as own:
            own.publish(binary)
    else:
        files.publish(binary)


@dataclass(frozen=True)
class _Plan:
    """Where every output goes and in which format; checked before any computation."""

    format: str
    table: Path | None
    norms: Path | None
    figure: Path | None


def _format(out: Path | None, given: str | None) -> str:
    """The output format: from ``--out``'s suffix, checked against ``--format``."""
    suffix = out.suffix.lower().lstrip(".") if out is not None else ""
    if suffix in FORMATS:
        if given is not None and given != suffix:
            raise InputError(
                f"--format {given} contradicts --out {out} (suffix .{suffix} means {suffix}); "
                "drop --format or change the suffix"
            )
        return suffix
    if given is not None:
        return given
    if out is not None:
        raise InputError(
            f"--out {out}: cannot infer the format from the suffix {out.suffix or '(none)'}; "
            "use .json, .csv or .npz, or give --format json|csv|npz"
        )
    return "json"


def _plan(args: Any) -> _Plan:
    """Output paths and format, checked before anything is read or computed.

    Path problems (a missing directory, a directory given as a file, the figure on top of
    ``--out``) are reported before format problems, being the more specific.
    """
    out: Path | None = args.out
    if args.figure is not None and not args.all_checkpoints:
        raise InputError("--figure is only used with --all-checkpoints")
    if args.orders is not None and not args.all_checkpoints:
        raise InputError("--orders selects the curves of the figure: it is only used with --all-checkpoints")
    if args.time != "update" and not args.all_checkpoints:
        raise InputError(
            f"--time {args.time} chooses the time axis of the series: it is only used with --all-checkpoints"
        )
    if args.compare_gaussian and args.method == "gaussian":
        raise InputError(
            "--compare-gaussian compares the Gaussian mapping with the exact couplings, but --method gaussian "
            "computes only the Gaussian mapping; use --method auto, enumerate or integral with --compare-gaussian"
        )
    figure = None
    if args.all_checkpoints:
        if args.figure is not None:
            figure = args.figure
        elif out is not None:
            figure = out.with_suffix(".png")
        else:
            figure = Path(f"{Path(args.model).stem}_order_norms.png")
        if out is not None and figure.resolve() == out.resolve():
            raise InputError(f"the figure would overwrite --out {out}; give --figure PNG")
    for p in (out, figure):
        _check_not_input(p, args.model)
        _check_file_path(p)
    fmt = _format(out, args.format)
    if fmt == "npz" and out is None:
        raise InputError("--format npz writes a binary file: give --out FILE")
    norms = None
    if out is not None and fmt == "csv" and not args.all_checkpoints:
        norms = out.with_name(out.stem + "_norms.csv")
        _check_not_input(norms, args.model)
        _check_file_path(norms)
    return _Plan(fmt, out, norms, figure)


def _check_not_input(p: Path | None, model: Any) -> None:
    """Refuse an output path that is the input model file (also through symbolic or hard links)."""
    if p is not None and (same_file(p, model) or p.resolve() == Path(model).resolve()):
        raise InputError(f"{display(p)}: is the input file {display(model)}; choose another output path")


def _check_file_path(p: Path | None) -> None:
    if p is not None and not (p.parent if str(p.parent) else Path(".")).is_dir():
        raise InputError(f"{p}: directory {p.parent} does not exist")
    if p is not None and p.exists() and p.is_dir():
        raise InputError(f"{p}: is a directory, expected a file path")


def _parse_orders(spec: str, K: int) -> tuple[int, ...]:
    parts = [x.strip() for x in str(spec).split(",")]
    if not parts or any(not re.fullmatch(r"[0-9]+", x) for x in parts):
        raise InputError(f"--orders must be comma-separated orders such as 1,2,3; got {spec!r}")
    ks = tuple(int(x) for x in parts)
    bad = [k for k in ks if not 1 <= k <= K]
    if bad:
        raise InputError(f"--orders: order {bad[0]} is not computed; orders 1..{K} are (see --max-order)")
    if len(set(ks)) != len(ks):
        raise InputError(f"--orders: an order is repeated in {spec!r}")
    return tuple(sorted(ks))


def _check_table_rows(N: int, K: int, method: str, exhaustive_limit: int = EXHAUSTIVE_LIMIT) -> None:
    """Refuse a JSON/CSV table of more than :data:`MAX_TABLE_ROWS` coupling rows, before computing."""
    orders = table_orders(N, K, method, exhaustive_limit)
    rows = sum(comb(N, k) for k in orders)
    if rows > MAX_TABLE_ROWS:
        raise InputError(
            f"N = {N}: the table would hold {rows:,} coupling rows of orders {_order_list(orders)} (about "
            f"{_fmt_bytes(60.0 * rows)} of text); limit it with --max-order, choose rows with --subsets, "
            "or write --format npz"
        )


def _order_list(orders: tuple[int, ...]) -> str:
    """``1..3`` for consecutive orders, else ``1, 2, 3, 30``."""
    if orders and list(orders) == list(range(orders[0], orders[-1] + 1)) and len(orders) >= 2:
        return f"{orders[0]}..{orders[-1]}"
    return ", ".join(map(str, orders))


def _summary(res: EffectiveResult, table: bool = False) -> Iterator[str]:
    src = res.source
    p = src.params[0]
    yield (
        f"{src.path}: Nv={src.n_visible}, Nh={src.n_hidden}, units visible={p.visible} "
        f"hidden={p.hidden} ({src.units_source}), {len(src.checkpoints)} checkpoint(s), method {res.method}"
    )
    n = src.checkpoints[-1]
    label = "" if n is None else f" at checkpoint {n}"

    def fmt(j: int) -> str:
        se = "" if res.exhaustive[j] else f" ± {res.stderr[-1, j]:.2g}"
        return f"{j + 1}: {res.norms[-1, j]:.4g}{se}"

    yield f"|J_k|{label}: " + ", ".join(fmt(j) for j in range(len(res.orders)))
    if res.gaussian_rel_error is not None:
        parts = [f"order {k}: rel {res.gaussian_rel_error[-1, k - 1]:.3g}" for k in res.orders]
        yield f"Gaussian mapping error{label}: " + "; ".join(parts)
    if table and not res.request.subsets and res.sampled_orders:
        yield (
            f"coupling table: every coupling of orders {_order_list(res.table_orders)}; "
            + ("order " if len(res.sampled_orders) == 1 else "orders ")
            + _order_list(res.sampled_orders)
            + (" is" if len(res.sampled_orders) == 1 else " are")
            + " estimated from sampled subsets (norms only, not in the table)"
        )


def _check_finite(res: EffectiveResult) -> None:
    """Refuse to write couplings or norms that overflowed float64, naming the file (nothing is written).

    Norms must be finite; kept coupling tables may hold NaN (not evaluated) but no infinity.
    """
    bad = [
        name
        for name, arr in (("per-order norms", res.norms), ("J_0", res.J_empty))
        if arr is not None and not np.all(np.isfinite(arr))
    ]
    for kept in res.kept:
        for name in ("J", "fields", "pairwise", "J_gaussian", "gaussian_fields", "gaussian_pairwise"):
            arr = getattr(kept, name, None)
            if arr is not None and np.any(np.isinf(arr)) and "couplings" not in bad:
                bad.append("couplings")
    if bad:
        W = max(float(np.max(np.abs(p.weight_matrix), initial=0.0)) for p in res.source.params)
        raise InputError(
            f"{res.source.path}: the {' and '.join(bad)} overflow float64 (|weight_matrix| up to {W:.3g}); "
            "the weights are too large for the effective couplings to be computed"
        )


def run_effective(args: Any, err: Callable[[str], None]) -> None:
    """Carry out ``dsb-verify effective`` for parsed ``args``; messages go through ``err``.

    The output files are checked and locked before the model is read (a second run
    into any of them is refused at once), and stay locked until the command ends;
    files an earlier run published with them and this run does not write (the
    ``_norms.csv`` of a single-model CSV, say) are removed with the publication if
    unchanged since (:mod:`dsb_verifier.checks.cli.manifest`).

    Raises
    ------
    InputError, ValueError
        For bad input; nothing has been written then.
    """
    plan = _plan(args)
    paths = [p for p in (plan.figure, plan.table, plan.norms) if p is not None]
    with FileSet(paths, inputs=(Path(args.model),), replace_earlier=True) as files:
        _run(args, err, plan, files)


def _run(args: Any, err: Callable[[str], None], plan: _Plan, files: FileSet) -> None:
    """:func:`run_effective` once the outputs are checked and locked."""
    source = load_rbm(
        args.model, checkpoint=args.checkpoint, all_checkpoints=args.all_checkpoints, units=args.units
    )
    N = source.n_visible
    if args.time == "effective_time" and source.effective_times is None:
        raise InputError(
            f"{source.path}: --time effective_time needs 'effective_time' in every checkpoint "
            "(written by rbms); use --time update"
        )
    if args.max_order is not None and not 1 <= args.max_order <= N:
        raise InputError(f"--max-order must be between 1 and N = {N}, got {args.max_order}")
    subsets = parse_subsets(args.subsets, N) if args.subsets is not None else ()
    series = args.all_checkpoints
    request = Request(
        method=args.method,
        max_order=args.max_order,
        samples=args.samples,
        seed=args.seed,
        subsets=subsets,
        compare_gaussian=args.compare_gaussian,
        keep=(not series) or plan.format == "npz",
    )
    method, K = resolve(source, request)
    orders = _parse_orders(args.orders, K) if args.orders is not None else None
    if not series and plan.format != "npz" and not subsets:
        _check_table_rows(N, K, method, request.exhaustive_limit)
    res = compute(source, request, progress=err)  # per checkpoint for series; within a long one always
    _check_finite(res)
    axis = args.time
    text: Callable[[Any], None]
    if series:
        fig_name = str(plan.figure) if plan.figure is not None else None
        text = (
            (lambda fh: out_fmt.series_json(res, axis, fig_name, fh))
            if plan.format == "json"
            else (lambda fh: out_fmt.series_csv(res, axis, fh))
        )
    else:
        text = (
            (lambda fh: out_fmt.single_json(res, fh))
            if plan.format == "json"
            else (lambda fh: out_fmt.single_csv(res, fh))
        )
    outputs: list[tuple[Path, Callable[[Any], None], bool]] = []
    if plan.figure is not None:
        outputs.append((plan.figure, lambda fh: write_figure(res, fh, orders=orders, axis=axis), True))
    if plan.format == "npz":
        assert plan.table is not None
        outputs.append((plan.table, lambda fh: np.savez(fh, **out_fmt.npz_arrays(res, axis)), True))
    elif plan.table is not None:
        outputs.append((plan.table, text, False))
    if plan.norms is not None:
        outputs.append((plan.norms, lambda fh: out_fmt.norms_csv(res, fh), False))
    _write_all(outputs, files)
    if plan.table is None:  # everything is computed: the table streams to stdout row by row
        text(sys.stdout)
    for line in _summary(res, table=not series or plan.format == "npz"):
        err(line)
    for p in (plan.table, plan.norms, plan.figure):
        if p is not None:
            err(f"wrote {display(p)}")
