r"""Restricted Boltzmann machines with the hidden layer marginalised exactly.

An RBM with ``N`` visible spins and ``M`` hidden units has, after summing over
the hidden configurations (docs/theory.md §3, family 3; Decelle, Furtlehner,
Navas Gómez, Seoane, SciPost Phys. 16, 095 (2024)),

.. math::

    u_\theta(s) = a \cdot s + \sum_{\mu=1}^{M} f\big(h_\mu(s)\big), \qquad
    h_\mu(s) = c_\mu + \sum_i s_i W_{i\mu},

with :math:`f(h) = \log(2\cosh h)` for hidden spins :math:`\sigma_\mu \in \{-1,+1\}`
(``hidden="spin"``) and :math:`f(h) = \log(1 + e^h)` (softplus) for hidden bits
:math:`\tau_\mu \in \{0,1\}` (``hidden="bit"``), since
:math:`\sum_{\sigma=\pm1} e^{h\sigma} = 2\cosh h` and :math:`\sum_{\tau=0,1} e^{h\tau} = 1 + e^h`.

The parameter vector is ``theta = concat(a (N), c (M), W (N x M, row-major))``,
i.e. ``W[i, mu]`` sits at index ``N + M + i*M + mu``.

Spin and bit hidden units are related exactly: :math:`\log(1+e^h) = h/2 + \log(2\cosh(h/2))`,
so ``RBM-bit(a, c, W)`` equals ``RBM-spin(a + W 1 / 2, c / 2, W / 2)`` up to the
constant :math:`\sum_\mu c_\mu / 2` (which cancels in ``log p``).

Glossary: ``N`` visible spins, ``M`` hidden units, ``a`` visible fields,
``c`` hidden biases, ``W`` weights, ``h`` hidden inputs (state axis last as
``hT``, shape ``(..., M, 2^N)``), ``f``, ``f1 = f'``, ``f2 = f''``, ``D`` the
weighted curvature ``w(s) f''(h_mu(s))``, ``q`` a target distribution.
"""

from __future__ import annotations

import numpy as np
from dsb_verifier.theory._validation import check_memory, check_n
from dsb_verifier.theory.models.base import EnergyModel, _gaussian_init
from dsb_verifier.theory.walsh import wht
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit

__all__ = ["RBM", "rbm_teacher"]

_HIDDEN_KINDS = ("spin", "bit")

#: Float64 entries of the per-block hidden-input array in the energy kernel.
_STATE_BLOCK_ENTRIES = 2**18

#: Number of float64 entries of the per-chunk pair-product array in the Hessian kernel.
_HESS_CHUNK_ENTRIES = 2**22


def _check_n_hidden(n_hidden: object) -> int:
    if isinstance(n_hidden, bool) or not isinstance(n_hidden, int | np.integer) or int(n_hidden) < 1:
        raise ValueError(f"n_hidden must be a positive integer number of hidden units, got {n_hidden!r}")
    return int(n_hidden)


