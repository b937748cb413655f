r"""Claim C6, regimes and distinct points: which regime a case belongs to, which orders are
materially inconsistent, and which stationary points are the same point.

Rules (decided before any run; docs/theory.md §7 "C6 scope"; the verdict that uses them is
:mod:`dsb_verifier.checks.claims.c6_verdict`):

**Regimes.** A (model, target) case is in

* ``E1`` — over-parameterised: :math:`P \ge 2^N - 1` and ``A`` has full row rank
  ``2^N - 1`` at a generic parameter (:func:`generic_row_rank` at a seeded
  ``model.init(rng, 1.0)``; singular values above ``RANK_RTOL * sigma_max``). The
  paper's regime and the main verdict.
* ``E2`` — teacher–student of the teacher's own size with :math:`P < 2^N - 1`: the target
  is the marginal of a teacher of the same size (RBMs with hidden spins and hidden bits
  count as the same size for the same ``M``, since
  :math:`\log(1 + e^x) = x/2 + \log 2\cosh(x/2) + \text{const}`). Realisable, but ``A``
  cannot have full row rank, so every near-consistent stationary point of full column rank
  is a strict maximum: reported as a separate condition, never as a failure of ``E1``.
* ``other`` — neither (e.g. a truncated model on a target with structure above its order):
  reported, not judged.

**Material inconsistency.** With :math:`s_k` the target's structure at order ``k``
(:func:`dsb_verifier.theory.dynamics.fixed_points.structure_at_order`, the part of the
order-``k`` moments not induced by lower orders, in the units of the moment residual) and
:math:`r_k` the point's order-``k`` moment residual, the point is *materially inconsistent at
order k* when :math:`\|r_k\| \ge \mu\, s_k` with :data:`MATERIAL_FRACTION` ``mu = 0.1``; at an
order without structure (:math:`s_k \le` ``structure_atol``) the reference is
:math:`\max_j s_j` instead. ``mu = 0.1`` is the loosest settle fraction of the hierarchy
readings (C5, quick profile): a residual of at least a tenth of the target's own structure
at ``k`` means order ``k`` was *not learned* in the sense C5 uses. A spurious point with no
material order is *near-consistent* (its residual is at rounding or fit level, e.g.
:math:`\|r_2\| = 3\times 10^{-7}` against :math:`s_2 \approx 0.3`); it is never counted as
low-order inconsistent.

**Distinct points.** Two stationary points of the same model on the same target are the
same point when their effective couplings agree: :math:`\|J(\theta_1) - J(\theta_2)\|_\infty
\le` :data:`MERGE_RTOL` :math:`\max(1, \|J(\theta_1)\|_\infty)`. ``J`` is invariant under
every symmetry of the parameterisation (hidden-unit permutations; sign flips of
:math:`(c_\mu, W_\mu)` for hidden spins, since :math:`\log 2\cosh` is even; the continuous
fibres of over-parameterised models), and the residual, the kind and the material orders
depend on ``theta`` only through ``J``. All data-consistent points of one (model, target)
are one point, ``J(q)``. Points are merged greedily in input order (each joins the first
cluster whose representative is within tolerance); the evidence reports the largest
distance inside and the smallest distance between clusters, so the separation is visible.
The Hessian does depend on the representative: a merged point is a *saddle* only if every
representative is one (``"yes"``), ``"mixed"`` if some are, ``"no"`` if none are — a
conservative rule (a counterexample representative is never hidden by a saddle one).

Glossary: ``s`` per-order target structure ``(N + 1,)`` (entry 0 unused), ``ref`` the
reference of each order, ``ratio`` :math:`\|r_k\| / \mathrm{ref}_k`, ``mu`` the material fraction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from dsb_verifier.checks.claims._common import seeded_rng
from dsb_verifier.checks.claims.c3_fixed_points import Candidate
from dsb_verifier.theory.dynamics.fixed_points import RANK_RTOL, FixedPoint, structure_at_order
from dsb_verifier.theory.models import EnergyModel
from numpy.typing import NDArray

__all__ = [
    "MATERIAL_FRACTION",
    "MERGE_RTOL",
    "REGIMES",
    "DistinctPoint",
    "Item",
    "distinct_points",
    "generic_row_rank",
    "lowest_material_order",
    "material_ratios",
    "regime_of",
    "target_structure",
]

#: Regimes of Claim C6 (module docstring).
REGIMES = ("E1", "E2", "other")

#: A residual is material at order k when ``|r_k| >= MATERIAL_FRACTION * ref_k``.
MATERIAL_FRACTION: float = 0.1

#: Stationary points whose couplings agree to ``MERGE_RTOL * max(1, |J|_inf)`` are one point.
MERGE_RTOL: float = 1e-6

#: Orders with ``s_k <= STRUCTURE_ATOL`` carry no structure (C3's ``structure_atol``).
STRUCTURE_ATOL: float = 1e-6

#: RBM families that represent the same distributions at the same number of hidden units.
_SAME_SIZE_CLASS = {"rbm-spin": "rbm", "rbm-bit": "rbm"}


def generic_row_rank(model: EnergyModel, seed: int) -> int:
    """Numerical rank of ``A`` at a seeded generic parameter ``model.init(rng, 1.0)`` (``RANK_RTOL``)."""
    theta = model.init(
        seeded_rng(seed, "c6-generic-rank", model.family, model.n_visible, model.n_params), 1.0
    )
    sv = np.linalg.svd(model.jacobian(theta), compute_uv=False)
    return int(np.sum(sv > RANK_RTOL * sv[0])) if sv.size else 0


def same_size(student: EnergyModel, teacher_family: str, teacher_n_params: int) -> bool:
    """Whether ``student`` is of its teacher's own size (same class of family, same ``P``)."""
    cls = _SAME_SIZE_CLASS.get(student.family, student.family)
    return (
        cls == _SAME_SIZE_CLASS.get(teacher_family, teacher_family) and student.n_params == teacher_n_params
    )


