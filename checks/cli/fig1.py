r"""The paper's Fig. 1 for one's own training: per-order coupling norms against training time.

:func:`draw_fig1` draws :math:`\|J_k\|` (docs/theory.md §8) of the selected orders
over the checkpoints of one training, log-log:

* one colour per order from a sequential colour map (low orders dark, high
  orders light), named by a direct label at the curve's end (up to
  :data:`MAX_DIRECT_LABELS` orders) or by a colour bar;
* solid lines with dots: the method's couplings (exact for ``enumerate`` and
  ``integral``); dashed, same colour: the Gaussian mapping (``--compare-gaussian``);
* shaded bands: plus/minus one standard error, for orders estimated from sampled subsets,
  only where the value itself is drawn (above its floor), clipped below at the floor;
* a value at or below its order's **floor** is not drawn as data. The floors are those of
  :class:`EffectiveResult` (``res.floors``): with the integral routes each order's own
  rounding floor (:attr:`dsb_verifier.theory.rbm.OrderNorms.floor`), drawn as a thin
  dotted line in the order's colour; with enumeration, which has no per-order estimate,
  the stated fallback ``FLOOR_FACTOR * eps * max(|J_0|, max_k ||J_k||)`` per checkpoint
  (:func:`accuracy_floor`), one grey dotted line. The Gaussian mapping's curves use its
  own per-order floors. ``floor_rel`` (optional) raises every floor to at least
  ``floor_rel`` times the largest block;
* the time axis is logarithmic when the positive times span two decades; a
  checkpoint at time 0 (the initialisation, ``effective_time = 0``) cannot be shown
  on it and the figure says so;
* the line-style legend sits outside the axes, below them;
* with the Gaussian mapping, a lower panel shows its relative error per order,
  :math:`\|J^G_k - J_k\| / \|J_k\|` (:func:`draw_gaussian_error`).
"""

from __future__ import annotations

import itertools
from typing import Any, BinaryIO

import numpy as np
from dsb_verifier.checks.cli.effective_compute import (
    FALLBACK_FLOOR_FACTOR,
    EffectiveResult,
    fallback_floor,
)
from dsb_verifier.theory.tolerances import EPS
from numpy.typing import NDArray

__all__ = [
    "FLOOR_FACTOR",
    "MAX_DIRECT_LABELS",
    "accuracy_floor",
    "draw_fig1",
    "order_floors",
    "draw_gaussian_error",
    "write_figure",
]

#: Multiple of machine epsilon (relative to the largest coupling block) of the fallback floor.
FLOOR_FACTOR = FALLBACK_FLOOR_FACTOR

#: Up to this many orders are named by direct labels; more get a colour bar.
MAX_DIRECT_LABELS = 8


def accuracy_floor(res: EffectiveResult, floor_rel: float | None = None) -> NDArray[np.float64]:
    """The fallback floor per checkpoint, shape ``(T,)``: ``FLOOR_FACTOR * eps`` (or ``floor_rel``) x largest block."""
    if floor_rel is None:
        return fallback_floor(res.norms, res.J_empty)
    top = res.norms.max(axis=1)
    if res.J_empty is not None:
        top = np.maximum(top, np.abs(res.J_empty))
    return max(float(floor_rel), FLOOR_FACTOR * EPS) * top


def order_floors(
    res: EffectiveResult, floor_rel: float | None = None, *, gaussian: bool = False
) -> NDArray[np.float64]:
    """Floor of every drawn value, shape ``(T, K)``: ``res.floors`` (or the Gaussian mapping's), raised by ``floor_rel``."""
    fl = res.floors if not gaussian or res.gaussian_floor is None else res.gaussian_floor
    if floor_rel is not None:
        fl = np.maximum(fl, accuracy_floor(res, floor_rel)[:, None])
    return fl


