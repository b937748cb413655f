r"""Symbolic derivations for small RBMs: closed-form couplings, Jacobian, flow and Hessian.

The sympy twin of :class:`dsb_verifier.theory.models.RBM` for ``N <= 3`` visible spins
(``N = 4`` for the closed forms of ``u``, ``J``, ``log Z`` and ``A``) and
``M in {1, 2}`` hidden units, with the conventions
of :mod:`dsb_verifier.theory.walsh` (docs/theory.md §1): state ``b`` has spins
:math:`s_i = (-1)^{\text{bit } i \text{ of } b}`, subset ``S`` is a bitmask,
:math:`\chi_S(b) = \prod_{i \in S} s_i`. It is the symbolic route of Claim C1
for a neural family and the exact form of the flow and Hessian of Claims
C3/C4; the RBM -> couplings mapping follows Decelle, Furtlehner, Navas Gómez,
Seoane, SciPost Phys. 16, 095 (2024).

Model and closed forms
----------------------
Parameters ``theta = (a_0..a_{N-1}, c_0..c_{M-1}, W_{0,0}, W_{0,1}, ..., W_{N-1,M-1})``
(the numeric layout, ``W`` row-major). With :math:`h_\mu(s) = c_\mu + \sum_i W_{i\mu} s_i`,

.. math::

    u(s) = a\cdot s + \sum_\mu f(h_\mu), \qquad
    f(h) = \log 2\cosh h \;(\text{spin}), \quad
    f(h) = \log(1 + e^h) = \tfrac{h}{2} + \log 2\cosh\tfrac{h}{2} \;(\text{bit}).

The couplings are the Walsh coefficients :math:`J_S = 2^{-N}\sum_b \chi_S(b) u_b`
(``S != 0``). Constants (``log 2``) cancel, the linear parts give fields only, so

.. math::

    J_S = [\,|S| = 1\,]\,\Big(a_i + \beta\sum_\mu W_{i\mu}\Big)
          + \sum_\mu 2^{-N} \sum_b \chi_S(b) \log\cosh\big(\gamma\, h_\mu(b)\big),

with :math:`(\beta, \gamma) = (0, 1)` for hidden spins and :math:`(\tfrac12, \tfrac12)`
for hidden bits: each hidden unit adds its own term (additivity in ``mu``) and
``RBM-bit(a, c, W)`` is ``RBM-spin(a + W 1/2, c/2, W/2)``. sympy keeps
:math:`\cosh` even (canonical argument sign), so equal terms merge by
themselves; at ``c = 0`` every state pairs with its spin flip and all
couplings of odd order >= 3 vanish (and the fields reduce to the linear part).
The "log-ratio" form collects each hidden unit into one logarithm, e.g. for
``N = 2, M = 1`` spin at ``c = 0``:
:math:`J_{01} = \tfrac12 \log[\cosh(W_{0,0} + W_{1,0}) / \cosh(W_{0,0} - W_{1,0})]`.

Constant term: the package stores :math:`J_\emptyset = -\log Z` with
:math:`Z = \sum_b \exp(\sum_{S\ne0} J_S \chi_S(b))` (:func:`theory.couplings`).
Here :math:`\log Z` is returned separately (:func:`rbm_log_partition`) as
:math:`\log \sum_b w_b - \bar u`, with the Boltzmann weights
:math:`w_b = e^{u_b} = e^{a\cdot s}\prod_\mu 2\cosh h_\mu` (spin) or
:math:`e^{a\cdot s}\prod_\mu (1 + e^{h_\mu})` (bit) and :math:`\bar u = 2^{-N}\sum_b u_b`.

Flow and Hessian (docs/theory.md §2–4)
----------------------------------------
For a target with moments :math:`m_S` (symbols ``m_0, m_1, m_01, ...``, named
like :func:`dsb_verifier.theory.symbolic.effective.coupling_symbols` after the variables in ``S``; so
``m_0`` is :math:`E_q[s_0]`, not the empty-set moment, which is 1),

.. math::

    L = \bar u + \sum_{S\ne0} m_S J_S - \log\sum_b w_b, \quad
    A = \frac{\partial J}{\partial\theta}, \quad
    r = m - m(p_\theta), \quad
    \dot\theta = A^\top r, \quad \dot J = A A^\top r,

with :math:`m_S(p_\theta) = \sum_b \chi_S(b) w_b / \sum_b w_b`. ``A`` is the
Walsh transform of :math:`\partial u/\partial\theta` (derivatives by
``sympy.diff``, ``sinh/cosh`` written as ``tanh``); the Hessian is
``sympy.diff`` applied twice to ``L`` itself, written as
:math:`L = \sum_b q_b(m)\, u_b - \log\sum_b w_b` with
:math:`q_b(m) = 2^{-N}(1 + \sum_{S\ne0}\chi_S(b) m_S)` and differentiated term by
term (not the residual/Gauss–Newton formula of :mod:`dsb_verifier.theory.likelihood`, so the
two are independent routes). The upper triangle is differentiated and mirrored.

Cost and range
--------------
Everything is cached per ``(N, M, hidden)`` (``functools.cache``). Building and
lambdifying :func:`lambdify_rbm` takes a few seconds at ``N = 3, M = 2``; at
``N = 4, M = 2`` it would take 15-25 s, so the flow, Hessian, LaTeX and twin stop
at :data:`MAX_N_RBM_FLOW` = 3 while the closed forms of ``u``, ``J``, ``log Z``
and ``A`` (about a second) go to :data:`MAX_N_RBM_SYMBOLIC` = 4. The twin
evaluates the Boltzmann weights directly, without a log-sum-exp shift, so it
refuses inputs beyond :data:`MAX_TWIN_ABS_INPUT`.

Glossary: ``N`` visible spins, ``M`` hidden units, ``n = 2^N`` states, ``P =
N + M + N M`` parameters, ``theta`` their symbols, ``a``/``c``/``W`` fields,
hidden biases, weights, ``h`` hidden inputs, ``u`` negative energy, ``w``
Boltzmann weights, ``J`` couplings, ``A`` Jacobian, ``m`` target moments,
``r`` residual, ``L`` average log-likelihood, ``K = A A^T``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from math import gcd
from typing import Any

import numpy as np
import sympy as sp
from dsb_verifier.theory._validation import as_float_array, distribution
from dsb_verifier.theory.symbolic.effective import coupling_symbols, symbolic_characters
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "MAX_N_RBM_FLOW",
    "MAX_N_RBM_SYMBOLIC",
    "MAX_TWIN_ABS_INPUT",
    "RBM_HIDDEN_KINDS",
    "RBM_HIDDEN_UNITS",
    "RBMDerivation",
    "RBMTwin",
    "lambdify_rbm",
    "moment_symbols",
    "rbm_couplings",
    "rbm_derivation",
    "rbm_derivation_latex",
    "rbm_jacobian",
    "rbm_log_partition",
    "rbm_neg_energy",
    "rbm_parameter_symbols",
    "target_substitution",
]

#: Largest N of the closed forms of ``u``, ``J``, ``log Z`` and ``A`` (about a second at N = 4, M = 2).
MAX_N_RBM_SYMBOLIC = 4
#: Largest N of the flow, Hessian, LaTeX and lambdified twin: N = 3, M = 2 builds and
#: lambdifies in a few seconds, N = 4, M = 2 in 15-25 s (the Hessian grows like 2^N P^2).
MAX_N_RBM_FLOW = 3
#: Hidden-unit kinds, as in :class:`dsb_verifier.theory.models.RBM`.
RBM_HIDDEN_KINDS = ("spin", "bit")
#: Numbers of hidden units with symbolic derivations.
RBM_HIDDEN_UNITS = (1, 2)
#: Largest ``sum_j |theta_j|`` the twin accepts: it bounds ``|log w_b|`` by 300 + M log 2,
#: so the weights ``w_b``, their sum ``Z_s`` and ``Z_s^2`` stay below float64's maximum.
MAX_TWIN_ABS_INPUT = 300.0

_COUPLING_FORMS = ("sum", "log_ratio")


# --------------------------------------------------------------------------- validation


def _check_n(N: object, what: str, max_n: int = MAX_N_RBM_SYMBOLIC) -> int:
    if isinstance(N, bool) or not isinstance(N, int | np.integer):
        raise ValueError(f"N must be an integer number of visible spins, got {N!r}")
    if not 1 <= int(N) <= max_n:
        raise ValueError(f"N must be between 1 and {max_n} for the symbolic RBM {what}, got {N}")
    return int(N)


def _check_m(M: object) -> int:
    if isinstance(M, bool) or not isinstance(M, int | np.integer) or int(M) not in RBM_HIDDEN_UNITS:
        raise ValueError(f"M must be 1 or 2 hidden units for the symbolic RBM, got {M!r}")
    return int(M)


def _check_hidden(hidden: object) -> str:
    if not isinstance(hidden, str) or hidden not in RBM_HIDDEN_KINDS:
        raise ValueError(f"hidden must be 'spin' or 'bit', got {hidden!r}")
    return hidden


def _check_all(
    N: object, M: object, hidden: object, what: str, max_n: int = MAX_N_RBM_SYMBOLIC
) -> tuple[int, int, str]:
    return _check_n(N, what, max_n), _check_m(M), _check_hidden(hidden)


# --------------------------------------------------------------------------- symbols and energy


def _subset_name(S: int, N: int) -> str:
    return "".join(str(i) for i in range(N) if (S >> i) & 1)


@cache
def _params(
    N: int, M: int
) -> tuple[tuple[sp.Symbol, ...], tuple[sp.Symbol, ...], tuple[tuple[sp.Symbol, ...], ...]]:
    a = tuple(sp.Symbol(f"a_{i}", real=True) for i in range(N))
    c = tuple(sp.Symbol(f"c_{mu}", real=True) for mu in range(M))
    W = tuple(tuple(sp.Symbol(f"W_{{{i},{mu}}}", real=True) for mu in range(M)) for i in range(N))
    return a, c, W


def rbm_parameter_symbols(N: int, M: int) -> tuple[sp.Symbol, ...]:
    """Real symbols ``theta = (a_0.., c_0.., W_{0,0}, W_{0,1}, ..)`` in the numeric layout (Claim C1).

    Parameters
    ----------
    N
        Visible spins, ``1 <= N <= 4``.
    M
        Hidden units, 1 or 2.

    Returns
    -------
    tuple of sympy.Symbol, length ``P = N + M + N M``
        ``W_{i,mu}`` sits at index ``N + M + i*M + mu``, as in :class:`dsb_verifier.theory.models.RBM`.
    """
    a, c, W = _params(_check_n(N, "parameters"), _check_m(M))
    return (*a, *c, *(w for row in W for w in row))


def moment_symbols(N: int) -> tuple[sp.Symbol, ...]:
    r"""Real symbols ``m_S`` for the target moments :math:`E_q[\chi_S]`, ``S != 0`` (Claims C3, C4).

    Entry ``i`` is subset ``S = i + 1``, named after its variables as in
    :func:`dsb_verifier.theory.symbolic.effective.coupling_symbols`: ``m_0``, ``m_1``, ``m_01``, ...
    (``m_0`` is :math:`E_q[s_0]`; the empty-set moment, 1, has no symbol).
    """
    N = _check_n(N, "moments")
    return tuple(sp.Symbol(f"m_{_subset_name(S, N)}", real=True) for S in range(1, 2**N))


@dataclass(frozen=True)
class _Energy:
    """Per-state expressions of one (N, M, hidden): raw and closed ``u``, weights, Walsh coefficients."""

    theta: tuple[sp.Symbol, ...]
    u_raw: tuple[sp.Expr, ...]
    u: tuple[sp.Expr, ...]
    w: tuple[sp.Expr, ...]
    walsh: tuple[sp.Expr, ...]  # 2^-N sum_b chi_S(b) u_b for S = 0 .. 2^N - 1 (entry 0 is u-bar)


@cache
def _energy(N: int, M: int, hidden: str) -> _Energy:
    a, c, W = _params(N, M)
    theta = (*a, *c, *(w for row in W for w in row))
    n = 2**N
    H = symbolic_characters(N)
    spin = hidden == "spin"
    u_raw, u, w = [], [], []
    for b in range(n):
        s = [1 - 2 * ((b >> i) & 1) for i in range(N)]
        lin = sp.Add(*[s[i] * a[i] for i in range(N)])
        h = [c[mu] + sp.Add(*[s[i] * W[i][mu] for i in range(N)]) for mu in range(M)]
        if spin:
            f_raw = [sp.log(2 * sp.cosh(x)) for x in h]
            f = [sp.log(2) + sp.log(sp.cosh(x)) for x in h]
            weight = [2 * sp.cosh(x) for x in h]
        else:  # log(1 + e^h) = h/2 + log 2 cosh(h/2)
            f_raw = [sp.log(1 + sp.exp(x)) for x in h]
            f = [x / 2 + sp.log(2) + sp.log(sp.cosh(x / 2)) for x in h]
            weight = [1 + sp.exp(x) for x in h]
        u_raw.append(lin + sp.Add(*f_raw))
        u.append(lin + sp.Add(*f))
        w.append(sp.exp(lin) * sp.Mul(*weight))
    walsh = tuple(sp.Add(*[H[S, b] * u[b] for b in range(n)]) / n for S in range(n))
    return _Energy(theta=theta, u_raw=tuple(u_raw), u=tuple(u), w=tuple(w), walsh=walsh)


def _tanh(expr: sp.Expr) -> sp.Expr:
    """Write ``sinh(x)/cosh(x)`` as ``tanh(x)``: ``sinh -> tanh cosh``, then powers of cosh cancel."""
    return expr.replace(lambda e: isinstance(e, sp.sinh), lambda e: sp.tanh(e.args[0]) * sp.cosh(e.args[0]))


def _log_ratio(expr: sp.Expr, N: int, M: int) -> sp.Expr:
    r"""Collect each hidden unit's ``log cosh`` terms into :math:`\tfrac{g}{2^N}\log\prod\cosh^{k}`."""
    _, c, W = _params(N, M)
    unit_symbols = [{c[mu], *(W[i][mu] for i in range(N))} for mu in range(M)]
    groups: list[dict[sp.Expr, sp.Rational]] = [{} for _ in range(M)]
    rest = []
    for term in sp.Add.make_args(expr):
        coeff, core = term.as_coeff_Mul()
        if isinstance(core, sp.log) and isinstance(core.args[0], sp.cosh):
            x = core.args[0].args[0]
            mu = next(k for k in range(M) if x.free_symbols & unit_symbols[k])
            groups[mu][x] = groups[mu].get(x, sp.Integer(0)) + coeff
        else:
            rest.append(term)
    n = 2**N
    out = [sp.Add(*rest)]
    for d in groups:
        ks = {x: int(k * n) for x, k in d.items() if k != 0}
        if not ks:
            continue
        g = 0
        for k in ks.values():
            g = gcd(g, abs(k))
        out.append(sp.Rational(g, n) * sp.log(sp.Mul(*[sp.cosh(x) ** (k // g) for x, k in ks.items()])))
    return sp.Add(*out)


# --------------------------------------------------------------------------- public closed forms


def rbm_neg_energy(N: int, M: int, hidden: str) -> sp.Matrix:
    r"""Negative energy over all states in its raw form (Claim C1).

    :math:`u_b = a\cdot s(b) + \sum_\mu \log 2\cosh h_\mu(b)` (spin) or
    :math:`a\cdot s(b) + \sum_\mu \log(1 + e^{h_\mu(b)})` (bit); the twin of
    :meth:`dsb_verifier.theory.models.RBM.neg_energy`.

    Parameters
    ----------
    N, M, hidden
        ``1 <= N <= 4``, ``M in {1, 2}``, ``"spin"`` or ``"bit"``.

    Returns
    -------
    sympy.Matrix, shape (2^N, 1)
    """
    e = _energy(*_check_all(N, M, hidden, "energy"))
    return sp.Matrix(e.u_raw)


def rbm_couplings(N: int, M: int, hidden: str, *, zero_bias: bool = False, form: str = "sum") -> sp.Matrix:
    r"""Closed-form effective couplings :math:`J_S(\theta)`, ``S != 0`` (Claim C1).

    :math:`J_S = 2^{-N}\sum_b \chi_S(b)\, u_\theta(b)` written with
    :math:`\log\cosh` (module docstring; Decelle, Furtlehner, Navas Gómez, Seoane,
    SciPost Phys. 16, 095 (2024)). The constant :math:`J_\emptyset = -\log Z`
    of the package convention is :func:`rbm_log_partition` (negated).

    Parameters
    ----------
    N, M, hidden
        ``1 <= N <= 4``, ``M in {1, 2}``, ``"spin"`` or ``"bit"``.
    zero_bias
        Set every hidden bias ``c_mu = 0``: states pair with their spin flips,
        equal terms merge and couplings of odd order >= 3 vanish exactly.
    form
        ``"sum"``: a sum of ``log cosh`` terms with rational coefficients (what
        is differentiated and lambdified); ``"log_ratio"``: each hidden unit's
        terms collected into one :math:`\tfrac{g}{2^N}\log(\prod_k \cosh^{\pm e_k})`.

    Returns
    -------
    sympy.Matrix, shape (2^N - 1, 1)
        Entry ``i`` is subset ``S = i + 1``.
    """
    N, M, hidden = _check_all(N, M, hidden, "couplings")
    if form not in _COUPLING_FORMS:
        raise ValueError(f"form must be 'sum' or 'log_ratio', got {form!r}")
    J = list(_energy(N, M, hidden).walsh[1:])
    if zero_bias:
        zero = {c: sp.Integer(0) for c in _params(N, M)[1]}
        J = [j.xreplace(zero) for j in J]
    if form == "log_ratio":
        J = [_log_ratio(j, N, M) for j in J]
    return sp.Matrix(J)


def rbm_log_partition(N: int, M: int, hidden: str) -> sp.Expr:
    r""":math:`\log Z = -J_\emptyset = \log\sum_b w_b - \bar u` in the package convention (Claim C1).

    ``Z`` is the partition function of the effective model
    :math:`\sum_b \exp(\sum_{S\ne0} J_S \chi_S(b))`, i.e. the RBM's
    :math:`\sum_b w_b` divided by :math:`e^{\bar u}`, :math:`\bar u = 2^{-N}\sum_b u_b`.

    Parameters
    ----------
    N, M, hidden
        ``1 <= N <= 4``, ``M in {1, 2}``, ``"spin"`` or ``"bit"``.

    Returns
    -------
    sympy.Expr
    """
    e = _energy(*_check_all(N, M, hidden, "log-partition"))
    return sp.log(sp.Add(*e.w)) - e.walsh[0]


@cache
def _jacobian(N: int, M: int, hidden: str) -> sp.ImmutableMatrix:
    e = _energy(N, M, hidden)
    n = 2**N
    H = symbolic_characters(N)
    du = [[sp.diff(ub, x) for x in e.theta] for ub in e.u]
    return sp.ImmutableMatrix(
        n - 1,
        len(e.theta),
        lambda i, j: _tanh(sp.Add(*[H[i + 1, b] * du[b][j] for b in range(n)]) / n),
    )


def rbm_jacobian(N: int, M: int, hidden: str) -> sp.Matrix:
    r"""Jacobian :math:`A = \partial J/\partial\theta` in closed form (Claims C1, C3).

    ``A`` is the Walsh transform of :math:`\partial u/\partial\theta` over the
    states (docs/theory.md §3), differentiated by ``sympy.diff``; entries are
    sums of :math:`\tanh` terms, e.g.
    :math:`A_{S, W_{i\mu}} = [S = \{i\}]\beta + 2^{-N}\gamma\sum_b \chi_S(b) s_i(b) \tanh(\gamma h_\mu(b))`
    with :math:`(\beta, \gamma)` as in the module docstring.

    Parameters
    ----------
    N, M, hidden
        ``1 <= N <= 4``, ``M in {1, 2}``, ``"spin"`` or ``"bit"``.

    Returns
    -------
    sympy.Matrix, shape (2^N - 1, P)
        Row ``i`` is subset ``S = i + 1``, columns in the order of :func:`rbm_parameter_symbols`;
        the twin of :meth:`dsb_verifier.theory.models.RBM.jacobian`.
    """
    return sp.Matrix(_jacobian(*_check_all(N, M, hidden, "Jacobian")))


# --------------------------------------------------------------------------- flow and Hessian


@dataclass(frozen=True)
class RBMDerivation:
    r"""Symbolic likelihood, flow and Hessian of one small RBM (Claims C1, C3, C4).

    Build it with :func:`rbm_derivation`. Column vectors are ``(k, 1)`` sympy
    ImmutableMatrices; ``m`` are target-moment symbols (substitute an exact target
    with :func:`target_substitution`).

    Attributes
    ----------
    N, M, hidden
        Sizes and hidden kind.
    theta, m
        Parameter symbols (length ``P``) and target-moment symbols (length ``2^N - 1``).
    u
        Closed-form negative energy over the states, ``(2^N, 1)``.
    J, log_partition, A
        Couplings ``(2^N - 1, 1)``, :math:`\log Z = -J_\emptyset`, Jacobian ``(2^N - 1, P)``.
    m_model, r
        Model moments :math:`m_S(p_\theta)` and residual :math:`r = m - m(p_\theta)`.
    L
        :math:`L = \bar u + \sum_{S\ne0} m_S J_S - \log\sum_b w_b` (an expression).
    grad
        :math:`\dot\theta = \nabla_\theta L = A^\top r`, ``(P, 1)`` (docs/theory.md §4).
    J_dot
        :math:`\dot J = A A^\top r`, ``(2^N - 1, 1)``.
    hessian
        :math:`\nabla^2_\theta L` by ``sympy.diff`` of ``L`` (module docstring), ``(P, P)``.
    """

    N: int
    M: int
    hidden: str
    theta: tuple[sp.Symbol, ...]
    m: tuple[sp.Symbol, ...]
    u: sp.ImmutableMatrix = field(repr=False)
    J: sp.ImmutableMatrix = field(repr=False)
    log_partition: sp.Expr = field(repr=False)
    A: sp.ImmutableMatrix = field(repr=False)
    m_model: sp.ImmutableMatrix = field(repr=False)
    r: sp.ImmutableMatrix = field(repr=False)
    L: sp.Expr = field(repr=False)
    grad: sp.ImmutableMatrix = field(repr=False)
    J_dot: sp.ImmutableMatrix = field(repr=False)
    hessian: sp.ImmutableMatrix = field(repr=False)

    def __post_init__(self) -> None:
        _check_all(self.N, self.M, self.hidden, "derivation", MAX_N_RBM_FLOW)
        n, P = 2**self.N, self.N + self.M + self.N * self.M
        if len(self.theta) != P or len(self.m) != n - 1:
            raise ValueError(f"RBMDerivation needs {P} parameter and {n - 1} moment symbols")
        shapes = {"u": (n, 1), "J": (n - 1, 1), "A": (n - 1, P), "m_model": (n - 1, 1), "r": (n - 1, 1),
                  "grad": (P, 1), "J_dot": (n - 1, 1), "hessian": (P, P)}  # fmt: skip
        for name, shape in shapes.items():
            if getattr(self, name).shape != shape:
                raise ValueError(
                    f"RBMDerivation.{name} must have shape {shape}, got {getattr(self, name).shape}"
                )
        allowed = set(self.theta) | set(self.m)
        for name in ("L", "grad", "hessian", "r"):
            extra = getattr(self, name).free_symbols - allowed
            if extra:
                raise ValueError(
                    f"RBMDerivation.{name} has unexpected free symbols {sorted(map(str, extra))}"
                )


def rbm_derivation(N: int, M: int, hidden: str) -> RBMDerivation:
    r"""Likelihood, flows :math:`\dot\theta = A^\top r`, :math:`\dot J = A A^\top r`, Hessian (C3, C4).

    Parameters
    ----------
    N, M, hidden
        ``1 <= N <= 3``, ``M in {1, 2}``, ``"spin"`` or ``"bit"``.

    Returns
    -------
    RBMDerivation
        Cached per ``(N, M, hidden)``; ``N = 3, M = 2`` takes a few seconds.
    """
    return _derivation(*_check_all(N, M, hidden, "flow and Hessian", MAX_N_RBM_FLOW))


@cache
def _derivation(N: int, M: int, hidden: str) -> RBMDerivation:
    e = _energy(N, M, hidden)
    n, P = 2**N, len(e.theta)
    H = symbolic_characters(N)
    m = moment_symbols(N)
    A = _jacobian(N, M, hidden)
    Zs = sp.Add(*e.w)
    m_model = sp.ImmutableMatrix([sp.Add(*[H[S, b] * e.w[b] for b in range(n)]) / Zs for S in range(1, n)])
    r = sp.ImmutableMatrix([m[i] - m_model[i] for i in range(n - 1)])
    grad = sp.ImmutableMatrix(A.T * r)
    L = e.walsh[0] + sp.Add(*[m[S - 1] * e.walsh[S] for S in range(1, n)]) - sp.log(Zs)
    # Hessian of L = sum_b q_b(m) u_b - log Z_s (the same L: sum_b q_b u_b = u-bar + sum_S m_S J_S),
    # differentiated term by term: the small u_b twice each, log Z_s once as a whole.
    q = [(1 + sp.Add(*[H[S, b] * m[S - 1] for S in range(1, n)])) / n for b in range(n)]
    du = [[sp.diff(ub, x) for x in e.theta] for ub in e.u]
    dlogZ = [sp.diff(sp.log(Zs), x) for x in e.theta]
    hess = sp.zeros(P, P)
    for i in range(P):
        for j in range(i, P):
            d2u = sp.Add(*[q[b] * sp.diff(du[b][i], e.theta[j]) for b in range(n)])
            hess[i, j] = hess[j, i] = d2u - sp.diff(dlogZ[i], e.theta[j])
    return RBMDerivation(
        N=N, M=M, hidden=hidden, theta=e.theta, m=m, u=sp.ImmutableMatrix(e.u),
        J=sp.ImmutableMatrix(e.walsh[1:]), log_partition=sp.log(Zs) - e.walsh[0], A=A,
        m_model=m_model, r=r, L=L, grad=grad, J_dot=sp.ImmutableMatrix(A * grad),
        hessian=sp.ImmutableMatrix(hess),
    )  # fmt: skip


def target_substitution(q: Sequence[Any]) -> dict[sp.Symbol, sp.Expr]:
    r"""Replacement ``{m_S: E_q[chi_S]}`` for an exact target ``q`` (Claims C3, C4).

    Parameters
    ----------
    q
        ``2^N`` exact, strictly positive numbers (Integers, Rationals, ...)
        summing to exactly 1, in state order, ``1 <= N <= 3``.

    Returns
    -------
    dict
        Use as ``derivation.grad.xreplace(target_substitution(q))``.
    """
    try:
        entries = [sp.sympify(x, strict=True) for x in q]
    except (sp.SympifyError, TypeError) as err:
        raise ValueError(f"q must be a sequence of exact sympy numbers, got {q!r}") from err
    n = len(entries)
    if n < 2 or n & (n - 1) or n > 2**MAX_N_RBM_FLOW:
        raise ValueError(f"q must have length 2^N with 1 <= N <= {MAX_N_RBM_FLOW} (2, 4 or 8), got {n}")
    if any(not x.is_Rational for x in entries):
        raise ValueError("q must be exact: every entry an Integer or Rational (use sympy.Rational)")
    if any(x <= 0 for x in entries) or sum(entries) != 1:
        raise ValueError(f"q must be strictly positive and sum to exactly 1, got sum {sum(entries)}")
    N = n.bit_length() - 1
    H = symbolic_characters(N)
    return {
        ms: sp.Add(*[H[i + 1, b] * entries[b] for b in range(n)]) for i, ms in enumerate(moment_symbols(N))
    }


# --------------------------------------------------------------------------- LaTeX


def _aligned(lhs: Sequence[str], rhs: Sequence[Any]) -> str:
    rows = [
        rf"{left} &= {right if isinstance(right, str) else sp.latex(right)}"
        for left, right in zip(lhs, rhs, strict=True)
    ]
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


def _latex_cse(lhs: str, matrix: sp.MatrixBase) -> str:
    """``matrix`` after common-subexpression elimination: definitions ``x_k = ...``, then ``lhs = ...``."""
    defs, (reduced,) = sp.cse(matrix, symbols=sp.numbered_symbols("x"))
    rows = [(sp.latex(x), e) for x, e in defs] + [(lhs, reduced)]
    return _aligned([left for left, _ in rows], [right for _, right in rows])


def rbm_derivation_latex(N: int, M: int, hidden: str) -> dict[str, str]:
    r"""Every object of :func:`rbm_derivation` as named LaTeX strings for notebooks (Claims C1, C3, C4).

    Parameters
    ----------
    N, M, hidden
        ``1 <= N <= 3``, ``M in {1, 2}``, ``"spin"`` or ``"bit"``.

    Returns
    -------
    dict of str
        ``"parameters"``; ``"neg_energy"`` (in general spins ``s_i``);
        ``"couplings"`` (sum form), ``"couplings_log_ratio"`` and
        ``"couplings_zero_bias"`` (``c = 0``, log-ratio form);
        ``"log_partition"``; ``"jacobian"``; ``"model_moments"``; ``"residual"``;
        ``"loglik"``; ``"flow_theta"`` (:math:`\dot\theta = A^\top r` in the
        residual symbols ``r_S``); ``"flow_J"`` (:math:`\dot J_S = \sum_T K_{S,T} r_T`);
        ``"kernel"`` (:math:`K = A A^\top`) and ``"hessian"``, both after
        common-subexpression elimination (definitions ``x_k = ...`` first). Values are
        ``sympy.latex`` output, lists as ``aligned`` blocks; a fresh dict per call,
        cached per ``(N, M, hidden)``.
    """
    return dict(_latex(*_check_all(N, M, hidden, "LaTeX derivation", MAX_N_RBM_FLOW)))


@cache
def _latex(N: int, M: int, hidden: str) -> tuple[tuple[str, str], ...]:
    d = _derivation(N, M, hidden)
    n = 2**N
    a, c, W = _params(N, M)
    s = sp.symbols(f"s_0:{N}", real=True)
    h = [c[mu] + sp.Add(*[W[i][mu] * s[i] for i in range(N)]) for mu in range(M)]
    f = [sp.log(2 * sp.cosh(x)) if hidden == "spin" else sp.log(1 + sp.exp(x)) for x in h]
    names = [_subset_name(S, N) for S in range(1, n)]
    J_names = [sp.latex(x) for x in coupling_symbols(N)]
    r_sym = [sp.Symbol(f"r_{name}", real=True) for name in names]
    K_sym = [[sp.Symbol(f"K_{{{S},{T}}}", real=True) for T in names] for S in names]
    entries = {
        "parameters": r"\theta = " + sp.latex(sp.Matrix(d.theta).T),
        "neg_energy": r"u(s) = " + sp.latex(sp.Add(*[a[i] * s[i] for i in range(N)]) + sp.Add(*f)),
        "couplings": _aligned(J_names, list(d.J)),
        "couplings_log_ratio": _aligned(J_names, list(rbm_couplings(N, M, hidden, form="log_ratio"))),
        "couplings_zero_bias": r"c = 0:\quad "
        + _aligned(J_names, list(rbm_couplings(N, M, hidden, zero_bias=True, form="log_ratio"))),
        "log_partition": r"-J_{\emptyset} = \log Z = " + sp.latex(d.log_partition),
        "jacobian": r"A = \frac{\partial J}{\partial \theta} = " + sp.latex(d.A),
        "model_moments": _aligned([rf"{sp.latex(x)}(p_\theta)" for x in d.m], list(d.m_model)),
        "residual": _aligned([sp.latex(x) for x in r_sym], list(d.r)),
        "loglik": r"L(\theta; q) = " + sp.latex(d.L),
        "flow_theta": _aligned(
            [rf"\frac{{d {sp.latex(x)}}}{{dt}}" for x in d.theta], list(d.A.T * sp.Matrix(r_sym))
        ),
        "flow_J": _aligned(
            [rf"\frac{{d {x}}}{{dt}}" for x in J_names], list(sp.Matrix(K_sym) * sp.Matrix(r_sym))
        ),
        "kernel": _latex_cse(r"K = A A^{\top}", d.A * d.A.T),
        "hessian": _latex_cse(r"\nabla^2_\theta L", d.hessian),
    }
    return tuple(entries.items())


# --------------------------------------------------------------------------- numeric twin


@dataclass(frozen=True)
class RBMTwin:
    r"""Lambdified closed forms of one small RBM, cached per ``(N, M, hidden)`` (Claims C1, C3, C4).

    Build it with :func:`lambdify_rbm`. Methods take one ``theta`` of shape
    ``(P,)`` (and one strictly positive target ``q`` of shape ``(2^N,)``) and
    return float64 arrays shaped like the numeric routes
    (:class:`dsb_verifier.theory.models.RBM`, :mod:`dsb_verifier.theory.likelihood`). They evaluate the
    Boltzmann weights directly, so :math:`\sum_j |\theta_j|` must not exceed
    :data:`MAX_TWIN_ABS_INPUT`.

    Attributes
    ----------
    N, M, hidden
        Sizes and hidden kind (``N <= 3``).
    couplings_fn
        ``theta -> [J_0, J_1, ..]`` with ``J_0 = -log Z`` (package convention).
    jacobian_fn, residual_fn, loglik_fn, grad_fn, hessian_fn
        ``theta -> A``; ``(theta, m) -> r, L, A^T r, Hess L`` with ``m`` the target moments ``S != 0``.
    """

    N: int
    M: int
    hidden: str
    couplings_fn: Callable[..., Any] = field(repr=False)
    jacobian_fn: Callable[..., Any] = field(repr=False)
    residual_fn: Callable[..., Any] = field(repr=False)
    loglik_fn: Callable[..., Any] = field(repr=False)
    grad_fn: Callable[..., Any] = field(repr=False)
    hessian_fn: Callable[..., Any] = field(repr=False)

    def __post_init__(self) -> None:
        _check_all(self.N, self.M, self.hidden, "twin", MAX_N_RBM_FLOW)
        for name in ("couplings_fn", "jacobian_fn", "residual_fn", "loglik_fn", "grad_fn", "hessian_fn"):
            if not callable(getattr(self, name)):
                raise ValueError(f"RBMTwin.{name} must be callable")

    @property
    def n_params(self) -> int:
        """Number of parameters ``P = N + M + N M``."""
        return self.N + self.M + self.N * self.M

    def _theta(self, theta: ArrayLike) -> list[float]:
        th = as_float_array(theta, "theta")
        if th.shape != (self.n_params,):
            raise ValueError(
                f"theta must have shape (P,) = ({self.n_params},) for the twin of "
                f"N={self.N}, M={self.M}, got shape {th.shape}"
            )
        size = float(np.abs(th).sum())  # bounds |a.s| + sum_mu |h_mu| on every state
        if size > MAX_TWIN_ABS_INPUT:
            raise ValueError(
                f"sum_j |theta_j| = {size:.4g} exceeds {MAX_TWIN_ABS_INPUT:g}: the symbolic twin "
                "evaluates the Boltzmann weights directly and would overflow; use dsb_verifier.theory.models.RBM"
            )
        return th.tolist()

    def _moments(self, q: ArrayLike) -> list[float]:
        qq, N = distribution(q, "q")
        if qq.shape != (2**self.N,):
            raise ValueError(f"q must be one target of shape (2^N,) = ({2**self.N},), got shape {qq.shape}")
        return (_hadamard(N) @ qq)[1:].tolist()

    def couplings(self, theta: ArrayLike) -> NDArray[np.float64]:
        """Couplings, shape ``(2^N,)``, ``J[0] = -log Z`` (like :meth:`dsb_verifier.theory.models.RBM.couplings`)."""
        return np.asarray(self.couplings_fn(self._theta(theta)), dtype=np.float64).reshape(2**self.N)

    def jacobian(self, theta: ArrayLike) -> NDArray[np.float64]:
        """Jacobian, shape ``(2^N - 1, P)`` (like :meth:`dsb_verifier.theory.models.RBM.jacobian`)."""
        out = np.asarray(self.jacobian_fn(self._theta(theta)), dtype=np.float64)
        return out.reshape(2**self.N - 1, self.n_params)

    def residual(self, theta: ArrayLike, q: ArrayLike) -> NDArray[np.float64]:
        """Residual ``m(q) - m(p_theta)``, shape ``(2^N - 1,)`` (like :func:`dsb_verifier.theory.likelihood.residual`)."""
        out = np.asarray(self.residual_fn(self._theta(theta), self._moments(q)), dtype=np.float64)
        return out.reshape(2**self.N - 1)

    def loglik(self, theta: ArrayLike, q: ArrayLike) -> NDArray[np.float64]:
        """Average log-likelihood as a 0-d array (like :func:`dsb_verifier.theory.likelihood.loglik`)."""
        return np.asarray(self.loglik_fn(self._theta(theta), self._moments(q)), dtype=np.float64)

    def grad_loglik(self, theta: ArrayLike, q: ArrayLike) -> NDArray[np.float64]:
        r""":math:`\dot\theta = A^\top r`, shape ``(P,)`` (like :func:`dsb_verifier.theory.likelihood.grad_loglik`)."""
        out = np.asarray(self.grad_fn(self._theta(theta), self._moments(q)), dtype=np.float64)
        return out.reshape(self.n_params)

    def hessian(self, theta: ArrayLike, q: ArrayLike) -> NDArray[np.float64]:
        """Exact Hessian of ``L``, shape ``(P, P)`` (like :func:`dsb_verifier.theory.likelihood.exact_hessian`)."""
        out = np.asarray(self.hessian_fn(self._theta(theta), self._moments(q)), dtype=np.float64)
        return out.reshape(self.n_params, self.n_params)

    def coupling_flow(self, theta: ArrayLike, q: ArrayLike) -> NDArray[np.float64]:
        r""":math:`\dot J = A A^\top r`, shape ``(2^N - 1,)``, as ``A @ grad`` (docs/theory.md §4)."""
        return self.jacobian(theta) @ self.grad_loglik(theta, q)


@lru_cache(maxsize=MAX_N_RBM_FLOW)
def _hadamard(N: int) -> NDArray[np.float64]:
    H = np.array(symbolic_characters(N).tolist(), dtype=np.float64)
    H.setflags(write=False)
    return H


def lambdify_rbm(N: int, M: int, hidden: str) -> RBMTwin:
    """Numpy callables generated from :func:`rbm_derivation`, cached per ``(N, M, hidden)`` (Claim C1).

    Built with ``sympy.lambdify(..., modules="numpy", cse=True)``; ``N = 3,
    M = 2`` takes a few seconds (derivation included) on first call.
    """
    return _lambdify(*_check_all(N, M, hidden, "twin", MAX_N_RBM_FLOW))


@cache
def _lambdify(N: int, M: int, hidden: str) -> RBMTwin:
    d = _derivation(N, M, hidden)
    th, m = list(d.theta), list(d.m)

    def lam(args: list[Any], expr: Any) -> Callable[..., Any]:
        return sp.lambdify(args, expr, modules="numpy", cse=True)

    return RBMTwin(
        N=N,
        M=M,
        hidden=hidden,
        couplings_fn=lam([th], [-d.log_partition, *d.J]),
        jacobian_fn=lam([th], d.A),
        residual_fn=lam([th, m], list(d.r)),
        loglik_fn=lam([th, m], d.L),
        grad_fn=lam([th, m], list(d.grad)),
        hessian_fn=lam([th, m], d.hessian),
    )