def regime_of(model: EnergyModel, *, same_size_teacher: bool, seed: int) -> str:
    """``"E1"``, ``"E2"`` or ``"other"`` for ``model`` on a target (module docstring).

    Parameters
    ----------
    model
        The student.
    same_size_teacher
        The target is the marginal of a teacher of the student's own size (:func:`same_size`).
    seed
        Seeds the generic parameter of :func:`generic_row_rank`.
    """
    rows = 2**model.n_visible - 1
    if model.n_params >= rows and generic_row_rank(model, seed) == rows:
        return "E1"
    if same_size_teacher and model.n_params < rows:
        return "E2"
    return "other"


@dataclass(frozen=True)
class Item:
    """A candidate stationary point with its C6 regime and the identity of its target.

    Attributes
    ----------
    candidate
        The C3 candidate (model, target ``q``, polished ``theta``, provenance).
    regime
        One of :data:`REGIMES`.
    target_key
        Unique label of the target (population and index, e.g. ``"planted-3#1"``).
    """

    candidate: Candidate
    regime: str
    target_key: str

    def __post_init__(self) -> None:
        if self.regime not in REGIMES:
            raise ValueError(f"regime must be one of {REGIMES}, got {self.regime!r}")
        if not self.target_key:
            raise ValueError("target_key must be a non-empty label")

    @property
    def model_label(self) -> str:
        """Family with its size, e.g. ``"rbm-spin M=3"`` (``P`` for the others)."""
        m = self.candidate.model
        n_hidden = getattr(m, "n_hidden", None)
        return (
            f"{self.candidate.family} M={n_hidden}" if n_hidden else f"{self.candidate.family} P={m.n_params}"
        )


