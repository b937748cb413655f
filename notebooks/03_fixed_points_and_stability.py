# %% [markdown]
# # 3. Fixed points and their stability
#
# Claims C3, C4 and C6 of `docs/theory.md`. A parameter vector $\theta^*$ is stationary when
# $\nabla_\theta L = A^\top r = 0$, with $A = \partial J/\partial\theta$ and
# $r = m(q) - m(p_\theta)$ the moment residual. It is *data-consistent* when $r = 0$
# ($p_{\theta^*} = q$) and *spurious* otherwise.
#
# * At a data-consistent point the residual term of the Hessian vanishes and
#   $\nabla^2_\theta L = -A^\top F A$ ($F$ the Fisher matrix): every direction is stable
#   ($\lambda < 0$) or neutral ($\lambda = 0$), the neutral subspace is $\ker A$, and moving
#   along it leaves the effective model unchanged to second order (C4).
# * A spurious point can have unstable directions ($\lambda > 0$): it is a saddle (C6).
#
# Everything below is computed by `theory/` (and the grid of the C4 check in `checks/`);
# this notebook only plots and prints.

# %%
import matplotlib.pyplot as plt
import numpy as np
from dsb_verifier import theory as T
from dsb_verifier.checks.claims.c4_stability import EPS_GRID, FIT_POINTS
from dsb_verifier.theory.dynamics.fixed_points import classify, independent_point
from dsb_verifier.theory.dynamics.stability import invariance_slopes, spectrum
from dsb_verifier.theory.likelihood import loglik
from dsb_verifier.theory.models import rbm_teacher
from dsb_verifier.theory.tolerances import EPS

COLOURS = {"stable": "tab:blue", "neutral": "tab:grey", "unstable": "tab:red"}


def eigenvalue_plot(ax, sp, title):
    """Sorted Hessian eigenvalues on a symlog axis, coloured by class, with the neutral band."""
    lam, idx = sp.eigenvalues, np.arange(1, sp.eigenvalues.size + 1)
    for kind, mask in (
        ("stable", lam < -sp.tol),
        ("neutral", np.abs(lam) <= sp.tol),
        ("unstable", lam > sp.tol),
    ):
        n = int(mask.sum())
        ax.scatter(idx[mask], lam[mask], color=COLOURS[kind], s=30, zorder=3, label=f"{kind} ({n})")
    ax.axhspan(-sp.tol, sp.tol, color="tab:grey", alpha=0.25, label=f"neutral band |λ| ≤ {sp.tol:.1e}")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_yscale("symlog", linthresh=1e-20, linscale=2)
    ax.set_yticks([-10.0, -1e-5, -1e-10, -1e-15, 0, 1e-15, 1e-10, 1e-5, 10.0])
    ax.set_ylim(-30, 30)
    ax.set_xlabel("eigenvalue index (sorted ascending)")
    ax.set_ylabel("Hessian eigenvalue λ of L (nats / param²)")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)


# %% [markdown]
# ## A data-consistent point: an over-parameterised RBM teacher
# The target is the visible marginal of a random RBM ($N = 3$ visible, $M = 3$ hidden spins,
# all parameters $\sim \mathcal N(0, 1)$), so the teacher itself is a data-consistent point of
# the student family. It has $P = N + M + NM = 15$ parameters but only $2^N - 1 = 7$ couplings:
# $\ker A$ has dimension at least 8.

# %%
model, theta_star, q = rbm_teacher(3, 3, np.random.default_rng(0), 1.0)
sp = spectrum(model, theta_star, q)
print(model)
print(f"KL(q || p_theta*) = {sp.kl:.1e},  max_S |r_S| = {sp.residual_max:.1e}  (data-consistent)")

# %% [markdown]
# ### The Hessian identity, by two routes
# `theory.exact_hessian` computes
# $\nabla^2 L = \sum_s (q - p)\,\nabla^2_\theta u - \mathrm{Cov}_p(\partial_\theta u)$.
# It is compared with $-A^\top F A$ computed (i) as $-\mathrm{Cov}_p(\partial_\theta u)$ by
# `theory.gauss_newton` (never forming $F$) and (ii) densely, with $F$ from `theory.fisher`
# and $A$ from `model.jacobian` (both inside `dsb_verifier.theory.dynamics.stability.spectrum`).

