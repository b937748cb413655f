"""Parameterised energy-based models with exact marginalisation (docs/theory.md §3)."""

from dsb_verifier.theory.models.base import DirectModel, EnergyModel, TruncatedIsing
from dsb_verifier.theory.models.mlp import TanhNetwork
from dsb_verifier.theory.models.rbm import RBM, rbm_teacher

__all__ = ["RBM", "DirectModel", "EnergyModel", "TanhNetwork", "TruncatedIsing", "rbm_teacher"]