def target_structure(q: NDArray[np.float64]) -> NDArray[np.float64]:
    """:math:`s_k` for ``k = 0..N`` (entry 0 is 0): the target's structure per order."""
    N = int(q.size).bit_length() - 1
    return np.array([0.0] + [structure_at_order(q, k) for k in range(1, N + 1)])


def material_ratios(
    residual_order_norms: NDArray[np.float64],
    s: NDArray[np.float64],
    *,
    structure_atol: float = STRUCTURE_ATOL,
) -> NDArray[np.float64]:
    r""":math:`\|r_k\| / \mathrm{ref}_k` per order (entry 0 is 0); ``ref_k = s_k``, or ``max_j s_j`` without structure.

    Raises
    ------
    ValueError
        If the shapes differ or the target has no structure at any order (then nothing
        can be material or immaterial relative to it).
    """
    r = np.asarray(residual_order_norms, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    if r.shape != s.shape or r.ndim != 1 or r.size < 2:
        raise ValueError(
            f"residual_order_norms and s must both have shape (N + 1,), got {r.shape} and {s.shape}"
        )
    top = float(np.max(s[1:]))
    if not top > structure_atol:
        raise ValueError(
            f"the target has no structure at any order (max s_k = {top:.3g} <= {structure_atol:g})"
        )
    ref = np.where(s > structure_atol, s, top)
    out = np.zeros_like(r)
    out[1:] = r[1:] / ref[1:]
    return out


def lowest_material_order(ratios: NDArray[np.float64], mu: float = MATERIAL_FRACTION) -> int | None:
    """Smallest ``k >= 1`` with ``ratios[k] >= mu``; None when no order is material (near-consistent)."""
    hits = np.flatnonzero(np.asarray(ratios)[1:] >= mu)
    return int(hits[0]) + 1 if hits.size else None


@dataclass(frozen=True)
class DistinctPoint:
    r"""One stationary point of one (model, target), merged over its representatives (Claim C6).

    Attributes
    ----------
    members
        Indices (into the evaluated item list) of the representatives, first is the reference.
    regime, model_label, N, P, target_key
        Where it lives.
    kind
        ``"data-consistent"`` or ``"spurious"`` (the same for every member).
    n_flows
        Members that are flow end points (``origin == "flow"``).
    origins
        Distinct origins of the members, in order.
    ratios
        :func:`material_ratios` of the reference member (zeros for data-consistent points).
    structured
        Per order, whether the target has structure there (entry 0 False).
    saddle
        ``"yes"`` (every member has an unstable Hessian direction), ``"mixed"`` or ``"no"``.
    min_margin_non_saddle
        Smallest :attr:`FixedPoint.hessian_margin` over the non-saddle members (``inf`` if none).
    strict_max
        Every member has no unstable and no neutral Hessian eigenvalue.
    full_column_rank
        The reference member's ``A`` has rank ``P``.
    spread
        Largest :math:`\|J - J_{\mathrm{ref}}\|_\infty` inside the point.
    """

    members: tuple[int, ...]
    regime: str
    model_label: str
    N: int
    P: int
    target_key: str
    kind: str
    n_flows: int
    origins: tuple[str, ...]
    ratios: tuple[float, ...]
    structured: tuple[bool, ...]
    saddle: str
    min_margin_non_saddle: float
    strict_max: bool
    full_column_rank: bool
    spread: float
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError("a distinct point needs at least one member")
        if self.saddle not in ("yes", "mixed", "no"):
            raise ValueError(f"saddle must be 'yes', 'mixed' or 'no', got {self.saddle!r}")
        if len(self.ratios) != self.N + 1 or len(self.structured) != self.N + 1:
            raise ValueError("ratios and structured must have N + 1 entries")
        if not 0 <= self.n_flows <= len(self.members):
            raise ValueError("n_flows must count members")

    def material_order(self, mu: float = MATERIAL_FRACTION) -> int | None:
        """Lowest materially inconsistent order (None: data-consistent or near-consistent)."""
        return None if self.kind == "data-consistent" else lowest_material_order(np.asarray(self.ratios), mu)


def distinct_points(
    items: Sequence[Item],
    points: Sequence[FixedPoint | None],
    structure: dict[tuple[int, str], NDArray[np.float64]],
    *,
    merge_rtol: float = MERGE_RTOL,
) -> tuple[list[DistinctPoint], dict[str, float | None]]:
    """Merge the classified items into distinct points (module docstring); unresolved items are skipped.

    Parameters
    ----------
    items, points
        The items and their classification (None: unresolved), aligned.
    structure
        :func:`target_structure` per ``(N, target_key)``.
    merge_rtol
        :data:`MERGE_RTOL`.

    Returns
    -------
    (list of DistinctPoint, dict)
        The points in order of first appearance, and ``{"max_within": ..., "min_between": ...}``
        (largest distance to a representative inside a point; smallest distance between two
        spurious points of the same model and target; None when there is no such pair).
    """
    if len(items) != len(points):
        raise ValueError(f"items and points must be aligned, got {len(items)} and {len(points)}")
    groups: dict[tuple[Any, ...], list[list[int]]] = {}
    J: dict[int, NDArray[np.float64]] = {}
    for i, (it, fp) in enumerate(zip(items, points, strict=True)):
        if fp is None:
            continue
        c = it.candidate
        key = (it.regime, it.model_label, c.N, c.model.n_params, it.target_key, fp.kind)
        clusters = groups.setdefault(key, [])
        J[i] = c.model.couplings(c.theta)[1:]
        if fp.kind == "data-consistent":
            (clusters.append([i]) if not clusters else clusters[0].append(i))
            continue
        for cl in clusters:
            ref = J[cl[0]]
            if np.max(np.abs(J[i] - ref)) <= merge_rtol * max(1.0, float(np.max(np.abs(ref)))):
                cl.append(i)
                break
        else:
            clusters.append([i])
    out: list[DistinctPoint] = []
    within, between = 0.0, np.inf
    for (regime, label, N, P, tkey, kind), clusters in groups.items():
        if kind == "spurious":
            for a in range(len(clusters)):
                for b in range(a + 1, len(clusters)):
                    between = min(between, float(np.max(np.abs(J[clusters[a][0]] - J[clusters[b][0]]))))
        for cl in clusters:
            fps = [points[i] for i in cl]
            assert all(fp is not None for fp in fps)
            ref_fp = fps[0]
            assert ref_fp is not None
            s = structure[(N, tkey)]
            ratios = (
                np.zeros(N + 1)
                if kind == "data-consistent"
                else material_ratios(ref_fp.residual_order_norms, s)
            )
            saddles = [fp.is_saddle for fp in fps if fp is not None]
            non_saddle = [fp.hessian_margin for fp in fps if fp is not None and not fp.is_saddle]
            spread = max(float(np.max(np.abs(J[i] - J[cl[0]]))) for i in cl)
            if kind == "spurious":
                within = max(within, spread)
            out.append(
                DistinctPoint(
                    members=tuple(cl),
                    regime=regime,
                    model_label=label,
                    N=N,
                    P=P,
                    target_key=tkey,
                    kind=kind,
                    n_flows=sum(items[i].candidate.origin == "flow" for i in cl),
                    origins=tuple(dict.fromkeys(items[i].candidate.origin for i in cl)),
                    ratios=tuple(float(x) for x in ratios),
                    structured=tuple(bool(x > STRUCTURE_ATOL) for x in s),
                    saddle="yes" if all(saddles) else ("mixed" if any(saddles) else "no"),
                    min_margin_non_saddle=float(min(non_saddle, default=np.inf)),
                    strict_max=all(fp is not None and fp.n_unstable == 0 and fp.n_neutral == 0 for fp in fps),
                    full_column_rank=ref_fp.rank == P,
                    spread=spread,
                )
            )
    summary = {"max_within": within, "min_between": None if not np.isfinite(between) else float(between)}
    return out, summary
