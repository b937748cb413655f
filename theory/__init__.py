"""dsb-verifier's mathematics: the Walsh–Fourier effective model of EBMs.

Conventions (states, subsets, spin signs, axis order, normalisation) are written
once in :mod:`dsb_verifier.theory.walsh` and docs/theory.md §1. Claims C1–C6 refer to
docs/theory.md §5.
"""

from dsb_verifier.theory.binary import (
    bits_from_spins,
    polynomial_bits_to_spins,
    polynomial_spins_to_bits,
    spins_from_bits,
    state_index,
)
from dsb_verifier.theory.dynamics.fixed_points import (
    FixedPoint,
    classify,
    independent_point,
    maxent_point,
    polish,
    tied_point,
)
from dsb_verifier.theory.dynamics.flow import (
    FLOW_METHODS,
    Trajectory,
    gradient_ascent,
    integrate_flow,
    integrate_flows,
)
from dsb_verifier.theory.dynamics.hierarchy import (
    HierarchyRank,
    KernelScaling,
    connected_information,
    hierarchy_rank,
    kernel_scaling,
    settle_times,
    trajectory_settle_times,
)
from dsb_verifier.theory.dynamics.kernel import kernel_block_norms, tangent_kernel
from dsb_verifier.theory.dynamics.stability import (
    HessianSpectrum,
    InvarianceSlopes,
    invariance_slopes,
    spectrum,
)
from dsb_verifier.theory.effective import (
    couplings,
    entropy,
    fisher,
    kl,
    log_partition,
    log_prob,
    loglik,
    moments,
    neg_energy,
    prob,
)
from dsb_verifier.theory.fisher_spectrum import fisher_eigenvalues
from dsb_verifier.theory.likelihood import exact_hessian, gauss_newton, grad_loglik, residual
from dsb_verifier.theory.maxent import MaxEntConvergenceError, MaxEntFit, maxent_fit, maxent_projection
from dsb_verifier.theory.models import RBM, DirectModel, EnergyModel, TanhNetwork, TruncatedIsing
from dsb_verifier.theory.rbm.gaussian import GaussianComparison, compare_gaussian, conditioned_couplings
from dsb_verifier.theory.rbm.integral import rbm_couplings, rbm_fields, rbm_pairwise
from dsb_verifier.theory.rbm.io import RBMParams, parse_units, rbm_from_params
from dsb_verifier.theory.rbm.norms import MappingError, OrderNorms, gaussian_mapping_error, rbm_order_norms
from dsb_verifier.theory.targets import (
    dirichlet_target,
    empirical,
    independent_sites,
    ising_target,
    k_body_target,
    random_ising,
)
from dsb_verifier.theory.walsh import (
    characters,
    hadamard,
    iwht,
    order_masks,
    order_norms,
    orders,
    states,
    subset_indices,
    subset_mask,
    subsets,
    wht,
)

__version__ = "0.3.0"

__all__ = [
    "fisher_eigenvalues",
    "FixedPoint",
    "HierarchyRank",
    "KernelScaling",
    "classify",
    "connected_information",
    "hierarchy_rank",
    "independent_point",
    "kernel_scaling",
    "maxent_point",
    "polish",
    "settle_times",
    "tied_point",
    "trajectory_settle_times",
    "GaussianComparison",
    "HessianSpectrum",
    "InvarianceSlopes",
    "MappingError",
    "OrderNorms",
    "gaussian_mapping_error",
    "RBMParams",
    "rbm_couplings",
    "rbm_fields",
    "rbm_order_norms",
    "rbm_pairwise",
    "compare_gaussian",
    "conditioned_couplings",
    "invariance_slopes",
    "parse_units",
    "rbm_from_params",
    "spectrum",
    "FLOW_METHODS",
    "RBM",
    "DirectModel",
    "EnergyModel",
    "MaxEntConvergenceError",
    "MaxEntFit",
    "TanhNetwork",
    "Trajectory",
    "TruncatedIsing",
    "bits_from_spins",
    "characters",
    "couplings",
    "dirichlet_target",
    "empirical",
    "entropy",
    "exact_hessian",
    "fisher",
    "gauss_newton",
    "grad_loglik",
    "gradient_ascent",
    "hadamard",
    "independent_sites",
    "integrate_flow",
    "integrate_flows",
    "ising_target",
    "iwht",
    "k_body_target",
    "kernel_block_norms",
    "kl",
    "log_partition",
    "log_prob",
    "loglik",
    "maxent_fit",
    "maxent_projection",
    "moments",
    "neg_energy",
    "order_masks",
    "order_norms",
    "orders",
    "polynomial_bits_to_spins",
    "polynomial_spins_to_bits",
    "prob",
    "random_ising",
    "residual",
    "spins_from_bits",
    "state_index",
    "states",
    "subset_indices",
    "subset_mask",
    "subsets",
    "tangent_kernel",
    "wht",
]