# %%
print(f"route (i)  covariance:  max |Hess L - GN|       = {sp.identity_error:.2e}")
print(f"route (ii) dense F:     max |Hess L + A^T F A| = {sp.identity_error_dense:.2e}")
print(f"largest |eigenvalue| = {sp.scale:.3g};  relative identity error = {sp.identity_error_rel:.1e}")

# %% [markdown]
# Away from the data-consistent point the residual term $\sum_s (q-p)\nabla^2_\theta u$ no longer
# vanishes: moving $\theta$ off $\theta^*$ by $\delta$ along a random unit direction (keeping the
# target $q$), the identity error grows linearly in $\delta$ (as $r$ does), down to rounding at
# $\delta = 0$.

# %%
u = np.random.default_rng(5).standard_normal(model.n_params)
u /= np.linalg.norm(u)
deltas = np.logspace(-9, 0, 19)
off = [spectrum(model, theta_star + d * u, q) for d in deltas]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
H = T.exact_hessian(model, theta_star, q)
vmax = float(np.max(np.abs(H)))
im = axes[0].imshow(H, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
axes[0].set_title("Hessian of L at θ* (= −AᵀFA)")
axes[0].set_xticks(range(0, model.n_params, 2))
axes[0].set_yticks(range(0, model.n_params, 2))
axes[0].set_xlabel("parameter index (a: 0–2, c: 3–5, W: 6–14)")
axes[0].set_ylabel("parameter index")
fig.colorbar(im, ax=axes[0], label="∂²L/∂θᵢ∂θⱼ (nats)")
ax = axes[1]
ax.loglog(deltas, [s.identity_error for s in off], "o-", label="route (i): max|H − GN|")
ax.loglog(deltas, [s.identity_error_dense for s in off], "s--", ms=4, label="route (ii): max|H + AᵀFA|")
ax.loglog(deltas, [s.residual_max for s in off], ":", color="k", label="max |r_S| (moment residual)")
ax.axhline(EPS * sp.scale, color="tab:grey", lw=0.8, label="EPS × max|λ| (rounding)")
ax.annotate(
    f"at δ = 0: route (i) {sp.identity_error:.0e}, route (ii) {sp.identity_error_dense:.1e}",
    xy=(deltas[0], 3 * EPS * sp.scale),
    fontsize=8,
)
ax.set_xlabel("distance δ of θ from θ* (parameter units)")
ax.set_ylabel("identity error (nats) / residual")
ax.set_title("The identity holds only at the data-consistent point")
ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Stable and neutral directions; the neutral subspace is $\ker A$
# Eigenvalues are classified with the neutral half-width
# $\mathrm{tol} = 10\,\epsilon\,\max(P, 2^N)\max|\lambda|$ of `dsb_verifier.theory.dynamics.stability`; the rank of $A$
# uses its own tolerance on the singular values. The principal angles between the neutral
# eigenspace and $\ker A$ (from the SVD of $A$) measure how well the two subspaces coincide.

# %%
print(
    f"eigenvalues: {sp.n_stable} stable, {sp.n_neutral} neutral, {sp.n_unstable} unstable "
    f"(tol = {sp.tol:.2e});  classification margin {sp.margin:.0f}x"
)
print(f"rank A = {sp.rank} (= 2^N - 1 = {2**model.n_visible - 1}),  dim ker A = {sp.dim_kernel}")
print(f"principal angles neutral eigenspace vs ker A: max {sp.max_angle:.1e} rad")

fig, axes = plt.subplots(1, 3, figsize=(14, 3.9), gridspec_kw={"width_ratios": [1.3, 1, 1]})
eigenvalue_plot(axes[0], sp, f"Hessian at θ* (RBM N=3, M=3, P={model.n_params})")
ax = axes[1]
k = np.arange(1, sp.singular_values.size + 1)
ax.semilogy(k, sp.singular_values, "o", color="tab:purple", label="singular values of A")
ax.axhline(sp.rank_tol, color="k", ls="--", lw=0.8, label=f"rank tolerance {sp.rank_tol:.1e}")
ax.set_xlabel("index (descending)")
ax.set_ylabel("singular value σ of A (couplings / param)")
ax.set_title(f"A = ∂J/∂θ is {2**3 - 1}×{model.n_params}: rank {sp.rank}, dim ker A = {sp.dim_kernel}")
ax.set_xticks(k)
ax.legend(fontsize=8)
ax = axes[2]
j = np.arange(1, sp.principal_angles.size + 1)
ax.bar(j, sp.principal_angles, color="tab:grey")
ax.axhline(EPS, color="k", ls="--", lw=0.8, label=f"machine epsilon {EPS:.1e}")
ax.set_yscale("log")
ax.set_ylim(1e-17, 1e-2)
ax.set_xticks(j)
ax.set_xlabel("principal angle index")
ax.set_ylabel("angle (rad)")
ax.set_title("Neutral eigenspace vs ker A")
ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Invariance of the effective model along neutral directions
# Along a unit vector $v$, `dsb_verifier.theory.dynamics.stability.invariance_slopes` computes
# $|\Delta J| = |J(\theta^* + \varepsilon v) - J^*|$ and $KL(q\,\|\,p_{\theta^*+\varepsilon v})$ without
# cancellation, and fits log–log slopes on the 5 smallest step sizes above each rounding floor
# (the grid and window of the C4 check). Expected: 2 and 4 for $v \in \ker A$ (a random unit
# vector of $\ker A$), 1 and 2 for a stable eigenvector (the most stable and the least stable
# one are shown). Filled markers are the fit windows; hollow ones are outside them (below the
# rounding floor, or beyond the 5 smallest resolved steps).

# %%
rng = np.random.default_rng(1)
v_ker = sp.kernel @ rng.standard_normal(sp.dim_kernel)
v_ker /= np.linalg.norm(v_ker)
directions = {
    "neutral (random v in ker A)": (v_ker, "tab:grey", "o"),
    f"most stable (λ = {sp.eigenvalues[0]:.2g})": (sp.stable_vectors[:, 0], "tab:blue", "s"),
    f"least stable (λ = {sp.eigenvalues[sp.n_stable - 1]:.2g})": (sp.stable_vectors[:, -1], "tab:cyan", "^"),
}
slopes = {
    name: invariance_slopes(model, theta_star, q, v, EPS_GRID, max_points=FIT_POINTS)
    for name, (v, _, _) in directions.items()
}
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
for name, s in slopes.items():
    _, colour, marker = directions[name]
    for ax, y, win, slope in (
        (axes[0], s.dJ, s.dJ_window, s.slope_dJ),
        (axes[1], s.kl, s.kl_window, s.slope_kl),
    ):
        ok = y > 0
        ax.loglog(s.eps[ok], y[ok], color=colour, lw=0.8, alpha=0.6)
        ax.loglog(s.eps[win], y[win], marker, color=colour, label=f"{name}: slope {slope:.3f}")
        ax.loglog(s.eps[ok & ~win], y[ok & ~win], marker, color=colour, mfc="none")
for ax in axes:
    ax.plot([], [], "o", color="k", mfc="none", label="hollow: outside the fit window")
for ax, floor, what in (
    (axes[0], s.dJ_floor, "|J(θ*+εv) − J*| (nats)"),
    (axes[1], s.kl_floor, "KL(q‖p) (nats)"),
):
    ax.axhline(floor, color="k", ls=":", lw=0.8, label="rounding floor")
    ax.set_xlabel("step size ε (parameter units)")
    ax.set_ylabel(what)
    ax.legend(fontsize=8, loc="lower right")
axes[0].set_title("Change of the couplings: O(ε²) along ker A, O(ε) otherwise")
axes[1].set_title("KL to the target: O(ε⁴) along ker A, O(ε²) otherwise")
plt.tight_layout()
plt.show()
for name, s in slopes.items():
    print(
        f"{name:32s} slope |dJ| = {s.slope_dJ:.5f}   slope KL = {s.slope_kl:.5f}   "
        f"(fit windows: eps in {s.dJ_range[0]:.0e}..{s.dJ_range[1]:.0e} for |dJ|, "
        f"{s.kl_range[0]:.0e}..{s.kl_range[1]:.0e} for KL)"
    )

# %% [markdown]
# ## A spurious point: the independent-site RBM
# Target: fields and pairwise couplings only (`theory.ising_target` with orders 1 and 2), so
# it has pairwise correlations. `dsb_verifier.theory.dynamics.fixed_points.independent_point` builds the RBM with
# $W = 0$, $c = 0$ and fields $a_i = \operatorname{atanh} m_i(q)$: at $W = 0$ every column of $A$
# lives on the order-1 subsets, where $r = 0$, so $A^\top r = 0$ — stationary, yet the
# residual at orders $\ge 2$ is not zero. `dsb_verifier.theory.dynamics.fixed_points.classify` reports it.

# %%
q2 = T.ising_target(3, {1: 0.3, 2: 0.5}, np.random.default_rng(2))
model2, theta2 = independent_point(q2, n_hidden=3)
fp = classify(model2, theta2, q2)
sp2 = spectrum(model2, theta2, q2)
print(model2)
print(
    f"|grad L| = {fp.grad_norm:.1e} (stationary);  kind = {fp.kind};  "
    f"lowest inconsistent order = {fp.lowest_order}"
)
print(f"KL(q || p) = {fp.kl:.4f} nats;  rank A = {fp.rank} of {fp.n_rows};  saddle: {fp.is_saddle}")
print(
    f"classify: {fp.n_unstable} unstable, {fp.n_neutral} neutral, {fp.n_stable} stable; "
    f"spectrum: {sp2.n_unstable} unstable, {sp2.n_neutral} neutral, {sp2.n_stable} stable"
)
print("residual per order |r_k|, k = 1..3:", np.array2string(fp.residual_order_norms[1:], precision=3))

# %% [markdown]
# Left: the Hessian has positive eigenvalues — one per hidden unit (the three units are
# interchangeable at $c = 0$, hence the triple degeneracies). Middle: the residual sits at
# orders 2 and 3 only (order 1 is matched exactly). Right: $L$ along the top unstable
# eigenvector rises on both sides (an ascent direction of the likelihood), and falls along
# the most stable one.

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 3.9), gridspec_kw={"width_ratios": [1.3, 0.8, 1]})
eigenvalue_plot(axes[0], sp2, "Hessian at the W = 0 point (RBM N=3, M=3)")
ax = axes[1]
orders = np.arange(1, model2.n_visible + 1)
ax.bar(orders, fp.residual_order_norms[1:], color="tab:red", width=0.6)
for k, val in zip(orders, fp.residual_order_norms[1:], strict=True):
    ax.annotate(f"{val:.3g}", xy=(k, val), xytext=(0, 3), textcoords="offset points", ha="center", fontsize=8)
