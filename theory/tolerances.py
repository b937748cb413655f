"""Named numerical tolerances, in one place (house rule 4, docs/development.md).

Each tolerance is derived from float64's machine epsilon and the size of the
computation, with an absolute part wherever the true value can be zero.
Tests and checks import these names instead of writing literals.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "EPS",
    "FD_RTOL",
    "INTEGRAL_RTOL",
    "ROUNDTRIP_RTOL",
    "SYMBOLIC_RTOL",
    "gaussian_routes_atol",
    "transform_atol",
]

#: Machine epsilon of float64, the working precision of every numeric route.
EPS: float = float(np.finfo(np.float64).eps)

#: Relative tolerance of exact round trips (p -> J -> p, bits -> spins -> bits).
ROUNDTRIP_RTOL: float = 1e-9

#: Relative tolerance for analytic derivatives against central finite differences
#: (truncation error O(h^2) with h ~ EPS^(1/3) leaves about 1e-10..1e-7).
FD_RTOL: float = 1e-5

#: Relative tolerance between lambdified sympy expressions and the numpy route.
SYMBOLIC_RTOL: float = 1e-10


#: Absolute error allowed of the integral route's couplings (theory.rbm.integral), as a fraction
#: of max|J| of the model: its discretisation error is <= 2^-59 per hidden unit (theory.rbm.quadrature)
#: and its rounding about N * EPS per term, so 1e-10 leaves four orders of magnitude of margin
#: at N = 784 (measured: ~1e-15 at N <= 16, docs/notes/integral.md).
INTEGRAL_RTOL: float = 1e-10


def gaussian_routes_atol(n_hidden: int, scale: float) -> float:
    """Absolute tolerance between the two Gaussian-mapping routes (x-space grid vs integral).

    ``theory.conditioned_couplings`` integrates each Gaussian expectation by the trapezoid
    rule with error ``exp(-pi^2 / GRID_SPACING) = e^-24`` (4e-11) relative to the scale of
    ``f``; the integral route's error is far below. Allow 4x that per hidden unit, times
    ``max(scale, 1)`` with ``scale`` the largest coupling.
    """
    return 4.0 * max(n_hidden, 1) * float(np.exp(-24.0)) * max(scale, 1.0)


def transform_atol(N: int, scale: float) -> float:
    """Absolute tolerance for a length-2^N transform of data of magnitude ``scale``.

    Each output sums 2^N terms: rounding grows like ``N * EPS * 2^N * scale`` in
    the worst case; we allow a factor 16 over that.
    """
    return 16.0 * max(N, 1) * EPS * 2.0**N * max(scale, 1e-300)
