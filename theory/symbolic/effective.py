r"""The symbolic twin of the effective model: exact sympy expressions for N <= 4.

Every quantity of :mod:`dsb_verifier.theory.effective` is rebuilt here as a sympy expression
in the coupling symbols, with the conventions of :mod:`dsb_verifier.theory.walsh`
(docs/theory.md §1): state ``b`` has spins :math:`s_i = (-1)^{\text{bit } i
\text{ of } b}`, a subset ``S`` is a bitmask and ``H[S, b] = chi_S(b)``. The twin
is the second route of Claim C1 ("symbolic (sympy) and vectorised numeric results
agree"): tests compare it exactly with itself (round trips, two derivations of the
moments and of the Fisher matrix) and numerically with the numpy route.

Construction
------------
* The negative energy is :math:`u_b = \sum_{S \ne 0} J_S \chi_S(b)`; the
  character sums of the Boltzmann weights are
  :math:`G_S = \sum_b \chi_S(b)\, e^{u_b}`, so :math:`Z = G_0`.
* :func:`symbolic_moments` is derived **from p**: :math:`m_S = \sum_b \chi_S(b)
  p(b) = G_S / G_0` (so :math:`m_0 = 1` exactly). The tests check the other
  route, :math:`m_S = \partial \log Z / \partial J_S` by ``sympy.diff`` in ``J``.
* :func:`symbolic_fisher` is the Hessian of :math:`\log Z = \log G_0` in
  :math:`J_{S \ne 0}`, differentiated by the exact chain rule through the
  ``G``: since :math:`\chi_S \chi_T = \chi_{S \oplus T}`,
  :math:`\partial G_T / \partial J_S = G_{S \oplus T}`, so on functions of the
  ``G`` the derivative :math:`\partial/\partial J_S` is the derivation
  :math:`D_S = \sum_T G_{S \oplus T}\, \partial/\partial G_T`. Every entry
  :math:`D_T D_S \log G_0` is computed (no symmetric fill), so symmetry is a
  check, not an assumption. ``sympy.hessian`` directly in ``J`` gives the same
  matrix (tested for N <= 3) but is about ten times slower at N = 4 and
  yields expressions that ``lambdify`` needs several seconds to process.
* :func:`lambdify_twin` evaluates the same expressions in numpy in two
  lambdified stages (the ``G_S`` from ``J``, then rational functions of the
  ``G``), generated with ``cse=True`` and cached per N; N = 4 builds in about
  one second.

Range of the numeric twin: it evaluates :math:`e^{u_b}` directly (no
log-sum-exp shift), so it refuses ``sum_{S != 0} |J_S| > MAX_TWIN_ABS_COUPLING``
(= 300, which bounds :math:`|u_b|` and keeps every product :math:`G_S G_T`
below the float64 overflow).
It matches the numpy route to ``SYMBOLIC_RTOL`` for moderate couplings
(tested for :math:`|J_S| \le 5`); for peaked distributions both routes lose
relative accuracy in :math:`F = m_{S \oplus T} - m_S m_T` through cancellation.

Glossary: ``N`` spins, ``n = 2^N`` states, ``S``/``T`` subset bitmasks, ``J``
couplings (symbols ``J_0``, ``J_01``, ... named by the variables in the subset),
``u`` negative energy, ``G`` character sums of the Boltzmann weights, ``Z`` partition function,
``m`` moments, ``F`` Fisher matrix, ``H`` Hadamard (character) matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeAlias

import numpy as np
import sympy as sp
from dsb_verifier.theory._validation import as_float_array
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "MAX_N_SYMBOLIC",
    "MAX_TWIN_ABS_COUPLING",
    "NumericTwin",
    "coupling_symbols",
    "lambdify_twin",
    "symbolic_characters",
    "symbolic_couplings",
    "symbolic_fisher",
    "symbolic_log_partition",
    "symbolic_moments",
    "symbolic_neg_energy",
    "symbolic_states",
]

#: Largest number of spins the symbolic twin accepts (expressions grow like 4^N).
MAX_N_SYMBOLIC = 4

#: Largest ``sum_{S != 0} |J_S|`` the lambdified twin accepts: it bounds
#: ``|u_b|``, and ``e^{2 * 300} * 2^8`` is still far below float64's maximum.
MAX_TWIN_ABS_COUPLING = 300.0

_SymbolicVector: TypeAlias = Sequence[Any] | sp.MatrixBase


# --------------------------------------------------------------------------- validation


def _check_n(N: object) -> int:
    """Validate a number of spins for the symbolic twin: an integer in ``[1, 4]``."""
    if isinstance(N, bool) or not isinstance(N, int | np.integer):
        raise ValueError(f"N must be an integer number of spins, got {N!r}")
    if not 1 <= int(N) <= MAX_N_SYMBOLIC:
        raise ValueError(f"N must be between 1 and {MAX_N_SYMBOLIC} for the symbolic twin, got {N}")
    return int(N)


def _sympy_entries(x: _SymbolicVector, name: str) -> list[sp.Expr]:
    """Entries of a 1-d sequence or a row/column sympy Matrix, each sympified strictly."""
    if isinstance(x, sp.MatrixBase):
        if min(x.shape) > 1:
            raise ValueError(f"{name} must be a vector (one row or one column), got a {x.shape} Matrix")
        items = list(x)
    elif isinstance(x, np.ndarray):
        if x.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional, got an array of shape {x.shape}")
        items = x.tolist()
    elif isinstance(x, Sequence) and not isinstance(x, str | bytes):
        items = list(x)
    else:
        raise ValueError(f"{name} must be a sequence or sympy Matrix of expressions, got {type(x).__name__}")
    out = []
    for i, item in enumerate(items):
        try:
            out.append(sp.sympify(item, strict=True))
        except sp.SympifyError as err:
            raise ValueError(f"{name}[{i}] is not a sympy expression or number: {item!r}") from err
    return out


def _coupling_args(N: int, J: _SymbolicVector | None) -> tuple[sp.Expr, ...]:
    """The ``2^N - 1`` couplings ``J_{S != 0}`` (index ``i`` is ``S = i + 1``).

    ``J`` may have length ``2^N - 1`` (as :func:`coupling_symbols`) or ``2^N``
    (the package convention, ``J[0]`` ignored); None means the symbols.
    """
    n = 2**N
    if J is None:
        return coupling_symbols(N)
    entries = _sympy_entries(J, "J")
    if len(entries) == n:
        return tuple(entries[1:])
    if len(entries) == n - 1:
        return tuple(entries)
    raise ValueError(
        f"J must have length 2^N - 1 = {n - 1} (subsets S != 0) or 2^N = {n} "
        f"(package convention, J[0] ignored) for N={N}, got length {len(entries)}"
    )


# --------------------------------------------------------------------------- conventions


def symbolic_states(N: int) -> sp.Matrix:
    r"""All ``2^N`` spin configurations as an exact sympy Matrix (Claim C1).

    Parameters
    ----------
    N
        Number of spins, ``1 <= N <= 4``.

    Returns
    -------
    sympy.Matrix, shape (2^N, N)
        ``s[b, i] = (-1)^(bit i of b)`` as sympy Integers; the twin of
        :func:`dsb_verifier.theory.walsh.states`.
    """
    N = _check_n(N)
    return sp.Matrix(2**N, N, lambda b, i: sp.Integer(1 - 2 * ((b >> i) & 1)))


def symbolic_characters(N: int) -> sp.Matrix:
    r"""Character (Hadamard) matrix ``H[S, b] = chi_S(b)`` with exact entries (Claim C1).

    Built from the definition :math:`\chi_S(s) = \prod_{i \in S} s_i` on the rows
    of :func:`symbolic_states`, independently of the popcount formula used by
    :func:`dsb_verifier.theory.walsh.hadamard`; :math:`H H = 2^N I` exactly.

    Parameters
    ----------
    N
        Number of spins, ``1 <= N <= 4``.

    Returns
    -------
    sympy.Matrix, shape (2^N, 2^N)
        Entries are the sympy Integers ``+1`` and ``-1``.
    """
    N = _check_n(N)
    s = symbolic_states(N)
    return sp.Matrix(2**N, 2**N, lambda S, b: sp.Mul(*[s[b, i] for i in range(N) if (S >> i) & 1]))


def coupling_symbols(N: int) -> tuple[sp.Symbol, ...]:
    """Real sympy symbols for the couplings ``J_S``, ``S != 0`` (Claim C1).

    Parameters
    ----------
    N
        Number of spins, ``1 <= N <= 4``.

    Returns
    -------
    tuple of sympy.Symbol, length 2^N - 1
        Entry ``i`` is the coupling of subset ``S = i + 1``, named after the
        variables it contains: ``J_0``, ``J_1``, ``J_01``, ``J_2``, ... ``J_0123``.
    """
    N = _check_n(N)
    return tuple(
        sp.Symbol("J_" + "".join(str(i) for i in range(N) if (S >> i) & 1), real=True) for S in range(1, 2**N)
    )


def symbolic_couplings(u: _SymbolicVector) -> sp.Matrix:
    r"""Exact Walsh coefficients :math:`2^{-N} H u` of a function on the states (Claim C1).

    With ``u = log p`` these are the effective couplings (``c[0] = -log Z``); with
    ``u`` a negative energy they are :math:`J_S` (and ``c[0]`` its mean). The twin
    of :func:`dsb_verifier.theory.effective.couplings` and :func:`dsb_verifier.theory.walsh.iwht`.

    Parameters
    ----------
    u
        ``2^N`` exact sympy expressions (Integers, Rationals, symbols, ``log`` of
        Rationals, ...) over the states in state order, ``1 <= N <= 4``; a
        sequence or a row/column Matrix.

    Returns
    -------
    sympy.Matrix, shape (2^N, 1)
        ``c[S] = 2^-N sum_b chi_S(b) u[b]``, each entry passed through
        ``sympy.simplify``; ``H c == u`` exactly.

    Raises
    ------
    ValueError
        If the length is not ``2^N`` with ``1 <= N <= 4``, an entry is not a
        sympy expression, or an entry contains a floating-point number (the
        result would not be exact; convert with ``sympy.Rational`` or
        ``sympy.nsimplify``).
    """
    entries = _sympy_entries(u, "u")
    n = len(entries)
    if n < 2 or n & (n - 1) or n > 2**MAX_N_SYMBOLIC:
        raise ValueError(
            f"u must have length 2^N with 1 <= N <= {MAX_N_SYMBOLIC} (2, 4, 8 or 16), got length {n}"
        )
    for i, e in enumerate(entries):
        if e.has(sp.Float):
            raise ValueError(
                f"u must be exact, but u[{i}] = {e} contains a float; "
                "convert with sympy.Rational or sympy.nsimplify"
            )
    N = n.bit_length() - 1
    H = symbolic_characters(N)
    return sp.Matrix([sp.simplify(sp.Add(*[H[S, b] * entries[b] for b in range(n)]) / n) for S in range(n)])


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class _Core:
    """Cached symbolic model for one N, written in the character sums ``G_S``."""

    N: int
    J: tuple[sp.Symbol, ...]
    u: tuple[sp.Expr, ...]
    G: tuple[sp.Dummy, ...]
    G_of_J: tuple[sp.Expr, ...]
    log_partition: sp.Expr
    moments: tuple[sp.Expr, ...]
    fisher: sp.ImmutableMatrix


@lru_cache(maxsize=MAX_N_SYMBOLIC)
def _core(N: int) -> _Core:
    n = 2**N
    H = symbolic_characters(N)
    J = coupling_symbols(N)
    u = tuple(sp.Add(*[H[S, b] * J[S - 1] for S in range(1, n)]) for b in range(n))
    G_of_J = tuple(sp.Add(*[H[S, b] * sp.exp(u[b]) for b in range(n)]) for S in range(n))
    G = tuple(sp.Dummy(f"G_{S}", real=True) for S in range(n))
    log_Z = sp.log(G[0])
    # p route: m_S = sum_b chi_S(b) p(b) = G_S / Z, exactly 1 for S = 0.
    moments = tuple(G[S] / G[0] for S in range(n))

    def D(f: sp.Expr, S: int) -> sp.Expr:
        # d/dJ_S on functions of the G's: dG_T/dJ_S = sum_b chi_S chi_T e^u_b = G_{S xor T}.
        return sp.Add(*[G[S ^ T] * sp.diff(f, G[T]) for T in range(n)])

    grad = [D(log_Z, S) for S in range(1, n)]
    F = sp.ImmutableMatrix(n - 1, n - 1, lambda i, j: D(grad[i], j + 1))
    return _Core(N=N, J=J, u=u, G=G, G_of_J=G_of_J, log_partition=log_Z, moments=moments, fisher=F)


def _in_couplings(core: _Core, J: _SymbolicVector | None) -> dict[sp.Dummy, sp.Expr]:
    """Replacement of each character sum ``G_S`` by its expression at the couplings ``J``."""
    sub = dict(zip(core.J, _coupling_args(core.N, J), strict=True))
    return {GS: e.xreplace(sub) for GS, e in zip(core.G, core.G_of_J, strict=True)}


def symbolic_neg_energy(N: int, J: _SymbolicVector | None = None) -> sp.Matrix:
    r"""Negative energy :math:`u_b = \sum_{S \ne 0} J_S \chi_S(b)` over all states (Claims C1, C2).

    Parameters
    ----------
    N
        Number of spins, ``1 <= N <= 4``.
    J
        Couplings: None for :func:`coupling_symbols`, or ``2^N - 1`` expressions
        (entry ``i`` is ``S = i + 1``), or ``2^N`` in the package convention
        (``J[0]`` ignored).

    Returns
    -------
    sympy.Matrix, shape (2^N, 1)
        Entry ``b`` is :math:`u_b`; the twin of :func:`dsb_verifier.theory.effective.neg_energy`.
    """
    N = _check_n(N)
    core = _core(N)
    sub = dict(zip(core.J, _coupling_args(N, J), strict=True))
    return sp.Matrix([ub.xreplace(sub) for ub in core.u])


def symbolic_log_partition(N: int, J: _SymbolicVector | None = None) -> sp.Expr:
    r""":math:`\log Z(J) = \log \sum_b \exp u_b` as one sympy expression (Claim C2).

    Parameters
    ----------
    N
        Number of spins, ``1 <= N <= 4``.
    J
        Couplings, as in :func:`symbolic_neg_energy` (``J[0]`` is never used).

    Returns
    -------
    sympy.Expr
        The twin of :func:`dsb_verifier.theory.effective.log_partition`.
    """
    N = _check_n(N)
    core = _core(N)
    return core.log_partition.xreplace(_in_couplings(core, J))


def symbolic_moments(N: int, J: _SymbolicVector | None = None) -> sp.Matrix:
    r"""Moments :math:`m_S = E_p[\chi_S]`, derived from ``p`` (Claims C1, C2).

    .. math:: m_S = \sum_b \chi_S(b)\, p(b), \qquad p(b) = e^{u_b} / Z,

    written as :math:`\sum_b \chi_S(b) e^{u_b} / Z`, so :math:`m_0 = 1` exactly.
    The other route, :math:`m_S = \partial \log Z / \partial J_S`, is checked
    in the tests.

    Parameters
    ----------
    N
        Number of spins, ``1 <= N <= 4``.
    J
        Couplings, as in :func:`symbolic_neg_energy`.

    Returns
    -------
    sympy.Matrix, shape (2^N, 1)
        Entry ``S`` is :math:`m_S`; the twin of
        ``theory.moments(theory.prob(J))``.
    """
    N = _check_n(N)
    core = _core(N)
    rep = _in_couplings(core, J)
    return sp.Matrix([m.xreplace(rep) for m in core.moments])


def symbolic_fisher(N: int, J: _SymbolicVector | None = None) -> sp.Matrix:
    r"""Fisher matrix as the Hessian of :math:`\log Z` in :math:`J_{S \ne 0}` (Claim C2).

    .. math:: F_{ST} = \frac{\partial^2 \log Z}{\partial J_S \partial J_T}
       = m_{S \oplus T} - m_S m_T .

    Differentiated by the exact chain rule through the character sums
    :math:`G_S = \sum_b \chi_S(b) e^{u_b}` (module docstring); every entry is
    computed separately, none is copied from its transpose.

    Parameters
    ----------
    N
        Number of spins, ``1 <= N <= 4``.
    J
        Couplings, as in :func:`symbolic_neg_energy`; the derivative is taken at
        the symbols and then evaluated at ``J``.

    Returns
    -------
    sympy.Matrix, shape (2^N - 1, 2^N - 1)
        Row/column ``i`` is subset ``S = i + 1``; the twin of
        ``theory.fisher(theory.prob(J))``.
    """
    N = _check_n(N)
    core = _core(N)
    return sp.Matrix(core.fisher.xreplace(_in_couplings(core, J)))


# --------------------------------------------------------------------------- numeric twin


@dataclass(frozen=True)
class NumericTwin:
    r"""Lambdified symbolic twin of the effective model for one N (Claim C1).

    Build it with :func:`lambdify_twin`. The methods take one coupling vector
    ``J`` of length ``2^N`` in the package convention (``J[0]`` ignored) and
    return float64 arrays shaped like the numpy route. They evaluate
    :math:`e^{u_b}` directly, so ``sum_{S != 0} |J_S|`` must not exceed
    :data:`MAX_TWIN_ABS_COUPLING`.

    Attributes
    ----------
    N
        Number of spins, ``1 <= N <= 4``.
    G_fn
        Lambdified ``J[1:] -> [G_S for S in 0 .. 2^N - 1]``, the character sums
        :math:`G_S = \sum_b \chi_S(b) e^{u_b}`.
    log_partition_fn, moments_fn, fisher_fn
        Lambdified functions of the list of ``G_S`` returning :math:`\log Z`, the
        ``2^N`` moments, and the ``(2^N - 1) x (2^N - 1)`` Fisher matrix.
    """

    N: int
    G_fn: Callable[..., Any] = field(repr=False)
    log_partition_fn: Callable[..., Any] = field(repr=False)
    moments_fn: Callable[..., Any] = field(repr=False)
    fisher_fn: Callable[..., Any] = field(repr=False)

    def __post_init__(self) -> None:
        _check_n(self.N)
        for name in ("G_fn", "log_partition_fn", "moments_fn", "fisher_fn"):
            if not callable(getattr(self, name)):
                raise ValueError(f"NumericTwin.{name} must be callable")

    def _G(self, J: ArrayLike) -> list[Any]:
        x = as_float_array(J, "J")
        n = 2**self.N
        if x.shape != (n,):
            raise ValueError(
                f"J must be one coupling vector of shape (2^N,) = ({n},) for the N={self.N} twin, "
                f"got shape {x.shape}"
            )
        total = float(np.sum(np.abs(x[1:])))
        if total > MAX_TWIN_ABS_COUPLING:
            raise ValueError(
                f"sum_(S != 0) |J_S| = {total:.4g} exceeds {MAX_TWIN_ABS_COUPLING:g}: the symbolic "
                "twin evaluates exp(u) directly and would overflow; use theory.log_partition "
                "(log-sum-exp) for large couplings"
            )
        return list(self.G_fn(x[1:]))

    def log_partition(self, J: ArrayLike) -> NDArray[np.float64]:
        r""":math:`\log Z(J)` as a 0-d float64 array (like :func:`theory.log_partition`)."""
        return np.asarray(self.log_partition_fn(self._G(J)), dtype=np.float64)

    def moments(self, J: ArrayLike) -> NDArray[np.float64]:
        """Moments ``m_S``, shape ``(2^N,)`` with ``m_0 = 1`` (like ``theory.moments(theory.prob(J))``)."""
        return np.asarray(self.moments_fn(self._G(J)), dtype=np.float64).reshape(2**self.N)

    def fisher(self, J: ArrayLike) -> NDArray[np.float64]:
        """Fisher matrix, shape ``(2^N - 1, 2^N - 1)`` (like ``theory.fisher(theory.prob(J))``)."""
        n = 2**self.N
        return np.asarray(self.fisher_fn(self._G(J)), dtype=np.float64).reshape(n - 1, n - 1)


def lambdify_twin(N: int) -> NumericTwin:
    """Numpy callables generated from the symbolic twin, cached per N (Claim C1).

    Parameters
    ----------
    N
        Number of spins, ``1 <= N <= 4``.

    Returns
    -------
    NumericTwin
        ``log_partition(J)``, ``moments(J)`` and ``fisher(J)`` built with
        ``sympy.lambdify(..., modules="numpy", cse=True)`` from the expressions
        of :func:`symbolic_log_partition`, :func:`symbolic_moments` and
        :func:`symbolic_fisher`. The first call for N = 4 takes about a second.
    """
    return _lambdify_twin(_check_n(N))


@lru_cache(maxsize=MAX_N_SYMBOLIC)
def _lambdify_twin(N: int) -> NumericTwin:
    core = _core(N)

    def lam(args: Sequence[sp.Symbol], expr: Any) -> Callable[..., Any]:
        return sp.lambdify([list(args)], expr, modules="numpy", cse=True)

    return NumericTwin(
        N=N,
        G_fn=lam(core.J, list(core.G_of_J)),
        log_partition_fn=lam(core.G, core.log_partition),
        moments_fn=lam(core.G, list(core.moments)),
        fisher_fn=lam(core.G, core.fisher),
    )
