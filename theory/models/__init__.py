"""Parameterised energy-based models with exact marginalisation (shared/THEORY.md §3)."""

from theory.models.base import DirectModel, EnergyModel, TruncatedIsing

__all__ = ["DirectModel", "EnergyModel", "TruncatedIsing"]