def _weighted_outer_sums(D: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.float64]:
    r"""``out[j, k, l] = sum_s D[j, s] x[s, k] x[s, l]`` for ``D (J, 2^N)``, ``x (2^N, K)``.

    One matrix product per chunk of states against the pair products
    :math:`x_k x_l`, so the cost is ``O(2^N K^2 J)`` and the extra memory is
    bounded by :data:`_HESS_CHUNK_ENTRIES` float64 entries.
    """
    n, K = x.shape
    out = np.zeros((D.shape[0], K * K))
    step = max(1, _HESS_CHUNK_ENTRIES // (K * K))
    for lo in range(0, n, step):
        xc = x[lo : lo + step]
        out += D[:, lo : lo + step] @ (xc[:, :, None] * xc[:, None, :]).reshape(xc.shape[0], K * K)
    return out.reshape(D.shape[0], K, K)


def _sech2(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``1 - tanh(x)^2 = 4 e / (1 + e)^2`` with ``e = exp(-2|x|)`` (no cancellation)."""
    e = np.exp(-2.0 * np.abs(x))
    return 4.0 * e / (1.0 + e) ** 2


class RBM(EnergyModel):
    r"""RBM over ``n_visible`` spins with ``n_hidden`` hidden units, marginalised exactly.

    .. math:: u_\theta(s) = a\cdot s + \sum_\mu f(c_\mu + s\cdot W_{:\mu})

    with :math:`f = \log 2\cosh` (``hidden="spin"``, family ``"rbm-spin"``) or
    :math:`f = \log(1 + e^{h})` (``hidden="bit"``, family ``"rbm-bit"``); see
    Decelle, Furtlehner, Navas Gómez, Seoane, SciPost Phys. 16, 095 (2024) for
    the RBM -> effective-couplings mapping this serves (Claim C1).

    Parameters
    ----------
    n_visible
        Number of visible spins ``N``.
    n_hidden
        Number of hidden units ``M >= 1``.
    hidden
        ``"spin"`` (hidden units in {-1, +1}) or ``"bit"`` (hidden units in {0, 1}).

    Notes
    -----
    Layout ``theta = concat(a (N,), c (M,), W (N, M) row-major)``. Everything
    is computed in float64 with the stable forms
    :math:`\log 2\cosh x = |x| + \mathrm{log1p}(e^{-2|x|})` and
    ``softplus = logaddexp(0, x)``, so weights of any finite size give finite
    energies, gradients and Hessians.
    """

    def __init__(self, n_visible: int, n_hidden: int, hidden: str = "spin") -> None:
        super().__init__(n_visible)
        self.n_hidden = _check_n_hidden(n_hidden)
        if not isinstance(hidden, str) or hidden not in _HIDDEN_KINDS:
            raise ValueError(f"hidden must be 'spin' or 'bit', got {hidden!r}")
        self.hidden = hidden
        self.family = f"rbm-{hidden}"

    # ---- layout -------------------------------------------------------------
    @property
    def layout(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """``(("a", (N,)), ("c", (M,)), ("W", (N, M)))``."""
        N, M = self.n_visible, self.n_hidden
        return (("a", (N,)), ("c", (M,)), ("W", (N, M)))

    def _split(
        self, theta: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Views ``a (..., N)``, ``c (..., M)``, ``W (..., N, M)`` of an already valid ``theta``."""
        N, M = self.n_visible, self.n_hidden
        a = theta[..., :N]
        c = theta[..., N : N + M]
        W = theta[..., N + M :].reshape(theta.shape[:-1] + (N, M))
        return a, c, W

    def _hidden_input(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """``hT[..., mu, b] = c_mu + sum_i s_i(b) W_{i mu}``, shape ``(..., M, 2^N)``."""
        _, c, W = self._split(theta)
        return np.swapaxes(W, -1, -2) @ self._sT + c[..., :, None]

    def _f1(self, h: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.tanh(h) if self.hidden == "spin" else expit(h)

    def _f2(self, h: NDArray[np.float64]) -> NDArray[np.float64]:
        return _sech2(h) if self.hidden == "spin" else expit(h) * expit(-h)

    # ---- analytic kernels ---------------------------------------------------
    def _neg_energy(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """``u = a.s + sum_mu f(h_mu)`` over all states, ``(..., P) -> (..., 2^N)``.

        Evaluated over blocks of states with in-place stable forms, so the extra
        memory is one ``(M, block)`` array instead of ``(M, 2^N)``.
        """
        a, c, W = self._split(theta)
        u = a @ self._sT
        WT = np.swapaxes(W, -1, -2)
        step = max(1, _STATE_BLOCK_ENTRIES // self.n_hidden)
        for lo in range(0, 2**self.n_visible, step):
            h = WT @ self._sT[:, lo : lo + step]
            h += c[..., :, None]
            u[..., lo : lo + step] += self._f_sum_inplace(h)
        return u

    def _f_sum_inplace(self, h: NDArray[np.float64]) -> NDArray[np.float64]:
        """``sum_mu f(h_mu)`` over the hidden axis (-2), overwriting ``h``."""
        if self.hidden == "spin":  # log 2cosh x = |x| + log1p(exp(-2|x|))
            np.abs(h, out=h)
            t = np.multiply(h, -2.0)
        else:  # softplus x = max(x, 0) + log1p(exp(-|x|))
            t = -np.abs(h)
            np.maximum(h, 0.0, out=h)
        np.exp(t, out=t)
        np.log1p(t, out=t)
        h += t
        return h.sum(axis=-2)

    def _grad_neg_energy(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        r"""``du/dtheta`` over all states, ``(..., P) -> (..., P, 2^N)``.

        :math:`\partial u/\partial a_i = s_i`, :math:`\partial u/\partial c_\mu = f'(h_\mu)`,
        :math:`\partial u/\partial W_{i\mu} = s_i f'(h_\mu)`.
        """
        N, M, n = self.n_visible, self.n_hidden, 2**self.n_visible
        lead = theta.shape[:-1]
        check_memory(  # G, and the hidden inputs and f' alive together while f' is formed
            8 * (int(np.prod(lead, dtype=np.int64)) * (self.n_params + 2 * M) * n),
            f"du/dtheta of {self!r} for theta of shape {theta.shape}",
        )
        sT = self._sT
        f1 = self._f1(self._hidden_input(theta))  # (..., M, n)
        G = np.empty(lead + (self.n_params, n))
        G[..., :N, :] = sT
        G[..., N : N + M, :] = f1
        GW = G[..., N + M :, :].reshape(lead + (N, M, n))  # a view: splits one contiguous axis
        np.multiply(sT[:, None, :], f1[..., None, :, :], out=GW)
        return G

    def _weighted_grad(self, theta: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
        r""":math:`\sum_s w(s)\,\partial u/\partial\theta` in ``O(2^N N M)`` without ``du/dtheta``."""
        f1w = self._f1(self._hidden_input(theta)) * w  # (M, n)
        return np.concatenate([self._sT @ w, f1w.sum(axis=-1), (self._sT @ f1w.T).ravel()])

    def jacobian(self, theta: ArrayLike) -> NDArray[np.float64]:
        r"""Jacobian :math:`A = \partial J/\partial\theta`, shape ``(..., 2^N - 1, P)`` (Claim C1).

        Same result as :meth:`EnergyModel.jacobian` (the Walsh transform of
        ``du/dtheta``), computed with ``M`` transforms instead of ``P``: since
        :math:`s_i \chi_S = \chi_{S \oplus \{i\}}`, the column of ``W[i, mu]`` is the
        column of ``c_mu``, :math:`F_\mu = 2^{-N}\,\mathrm{wht}(f'(h_\mu))`, with
        subsets permuted by ``S -> S xor (1 << i)``; the column of ``a_i`` is the
        indicator of ``S = {i}``. Row ``k`` is subset ``S = k + 1``.
        """
        th = self.check_theta(theta)
        N, M, n = self.n_visible, self.n_hidden, 2**self.n_visible
        lead = th.shape[:-1]
        check_memory(
            8 * (int(np.prod(lead, dtype=np.int64)) * (self.n_params + 4 * M) * n),
            f"the Jacobian of {self!r} for theta of shape {th.shape}",
        )
        F = wht(self._f1(self._hidden_input(th))) / 2.0**N  # (..., M, n)
        Ahat = np.zeros(lead + (self.n_params, n))
        Ahat[..., np.arange(N), 1 << np.arange(N)] = 1.0
        Ahat[..., N : N + M, :] = F
        AW = Ahat[..., N + M :, :].reshape(lead + (N, M, n))  # a view: splits one contiguous axis
        for i in range(N):
            # S -> S xor (1 << i) reverses the axis of bit i: copy through (..., hi, bit i, lo) views
            split = lead + (M, n >> (i + 1), 2, 1 << i)
            AW[..., i, :, :].reshape(split)[...] = F.reshape(split)[..., ::-1, :]
        return np.swapaxes(Ahat[..., 1:], -1, -2)

    def _weighted_hessian(self, theta: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
        r"""``sum_s w(s) d^2u(s)/dtheta^2``, shape ``(P, P)`` (Claim C4).

        Only the ``(c_mu, W_{:mu})`` block of each hidden unit is nonzero:
        :math:`\sum_s w(s) f''(h_\mu(s))\, x(s) x(s)^T` with :math:`x = (1, s)`.
        Cost ``O(2^N N^2 M)`` as matrix products over chunks of states; no
        ``(P, P, 2^N)`` array is formed.
        """
        N, M = self.n_visible, self.n_hidden
        D = self._f2(self._hidden_input(theta)) * w  # (M, 2^N)
        x = np.concatenate([np.ones((2**N, 1)), self._s], axis=1)  # (1, s) per state
        K = _weighted_outer_sums(D, x)  # (M, N + 1, N + 1)
        mu = np.arange(M)  # unit mu's parameters: c_mu, then W[i, mu] for i = 0..N-1
        idx = np.concatenate([(N + mu)[:, None], N + M + np.arange(N)[None, :] * M + mu[:, None]], axis=1)
        H = np.zeros((self.n_params, self.n_params))
        H[idx[:, :, None], idx[:, None, :]] = K
        return H

    # ---- parameters ---------------------------------------------------------
    def init(self, rng: np.random.Generator, scale: float) -> NDArray[np.float64]:
        r"""All parameters i.i.d. :math:`\mathcal{N}(0, \mathrm{scale}^2)`: ``a``, ``c`` and ``W``.

        ``scale`` is the typical size of every entry (no fan-in rescaling), so
        ``scale -> 0`` is the small-initialisation regime of Claim C5.
        """
        return _gaussian_init(self, rng, scale)

    def fields_matching(self, q: ArrayLike, c: ArrayLike | None = None) -> NDArray[np.float64]:
        r"""The independent-site point matching ``q``'s magnetisations (spurious point of Claim C3).

        Returns ``theta`` with ``W = 0``, hidden biases ``c`` (default 0) and
        :math:`a_i = \operatorname{atanh} m_i(q)`, :math:`m_i(q) = E_q[s_i]`. With
        ``W = 0`` the hidden term :math:`\sum_\mu f(c_\mu)` is a constant for
        hidden spins and bits alike, so :math:`p_\theta(s) = \prod_i (1 + m_i s_i)/2`
        has exactly the order-1 moments of ``q``. It is stationary for the
        likelihood: at ``W = 0``, ``du/dtheta`` is affine in ``s``, so every column
        of ``A`` lives on the order-1 subsets, where the residual ``r`` vanishes;
        hence ``A^T r = 0``. It is spurious whenever ``q`` is not a product
        distribution (``r != 0`` at higher orders).

        Parameters
        ----------
        q
            Strictly positive target over the model's ``2^N`` visible states.
        c
            Optional hidden biases, shape ``(M,)``; any value gives the same
            visible marginal.
        """
        qq = self.check_target(q)
        if qq.ndim != 1:
            raise ValueError(f"fields_matching takes one target of shape (2^N,), got {qq.shape}")
        m = self._s.T @ qq
        cc = np.zeros(self.n_hidden) if c is None else c
        return self.pack(a=np.arctanh(m), c=cc, W=np.zeros((self.n_visible, self.n_hidden)))

    def __repr__(self) -> str:
        return (
            f"RBM(n_visible={self.n_visible}, n_hidden={self.n_hidden}, "
            f"hidden={self.hidden!r}, P={self.n_params})"
        )


def rbm_teacher(
    N: int, M: int, rng: np.random.Generator, scale: float, hidden: str = "spin"
) -> tuple[RBM, NDArray[np.float64], NDArray[np.float64]]:
    r"""A teacher RBM and its visible marginal, a target the same family can fit exactly.

    Teacher–student targets test "sufficient expressivity" (docs/theory.md §3):
    a student :class:`RBM` of the same size has a data-consistent point (Claim C3).

    Parameters
    ----------
    N, M
        Visible and hidden sizes.
    rng
        Source of randomness (parameters from :meth:`RBM.init`).
    scale
        Standard deviation of every teacher parameter.
    hidden
        ``"spin"`` or ``"bit"``.

    Returns
    -------
    model : RBM
    theta : ndarray, shape ``(P,)``
        The teacher's parameters.
    q : ndarray, shape ``(2^N,)``
        ``model.prob(theta)``, strictly positive and normalised.

    Raises
    ------
    ValueError
        If the teacher is so peaked that some probability underflows to zero
        (``q`` would not be a valid, strictly positive target): lower ``scale``.
    """
    model = RBM(check_n(N, "N"), M, hidden=hidden)
    theta = model.init(rng, scale)
    q = model.prob(theta)
    if not np.all(q > 0):
        raise ValueError(
            f"teacher with scale={scale!r} gives probabilities that underflow to 0 "
            f"(min log p = {model.log_prob(theta).min():.3g}); use a smaller scale"
        )
    return model, theta, q
