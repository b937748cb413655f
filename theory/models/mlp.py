r"""Feed-forward tanh energy networks: a generic neural energy (docs/theory.md §3, family 4).

One hidden layer (family ``"tanh-1"``) and two hidden layers (``"tanh-2"``):

.. math::

    u_\theta(s) = v \cdot \tanh(W_1 s + b_1), \qquad
    u_\theta(s) = v \cdot \tanh\big(W_2 \tanh(W_1 s + b_1) + b_2\big).

There is no output bias: it would add the same constant to ``u`` at every
state, which cancels in :math:`\log p_\theta` and in every coupling
:math:`J_{S \ne 0}`, so it would only add an exactly neutral direction.

Layout (row-major blocks, in this order): ``W1 (H1, N)``, ``b1 (H1,)``,
[``W2 (H2, H1)``, ``b2 (H2,)``], ``v (H_last,)``.

Derivatives are by hand-written back-propagation, vectorised over all ``2^N``
states. The exact weighted Hessian :math:`\sum_s w(s)\nabla^2_\theta u_\theta(s)`
(Claim C4) is analytic for one layer; for two layers it is the complex-step
derivative of the analytic weighted gradient :math:`g(\theta) = \sum_s w(s)\,\partial_\theta u_\theta(s)`,

.. math:: H_{:, j} = \operatorname{Im} g(\theta + i\,\eta\, e_j) / \eta, \qquad \eta = 10^{-30},

which is exact to machine precision because ``g`` is complex-analytic (tanh
and polynomials) and involves no subtraction (Squire & Trapp, SIAM Rev. 40,
110 (1998); Martins, Sturdza, Alonso, ACM TOMS 29, 245 (2003)).

Glossary: ``N`` visible spins, ``H1``/``H2`` hidden widths, ``z`` pre-activations
and ``a`` activations (state axis last: shape ``(..., H, 2^N)``), ``d`` the
back-propagated ``du/dz``, ``w`` weights over states, ``g`` weighted gradient.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np
from dsb_verifier.theory._validation import check_memory
from dsb_verifier.theory.models.base import EnergyModel, _gaussian_init
from dsb_verifier.theory.models.rbm import _weighted_outer_sums
from numpy.typing import NDArray

__all__ = ["TanhNetwork"]

#: Step of the complex-step derivative; any value far below sqrt(tiny) works.
_COMPLEX_STEP = 1e-30

#: Bytes of complex working memory allowed per batch of complex-step directions.
_CSTEP_CHUNK_BYTES = 2**27


def _check_hidden(hidden: object) -> tuple[int, ...]:
    msg = "hidden must be a tuple of one or two positive integer widths, e.g. (8,) or (8, 4)"
    if not isinstance(hidden, Sequence) or isinstance(hidden, str) or not 1 <= len(hidden) <= 2:
        raise ValueError(f"{msg}; got {hidden!r}")
    for h in hidden:
        if isinstance(h, bool) or not isinstance(h, int | np.integer) or int(h) < 1:
            raise ValueError(f"{msg}; got {hidden!r}")
    return tuple(int(h) for h in hidden)


class TanhNetwork(EnergyModel):
    r"""Tanh network energy with one or two hidden layers (no output bias).

    .. math::

        u(s) = v\cdot\tanh(W_1 s + b_1) \quad\text{or}\quad
        u(s) = v\cdot\tanh(W_2\tanh(W_1 s + b_1) + b_2)

    A generic neural parameterisation for Claims C1 (couplings and Jacobians as
    Walsh transforms of ``u`` and ``du/dtheta``) and C3–C5 (fixed points,
    Hessians, hierarchy with a non-constant Jacobian).

    Parameters
    ----------
    n_visible
        Number of visible spins ``N``.
    hidden
        Hidden widths, ``(H1,)`` (family ``"tanh-1"``) or ``(H1, H2)`` (``"tanh-2"``).
    """

    def __init__(self, n_visible: int, hidden: Sequence[int]) -> None:
        super().__init__(n_visible)
        self.hidden = _check_hidden(hidden)
        self.n_layers = len(self.hidden)
        self.family = f"tanh-{self.n_layers}"

    @property
    def layout(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """``W1 (H1, N), b1 (H1,)``, then ``W2 (H2, H1), b2 (H2,)`` for two layers, then ``v``."""
        N, H1 = self.n_visible, self.hidden[0]
        out: tuple[tuple[str, tuple[int, ...]], ...] = (("W1", (H1, N)), ("b1", (H1,)))
        if self.n_layers == 2:
            H2 = self.hidden[1]
            out += (("W2", (H2, H1)), ("b2", (H2,)))
        return (*out, ("v", (self.hidden[-1],)))

    @cached_property
    def _slices(self) -> dict[str, slice]:
        """Position of each block of :attr:`layout` in ``theta``."""
        out: dict[str, slice] = {}
        start = 0
        for name, shape in self.layout:
            size = int(np.prod(shape))
            out[name] = slice(start, start + size)
            start += size
        return out

    def _split(self, theta: NDArray[Any]) -> dict[str, NDArray[Any]]:
        """Blocks of an already valid (possibly complex) ``theta``, as views."""
        shapes = dict(self.layout)
        return {
            name: theta[..., s].reshape(theta.shape[:-1] + shapes[name]) for name, s in self._slices.items()
        }

    def _forward(self, theta: NDArray[Any]) -> tuple[dict[str, NDArray[Any]], list[NDArray[Any]]]:
        """Blocks and the activations ``[s^T, a1, (a2)]``, each ``(..., H, 2^N)``."""
        p = self._split(theta)
        acts = [self._sT]
        a = np.tanh(p["W1"] @ self._sT + p["b1"][..., :, None])
        acts.append(a)
        if self.n_layers == 2:
            acts.append(np.tanh(p["W2"] @ a + p["b2"][..., :, None]))
        return p, acts

    def _work_bytes(self, theta: NDArray[Any]) -> int:
        batch = max(theta.size // self.n_params, 1)
        return theta.itemsize * batch * (self.n_params + 4 * sum(self.hidden)) * 2**self.n_visible

    # ---- analytic kernels ---------------------------------------------------
    def _neg_energy(self, theta: NDArray[Any]) -> NDArray[Any]:
        check_memory(
            theta.itemsize * max(theta.size // self.n_params, 1) * 3 * sum(self.hidden) * 2**self.n_visible,
            f"neg_energy of {self!r} for theta of shape {theta.shape}",
        )
        p, acts = self._forward(theta)
        return (p["v"][..., None, :] @ acts[-1])[..., 0, :]

    def _backprop(self, theta: NDArray[Any], w: NDArray[np.float64] | None) -> NDArray[Any]:
        r"""``du/dtheta`` over states ``(..., P, 2^N)``, or its ``w``-weighted sum ``(..., P)``.

        Works for real and complex ``theta`` (no ``abs``/``conj``), which the
        complex-step Hessian relies on.
        """
        p, acts = self._forward(theta)
        lead, n = theta.shape[:-1], 2**self.n_visible
        out = np.empty(lead + ((self.n_params, n) if w is None else (self.n_params,)), dtype=theta.dtype)
        sl = self._slices

        def outer(name: str, d: NDArray[Any], x: NDArray[Any]) -> None:
            # du/dM[h, k] = d_h x_k per state, for M of shape (H, X), d (..., H, n), x (..., X, n)
            if w is None:
                view = out[..., sl[name], :].reshape(lead + (d.shape[-2], x.shape[-2], n))  # a view
                np.multiply(d[..., :, None, :], x[..., None, :, :], out=view)
            else:
                out[..., sl[name]] = ((d * w) @ np.swapaxes(x, -1, -2)).reshape(lead + (-1,))

        def vec(name: str, d: NDArray[Any]) -> None:
            if w is None:
                out[..., sl[name], :] = d
            else:
                out[..., sl[name]] = d @ w

        vec("v", acts[-1])  # du/dv = a_last
        d = p["v"][..., :, None] * (1.0 - acts[-1] ** 2)  # du/dz_last
        if self.n_layers == 2:
            outer("W2", d, acts[1])
            vec("b2", d)
            d = (np.swapaxes(p["W2"], -1, -2) @ d) * (1.0 - acts[1] ** 2)  # du/dz1
        outer("W1", d, acts[0])
        vec("b1", d)
        return out

    def _grad_neg_energy(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """Back-propagated ``du/dtheta`` over all states, ``(..., P) -> (..., P, 2^N)``."""
        check_memory(2 * self._work_bytes(theta), f"du/dtheta of {self!r} for theta of shape {theta.shape}")
        return self._backprop(theta, None)

    def _weighted_grad(self, theta: NDArray[Any], w: NDArray[np.float64]) -> NDArray[Any]:
        """``g = sum_s w(s) du(s)/dtheta``, shape ``(..., P)``, without forming ``du/dtheta``."""
        return self._backprop(theta, w)

    def _weighted_hessian(self, theta: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
        r"""``sum_s w(s) d^2u(s)/dtheta^2``, shape ``(P, P)`` (Claim C4).

        One layer: analytic and block-diagonal over hidden units ``j``. With
        :math:`x = (s, 1)`, :math:`t_j = \tanh(z_j)`, the ``(W1_j, b1_j, v_j)`` block is
        :math:`\sum_s w \begin{pmatrix} v_j t_j'' x x^T & t_j' x \\ t_j' x^T & 0\end{pmatrix}`
        with :math:`t' = 1 - t^2`, :math:`t'' = -2t(1 - t^2)`.
        Two layers: complex step of :meth:`_weighted_grad` (exact to rounding).
        """
        if self.n_layers == 1:
            return self._hessian_one_layer(theta, w)
        return self._hessian_complex_step(theta, w)

    def _hessian_one_layer(self, theta: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
        N, H1 = self.n_visible, self.hidden[0]
        p, acts = self._forward(theta)
        t = acts[1]  # (H1, n)
        t1 = 1.0 - t**2
        x = np.concatenate([self._s, np.ones((2**N, 1))], axis=1)  # (n, N + 1)
        D2 = (p["v"][:, None] * (-2.0 * t * t1)) * w  # v_j t_j'' w, (H1, n)
        K = np.zeros((H1, N + 2, N + 2))
        K[:, : N + 1, : N + 1] = _weighted_outer_sums(D2, x)
        cross = (t1 * w) @ x  # (H1, N + 1)
        K[:, : N + 1, N + 1] = cross
        K[:, N + 1, : N + 1] = cross
        j = np.arange(H1)
        # parameter indices of (W1[j, 0..N-1], b1[j], v[j])
        idx = np.concatenate(
            [j[:, None] * N + np.arange(N)[None, :], (H1 * N + j)[:, None], (H1 * N + H1 + j)[:, None]],
            axis=1,
        )
        H = np.zeros((self.n_params, self.n_params))
        H[idx[:, :, None], idx[:, None, :]] = K
        return H

    def _hessian_complex_step(
        self, theta: NDArray[np.float64], w: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Complex-step Hessian of the weighted gradient, in memory-bounded batches of directions."""
        P = self.n_params
        per_dir = 16 * 4 * sum(self.hidden) * 2**self.n_visible
        chunk = max(1, _CSTEP_CHUNK_BYTES // per_dir)
        H = np.empty((P, P))
        for lo in range(0, P, chunk):
            js = np.arange(lo, min(lo + chunk, P))
            th = np.broadcast_to(theta.astype(np.complex128), (js.size, P)).copy()
            th[np.arange(js.size), js] += 1j * _COMPLEX_STEP
            H[:, js] = (self._weighted_grad(th, w).imag / _COMPLEX_STEP).T
        return 0.5 * (H + H.T)

    # ---- parameters ---------------------------------------------------------
    def init(self, rng: np.random.Generator, scale: float) -> NDArray[np.float64]:
        r"""All parameters (weights, biases and ``v``) i.i.d. :math:`\mathcal{N}(0, \mathrm{scale}^2)`.

        No fan-in rescaling: ``scale`` is the typical size of every entry, so
        ``scale -> 0`` is the small-initialisation regime of Claim C5.
        """
        return _gaussian_init(self, rng, scale)

    def __repr__(self) -> str:
        return f"TanhNetwork(n_visible={self.n_visible}, hidden={self.hidden}, P={self.n_params})"
