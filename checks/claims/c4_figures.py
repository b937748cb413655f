"""Claim C4, figures: Hessian spectra at the data-consistent points and the eps-slopes plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from dsb_verifier.checks.claims.c4_point import FIT_POINTS
from dsb_verifier.checks.verdict import ClaimReport

__all__ = ["figures"]


def figures(report: ClaimReport, fig_dir: Path) -> list[str]:  # pragma: no mutate block
    """Hessian spectra at the data-consistent points and the eps-slopes plot (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = report.verdict.evidence.get("figure_data", {})
    paths: list[str] = []
    spectra = data.get("spectra", [])
    if spectra:
        fig, ax = plt.subplots(figsize=(7.5, 4.5))
        tol = max(s["tol_rel"] for s in spectra)
        for s in spectra:
            lam = np.asarray(s["eigenvalues_rel"], dtype=float)
            ax.plot(np.arange(1, lam.size + 1), lam, marker="o", ms=3, lw=1, label=s["label"])
        ax.set_yscale("symlog", linthresh=1e-16)
        ax.axhspan(-tol, tol, color="0.85", zorder=0, label=f"neutral band ±tol (≤ {tol:.1e})")
        ax.axhline(0.0, color="k", lw=0.5)
        ax.set_xlabel("eigenvalue index (ascending)")
        ax.set_ylabel(r"$\lambda_i / \max|\lambda|$ of Hess $L$ (symlog)")
        ax.set_title("C4: Hessian spectra at data-consistent points")
        ax.legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        path = Path(fig_dir) / "c4_hessian_spectra.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(str(path))
    curves = data.get("curves", {})
    if curves.get("neutral") and curves.get("stable"):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
        for ax, q, name in (
            (axes[0], "dJ", r"$|J(\theta^*+\varepsilon v)-J^*|$"),
            (axes[1], "kl", r"$\frac{1}{2}\mathrm{Var}_q(\Delta u)$ (cancellation-free KL; grey: direct KL)"),
        ):
            for kind, color in (("neutral", "C0"), ("stable", "C3")):
                c = curves[kind]
                eps, y = np.asarray(c["eps"]), np.asarray(c[q])
                w = np.asarray(c[f"{q}_window"], dtype=bool)
                floor = c[f"{q}_floor"]
                ax.loglog(
                    eps[w], y[w], "o-", color=color, label=f"{kind}: fitted slope {c[f'slope_{q}']:.3f}"
                )
                below = ~w & (y > 0) & (y < floor)
                beyond = ~w & (y >= floor)
                if np.any(below):
                    ax.loglog(eps[below], y[below], "x", color=color, alpha=0.5, label=f"{kind}: below floor")
                if np.any(beyond):
                    ax.loglog(
                        eps[beyond],
                        y[beyond],
                        "o",
                        mfc="none",
                        color=color,
                        alpha=0.6,
                        label=f"{kind}: beyond the {FIT_POINTS}-point fit window",
                    )
                ax.axhline(floor, color=color, ls=":", lw=0.8, label=f"{kind}: rounding floor")
                if q == "kl" and "kl_direct" in c:  # the second route, as measured (base value included)
                    direct = np.asarray(c["kl_direct"])
                    ax.loglog(eps[direct > 0], direct[direct > 0], "-", color="0.6", lw=0.8, zorder=0)
            ax.set_xlabel(r"$\varepsilon$")
            ax.set_ylabel(name)
            ax.legend(fontsize=6.5, loc="lower right")
        fig.suptitle(f"C4: invariance along ker A vs stable directions — {curves.get('label', '')}")
        fig.tight_layout()
        path = Path(fig_dir) / "c4_eps_slopes.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(str(path))
    return paths
