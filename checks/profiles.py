"""Run profiles of the claim checks: how many cases, which N, which scales.

``quick`` is the default of ``dsb-verify run`` (about a minute on 2 cores);
``thorough`` widens every sweep (N up to 10 for RBMs, more cases, more
initialisation scales; about a quarter of an hour). ``extended`` is meant for
many cores or a cluster through the executor (``dsb-verify run --workers N`` or a
cluster's ``Executor``): the sweeps of ``thorough`` with more initialisations, and
the C5 experiment up to N = 12 (see ``checks/claims/c5/plan.py``; its cost is
stated in docs/notes/c5.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Profile", "PROFILES", "get_profile"]


@dataclass(frozen=True)
class Profile:
    """Sizes of the sweeps a claim check performs.

    Attributes
    ----------
    name
        Profile name.
    n_cases
        Generated cases per sweep (one seeded stream each, :mod:`dsb_verifier.checks.claims.cases`).
    max_n_generic
        Largest N for generic targets and the direct model.
    max_n_rbm
        Largest N for RBM experiments.
    max_n_symbolic
        Largest N for symbolic/numeric parity (sympy cost grows fast).
    n_inits
        Initialisations per (family, scale) in flow experiments.
    init_scales
        Initialisation scales swept by the hierarchy check (at least two decades).
    taus
        Settle fractions swept for the hierarchy readings.
    t_max
        Horizon of gradient flows.
    """

    name: str
    n_cases: int
    max_n_generic: int
    max_n_rbm: int
    max_n_symbolic: int
    n_inits: int
    init_scales: tuple[float, ...]
    taus: tuple[float, ...]
    t_max: float

    def __post_init__(self) -> None:
        _check_profile_types(self)
        if self.n_cases < 1 or self.n_inits < 1:
            raise ValueError("a profile needs at least one case and one initialisation")
        if self.max_n_generic < 2 or self.max_n_rbm < 2:
            raise ValueError(
                f"max_n_generic and max_n_rbm must be >= 2, got {self.max_n_generic} and {self.max_n_rbm}"
            )
        if not 1 <= self.max_n_symbolic <= 4:
            raise ValueError("max_n_symbolic must be in [1, 4]")
        if not all(math.isfinite(s) and s > 0 for s in self.init_scales):
            raise ValueError(f"init_scales must be positive and finite, got {self.init_scales!r}")
        scales = sorted(self.init_scales)
        if len(scales) < 2 or scales[-1] / scales[0] < 100:
            raise ValueError("init_scales must span at least two decades (docs/theory.md §6)")
        if not self.taus or not all(0 < t < 1 for t in self.taus):
            raise ValueError("taus must be at least one settle fraction, each in (0, 1)")
        if not (math.isfinite(self.t_max) and self.t_max > 0):
            raise ValueError(f"t_max must be positive and finite, got {self.t_max!r}")


def _check_profile_types(p: Profile) -> None:
    """Every field of ``p`` has its type (bools, strings and floats for counts are refused)."""
    if not isinstance(p.name, str):
        raise ValueError(f"Profile.name must be a string, got {p.name!r}")
    for field in ("n_cases", "max_n_generic", "max_n_rbm", "max_n_symbolic", "n_inits"):
        v = getattr(p, field)
        if isinstance(v, bool | np.bool_) or not isinstance(v, int | np.integer):
            raise ValueError(f"Profile.{field} must be an integer, got {v!r}")
    for field in ("init_scales", "taus"):
        v = getattr(p, field)
        if not isinstance(v, tuple) or not all(_is_real(x) for x in v):
            raise ValueError(f"Profile.{field} must be a tuple of real numbers, got {v!r}")
    if not _is_real(p.t_max):
        raise ValueError(f"Profile.t_max must be a real number, got {p.t_max!r}")


def _is_real(x: object) -> bool:
    return not isinstance(x, bool | np.bool_) and isinstance(x, int | float | np.integer | np.floating)


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick",
        n_cases=12,
        max_n_generic=6,
        max_n_rbm=4,
        max_n_symbolic=3,
        n_inits=3,
        init_scales=(0.01, 0.1, 1.0),
        taus=(0.1, 0.01),
        t_max=1e4,
    ),
    "thorough": Profile(
        name="thorough",
        n_cases=60,
        max_n_generic=10,
        max_n_rbm=10,
        max_n_symbolic=4,
        n_inits=8,
        init_scales=(0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0),
        taus=(0.3, 0.1, 0.03, 0.01),
        t_max=1e5,
    ),
    "extended": Profile(
        name="extended",
        n_cases=60,
        max_n_generic=10,
        max_n_rbm=12,
        max_n_symbolic=4,
        n_inits=8,
        init_scales=(0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0),
        taus=(0.3, 0.1, 0.03, 0.01),
        t_max=1e5,
    ),
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``; ``ValueError`` listing the known ones otherwise."""
    _check_profile_name(name)
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; expected one of {', '.join(PROFILES)}") from None


def _check_profile_name(name: object) -> None:
    """``name`` must be a string (a list or bytes is refused, not looked up)."""
    if not isinstance(name, str):
        raise ValueError(
            f"profile name must be a string, one of {', '.join(PROFILES)}; got {type(name).__name__} {name!r}"[
                :300
            ]
        )
