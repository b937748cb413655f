r"""Figures of Claim C5 from the report's evidence (PNG, matplotlib Agg).

(i) Forest plot, one per family: every pair's lower-first fraction with its
95 % exact interval, per N x sigma x reading at the smallest tau, coloured by
outcome, decisive pairs marked; the 1/2 line is where a pair stops supporting.
(ii) The paper's Fig. 1 analogue: per-order coupling-error norms
:math:`\|J_k(t) - J^*_k\|` over training time, one panel per family and N
(first planted target, first initialisation, smallest sigma).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from dsb_verifier.checks.verdict import ClaimReport

__all__ = ["figures"]

_COLORS = {"supports": "tab:green", "contradicts": "tab:red", "undecided": "0.55"}
_MARKERS = {"a": "o", "b": "s", "c": "^"}


def _forest(rows: list[dict[str, Any]], family: str, path: Path) -> str:  # pragma: no mutate block
    import matplotlib.pyplot as plt

    tau = min(r["tau"] for r in rows)
    mine = [r for r in rows if r["tau"] == tau]
    mine.sort(key=lambda r: (r.get("source") == "user", r["N"], r["init_scale"], r["reading"], r["k_low"]))
    n = len(mine)
    fig, ax = plt.subplots(figsize=(7.0, 1.2 + 0.22 * n))
    for y, r in enumerate(mine):
        d = r["n_lower_first"] + r["n_higher_first"]
        frac = r["n_lower_first"] / d if d else np.nan
        c = _COLORS[r["outcome"]]
        ax.plot([r["ci_low"], r["ci_high"]], [y, y], color=c, lw=2.0 if r.get("decisive") else 1.0)
        ax.plot([frac], [y], _MARKERS[r["reading"]], color=c, mfc=c if r.get("decisive") else "white", ms=5)
    ax.axvline(0.5, color="k", lw=0.8, ls="--")
    labels = [
        ("your data " if r.get("source") == "user" else "")
        + f"N={r['N']} σ={r['init_scale']:g} ({r['k_low']},{r['k_high']}) {r['reading']} "
        f"[{r['n_lower_first']}/{r['n_higher_first']}/{r['n_tied']}/{r['n_both_censored']}]"
        + ("*" if r.get("decisive") else "")
        for r in mine
    ]
    ax.set_yticks(range(n), labels, fontsize=6)
    ax.set_ylim(n - 0.5, -0.5)  # first row on top, no empty margin
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("lower-first fraction of decided runs, 95 % exact interval")
    ax.set_title(
        f"C5 pairs, {family}, τ = {tau:g}: green supports, red contradicts, grey undecided; "
        "* decisive (filled)\n[lower-first / higher-first / tied / both censored]; marker: reading a ○, b □, c △",
        fontsize=7,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def _fig1(curves: list[dict[str, Any]], path: Path) -> str:  # pragma: no mutate block
    import matplotlib
    import matplotlib.pyplot as plt

    n = len(curves)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    for ax, c in zip(axes.flat, curves, strict=False):
        t = np.asarray(c["t"], dtype=float)
        E = np.asarray(c["coupling_error"], dtype=float)
        colors = matplotlib.colormaps["viridis"](np.linspace(0.0, 0.85, E.shape[0]))
        for k in range(E.shape[0]):
            ls = "-" if (k + 1) in c["structured"] else ":"
            ax.plot(t[1:], np.maximum(E[k, 1:], 1e-10), ls, color=colors[k], label=f"k = {k + 1}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training time t (flow units)")
        ax.set_ylabel(r"$\|J_k(t) - J^*_k\|$")
        ax.set_title(f"{c['family']}, N = {c['N']}, σ = {c['init_scale']:g} ({c['status']})", fontsize=8)
        ax.legend(fontsize=6, ncol=2)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(
        "C5, Fig. 1 analogue: per-order coupling error during training (first planted target); "
        "dotted: order without structure",
        fontsize=8,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def figures(report: ClaimReport, fig_dir: Path | str) -> list[str]:  # pragma: no mutate block
    """Draw the C5 figures (forest plot per family, Fig. 1 analogue); returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    out = Path(fig_dir)
    out.mkdir(parents=True, exist_ok=True)
    ev = report.verdict.evidence
    rows = list(ev.get("pairs", []))
    paths = []
    for family in dict.fromkeys(r["family"] for r in rows):
        mine = [r for r in rows if r["family"] == family]
        paths.append(_forest(mine, family, out / f"c5_forest_{family}.png"))
    curves = list(ev.get("curves", []))
    if curves:
        paths.append(_fig1(curves, out / "c5_fig1_coupling_error.png"))
    return paths