ax.set_yscale("log")
ax.set_ylim(1e-17, 30)
ax.axhline(fp.residual_atol, color="k", ls="--", lw=0.8)
ax.annotate(f"data-consistency\nthreshold {fp.residual_atol:.0e}", xy=(0.6, 3 * fp.residual_atol), fontsize=8)
ax.set_xticks(orders)
ax.set_xlabel("interaction order k")
ax.set_ylabel("‖r_k‖ = ‖m_k(q) − m_k(p)‖")
ax.set_title("Moment residual per order")
ax = axes[2]
steps = np.linspace(-0.6, 0.6, 61)
L0 = float(loglik(model2, theta2, q2))
for name, v, colour in (
    (
        f"top unstable eigenvector (λ = {sp2.eigenvalues[-1]:.2f})",
        sp2.eigenvectors[:, -1],
        COLOURS["unstable"],
    ),
    (f"most stable eigenvector (λ = {sp2.eigenvalues[0]:.2f})", sp2.eigenvectors[:, 0], COLOURS["stable"]),
):
    ax.plot(
        steps,
        loglik(model2, theta2[None, :] + steps[:, None] * v[None, :], q2) - L0,
        color=colour,
        label=name,
    )
ax.axhline(0, color="k", lw=0.5)
ax.set_xlabel("step ε along the eigenvector (parameter units)")
ax.set_ylabel("L(θ + εv) − L(θ) (nats per sample)")
ax.set_title("A saddle of the likelihood")
ax.legend(fontsize=8)
plt.tight_layout()
plt.show()
