"""Restricted Boltzmann machines as files and as effective models: reading training files
(:mod:`.io`) and mapping an RBM to its effective couplings without enumeration
(:mod:`.gaussian`, the central-limit mapping of Decelle et al., SciPost 2024)."""
