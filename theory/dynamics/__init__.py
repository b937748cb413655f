"""Dynamics of parameterised EBMs in effective coordinates (C3–C6 of docs/theory.md).

Gradient flows (:mod:`.flow`), their fixed points (:mod:`.fixed_points`), the stability
of data-consistent points (:mod:`.stability`, slopes in :mod:`.invariance`), the learning-order hierarchy
(:mod:`.hierarchy`) and the tangent kernel K = A Aᵀ in Fourier coordinates (:mod:`.kernel`).
"""
