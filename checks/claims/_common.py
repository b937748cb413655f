"""Helpers shared by the claim checks: the model roster and worst-case bookkeeping."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from dsb_verifier.checks.verdict import Counterexample, jsonable
from dsb_verifier.theory.models import RBM, DirectModel, EnergyModel, TanhNetwork, TruncatedIsing

__all__ = ["FAMILIES", "make_model", "roster", "Worst", "seeded_rng"]

#: Family labels in report order. ``truncated-2`` is the pairwise Ising model.
FAMILIES: tuple[str, ...] = ("direct", "truncated-2", "rbm-spin", "rbm-bit", "tanh-1", "tanh-2")


def make_model(family: str, N: int, width: int | None = None) -> EnergyModel:
    """Build a model of ``family`` over ``N`` spins (``width`` = hidden units where relevant).

    Default widths: ``M = 2^N`` hidden units for RBMs (enough to be universal,
    Le Roux & Bengio 2008), ``2N`` tanh units per layer.
    """
    if family == "direct":
        return DirectModel(N)
    if family == "truncated-2":
        return TruncatedIsing(N, min(2, N))
    if family in ("rbm-spin", "rbm-bit"):
        return RBM(N, width or 2**N, hidden=family.split("-")[1])
    if family == "tanh-1":
        return TanhNetwork(N, (width or 2 * N,))
    if family == "tanh-2":
        w = width or 2 * N
        return TanhNetwork(N, (w, w))
    raise ValueError(f"unknown family {family!r}; expected one of {', '.join(FAMILIES)}")


def roster(N: int, families: Iterable[str] = FAMILIES, width: int | None = None) -> list[EnergyModel]:
    """One model per family over ``N`` spins."""
    return [make_model(f, N, width) for f in families]


def seeded_rng(seed: int, *keys: int | str) -> np.random.Generator:
    """A generator derived from the run seed and a case's coordinates (replayable per case)."""
    words = [seed] + [
        k if isinstance(k, int) else int.from_bytes(k.encode()[:8].ljust(8, b"\0"), "little") for k in keys
    ]
    return np.random.default_rng(np.random.SeedSequence(words))


@dataclass
class Worst:
    """Track the largest error of a sweep and build counterexamples for the cases over tolerance."""

    tolerance: float
    what: str
    seed: int | None = None
    value: float = 0.0
    case: dict[str, Any] = field(default_factory=dict)
    failures: list[Counterexample] = field(default_factory=list)
    n: int = 0

    def add(self, value: float, **case: Any) -> None:
        """Record one measured error with the case coordinates that replay it."""
        self.n += 1
        v = float(value)
        # the first case is the worst so far even when its error is exactly 0
        if self.n == 1 or not np.isfinite(v) or v > self.value:
            self.value, self.case = v, case
        if not np.isfinite(v) or v > self.tolerance:
            self.failures.append(
                Counterexample(
                    description=f"{self.what} = {v:.3g} exceeds {self.tolerance:.1g}",
                    case=case,
                    value=v,
                    seed=self.seed,
                )
            )

    @property
    def ok(self) -> bool:
        """True when every recorded value was within tolerance."""
        return not self.failures

    def summary(self) -> dict[str, Any]:
        """Evidence entry: worst value, its case, how many cases, how many failed.

        Plain JSON: a non-finite worst value (a failed flow, a NaN error) is written as the
        string ``"inf"`` / ``"nan"``, so the verdict that carries it can still be built.
        """
        return jsonable(
            {
                "worst": self.value,
                "worst_case": self.case,
                "n_cases": self.n,
                "n_failed": len(self.failures),
            }
        )
