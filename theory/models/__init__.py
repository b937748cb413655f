"""Parameterised energy-based models with exact marginalisation (shared/THEORY.md §3)."""

from theory.models.base import DirectModel, EnergyModel, TruncatedIsing
from theory.models.mlp import TanhNetwork
from theory.models.rbm import RBM, rbm_teacher

__all__ = ["RBM", "DirectModel", "EnergyModel", "TanhNetwork", "TruncatedIsing", "rbm_teacher"]
