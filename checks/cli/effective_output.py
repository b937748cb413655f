r"""Tables of ``dsb-verify effective``: JSON, CSV and npz, one model or a training series.

Every writer takes an :class:`~dsb_verifier.checks.cli.effective_compute.EffectiveResult`
and an open file; nothing here decides where files go
(:mod:`dsb_verifier.checks.cli.effective` does, and writes them all through one function).

Coupling rows (one model)
    ``subset`` (bitmask, bit ``i`` = variable ``i``), ``order``, ``indices`` (the variable
    indices, the readable form of ``subset``) and ``J`` (and ``J_gaussian`` with
    ``--compare-gaussian``, empty where the Gaussian mapping was not evaluated). The bitmask
    is an integer while every bitmask of the model is exact as a float64 (``N <=``
    :data:`EXACT_MASK_BITS` = 53); above that, where JSON and CSV readers would round it,
    ``subset`` is written as a decimal string (JSON ``"subset": "..."``; CSV quoted).
    Without ``--subsets`` the rows are every subset of the orders in ``table_orders``,
    sorted by order then bitmask: orders ``1..K`` with enumeration; with the integral
    routes the orders computed exhaustively (``k <= 2`` and orders with at most
    ``exhaustive_limit`` subsets). Orders estimated from sampled subsets are in the norms
    only (``sampled_orders``; per-order ``in_table`` false). With ``--subsets`` the rows are
    the chosen subsets, in the order given.
Per-order rows
    ``order, norm, stderr, floor, floor_source, exhaustive, n_subsets, n_evaluated`` (one
    model: also ``in_table``) and, with ``--compare-gaussian``, ``gaussian_norm,
    gaussian_stderr, gaussian_floor, gaussian_rel_error, gaussian_max_abs_error``. In a
    series each row also has ``checkpoint`` and ``time``.
Floors
    ``floor`` is the norm's floor: below it the norm is not resolved (the figure does not draw
    it as data). ``floor_source`` says which: ``integral`` (the per-order floor of the
    integral route, :attr:`dsb_verifier.theory.rbm.OrderNorms.floor`) or ``fallback``
    (enumeration: ``100 eps x max(|J_0|, max_k ||J_k||)`` per checkpoint, the same for
    every order); JSON and npz also carry ``floor_meaning``. ``gaussian_floor`` is the
    Gaussian mapping's own per-order floor (always from the integral).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any, TextIO

import numpy as np
from dsb_verifier.checks.cli.effective_compute import FLOOR_SOURCES, EffectiveResult, Kept
from numpy.typing import NDArray

__all__ = [
    "CONVENTION",
    "EXACT_MASK_BITS",
    "coupling_rows",
    "npz_arrays",
    "order_rows",
    "series_csv",
    "series_json",
]

#: Up to this many variables every subset bitmask is an integer exact in float64 (below 2^53).
EXACT_MASK_BITS = 53

CONVENTION = (
    "log p(s) = sum_S J_S prod_{i in S} s_i with spins s_i = 2 x_i - 1 (x = 1 is spin up); "
    "subset S as a bitmask (bit i = variable i) and as variable indices (docs/theory.md §1-2)"
)

_CHUNK = 2**16


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def meta(res: EffectiveResult) -> dict[str, Any]:
    """Model, units, method and sampling settings shared by every output."""
    src, req = res.source, res.request
    p = src.params[0]
    return {
        "model": src.path,
        "file_format": src.format,
        "n_visible": src.n_visible,
        "n_hidden": src.n_hidden,
        "units": {"visible": p.visible, "hidden": p.hidden, "source": src.units_source},
        "method": res.method,
        "law": res.law,
        "max_order": len(res.orders),
        "samples": req.samples,
        "seed": req.seed,
        "floor_source": res.floor_source,
        "floor_meaning": FLOOR_SOURCES[res.floor_source],
        "conventions": CONVENTION,
    }


def table_meta(res: EffectiveResult) -> dict[str, Any]:
    """Which orders the coupling table of one model holds (module docstring)."""
    if res.request.subsets:
        return {"table_rows": "the --subsets, in the order given"}
    return {
        "table_orders": list(res.table_orders),
        "sampled_orders": list(res.sampled_orders),
        "table_rows": "every subset of the table_orders; sampled_orders are estimated from sampled "
        "subsets and are in the order norms only",
    }


def order_rows(res: EffectiveResult, t: int, *, table: bool = False) -> list[dict[str, Any]]:
    """One dict per order for checkpoint ``t`` (module docstring); ``table``: with ``in_table``."""
    rows = []
    floors = res.floors
    for j, k in enumerate(res.orders):
        row: dict[str, Any] = {
            "order": k,
            "norm": float(res.norms[t, j]),
            "stderr": float(res.stderr[t, j]),
            "floor": float(floors[t, j]),
            "floor_source": res.floor_source,
            "exhaustive": bool(res.exhaustive[j]),
            "n_subsets": int(res.n_subsets[j]),
            "n_evaluated": int(res.n_evaluated[j]),
        }
        if table:
            row["in_table"] = not res.request.subsets and k in res.table_orders
        if res.gaussian_norms is not None:
            assert res.gaussian_stderr is not None and res.gaussian_rel_error is not None
            assert res.gaussian_max_abs_error is not None and res.gaussian_floor is not None
            row["gaussian_norm"] = float(res.gaussian_norms[t, j])
            row["gaussian_stderr"] = float(res.gaussian_stderr[t, j])
            row["gaussian_floor"] = float(res.gaussian_floor[t, j])
            row["gaussian_rel_error"] = _num(res.gaussian_rel_error[t, j])
            row["gaussian_max_abs_error"] = float(res.gaussian_max_abs_error[t, j])
        rows.append(row)
    return rows


def _popcounts(N: int) -> NDArray[np.int8]:
    k = np.zeros(2**N, dtype=np.int8)
    for i in range(N):
        k[1 << i : 1 << (i + 1)] = k[: 1 << i] + 1
    return k


def _names(masks: NDArray[np.int64], N: int) -> list[str]:
    bits = ((masks[:, None] >> np.arange(N)) & 1).astype(bool)
    return [",".join(map(str, np.flatnonzero(b))) for b in bits]


def coupling_rows(res: EffectiveResult, t: int = 0) -> Iterator[tuple[int, int, str, float, float | None]]:
    """``(subset, order, "i,j,...", J, J_gaussian or None)`` in output order, in chunks (low memory).

    Integral routes: the fields, the pairs, then the exhaustive orders ``>= 3``
    (``res.table_subsets``), each by bitmask.
    """
    kept: Kept = res.kept[t]
    N, K = res.source.n_visible, len(res.orders)
    if res.request.subsets:
        assert kept.chosen is not None
        for j, s in enumerate(res.request.subsets):
            g = None if kept.chosen_gaussian is None else float(kept.chosen_gaussian[j])
            yield sum(1 << i for i in s), len(s), ",".join(map(str, s)), float(kept.chosen[j]), g
        return
    if kept.J is not None:
        pc = _popcounts(N)
        JG = kept.J_gaussian
        for k in range(1, K + 1):
            masks = np.flatnonzero(pc == k)
            for lo in range(0, masks.size, _CHUNK):
                m = masks[lo : lo + _CHUNK]
                vals = kept.J[m].tolist()
                gs = [None] * m.size if JG is None else [None if np.isnan(x) else x for x in JG[m].tolist()]
                for S, name, v, g in zip(m.tolist(), _names(m, N), vals, gs, strict=True):
                    yield S, k, name, v, g
        return
    assert kept.fields is not None
    for i in range(N):
        g = None if kept.gaussian_fields is None else float(kept.gaussian_fields[i])
        yield 1 << i, 1, str(i), float(kept.fields[i]), g
    if K >= 2 and kept.pairwise is not None:
        for j in range(1, N):  # bitmask order: by the larger index, then the smaller
            for i in range(j):
                g = None if kept.gaussian_pairwise is None else float(kept.gaussian_pairwise[i, j])
                yield (1 << i) | (1 << j), 2, f"{i},{j}", float(kept.pairwise[i, j]), g
    for o, (idx, vals) in enumerate(zip(res.table_subsets, kept.higher, strict=True)):
        gv = kept.higher_gaussian[o].tolist() if kept.higher_gaussian else [None] * len(vals)
        for row, v, g in zip(idx.tolist(), vals.tolist(), gv, strict=True):
            yield sum(1 << i for i in row), len(row), ",".join(map(str, row)), v, g


def _has_gaussian(res: EffectiveResult) -> bool:
    return res.gaussian_norms is not None


def single_json(res: EffectiveResult, out: TextIO) -> None:
    """One model: metadata, per-order rows, then the coupling rows streamed one per line."""
    src = res.source
    head: dict[str, Any] = {**meta(res), "checkpoint": src.checkpoints[0]}
    if src.effective_times is not None:
        head["effective_time"] = src.effective_times[0]
    if res.J_empty is not None:
        head["J_empty"] = float(res.J_empty[0])
        head["J_empty_meaning"] = "J_0 = mean over states of log p (= -log Z of the effective model)"
    head.update(table_meta(res))
    head["order_norms"] = order_rows(res, 0, table=True)
    out.write("{\n")
    for key, val in head.items():
        out.write(f" {json.dumps(key)}: {json.dumps(val, allow_nan=False)},\n")
    out.write(' "couplings": [')
    sep = "\n"
    gauss = _has_gaussian(res)
    big = res.source.n_visible > EXACT_MASK_BITS
    for S, k, name, v, g in coupling_rows(res, 0):
        extra = f', "J_gaussian": {"null" if g is None else repr(g)}' if gauss else ""
        mask = f'"{S}"' if big else str(S)
        out.write(f'{sep}  {{"subset": {mask}, "order": {k}, "indices": [{name}], "J": {v!r}{extra}}}')
        sep = ",\n"
    out.write("\n ]\n}\n")


def single_csv(res: EffectiveResult, out: TextIO) -> None:
    """Coupling rows ``subset,order,"indices",J[,J_gaussian]``; the indices field is always quoted.

    ``subset`` is quoted (text) above :data:`EXACT_MASK_BITS` variables (module docstring).
    """
    gauss = _has_gaussian(res)
    big = res.source.n_visible > EXACT_MASK_BITS
    out.write("subset,order,indices,J" + (",J_gaussian\n" if gauss else "\n"))
    for S, k, name, v, g in coupling_rows(res, 0):
        tail = ("," + ("" if g is None else repr(g))) if gauss else ""
        mask = f'"{S}"' if big else str(S)
        out.write(f'{mask},{k},"{name}",{v!r}{tail}\n')


def _csv_row(row: dict[str, Any]) -> dict[str, Any]:
    """CSV cells: floats by ``repr`` (round-trip), ``None`` (an infinite ratio) as ``inf``, booleans lower case."""

    def cell(v: Any) -> Any:
        if v is None:
            return "inf"
        if isinstance(v, bool):
            return "true" if v else "false"
        return repr(v) if isinstance(v, float) else v

    return {k: cell(v) for k, v in row.items()}


def norms_csv(res: EffectiveResult, out: TextIO, t: int = 0) -> None:
    """Per-order rows of checkpoint ``t`` (the ``_norms.csv`` beside a single-model CSV)."""
    rows = order_rows(res, t, table=True)
    w = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(_csv_row(r))


def _time_axis(res: EffectiveResult, axis: str) -> list[float]:
    src = res.source
    if axis == "effective_time":
        assert src.effective_times is not None
        return list(src.effective_times)
    return [float(n) for n in src.checkpoints if n is not None]


def series_json(res: EffectiveResult, axis: str, figure: str | None, out: TextIO) -> None:
    """Every checkpoint's per-order norms, exact and Gaussian side by side."""
    src = res.source
    doc: dict[str, Any] = {
        **meta(res),
        "time_axis": axis,
        "checkpoints": list(src.checkpoints),
        "time": _time_axis(res, axis),
        "effective_time": list(src.effective_times) if src.effective_times is not None else None,
        "orders": list(res.orders),
        "exhaustive": [bool(x) for x in res.exhaustive],
        "n_subsets": [int(x) for x in res.n_subsets],
        "n_evaluated": [int(x) for x in res.n_evaluated],
        "order_norms": res.norms.tolist(),
        "order_norms_stderr": res.stderr.tolist(),
        "order_norms_floor": res.floors.tolist(),
        "J_empty": None if res.J_empty is None else res.J_empty.tolist(),
        "figure": figure,
    }
    if res.gaussian_norms is not None:
        assert res.gaussian_stderr is not None and res.gaussian_rel_error is not None
        assert res.gaussian_max_abs_error is not None
        doc["gaussian"] = {
            "order_norms": res.gaussian_norms.tolist(),
            "order_norms_stderr": res.gaussian_stderr.tolist(),
            "order_norms_floor": None if res.gaussian_floor is None else res.gaussian_floor.tolist(),
            "rel_error": [[_num(x) for x in row] for row in res.gaussian_rel_error],
            "max_abs_error": res.gaussian_max_abs_error.tolist(),
        }
    out.write(json.dumps(doc, indent=1, allow_nan=False) + "\n")


