"""Exact (sympy) derivations: the effective model (:mod:`.effective`) and the models' couplings
and Jacobians (:mod:`.models`), the symbolic half of the two-route checks of C1."""
