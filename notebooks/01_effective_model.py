# %% [markdown]
# # 1. The effective model: the Walsh expansion of an energy
#
# Claim C1 of `docs/theory.md`. Every strictly positive distribution over $N$ spins is a
# *generalised Ising model*: $\log p(s) = \sum_{S \neq \emptyset} J_S \chi_S(s) - \log Z$ with
# $\chi_S(s) = \prod_{i \in S} s_i$. The couplings are the Walsh coefficients of $\log p$.
# For an energy-based model with parameters $\theta$, the couplings of its visible marginal
# are the Walsh coefficients of the negative energy $u_\theta$.
#
# Everything below is computed by `theory/`; this notebook defines no mathematics of its own.

# %%
import matplotlib.pyplot as plt
import numpy as np
import sympy as sp
from dsb_verifier import theory as T
from dsb_verifier.theory.symbolic import effective as sym
from dsb_verifier.theory.symbolic import models as sm
from dsb_verifier.theory.models import RBM
from IPython.display import Math, display

# %% [markdown]
# ## Conventions
# State $b$ has spin $s_i = (-1)^{\text{bit } i \text{ of } b}$; a subset $S$ is a bitmask and
# $H[S, b] = \chi_S(b)$ is the Sylvester Hadamard matrix, $H H = 2^N I$.

# %%
print(T.states(3))
H3 = sym.symbolic_characters(3)
display(Math("H_3 = " + sp.latex(H3)))
assert H3 * H3 == 8 * sp.eye(8)

# %% [markdown]
# ## A distribution and its couplings
# A target with planted three-body structure; its per-order coupling norms show where the
# structure sits.

# %%
rng = np.random.default_rng(0)
q = T.ising_target(5, {1: 0.3, 2: 0.3, 3: 0.6}, rng)
J = T.couplings(q)
print("J[0] = -log Z:", J[0], " check:", -float(T.log_partition(J)))
print("per-order norms |J_k|:", np.round(T.order_norms(J), 4))
print("round trip max |p - prob(J)| / p:", np.max(np.abs(T.prob(J) - q) / q))

fig, ax = plt.subplots(figsize=(6, 3.2))
k = T.orders(5)
ax.scatter(k[1:] + rng.uniform(-0.15, 0.15, 31), J[1:], s=14)
ax.set_xlabel("interaction order $k = |S|$")
ax.set_ylabel("coupling $J_S$ (nats)")
ax.set_title("Couplings of a planted three-body target, N = 5")
ax.axhline(0, color="grey", lw=0.5)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## The RBM's effective couplings in closed form (sympy)
# For an RBM with hidden spins, $u(s) = a \cdot s + \sum_\mu \log 2\cosh(c_\mu + W_\mu \cdot s)$.
# With $N = 2$ and one hidden unit the couplings are derived symbolically:

# %%
J2 = sm.rbm_couplings(2, 1, "spin")
names = ["J_{\\{0\\}}", "J_{\\{1\\}}", "J_{\\{0,1\\}}"]
for name, expr in zip(names, J2, strict=True):
    display(Math(f"{name} = " + sp.latex(sp.simplify(expr))))
display(Math("\\text{with } c = 0: \\; J_{\\{0,1\\}} = "
             + sp.latex(sm.rbm_couplings(2, 1, "spin", zero_bias=True)[2])))

# %% [markdown]
# For $N = 3$ the three-body coupling of one hidden unit is a log-ratio of eight cosh terms;
# it vanishes when $c = 0$ (the hidden term is then even in $s$).

# %%
J3 = sm.rbm_couplings(3, 1, "spin", form="log_ratio")
display(Math("J_{\\{0,1,2\\}} = " + sp.latex(J3[-1])))
print("three-body coupling at c = 0:", sp.simplify(sm.rbm_couplings(3, 1, "spin", zero_bias=True)[-1]))

# %% [markdown]
# ## Symbolic vs numeric: two routes, one answer
# The lambdified closed forms against the vectorised numpy route (fast Walsh transform of the
# exactly marginalised energy), on random parameters.

# %%
worst = 0.0
for N in (2, 3):
    twin = sm.lambdify_rbm(N, 2, "spin")
    model = RBM(N, 2, hidden="spin")
    for seed in range(20):
        theta = model.init(np.random.default_rng(seed), 1.0)
        worst = max(worst, float(np.max(np.abs(twin.couplings(theta) - model.couplings(theta)))))
print(f"max |J_sympy - J_numpy| over 40 random RBMs (N = 2, 3; M = 2): {worst:.2e}")
assert worst < 1e-10
