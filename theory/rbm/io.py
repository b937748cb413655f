r"""RBM parameters as stored by training codes, converted exactly to :class:`theory.RBM`.

Training codes (e.g. the public ``rbms`` package) store an RBM as three arrays,

* ``weight_matrix`` :math:`W`, shape ``(Nv, Nh)``,
* ``vbias`` :math:`b`, shape ``(Nv,)``,
* ``hbias`` :math:`d`, shape ``(Nh,)``,

with the energy :math:`E(v, h) = -b\cdot v - d\cdot h - v^\top W h` and units
:math:`v, h` that are either Bernoulli, :math:`\{0, 1\}` (``"bernoulli"``, the
default of RBM codes), or Ising, :math:`\{-1, +1\}` (``"spin"``). This module
holds only the mathematics of that conversion; reading files is
:mod:`dsb_verifier.checks.cli.io`.

Derivation (exact; docs/theory.md §1, §3)
-------------------------------------------
Marginalising the hidden units of :math:`p(v, h) \propto e^{-E(v, h)}` gives
:math:`p(v) \propto e^{u(v)}` with

.. math::

    u(v) = b\cdot v + \sum_\mu f\Big(d_\mu + \sum_i v_i W_{i\mu}\Big), \qquad
    f(x) = \log \sum_{h} e^{x h} =
    \begin{cases} \log(1 + e^x) & h \in \{0, 1\} \text{ (softplus)} \\
                  \log(2\cosh x) & h \in \{-1, +1\}, \end{cases}

the two hidden functions of :class:`theory.RBM` (``hidden="bit"`` and
``hidden="spin"``). For Bernoulli visible units substitute the one mapping of
the project, :func:`theory.spins_from_bits` / :func:`theory.bits_from_spins`:
:math:`v_i = \alpha + \beta s_i` with :math:`\alpha = \beta = 1/2`
(:math:`v = 1` is spin up). Then

.. math::

    b\cdot v = \alpha \textstyle\sum_i b_i + \beta\, b\cdot s, \qquad
    d_\mu + \sum_i v_i W_{i\mu}
      = \underbrace{d_\mu + \alpha \textstyle\sum_i W_{i\mu}}_{c'_\mu}
        + \sum_i s_i \underbrace{\beta W_{i\mu}}_{W'_{i\mu}},

so :math:`u(v(s)) = a'\cdot s + \sum_\mu f(c'_\mu + s\cdot W'_{:\mu}) + \alpha\sum_i b_i`
with

.. math:: a' = b/2, \qquad c' = d + \tfrac12 \textstyle\sum_i W_{i\,:}, \qquad W' = W/2 .

The constant :math:`\alpha \sum_i b_i` cancels in :math:`\log p`, so the visible
marginal — hence every effective coupling :math:`J_S`, ``S != 0`` — is the
same; ``J_0 = -log Z`` is the normalisation of ``p`` and is therefore also
identical. Hidden units never need converting: their convention only selects
``f``. Spin visible units need no substitution: ``a' = b``, ``c' = d``, ``W' = W``.
The identity is tested by brute force over ``(v, h)`` in ``tests/test_rbm_io.py``.

Glossary: ``Nv``/``Nh`` visible/hidden sizes, ``W`` weight matrix, ``b`` visible
bias (``vbias``), ``d`` hidden bias (``hbias``), ``(a, c, W')`` the spin-RBM
parameters of :class:`theory.RBM`, ``theta`` their concatenation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from dsb_verifier.theory._validation import as_float_array
from dsb_verifier.theory.binary import bits_from_spins
from dsb_verifier.theory.models.rbm import RBM
from numpy.typing import NDArray

__all__ = ["UNITS", "RBMParams", "parse_units", "rbm_from_params"]

#: Unit conventions of stored RBMs: 0/1 Bernoulli units or ±1 Ising spins.
UNITS: tuple[str, str] = ("bernoulli", "spin")

#: ``theory.RBM``'s ``hidden`` argument for each hidden-unit convention.
_HIDDEN_KIND = {"bernoulli": "bit", "spin": "spin"}


def _affine_bits_of_spins() -> tuple[float, float]:
    r"""``(alpha, beta)`` with :math:`x = \alpha + \beta s`, read off the project's one mapping.

    Derived from :func:`theory.bits_from_spins` (the inverse of
    :func:`theory.spins_from_bits`) rather than written down again, so the
    conversion follows docs/theory.md §1 by construction.
    """
    x_minus, x_plus = (float(v) for v in bits_from_spins(np.array([-1, 1])))
    return (x_plus + x_minus) / 2.0, (x_plus - x_minus) / 2.0


def parse_units(spec: str) -> tuple[str, str]:
    """Parse a unit convention into ``(visible, hidden)``.

    Parameters
    ----------
    spec
        ``"bernoulli"`` or ``"spin"`` (both layers), or ``"VISIBLE,HIDDEN"``
        for mixed layers, e.g. ``"bernoulli,spin"`` (0/1 visible units and ±1
        hidden units). Case-insensitive; surrounding spaces are ignored.

    Raises
    ------
    ValueError
        On any other value, naming the accepted ones.
    """
    if not isinstance(spec, str):
        raise ValueError(f"units must be a string such as 'bernoulli' or 'spin', got {spec!r}")
    parts = [p.strip().lower() for p in spec.split(",")]
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or any(p not in UNITS for p in parts):
        raise ValueError(
            f"units must be 'bernoulli' (0/1 units), 'spin' (±1 units) or 'VISIBLE,HIDDEN' "
            f"such as 'bernoulli,spin'; got {spec!r}"
        )
    return parts[0], parts[1]


@dataclass(frozen=True)
class RBMParams:
    r"""An RBM as stored by training codes: :math:`E = -b\cdot v - d\cdot h - v^\top W h`.

    Attributes
    ----------
    weight_matrix
        :math:`W`, shape ``(Nv, Nh)``.
    vbias
        :math:`b`, shape ``(Nv,)``.
    hbias
        :math:`d`, shape ``(Nh,)``.
    visible, hidden
        Unit conventions, each ``"bernoulli"`` ({0, 1}) or ``"spin"`` ({-1, +1}).

    The arrays are validated (finite, real, consistent shapes) and stored as
    read-only float64 copies.
    """

    weight_matrix: NDArray[np.float64]
    vbias: NDArray[np.float64]
    hbias: NDArray[np.float64]
    visible: str = "bernoulli"
    hidden: str = "bernoulli"

    def __post_init__(self) -> None:
        W = as_float_array(self.weight_matrix, "weight_matrix", min_ndim=0)
        b = as_float_array(self.vbias, "vbias", min_ndim=0)
        d = as_float_array(self.hbias, "hbias", min_ndim=0)
        if W.ndim != 2 or W.shape[0] < 1 or W.shape[1] < 1:
            raise ValueError(f"weight_matrix must have shape (Nv, Nh) with Nv, Nh >= 1, got shape {W.shape}")
        Nv, Nh = W.shape
        if b.shape != (Nv,):
            raise ValueError(f"vbias must have shape (Nv,) = ({Nv},) to match weight_matrix, got {b.shape}")
        if d.shape != (Nh,):
            raise ValueError(f"hbias must have shape (Nh,) = ({Nh},) to match weight_matrix, got {d.shape}")
        for name in ("visible", "hidden"):
            if getattr(self, name) not in UNITS:
                raise ValueError(f"{name} units must be one of {UNITS}, got {getattr(self, name)!r}")
        for name, arr in (("weight_matrix", W), ("vbias", b), ("hbias", d)):
            arr = np.array(arr, dtype=np.float64)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def n_visible(self) -> int:
        """Number of visible units ``Nv``."""
        return int(self.weight_matrix.shape[0])

    @property
    def n_hidden(self) -> int:
        """Number of hidden units ``Nh``."""
        return int(self.weight_matrix.shape[1])

    def spin_parameters(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        r"""``(a, c, W')`` of the same visible marginal over spins (module docstring).

        Bernoulli visible units: :math:`a = b/2`, :math:`c = d + \sum_i W_{i:}/2`,
        :math:`W' = W/2`; spin visible units: unchanged. Exact up to the
        additive constant :math:`\sum_i b_i / 2`, which cancels in ``log p``.
        """
        W, b, d = self.weight_matrix, self.vbias, self.hbias
        if self.visible == "spin":
            return b.copy(), d.copy(), W.copy()
        alpha, beta = _affine_bits_of_spins()
        return beta * b, d + alpha * W.sum(axis=0), beta * W


def rbm_from_params(params: RBMParams) -> tuple[RBM, NDArray[np.float64]]:
    """The :class:`theory.RBM` and parameter vector with the same visible marginal.

    Parameters
    ----------
    params
        Stored parameters and their unit conventions.

    Returns
    -------
    model : RBM
        ``RBM(Nv, Nh, hidden="bit")`` for Bernoulli hidden units, ``hidden="spin"``
        for ±1 hidden units.
    theta : ndarray, shape ``(P,)``
        ``concat(a, c, W')`` from :meth:`RBMParams.spin_parameters`; then
        ``model.prob(theta)[b]`` is the probability of the 0/1 configuration
        ``v = bits_from_spins(states(Nv)[b])``.

    Raises
    ------
    ValueError
        If ``Nv > 24`` (:class:`theory.RBM` enumerates all ``2^Nv`` states).
    """
    if not isinstance(params, RBMParams):
        raise ValueError(f"params must be an RBMParams, got {type(params).__name__}")
    model = RBM(params.n_visible, params.n_hidden, hidden=_HIDDEN_KIND[params.hidden])
    a, c, W = params.spin_parameters()
    return model, model.pack(a=a, c=c, W=W)