def series_csv(res: EffectiveResult, axis: str, out: TextIO) -> None:
    """Long format: one row per checkpoint and order, exact and Gaussian columns side by side."""
    times = _time_axis(res, axis)
    w = None
    for t, n in enumerate(res.source.checkpoints):
        for r in order_rows(res, t):
            row = {"checkpoint": n, "time": repr(times[t]), **r}
            if w is None:
                w = csv.DictWriter(out, fieldnames=list(row), lineterminator="\n")
                w.writeheader()
            w.writerow(_csv_row(row))


def npz_arrays(res: EffectiveResult, axis: str) -> dict[str, Any]:
    """Arrays of the npz output: a single model's, or the series' with a leading checkpoint axis."""
    src = res.source
    one = len(src.checkpoints) == 1
    first = (lambda a: a[0]) if one else (lambda a: a)
    arrays: dict[str, Any] = {
        "orders": np.array(res.orders, dtype=np.int64),
        "n_visible": np.int64(src.n_visible),
        "n_hidden": np.int64(src.n_hidden),
        "units": np.str_(",".join((src.params[0].visible, src.params[0].hidden))),
        "method": np.str_(res.method),
        "conventions": np.str_(CONVENTION),
        "exhaustive": res.exhaustive.copy(),
        "n_subsets": np.array([float(x) for x in res.n_subsets]),
        "n_evaluated": np.array(res.n_evaluated, dtype=np.int64),
        "samples": np.int64(res.request.samples),
        "seed": np.int64(res.request.seed),
        "order_norms": first(res.norms),
        "order_norms_stderr": first(res.stderr),
        "order_norms_floor": first(res.floors),
        "floor_source": np.str_(res.floor_source),
        "floor_meaning": np.str_(FLOOR_SOURCES[res.floor_source]),
        "table_orders": np.array(res.table_orders, dtype=np.int64),
    }
    if src.checkpoints != (None,):
        arrays["checkpoints"] = np.array(src.checkpoints, dtype=np.int64)
        arrays["time"] = np.array(_time_axis(res, axis))
        arrays["time_axis"] = np.str_(axis)
    if src.effective_times is not None:
        arrays["effective_time"] = first(np.array(src.effective_times))
    if res.J_empty is not None:
        arrays["J_empty"] = first(res.J_empty)
    if res.gaussian_norms is not None:
        arrays["gaussian_order_norms"] = first(res.gaussian_norms)
        arrays["gaussian_order_norms_stderr"] = first(res.gaussian_stderr)
        arrays["gaussian_rel_error"] = first(res.gaussian_rel_error)
        arrays["gaussian_max_abs_error"] = first(res.gaussian_max_abs_error)
        arrays["gaussian_order_norms_floor"] = first(res.gaussian_floor)
    if res.kept:
        for name in Kept.__dataclass_fields__:
            vals = [getattr(k, name) for k in res.kept]
            if vals[0] is not None and not isinstance(vals[0], tuple):
                arrays[name] = first(np.array(vals))
        for o, idx in enumerate(res.table_subsets):
            k = idx.shape[1]
            arrays[f"subsets_order{k}"] = idx
            arrays[f"couplings_order{k}"] = first(np.array([kp.higher[o] for kp in res.kept]))
            if res.kept[0].higher_gaussian:
                arrays[f"gaussian_couplings_order{k}"] = first(
                    np.array([kp.higher_gaussian[o] for kp in res.kept])
                )
        if res.request.subsets:
            width = max(len(s) for s in res.request.subsets)
            arrays["chosen_subsets"] = np.array(
                [list(s) + [-1] * (width - len(s)) for s in res.request.subsets], dtype=np.int64
            )
    return arrays