def _positive(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.where(x > 0, x, np.nan)


def _times(res: EffectiveResult, axis: str) -> NDArray[np.float64]:
    src = res.source
    if axis == "effective_time":
        assert src.effective_times is not None
        return np.array(src.effective_times, dtype=np.float64)
    return np.array(src.checkpoints, dtype=np.float64)


def _spread_labels(y: list[float], min_gap: float) -> list[float]:
    """Move label positions (log10 units) apart by at least ``min_gap``, keeping their order."""
    order = np.argsort(y)
    out = np.array(y, dtype=np.float64)
    for a, b in itertools.pairwise(order):
        if out[b] - out[a] < min_gap:
            out[b] = out[a] + min_gap
    return out.tolist()


def draw_fig1(
    res: EffectiveResult,
    ax: Any,
    *,
    orders: tuple[int, ...] | None = None,
    axis: str = "update",
    floor_rel: float | None = None,
) -> None:
    """Draw Fig. 1 of ``res`` into the matplotlib axes ``ax`` (module docstring)."""
    import matplotlib

    K = len(res.orders)
    sel = tuple(range(1, K + 1)) if orders is None else tuple(orders)
    t = _times(res, axis)
    show = t > 0 if np.any(t > 0) else np.ones_like(t, dtype=bool)
    pos = t[t > 0]
    log_x = pos.size >= 2 and pos.max() / pos.min() >= 100
    if not log_x:
        show = np.ones_like(t, dtype=bool)
    floors = order_floors(res, floor_rel)
    gfloors = order_floors(res, floor_rel, gaussian=True)
    per_order = res.floor is not None
    cmap = matplotlib.colormaps["viridis"]
    colours = {k: cmap(0.9 * (i / max(1, len(sel) - 1))) for i, k in enumerate(sel)}
    label_at: dict[int, tuple[float, float]] = {}
    sampled_any = False
    for k in sel:
        j = k - 1
        c = colours[k]
        fl = floors[:, j]
        drawn = res.norms[:, j] > fl
        y = np.where(drawn, res.norms[:, j], np.nan)
        ax.plot(t[show], y[show], "-o", ms=3, lw=1.5, color=c, zorder=3)
        if per_order:
            ax.plot(t[show], _positive(fl)[show], ":", lw=0.8, color=c, alpha=0.8, zorder=1)
        if not res.exhaustive[j]:
            sampled_any = True
            lo = np.maximum(res.norms[:, j] - res.stderr[:, j], fl)
            hi = res.norms[:, j] + res.stderr[:, j]
            band = drawn & (hi > fl)
            ax.fill_between(
                t[show], lo[show], hi[show], where=band[show], color=c, alpha=0.25, lw=0, zorder=2
            )
        if res.gaussian_norms is not None:
            gfl = gfloors[:, j]
            gdrawn = res.gaussian_norms[:, j] > gfl
            g = np.where(gdrawn, res.gaussian_norms[:, j], np.nan)
            ax.plot(t[show], g[show], "--", lw=1.3, color=c, zorder=3)
            if not res.exhaustive[j] and res.gaussian_stderr is not None:
                glo = np.maximum(res.gaussian_norms[:, j] - res.gaussian_stderr[:, j], gfl)
                ghi = res.gaussian_norms[:, j] + res.gaussian_stderr[:, j]
                ax.fill_between(
                    t[show],
                    glo[show],
                    ghi[show],
                    where=(gdrawn & (ghi > gfl))[show],
                    color=c,
                    alpha=0.12,
                    lw=0,
                    zorder=2,
                )
        finite = np.flatnonzero(np.isfinite(y) & show)
        if finite.size:
            label_at[k] = (float(t[finite[-1]]), float(y[finite[-1]]))
    if not per_order:
        ax.plot(t[show], _positive(floors[:, 0])[show], ":", color="0.5", lw=1.0, zorder=1)
    ax.set_yscale("log")
    if log_x:
        ax.set_xscale("log")
    xlabel = "effective time (cumulative learning rate)" if axis == "effective_time" else "training update n"
    if log_x and np.any(t <= 0):
        xlabel += f"  [{int(np.sum(t <= 0))} checkpoint(s) at time 0 not shown on the log axis]"
    ax.set_xlabel(xlabel)
    ax.set_ylabel(r"$\|J_k\|$  (Frobenius norm of the order-$k$ couplings)")
    ax.grid(True, which="major", alpha=0.3)
    if len(sel) <= MAX_DIRECT_LABELS and label_at:
        lo_y, hi_y = (np.log10(v) for v in ax.get_ylim())
        ks = list(label_at)
        ys = _spread_labels([np.log10(label_at[k][1]) for k in ks], 0.045 * (hi_y - lo_y))
        for k, ylog in zip(ks, ys, strict=True):
            ax.annotate(
                f"k = {k}",
                xy=(1.0, 10**ylog),
                xycoords=("axes fraction", "data"),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                color=colours[k],
                fontsize="small",
                annotation_clip=False,
            )
    else:
        sm = matplotlib.cm.ScalarMappable(
            cmap=matplotlib.colors.ListedColormap([colours[k] for k in sel]),
            norm=matplotlib.colors.BoundaryNorm(np.arange(len(sel) + 1) - 0.5, len(sel)),
        )
        cb = ax.figure.colorbar(sm, ax=ax, pad=0.01)
        step = max(1, len(sel) // 12)
        cb.set_ticks(range(0, len(sel), step), labels=[str(sel[i]) for i in range(0, len(sel), step)])
        cb.set_label("order k")
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = [Line2D([], [], color="k", marker="o", ms=3, label=f"{res.law} ({res.method})")]
    if res.gaussian_norms is not None:
        handles.append(Line2D([], [], color="k", ls="--", label="Gaussian mapping (above its own floors)"))
    if sampled_any:
        handles.append(Patch(color="k", alpha=0.25, label="±1 s.e. (sampled subsets)"))
    if per_order:
        floor_label = "rounding floor of each order (order's colour)"
    else:
        floor_label = f"accuracy floor (fallback: {FLOOR_FACTOR:g} ε × largest block, all orders)"
    if floor_rel is not None:
        floor_label += f", at least {floor_rel:g} × largest block"
    handles.append(Line2D([], [], color="0.5", ls=":", label=floor_label))
    ax.figure.legend(
        handles=handles,
        loc="outside lower center",
        ncol=len(handles) if len(handles) <= 3 else 2,
        fontsize="small",
        frameon=False,
    )


def draw_gaussian_error(
    res: EffectiveResult, ax: Any, *, orders: tuple[int, ...] | None = None, axis: str = "update"
) -> None:
    r"""Relative error of the Gaussian mapping per order, :math:`\|J^G_k - J_k\| / \|J_k\|`, over training.

    Same colours and time axis as :func:`draw_fig1`. Not drawn: points where the exact block
    is at or below its floor (the ratio is then noise over noise), and ratios at or below
    ``FLOOR_FACTOR * eps`` (the two laws agree to rounding; drawn as a grey dotted line).
    """
    import matplotlib

    assert res.gaussian_rel_error is not None
    K = len(res.orders)
    sel = tuple(range(1, K + 1)) if orders is None else tuple(orders)
    t = _times(res, axis)
    pos = t[t > 0]
    log_x = pos.size >= 2 and pos.max() / pos.min() >= 100
    show = t > 0 if log_x else np.ones_like(t, dtype=bool)
    floors = res.floors
    cmap = matplotlib.colormaps["viridis"]
    for i, k in enumerate(sel):
        j = k - 1
        err = res.gaussian_rel_error[:, j]
        ok = (res.norms[:, j] > floors[:, j]) & np.isfinite(err) & (err > FLOOR_FACTOR * EPS)
        y = np.where(ok, err, np.nan)
        ax.plot(t[show], y[show], "-s", ms=3, lw=1.2, color=cmap(0.9 * (i / max(1, len(sel) - 1))))
    ax.axhline(FLOOR_FACTOR * EPS, color="0.5", ls=":", lw=1.0)
    ax.set_yscale("log")
    lo, hi = float(t[show].min()), float(t[show].max())
    if log_x:
        ax.set_xscale("log")
        r = (hi / lo) ** 0.05
        ax.set_xlim(lo / r, hi * r)  # the whole training, as in Fig. 1, even where nothing is drawn
    elif hi > lo:
        ax.set_xlim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    ax.set_ylabel("Gaussian mapping\n" + r"$\|J^G_k - J_k\| / \|J_k\|$")
    ax.grid(True, which="major", alpha=0.3)


def write_figure(
    res: EffectiveResult,
    fh: BinaryIO,
    *,
    orders: tuple[int, ...] | None = None,
    axis: str = "update",
    floor_rel: float | None = None,
) -> None:  # pragma: no mutate block
    """PNG of :func:`draw_fig1` for ``res`` written to ``fh`` (a binary file object).

    Raises
    ------
    ValueError
        ``res`` not an :class:`EffectiveResult` or ``fh`` without a ``write`` method.
    """
    if not isinstance(res, EffectiveResult):
        raise ValueError(f"res must be an EffectiveResult (from compute), got {type(res).__name__}")
    if not callable(getattr(fh, "write", None)):
        raise ValueError(f"fh must be a binary file object, got {type(fh).__name__}")
    from pathlib import Path

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    src = res.source
    if res.gaussian_rel_error is not None:
        fig = Figure(figsize=(8.0, 7.0), layout="constrained")
        ax, ax_err = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1.3))
    else:
        fig = Figure(figsize=(8.0, 5.0), layout="constrained")
        ax, ax_err = fig.add_subplot(), None
    FigureCanvasAgg(fig)
    draw_fig1(res, ax, orders=orders, axis=axis, floor_rel=floor_rel)
    if ax_err is not None:
        draw_gaussian_error(res, ax_err, orders=orders, axis=axis)
        ax_err.set_xlabel(ax.get_xlabel())
        ax.set_xlabel("")
    ax.set_title(
        f"{Path(src.path).name}: effective couplings by order over training "
        f"(N = {src.n_visible}, M = {src.n_hidden})",
        fontsize="medium",
    )
    fig.savefig(fh, format="png", dpi=130)
