"""Claim C3, figures: residual order profiles of the spurious points, and |r| against the rank of A."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from dsb_verifier.checks.claims.c3_candidates import TOLERANCES
from dsb_verifier.checks.verdict import ClaimReport

__all__ = ["figures"]


def figures(report: ClaimReport, fig_dir: Path) -> list[str]:  # pragma: no mutate block
    """Residual order profiles of the spurious points, and |r| against the rank of A."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    rows = [r for r in report.verdict.evidence["points"] if r["kind"] != "unresolved"]
    paths = []
    fig, ax = plt.subplots(figsize=(9, 4.5))
    styles = {"construction-i": "o-", "construction-ii": "s-", "construction-iii": "^-", "flow": "x:"}
    seen: set[str] = set()
    for r in rows:
        if r["kind"] != "spurious":
            continue
        orders = np.arange(len(r["residual_order_norms"]))[1:]
        vals = np.maximum(np.asarray(r["residual_order_norms"][1:]), 1e-17)
        label = f"{r['origin']} ({r['family']})"
        ax.semilogy(
            orders, vals, styles.get(r["origin"], "x:"), alpha=0.7, label=None if label in seen else label
        )
        seen.add(label)
    ax.axhline(TOLERANCES["residual_atol"], color="grey", lw=0.8, ls="--", label="residual_atol")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("order k (|S|)")
    ax.set_ylabel(r"$\|r_k\|$ (moment residual, dimensionless)")
    ax.set_title("C3: residual order profile at spurious stationary points")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    p = fig_dir / "c3_residual_profiles.png"
    fig.savefig(p, dpi=120)
    plt.close(fig)
    paths.append(str(p))

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for kind, marker in (("data-consistent", "o"), ("spurious", "x")):
        sel = [r for r in rows if r["kind"] == kind]
        if sel:
            ax.scatter(
                [r["rank"] / r["n_rows"] for r in sel],
                [max(r["residual_norm"], 1e-17) for r in sel],
                marker=marker,
                label=f"{kind} ({len(sel)})",
            )
    ax.set_yscale("log")
    ax.axvline(1.0, color="grey", lw=0.8, ls="--", label="full row rank")
    ax.axhline(TOLERANCES["residual_atol"], color="grey", lw=0.8, ls=":", label="residual_atol")
    ax.set_xlabel(r"rank of $A$ / $(2^N - 1)$")
    ax.set_ylabel(r"$\|r\|$ (dimensionless)")
    ax.set_title("C3: full row rank only at data-consistent points")
    ax.legend(fontsize=8)
    fig.tight_layout()
    p = fig_dir / "c3_rank_vs_residual.png"
    fig.savefig(p, dpi=120)
    plt.close(fig)
    paths.append(str(p))
    return paths
