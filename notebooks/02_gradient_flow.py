# %% [markdown]
# # 2. Gradient flow and effective convexity
#
# Claims C2–C3 of `docs/theory.md`. Training is the gradient flow
# $\dot\theta = \nabla_\theta L = A^\top r$ with $r = m(q) - m(p_\theta)$ the moment residual and
# $A = \partial J / \partial \theta$. The effective couplings then move by
# $\dot J = A A^\top r$. In the coordinates $J$ themselves ($A = I$) the likelihood is strictly
# concave: its Hessian is minus the Fisher matrix.

# %%
import matplotlib.pyplot as plt
import numpy as np
from dsb_verifier import theory as T
from dsb_verifier.theory.symbolic import models as sm
from dsb_verifier.theory.dynamics.flow import integrate_flow
from dsb_verifier.theory.likelihood import grad_loglik
from dsb_verifier.theory.models import RBM, DirectModel
from IPython.display import Math, display

# %% [markdown]
# ## The flow equations of a small RBM, derived symbolically
# $N = 2$ visible spins, one hidden spin. Target moments are the symbols $m_S$.

# %%
tex = sm.rbm_derivation_latex(2, 1, "spin")
for key in ("parameters", "couplings", "jacobian", "flow_theta"):
    display(Math(tex[key]))

# %% [markdown]
# ## Checked numerically
# The lambdified symbolic flow $\dot\theta$ and induced $\dot J = A A^\top r$ against the numpy
# routes at random parameters and targets.

# %%
twin = sm.lambdify_rbm(2, 1, "spin")
model = RBM(2, 1, hidden="spin")
rng = np.random.default_rng(1)
worst_grad = worst_J = 0.0
for _ in range(20):
    theta = model.init(rng, 1.0)
    q = T.dirichlet_target(2, rng)
    worst_grad = max(worst_grad, float(np.max(np.abs(twin.grad_loglik(theta, q) - grad_loglik(model, theta, q)))))
    A = model.jacobian(theta)
    r = (T.moments(q) - T.moments(model.prob(theta)))[1:]
    worst_J = max(worst_J, float(np.max(np.abs(twin.coupling_flow(theta, q) - A @ A.T @ r))))
print(f"max |dtheta/dt sympy - numpy| = {worst_grad:.1e};  max |dJ/dt sympy - A A^T r| = {worst_J:.1e}")
assert worst_grad < 1e-10 and worst_J < 1e-10

# %% [markdown]
# ## Effective convexity: L is concave along every line in J, not in θ
# Along a random line through parameter space, $L$ restricted to the line is concave in the
# effective coordinates and can be non-concave in RBM coordinates.

# %%
N = 3
q = T.dirichlet_target(N, np.random.default_rng(2))
direct, rbm = DirectModel(N), RBM(N, 2)
rng = np.random.default_rng(3)
t = np.linspace(-3, 3, 241)
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
for ax, m, title in ((axes[0], direct, "effective coordinates J"), (axes[1], rbm, "RBM coordinates θ")):
    for _ in range(4):
        x0, d = m.init(rng, 1.0), m.init(rng, 1.0)
        L = [float(T.likelihood.loglik(m, x0 + s * d, q)) for s in t]
        ax.plot(t, L)
    ax.set_xlabel("position along a random line (parameter units)")
    ax.set_ylabel("L (nats per sample)")
    ax.set_title(title)
plt.tight_layout()
plt.show()
lam = np.linalg.eigvalsh(T.fisher(q))
print(f"Fisher eigenvalues at q: min {lam[0]:.3g}, max {lam[-1]:.3g}  (positive definite: {lam[0] > 0})")

# %% [markdown]
# ## The effective flow converges to J(q) from any start

# %%
J_star = T.couplings(q)
fig, ax = plt.subplots(figsize=(6, 3.4))
for scale in (0.1, 1.0, 3.0):
    tr = integrate_flow(direct, direct.init(np.random.default_rng(int(10 * scale)), scale), q, t_max=1e4)
    err = np.linalg.norm(tr.J[:, 1:] - J_star[1:], axis=1)
    ax.loglog(tr.t[1:], err[1:], label=f"start scale {scale} ({tr.status})")
ax.set_xlabel("flow time t")
ax.set_ylabel("|J(t) - J(q)|")
ax.set_title("Direct effective model, N = 3")
ax.legend()
plt.tight_layout()
plt.show()
