"""Claim C6, figures: distinct points and flow ends per regime (E1 vs E2), Hessian spectra."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from dsb_verifier.checks.verdict import ClaimReport

__all__ = ["figures"]

_END_ORDER = (
    "data-consistent",
    "near-consistent",
    "high-order",
    "saddle-plateau",
    "not-represented",
    "no-structure",
    "undetermined",
    "counterexample",
    "unresolved",
)
_COLOURS = {
    "data-consistent": "tab:green",
    "near-consistent": "tab:olive",
    "high-order": "tab:cyan",
    "saddle-plateau": "tab:blue",
    "saddle": "tab:blue",
    "not-represented": "tab:gray",
    "no-structure": "tab:purple",
    "undetermined": "tab:orange",
    "counterexample": "tab:red",
    "unresolved": "black",
}


def figures(report: ClaimReport, fig_dir: Path) -> list[str]:  # pragma: no mutate block
    """Two PNGs: the regimes (flow ends and distinct spurious points, E1 vs E2), and Hessian spectra."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ev = report.verdict.evidence
    regimes = ev["regimes"]
    paths = []
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    names = ["E1", "E2", "other"]
    # left: where the flows ended (counts of flows), stacked per regime
    ax = axes[0]
    bottom = np.zeros(len(names))
    for cat in _END_ORDER:
        vals = np.array([regimes[n]["flow_ends"].get(cat, 0) for n in names], dtype=float)
        if vals.any():
            ax.bar(names, vals, bottom=bottom, color=_COLOURS[cat], label=cat)
            for x, (v, b) in enumerate(zip(vals, bottom, strict=True)):
                if v:
                    ax.text(x, b + v / 2, f"{int(v)}", ha="center", va="center", fontsize=7, color="white")
            bottom += vals
    ax.set_ylabel("number of flows")
    ax.set_title("C6: where the flows ended (per regime)")
    ax.set_xticks(range(len(names)), [f"{n}\n{regimes[n]['status']}" for n in names])
    ax.legend(fontsize=7, loc="upper right")
    # right: distinct spurious points per category (primary reading)
    ax = axes[1]
    cats = [c for c in ("near-consistent", "high-order", "saddle", "not-represented", "no-structure",
                        "undetermined", "counterexample") if any(regimes[n]["categories"].get(c) for n in names)]  # fmt: skip
    width = 0.8 / max(1, len(cats))
    for j, cat in enumerate(cats):
        counts = [regimes[n]["categories"].get(cat, 0) for n in names]
        ax.bar(np.arange(len(names)) + j * width, counts, width, color=_COLOURS[cat], label=cat)
    ax.set_xticks(
        np.arange(len(names)) + 0.4 - width / 2,
        [f"{n}\n{regimes[n]['n_spurious_distinct']} distinct spurious" for n in names],
    )
    ax.set_ylabel("distinct spurious points (merged by J)")
    k_low = regimes["E1"]["k_low"]
    ax.set_title(f"C6: distinct spurious points by category (k_low = {k_low})")
    ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(
        "C6 regimes — E1: P ≥ 2^N−1, A full row rank (verdict); E2: same-size teacher–student (condition)",
        fontsize=10,
    )
    fig.tight_layout()
    p = fig_dir / "c6_regimes.png"
    fig.savefig(p, dpi=120)
    plt.close(fig)
    paths.append(str(p))

    fig, ax = plt.subplots(figsize=(10, 5))
    spurious = [r for r in ev["points"] if r["kind"] == "spurious"]
    colors = plt.get_cmap("tab20")
    for i, r in enumerate(spurious[:20]):
        eig = np.asarray(r["hessian_eigenvalues"])[::-1]
        xs = np.arange(1, eig.size + 1) / eig.size
        style = "o-" if r["regime"] == "E1" else ("s--" if r["regime"] == "E2" else "x:")
        k = r["lowest_material_order"]
        label = f"{r['regime']} {r['model']} N={r['N']} {r['target']} ×{r['n_members']}, k={k}"
        ax.plot(xs, eig, style, color=colors(i % 20), ms=3, lw=0.8, label=label)
    ax.set_yscale("symlog", linthresh=1e-6)
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xlabel("eigenvalue rank / P (largest first)")
    ax.set_ylabel(r"eigenvalue of $\nabla^2_\theta L$ (nats per unit $\theta^2$)")
    ax.set_title(
        "C6: exact Hessian spectra at distinct spurious points (> 0: unstable; k = lowest material order)"
    )
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    p = fig_dir / "c6_hessian_spectra.png"
    fig.savefig(p, dpi=120)
    plt.close(fig)
    paths.append(str(p))
    return paths
