"""Restricted Boltzmann machines as files and as effective models: reading training files
(:mod:`.io`), exact couplings at any N by one integral per hidden unit (:mod:`.integral`,
:mod:`.quadrature`, :mod:`.accumulators`, docs/theory.md §8), per-order norms exact or sampled (:mod:`.norms`),
and the central-limit mapping of Decelle et al., SciPost 2024 (:mod:`.gaussian`; also
``law="gaussian"`` of the integral route)."""

from dsb_verifier.theory.rbm.accumulators import reporting_progress
from dsb_verifier.theory.rbm.integral import LAWS, rbm_couplings, rbm_fields, rbm_pairwise
from dsb_verifier.theory.rbm.norms import (
    MappingError,
    OrderCouplings,
    OrderNorms,
    gaussian_mapping_error,
    rbm_order_couplings,
    rbm_order_norms,
    sample_subsets,
)

__all__ = [
    "LAWS",
    "MappingError",
    "OrderCouplings",
    "OrderNorms",
    "gaussian_mapping_error",
    "rbm_couplings",
    "rbm_fields",
    "rbm_order_norms",
    "rbm_order_couplings",
    "rbm_pairwise",
    "reporting_progress",
    "sample_subsets",
]
