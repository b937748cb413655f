r"""``dsb-verify effective``: exact effective couplings of a user's RBM, for every order.

Usage::

    dsb-verify effective MODEL [--checkpoint n | --all-checkpoints]
                               [--format json|csv|npz] [--out FILE] [--figure PNG]
                               [--units bernoulli|spin|VISIBLE,HIDDEN] [--compare-gaussian]

MODEL is an ``.npz`` file or an HDF5 checkpoint file of the ``rbms`` package
(:mod:`dsb_verifier.checks.cli.io` documents the keys and the unit conventions; 0/1 units are
converted to spins exactly by :mod:`dsb_verifier.theory.rbm.io`). The couplings are those of
docs/theory.md §2, :math:`\log p(s) = \sum_S J_S \chi_S(s)` with
:math:`s = 2x - 1`, computed by exact enumeration of the ``2^Nv`` visible
states (:meth:`theory.RBM.couplings`), so ``Nv <= 24``.

One model (``.npz``, or one checkpoint: ``--checkpoint n``, default the last)
    ``json`` (default): metadata, the per-order norms
    :math:`\|J_k\| = (\sum_{|S|=k} J_S^2)^{1/2}` (:func:`theory.order_norms`)
    and one row per subset ``S != 0``: ``subset`` (bitmask), ``order``,
    ``indices`` (variable indices) and ``J``, sorted by order then bitmask.
    ``csv``: the same rows, columns ``subset,order,indices,J`` (indices as
    ``"0,3,5"``); with ``--out FILE`` the per-order norms go to
    ``FILE``'s stem + ``_norms.csv`` (on stdout only the rows are written).
    ``npz``: arrays ``J`` (2^Nv, indexed by bitmask, ``J[0]`` = mean of log p),
    ``orders``, ``order_norms`` (Nv + 1; entry 0 is 0) and metadata.
All checkpoints (``--all-checkpoints``, HDF5 only)
    the per-order norms against training time (the update index ``n``):
    ``csv`` columns ``checkpoint,order_1..order_Nv``; ``json`` arrays; ``npz``
    additionally every checkpoint's full ``J``. A PNG of the norms against
    time (one curve per order, log time axis when the times span two decades
    or more, log norm axis) is written to ``--figure`` if given, else next to
    ``--out`` (same name, suffix ``.png``), else to
    ``<MODEL stem>_order_norms.png`` in the current directory.
``--compare-gaussian``
    adds the Gaussian (central-limit) approximation of orders 1–3
    (:mod:`dsb_verifier.theory.rbm.gaussian`): the approximate couplings (``J_gaussian``)
    and, per order, the max absolute error and the relative Frobenius error
    against the exact couplings (per checkpoint with ``--all-checkpoints``).

Without ``--out`` the table goes to stdout (``npz`` needs ``--out``); a short
human summary always goes to stderr. Nothing is written until everything is
computed, and files are written through a temporary file and renamed, so a
failure never leaves a partial output behind.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import numpy as np
from dsb_verifier.checks.cli.io import InputError, RBMCheckpoints, load_rbm
from dsb_verifier.checks.cli.publish import display, publish_files, same_file
from dsb_verifier.theory._validation import _fmt_bytes
from dsb_verifier.theory.rbm.gaussian import GaussianComparison, compare_gaussian
from dsb_verifier.theory.rbm.io import rbm_from_params
from dsb_verifier.theory.walsh import order_norms, orders
from numpy.typing import NDArray

__all__ = ["MAX_NV", "FORMATS", "EffectiveResult", "compute", "run_effective", "write_figure"]

#: Largest number of visible units handled by exact enumeration.
MAX_NV = 24

#: Output formats of the command.
FORMATS = ("json", "csv", "npz")

#: Orders of the Gaussian approximation (fields, pairwise, three-body).
GAUSSIAN_MAX_ORDER = 3

_CONVENTION = (
    "log p(s) = sum_S J_S prod_{i in S} s_i with spins s_i = 2 x_i - 1 (x = 1 is spin up); "
    "subset S as a bitmask (bit i = variable i) and as variable indices (docs/theory.md §1-2)"
)


def _enumeration_bytes(Nv: int, Nh: int) -> float:
    """Peak working set of :meth:`theory.RBM.couplings`: hidden inputs and ``f`` over all states."""
    return 8.0 * 2.0**Nv * (2 * Nh + Nv + 8)


@dataclass(frozen=True)
class EffectiveResult:
    """Exact couplings of every checkpoint read, with optional Gaussian comparisons.

    ``J`` is ``(T, 2^Nv)`` (or ``None`` when only norms were kept),
    ``norms`` is ``(T, Nv + 1)``; ``gaussian`` holds one comparison per checkpoint.
    """

    source: RBMCheckpoints
    norms: NDArray[np.float64]
    J_empty: NDArray[np.float64]
    J: NDArray[np.float64] | None
    gaussian: tuple[GaussianComparison, ...] | None

    def __post_init__(self) -> None:
        T = len(self.source.params)
        N = self.source.n_visible
        if self.norms.shape != (T, N + 1) or self.J_empty.shape != (T,):
            raise ValueError("norms must be (T, Nv + 1) and J_empty (T,)")
        if self.J is not None and self.J.shape != (T, 2**N):
            raise ValueError("J must be (T, 2^Nv)")
        if self.gaussian is not None and len(self.gaussian) != T:
            raise ValueError("one Gaussian comparison per checkpoint")


def compute(
    source: RBMCheckpoints,
    *,
    keep_couplings: bool,
    gaussian: bool,
    progress: Callable[[str], None] | None = None,
) -> EffectiveResult:
    """Exact couplings (and optionally the Gaussian comparison) of every checkpoint of ``source``.

    Raises
    ------
    InputError
        If ``Nv > 24`` (with the estimated memory of exact enumeration).
    ValueError
        If the enumeration does not fit in the memory available now.
    """
    Nv, Nh = source.n_visible, source.n_hidden
    if Nv > MAX_NV:
        raise InputError(
            f"{source.path}: Nv = {Nv} visible units needs exact enumeration of 2^{Nv} states "
            f"(estimated {_fmt_bytes(_enumeration_bytes(Nv, Nh))} of memory); "
            f"dsb-verify effective supports Nv <= {MAX_NV}"
        )
    T = len(source.params)
    norms = np.zeros((T, Nv + 1))
    J_empty = np.zeros(T)
    J_all = np.zeros((T, 2**Nv)) if keep_couplings else None
    comps: list[GaussianComparison] = []
    for t, params in enumerate(source.params):
        model, theta = rbm_from_params(params)
        J = model.couplings(theta)
        norms[t] = order_norms(J)
        J_empty[t] = J[0]
        if J_all is not None:
            J_all[t] = J
        if gaussian:
            comps.append(compare_gaussian(model, theta, GAUSSIAN_MAX_ORDER, J_exact=J))
        if progress is not None and T > 1 and ((t + 1) % max(1, T // 10) == 0 or t + 1 == T):
            progress(f"checkpoint {source.checkpoints[t]} ({t + 1}/{T})")
    return EffectiveResult(source, norms, J_empty, J_all, tuple(comps) if gaussian else None)


# ---- tables -----------------------------------------------------------------
def _index_strings(N: int) -> list[str]:
    """``"0,3,5"`` for every subset bitmask ``0 .. 2^N - 1`` (by doubling: bit i added on the high half)."""
    out = [""]
    for i in range(N):
        out += [f"{s},{i}" if s else str(i) for s in out]
    return out


def _row_order(N: int) -> NDArray[np.int64]:
    """Subsets ``S != 0`` sorted by order, then bitmask."""
    k = orders(N)
    S = np.arange(1, 2**N)
    return S[np.argsort(k[1:], kind="stable")]


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _units(source: RBMCheckpoints) -> dict[str, str]:
    p = source.params[0]
    return {"visible": p.visible, "hidden": p.hidden, "source": source.units_source}


def _meta(source: RBMCheckpoints) -> dict[str, Any]:
    return {
        "model": source.path,
        "file_format": source.format,
        "n_visible": source.n_visible,
        "n_hidden": source.n_hidden,
        "units": _units(source),
        "conventions": _CONVENTION,
    }


def _single_json(res: EffectiveResult, out: TextIO) -> None:
    """Stream the single-model JSON document, one coupling row per line."""
    src, N = res.source, res.source.n_visible
    head: dict[str, Any] = {**_meta(src), "checkpoint": src.checkpoints[0]}
    head["J_empty"] = float(res.J_empty[0])
    head["J_empty_meaning"] = "J_0 = mean over states of log p (= -log Z of the effective model)"
    head["order_norms"] = [{"order": k, "norm": float(res.norms[0, k])} for k in range(1, N + 1)]
    if res.gaussian is not None:
        head["gaussian"] = res.gaussian[0].to_json()
    out.write("{\n")
    for key, val in head.items():
        out.write(f" {json.dumps(key)}: {json.dumps(val, allow_nan=False)},\n")
    out.write(' "couplings": [\n')
    rows, k, names, Jl, JGl = _rows(res)
    extra = [""] * len(Jl)
    if JGl is not None:
        extra = [f', "J_gaussian": {JGl[S]!r}' if k[S] <= GAUSSIAN_MAX_ORDER else "" for S in range(len(Jl))]
    lines = [
        f'  {{"subset": {S}, "order": {k[S]}, "indices": [{names[S]}], "J": {Jl[S]!r}{extra[S]}}}'
        for S in rows
    ]
    out.write(",\n".join(lines))
    out.write("\n ]\n}\n")


def _rows(res: EffectiveResult) -> tuple[list[int], list[int], list[str], list[float], list[float] | None]:
    """Subsets in output order, orders, index strings and couplings as Python lists (fast formatting)."""
    assert res.J is not None
    N = res.source.n_visible
    JG = res.gaussian[0].J_gaussian.tolist() if res.gaussian is not None else None
    return _row_order(N).tolist(), orders(N).tolist(), _index_strings(N), res.J[0].tolist(), JG


def _single_csv(res: EffectiveResult, out: TextIO) -> None:
    """Rows ``subset,order,"indices",J[,J_gaussian]``; the indices field is always quoted."""
    rows, k, names, Jl, JGl = _rows(res)
    if JGl is None:
        out.write("subset,order,indices,J\n")
        out.writelines(f'{S},{k[S]},"{names[S]}",{Jl[S]!r}\n' for S in rows)
    else:
        out.write("subset,order,indices,J,J_gaussian\n")
        g = [repr(x) if k[S] <= GAUSSIAN_MAX_ORDER else "" for S, x in enumerate(JGl)]
        out.writelines(f'{S},{k[S]},"{names[S]}",{Jl[S]!r},{g[S]}\n' for S in rows)


def _norms_csv(res: EffectiveResult, out: TextIO) -> None:
    N = res.source.n_visible
    w = csv.writer(out, lineterminator="\n")
    g = res.gaussian[0] if res.gaussian is not None else None
    w.writerow(["order", "norm", *(["gaussian_max_abs_error", "gaussian_rel_frobenius_error"] if g else [])])
    for k in range(1, N + 1):
        row: list[Any] = [k, repr(float(res.norms[0, k]))]
        if g is not None:
            if k <= len(g.orders):
                rel = g.rel_frobenius_error[k - 1]
                row += [repr(float(g.max_abs_error[k - 1])), repr(float(rel)) if np.isfinite(rel) else "inf"]
            else:
                row += ["", ""]
        w.writerow(row)


def _gaussian_series(res: EffectiveResult) -> tuple[int, NDArray[np.float64], NDArray[np.float64]]:
    assert res.gaussian is not None
    K = len(res.gaussian[0].orders)
    max_abs = np.array([g.max_abs_error for g in res.gaussian])
    rel = np.array([g.rel_frobenius_error for g in res.gaussian])
    return K, max_abs, rel


def _series_json(res: EffectiveResult, figure: Path | None, out: TextIO) -> None:
    src, N = res.source, res.source.n_visible
    doc: dict[str, Any] = {
        **_meta(src),
        "time_axis": "update index n of the checkpoint group update_<n>",
        "checkpoints": list(src.checkpoints),
        "orders": list(range(1, N + 1)),
        "order_norms": [[float(x) for x in row[1:]] for row in res.norms],
        "J_empty": [float(x) for x in res.J_empty],
        "figure": str(figure) if figure is not None else None,
    }
    if res.gaussian is not None:
        K, max_abs, rel = _gaussian_series(res)
        doc["gaussian"] = {
            "orders": list(range(1, K + 1)),
            "max_abs_error": [[float(x) for x in row] for row in max_abs],
            "rel_frobenius_error": [[_num(x) for x in row] for row in rel],
            "quadrature_spacing": res.gaussian[0].spacing,
        }
    out.write(json.dumps(doc, indent=1, allow_nan=False) + "\n")


def _series_csv(res: EffectiveResult, out: TextIO) -> None:
    src, N = res.source, res.source.n_visible
    w = csv.writer(out, lineterminator="\n")
    header = ["checkpoint", *(f"order_{k}" for k in range(1, N + 1))]
    K = 0
    if res.gaussian is not None:
        K, max_abs, rel = _gaussian_series(res)
        header += [f"gaussian_max_abs_error_{k}" for k in range(1, K + 1)]
        header += [f"gaussian_rel_frobenius_error_{k}" for k in range(1, K + 1)]
    w.writerow(header)
    for t, n in enumerate(src.checkpoints):
        row: list[Any] = [n, *(repr(float(x)) for x in res.norms[t, 1:])]
        if K:
            row += [repr(float(x)) for x in max_abs[t]]
            row += [repr(float(x)) if np.isfinite(x) else "inf" for x in rel[t]]
        w.writerow(row)


def _npz_arrays(res: EffectiveResult) -> dict[str, Any]:
    src, N = res.source, res.source.n_visible
    single = src.checkpoints == (None,)
    arrays: dict[str, Any] = {
        "orders": orders(N).copy(),
        "n_visible": np.int64(N),
        "n_hidden": np.int64(src.n_hidden),
        "units": np.str_(",".join((src.params[0].visible, src.params[0].hidden))),
        "conventions": np.str_(_CONVENTION),
    }
    if res.J is not None:
        arrays["J"] = res.J[0] if len(src.checkpoints) == 1 else res.J
    arrays["order_norms"] = res.norms[0] if len(src.checkpoints) == 1 else res.norms
    if not single:
        arrays["checkpoints"] = np.array(src.checkpoints, dtype=np.int64)
    if res.gaussian is not None:
        _, max_abs, rel = _gaussian_series(res)
        JG = np.array([g.J_gaussian for g in res.gaussian])
        one = len(src.checkpoints) == 1
        arrays["J_gaussian"] = JG[0] if one else JG
        arrays["gaussian_max_abs_error"] = max_abs[0] if one else max_abs
        arrays["gaussian_rel_frobenius_error"] = rel[0] if one else rel
    return arrays


# ---- figure -----------------------------------------------------------------
def write_figure(res: EffectiveResult, fh: BinaryIO) -> None:  # pragma: no mutate block
    """PNG of the per-order norms against training time (the paper's Fig. 1 for one's own training).

    One curve per order ``k``, log norm axis (zero norms are not drawn), log
    time axis when the positive times span two decades or more (``symlog``
    if the first checkpoint is ``n = 0``).
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    t = np.array(res.source.checkpoints, dtype=np.float64)
    N = res.source.n_visible
    fig = Figure(figsize=(7.0, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colors = matplotlib.colormaps["viridis"](np.linspace(0.0, 0.95, N))
    marker = "o" if t.size <= 30 else None
    for k in range(1, N + 1):
        y = np.where(res.norms[:, k] > 0, res.norms[:, k], np.nan)
        ax.plot(t, y, marker=marker, ms=3, color=colors[k - 1], label=f"k = {k}")
    pos = t[t > 0]
    if pos.size and pos.max() / pos.min() >= 100:
        if t.min() > 0:
            ax.set_xscale("log")
        else:
            ax.set_xscale("symlog", linthresh=max(float(pos.min()), 1.0))
    ax.set_yscale("log")
    ax.set_xlabel("training time (update index n)")
    ax.set_ylabel(r"$\|J_k\|$ (Frobenius norm of order-$k$ couplings)")
    ax.set_title(f"{Path(res.source.path).name}: exact effective couplings by order")
    ax.legend(title="order", fontsize="small", ncol=2 if N > 8 else 1, loc="best")
    ax.grid(True, which="both", alpha=0.3)
    fig.savefig(fh, format="png", dpi=120)


# ---- writing ----------------------------------------------------------------
def _write_all(
    outputs: list[tuple[Path, Callable[[Any], None], bool]], inputs: tuple[Path, ...] = ()
) -> None:
    """Publish every ``(path, writer, binary)`` together (:func:`dsb_verifier.checks.cli.publish.publish_files`).

    Each file is written to a hidden temporary beside it, then all are renamed
    into place as one set: after any interruption the earlier files are all
    there, or all the new ones. An output that is one of ``inputs`` (through
    links too) is refused before anything is written.
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

    publish_files([(path, as_binary(w, b)) for path, w, b in outputs], inputs=inputs)


@dataclass(frozen=True)
class _Plan:
    """Where every output goes; checked before any computation."""

    table: Path | None
    norms: Path | None
    figure: Path | None


def _plan(args: Any) -> _Plan:
    out: Path | None = args.out
    if args.format == "npz" and out is None:
        raise InputError("--format npz writes a binary file: give --out FILE")
    if args.figure is not None and not args.all_checkpoints:
        raise InputError("--figure is only used with --all-checkpoints")
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
    norms = None
    if out is not None and args.format == "csv" and not args.all_checkpoints:
        norms = out.with_name(out.stem + "_norms.csv")
    for p in (out, figure, norms):
        if p is not None and (same_file(p, args.model) or p.resolve() == Path(args.model).resolve()):
            raise InputError(
                f"{display(p)}: is the input file {display(args.model)}; choose another output path"
            )
    for p in (out, figure, norms):
        if p is not None and not (p.parent if str(p.parent) else Path(".")).is_dir():
            raise InputError(f"{p}: directory {p.parent} does not exist")
        if p is not None and p.exists() and p.is_dir():
            raise InputError(f"{p}: is a directory, expected a file path")
    return _Plan(out, norms, figure)


def _summary(res: EffectiveResult) -> Iterator[str]:
    src = res.source
    u = _units(src)
    yield (
        f"{src.path}: Nv={src.n_visible}, Nh={src.n_hidden}, units visible={u['visible']} "
        f"hidden={u['hidden']} ({u['source']}), {len(src.checkpoints)} checkpoint(s)"
    )
    t = -1
    n = src.checkpoints[t]
    label = "" if n is None else f" at checkpoint {n}"
    norms = ", ".join(f"{k}: {res.norms[t, k]:.4g}" for k in range(1, src.n_visible + 1))
    yield f"|J_k|{label}: {norms}"
    if res.gaussian is not None:
        g = res.gaussian[t]
        parts = [
            f"order {k}: max abs {g.max_abs_error[k - 1]:.3g}, rel {g.rel_frobenius_error[k - 1]:.3g}"
            for k in g.orders
        ]
        yield f"Gaussian approximation error{label}: " + "; ".join(parts)


def _check_finite(res: EffectiveResult) -> None:
    """Refuse to write couplings or norms that overflowed float64, naming the file (nothing is written)."""
    bad = [
        name
        for name, arr in (("couplings", res.J), ("per-order norms", res.norms), ("J_0", res.J_empty))
        if arr is not None and not np.all(np.isfinite(arr))
    ]
    if bad:
        W = max(float(np.max(np.abs(p.weight_matrix), initial=0.0)) for p in res.source.params)
        raise InputError(
            f"{res.source.path}: the {' and '.join(bad)} overflow float64 (|weight_matrix| up to {W:.3g}); "
            "the weights are too large for the effective couplings to be computed"
        )


def run_effective(args: Any, err: Callable[[str], None]) -> None:
    """Carry out ``dsb-verify effective`` for parsed ``args``; messages go through ``err``.

    Raises
    ------
    InputError, ValueError
        For bad input; nothing has been written then.
    """
    plan = _plan(args)
    source = load_rbm(
        args.model,
        checkpoint=args.checkpoint,
        all_checkpoints=args.all_checkpoints,
        units=args.units,
    )
    series = args.all_checkpoints
    res = compute(
        source,
        keep_couplings=(not series) or args.format == "npz",
        gaussian=args.compare_gaussian,
        progress=err if series else None,
    )
    _check_finite(res)
    text: Callable[[TextIO], None]
    if series:
        text = (
            (lambda fh: _series_json(res, plan.figure, fh))
            if args.format == "json"
            else (lambda fh: _series_csv(res, fh))
        )
    else:
        text = (
            (lambda fh: _single_json(res, fh)) if args.format == "json" else (lambda fh: _single_csv(res, fh))
        )
    outputs: list[tuple[Path, Callable[[Any], None], bool]] = []
    if plan.figure is not None:
        outputs.append((plan.figure, lambda fh: write_figure(res, fh), True))
    if args.format == "npz":
        assert plan.table is not None
        outputs.append((plan.table, lambda fh: np.savez(fh, **_npz_arrays(res)), True))
    elif plan.table is not None:
        outputs.append((plan.table, text, False))
    if plan.norms is not None:
        outputs.append((plan.norms, lambda fh: _norms_csv(res, fh), False))
    _write_all(outputs, inputs=(Path(args.model),))
    if plan.table is None:
        buf = io.StringIO()
        text(buf)
        sys.stdout.write(buf.getvalue())
    for line in _summary(res):
        err(line)
    for p in (plan.table, plan.norms, plan.figure):
        if p is not None:
            err(f"wrote {display(p)}")
