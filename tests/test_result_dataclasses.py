"""The frozen result dataclasses of ``theory/`` refuse every inconsistent set of fields.

Each result (house rule 1, docs/development.md) checks its own invariants in ``__post_init__``:
:class:`~theory.FixedPoint`, :class:`~theory.Trajectory`, :class:`~theory.HierarchyRank`,
:class:`~theory.KernelScaling`, :class:`~dsb_verifier.theory.precision.PrecisionAudit`,
:class:`~theory.HessianSpectrum`, :class:`~theory.InvarianceSlopes`,
:class:`~dsb_verifier.theory.symbolic.effective.NumericTwin`, :class:`~dsb_verifier.theory.symbolic.models.RBMDerivation` and
:class:`~dsb_verifier.theory.symbolic.models.RBMTwin`. For each, a valid instance is built by the public
function a user would call (at N = 1..3); rebuilding it from its own fields succeeds, and each
check is exercised by a copy with one field broken (``dataclasses.replace``), matched against
the whole message (house rule 2, docs/development.md). Where a check is a boundary (``<`` against ``<=``,
a tolerance, a shape), the value on the boundary is tested too, on the side the code intends.
Refusals already pinned in the per-module tests (test_fixed_points.py, test_flow.py,
test_hierarchy.py, test_precision.py, test_stability.py, test_symbolic.py,
test_symbolic_models.py) are not repeated here.

Found necessary by mutation testing (see docs/development.md): mutants in these
``__post_init__`` methods (a ``raise`` removed, ``<`` turned into ``<=``, a constant or a
message changed) survived the rest of the suite.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import sympy as sp
from dsb_verifier import theory as T
from dsb_verifier.theory.dynamics.fixed_points import FixedPoint, classify, independent_point
from dsb_verifier.theory.dynamics.flow import (
    BATCH_METHOD,
    FLOW_METHODS,
    TRAJECTORY_STATUSES,
    Trajectory,
    integrate_flow,
)
from dsb_verifier.theory.dynamics.hierarchy import (
    HierarchyRank,
    KernelScaling,
    hierarchy_rank,
    kernel_scaling,
)
from dsb_verifier.theory.dynamics.stability import (
    MIN_WINDOW_POINTS,
    HessianSpectrum,
    InvarianceSlopes,
    invariance_slopes,
    spectrum,
)
from dsb_verifier.theory.models import DirectModel, TruncatedIsing, rbm_teacher
from dsb_verifier.theory.precision import PRECISION_QUANTITIES, PrecisionAudit, audit
from dsb_verifier.theory.symbolic.effective import NumericTwin, lambdify_twin
from dsb_verifier.theory.symbolic.models import RBMDerivation, RBMTwin, lambdify_rbm, rbm_derivation
from dsb_verifier.theory.tolerances import EPS

NAN, INF = float("nan"), float("inf")
Change = Callable[[Any], dict[str, Any]]


def whole(message: str) -> str:
    """A pattern matching exactly ``message`` (no prefix, no suffix, same case)."""
    return f"^{re.escape(message)}$"


def replaced(obj: Any, fields: dict[str, Any]) -> Any:
    """``dataclasses.replace(obj, **fields)``, asserting that every replaced field reads back as given."""
    new = dataclasses.replace(obj, **fields)
    for name, value in fields.items():
        got = getattr(new, name)
        assert got is value or np.array_equal(got, value) or got == value, name
    return new


def assert_same_fields(a: object, b: object) -> None:
    """Field-by-field equality (arrays compared element-wise, NaN equal to NaN)."""
    for f in dataclasses.fields(a):  # type: ignore[arg-type]
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y)
        elif isinstance(x, float) and np.isnan(x):
            assert np.isnan(y)
        else:
            assert x == y or x is y


def with_entry(x: np.ndarray, index: int | tuple[int, ...], value: float) -> np.ndarray:
    """A copy of ``x`` with one entry replaced."""
    out = np.array(x, dtype=np.float64)
    out[index] = value
    return out


# ---- FixedPoint (theory/fixed_points.py) -------------------------------------------------------------
@pytest.fixture(scope="module")
def spurious() -> FixedPoint:
    """The fields-matching point of RBM(3, 2): spurious from order 2; N = 3, P = 11, rank 3."""
    q = T.ising_target(3, {1: 0.3, 2: 0.4, 3: 0.4}, np.random.default_rng(5))
    fp = classify(*independent_point(q, 2), q)
    assert (fp.kind, fp.lowest_order, fp.theta.size, fp.singular_values.size) == ("spurious", 2, 11, 7)
    return fp


@pytest.fixture(scope="module")
def consistent() -> FixedPoint:
    """The direct model at the target's couplings: data-consistent, N = 3, P = 7."""
    q = T.ising_target(3, {1: 0.3, 2: 0.4, 3: 0.4}, np.random.default_rng(5))
    fp = classify(DirectModel(3), T.couplings(q)[1:], q)
    assert (fp.kind, fp.lowest_order) == ("data-consistent", None)
    return fp


def test_fixed_point_rebuilds_from_its_fields_as_read_only_float64(spurious, consistent):
    for fp in (spurious, consistent):
        assert_same_fields(dataclasses.replace(fp), fp)
    src = spurious.theta.copy()
    fp = dataclasses.replace(
        spurious,
        theta=src,
        residual_order_norms=np.array([0, 0, 1, 2]),  # integers are stored as float64
        singular_values=spurious.singular_values.tolist(),
        hessian_eigenvalues=spurious.hessian_eigenvalues.tolist(),
    )
    for name in ("theta", "residual_order_norms", "singular_values", "hessian_eigenvalues"):
        arr = getattr(fp, name)
        assert isinstance(arr, np.ndarray) and arr.dtype == np.float64, name
        assert arr.flags.writeable is False, name
    src[0] += 1.0  # the instance holds a copy
    np.testing.assert_array_equal(fp.theta, spurious.theta)


@pytest.mark.parametrize("name", ["theta", "residual_order_norms", "singular_values", "hessian_eigenvalues"])
@pytest.mark.parametrize("bad", ["nan", "2-d"])
def test_fixed_point_arrays_must_be_finite_vectors(spurious, name, bad):
    arr = getattr(spurious, name)
    broken = with_entry(arr, -1, NAN) if bad == "nan" else arr[None, :]
    message = f"FixedPoint.{name} must be a finite 1-d array, got shape {broken.shape}"
    with pytest.raises(ValueError, match=whole(message)):
        dataclasses.replace(spurious, **{name: broken})


_ORDER_NORMS = "FixedPoint.residual_order_norms must have shape (N + 1,), N >= 1, entry 0 zero"
_SINGULAR = "FixedPoint.singular_values must be min(2^N - 1, P) = 7 values, non-increasing and >= 0"

_FP_SCALARS = ("grad_norm", "jacobian_grad_norm", "residual_norm", "residual_atol", "rank_tol", "hessian_tol")
FIXED_POINT_REFUSALS: list[Any] = [
    pytest.param(lambda fp: {"residual_order_norms": [0.0]}, _ORDER_NORMS, id="order_norms-N-0"),
    pytest.param(
        lambda fp: {"residual_order_norms": with_entry(fp.residual_order_norms, 1, -1e-3)},
        _ORDER_NORMS,
        id="order_norms-negative",
    ),
    pytest.param(
        lambda fp: {"hessian_eigenvalues": fp.hessian_eigenvalues[[1, 0, *range(2, 11)]]},
        "FixedPoint.hessian_eigenvalues must be sorted ascending with shape (11,)",
        id="hessian-unsorted",
    ),
    pytest.param(
        lambda fp: {"singular_values": fp.singular_values[::-1]}, _SINGULAR, id="singular-increasing"
    ),
    pytest.param(
        lambda fp: {"singular_values": with_entry(fp.singular_values, -1, -1e-20)},
        _SINGULAR,
        id="singular-negative",
    ),
    *[
        pytest.param(
            lambda fp, n=name, v=value: {n: v},
            f"FixedPoint.{name} must be finite and >= 0, got {value!r}",
            id=f"{name}-{value}",
        )
        for name in _FP_SCALARS
        for value in (-1.0, INF)
    ],
    *[
        pytest.param(
            lambda fp, v=value: {"kl": v},
            f"FixedPoint.kl must be finite and >= 0, got {value!r}",
            id=f"kl-{value}",
        )
        for value in (INF, NAN, -2e-12)
    ],
    pytest.param(
        lambda fp: {"residual_atol": fp.residual_norm},  # |r| <= atol on the boundary: data-consistent
        "FixedPoint.kind disagrees with residual_norm <= residual_atol",
        id="kind-spurious-at-atol",
    ),
    pytest.param(
        lambda fp: {"lowest_order": 0},
        "FixedPoint.lowest_order must be in [1, 3], got 0",
        id="lowest_order-0",
    ),
    pytest.param(
        lambda fp: {"lowest_order": 4},
        "FixedPoint.lowest_order must be in [1, 3], got 4",
        id="lowest_order-N+1",
    ),
    pytest.param(
        # sigma = rank_tol is not above it: rank 2, not 4
        lambda fp: {"singular_values": [3.0, 2.0, 1.0, 1.0, 0.5, 0.0, 0.0], "rank_tol": 1.0, "rank": 4},
        "FixedPoint.rank disagrees with singular_values and rank_tol",
        id="rank-counts-sigma-equal-to-tol",
    ),
    pytest.param(
        # |lambda| = tol is neutral: counts (1, 9, 1), not (3, 5, 3)
        lambda fp: {
            "hessian_eigenvalues": [-2.0, -1.0, -1.0, 0, 0, 0, 0, 0, 1.0, 1.0, 2.0],
            "hessian_tol": 1.0,
            "n_unstable": 3,
            "n_neutral": 5,
            "n_stable": 3,
        },
        "FixedPoint eigenvalue counts disagree with hessian_eigenvalues and hessian_tol",
        id="counts-band-edge-not-neutral",
    ),
]


@pytest.mark.parametrize(("change", "message"), FIXED_POINT_REFUSALS)
def test_fixed_point_refuses(spurious, change, message):
    with pytest.raises(ValueError, match=whole(message)):
        dataclasses.replace(spurious, **change(spurious))


def test_fixed_point_refuses_lowest_order_at_a_data_consistent_point(consistent):
    with pytest.raises(
        ValueError, match=whole("FixedPoint.lowest_order must be None exactly for data-consistent points")
    ):
        dataclasses.replace(consistent, lowest_order=1)


FIXED_POINT_BOUNDARIES: list[Any] = [
    pytest.param(
        lambda fp: {
            "residual_order_norms": [0.0, 0.2],
            "singular_values": [1.0],
            "rank": 1,
            "lowest_order": 1,
        },
        id="N-1",
    ),
    pytest.param(lambda fp: {"residual_order_norms": [0.0, 0.0, 0.1, 0.2]}, id="order_norm-zero"),
    pytest.param(
        # ties, zeros, and sigma = rank_tol (not above it)
        lambda fp: {"singular_values": [3.0, 2.0, 1.0, 1.0, 0.5, 0.0, 0.0], "rank_tol": 1.0, "rank": 2},
        id="singular-ties-zeros-at-tol",
    ),
    pytest.param(
        # ties, and |lambda| = tol on both edges of the neutral band
        lambda fp: {
            "hessian_eigenvalues": [-2.0, -1.0, -1.0, 0, 0, 0, 0, 0, 1.0, 1.0, 2.0],
            "hessian_tol": 1.0,
            "n_unstable": 1,
            "n_neutral": 9,
            "n_stable": 1,
        },
        id="hessian-ties-band-edges",
    ),
    pytest.param(lambda fp: {"grad_norm": 0.0, "jacobian_grad_norm": 0.0}, id="grad_norms-zero"),
    pytest.param(lambda fp: {"kl": 0.0}, id="kl-zero"),
    pytest.param(lambda fp: {"kl": -1e-12}, id="kl-rounding-allowance"),
    pytest.param(lambda fp: {"lowest_order": 1}, id="lowest_order-1"),
    pytest.param(lambda fp: {"lowest_order": 3}, id="lowest_order-N"),
    pytest.param(
        lambda fp: {"kind": "data-consistent", "lowest_order": None, "residual_atol": fp.residual_norm},
        id="data-consistent-at-atol",
    ),
]


@pytest.mark.parametrize("change", FIXED_POINT_BOUNDARIES)
def test_fixed_point_accepts_boundaries(spurious, change):
    replaced(spurious, change(spurious))


# ---- Trajectory (theory/flow.py) ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def traj() -> Trajectory:
    """A flow of TruncatedIsing(2, 2): T = 5 checkpoints, N = 2, P = 3."""
    model = TruncatedIsing(2, 2)
    q = T.ising_target(2, {1: 0.4, 2: 0.4}, np.random.default_rng(0))
    tr = integrate_flow(model, np.zeros(model.n_params), q, t_max=10.0, n_checkpoints=4)
    assert (tr.t.size, tr.n_visible, tr.theta.shape[1]) == (5, 2, 3)
    return tr


_ARRAYS = ("t", "theta", "J", "L", "residual_order_norms", "coupling_error_order_norms", "grad_norm")


def test_trajectory_rebuilds_from_its_fields_as_read_only_float64(traj):
    assert_same_fields(dataclasses.replace(traj), traj)
    tr = dataclasses.replace(traj, **{name: getattr(traj, name).tolist() for name in _ARRAYS})
    for name in _ARRAYS:
        arr = getattr(tr, name)
        assert isinstance(arr, np.ndarray) and arr.dtype == np.float64, name
        assert arr.flags.writeable is False, name
    tr = dataclasses.replace(traj, grad_norm=np.zeros(5, dtype=np.int64))
    assert tr.grad_norm.dtype == np.float64


@pytest.mark.parametrize("name", [n for n in _ARRAYS if n != "theta"])  # theta: test_flow.py
def test_trajectory_arrays_must_be_finite(traj, name):
    with pytest.raises(ValueError, match=whole(f"Trajectory.{name} must be finite")):
        dataclasses.replace(traj, **{name: with_entry(getattr(traj, name), -1, INF)})


_T_ORDER = "Trajectory.t must start at 0 and be strictly increasing"
_NEGATIVE = "Trajectory norms must be non-negative"

TRAJECTORY_REFUSALS: list[Any] = [
    pytest.param(
        lambda tr: {"t": tr.t[:, None]},
        "Trajectory.t must have shape (T,) with T >= 1, got (5, 1)",
        id="t-2d",
    ),
    pytest.param(
        lambda tr: {"t": np.zeros(0)}, "Trajectory.t must have shape (T,) with T >= 1, got (0,)", id="t-empty"
    ),
    pytest.param(lambda tr: {"t": tr.t + 1.0}, _T_ORDER, id="t-not-from-0"),
    pytest.param(lambda tr: {"t": with_entry(tr.t, 2, tr.t[1])}, _T_ORDER, id="t-repeated"),
    pytest.param(
        lambda tr: {"J": tr.J[0]}, "Trajectory.J must have shape (T, 2^N) with T=5, got (4,)", id="J-1d"
    ),
    pytest.param(
        lambda tr: {"J": tr.J[:-1]}, "Trajectory.J must have shape (T, 2^N) with T=5, got (4, 4)", id="J-rows"
    ),
    pytest.param(
        lambda tr: {"J": tr.J[:, :1]},
        "Trajectory.J must have shape (T, 2^N) with T=5, got (5, 1)",
        id="J-2^0",
    ),
    pytest.param(
        lambda tr: {"J": tr.J[:, :3]},
        "Trajectory.J must have shape (T, 2^N) with T=5, got (5, 3)",
        id="J-not-power-of-two",
    ),
    pytest.param(
        lambda tr: {"theta": tr.theta[:-1]},
        "Trajectory.theta must have shape (5, 3), got (4, 3)",
        id="theta-rows",
    ),
    pytest.param(
        lambda tr: {"coupling_error_order_norms": tr.coupling_error_order_norms[:, :-1]},
        "Trajectory.coupling_error_order_norms must have shape (5, 3), got (5, 2)",
        id="coupling_error-columns",
    ),
    pytest.param(
        lambda tr: {"grad_norm": tr.grad_norm[:-1]},
        "Trajectory.grad_norm must have shape (5,), got (4,)",
        id="grad_norm-length",
    ),
    pytest.param(
        lambda tr: {"grad_norm": with_entry(tr.grad_norm, 2, -1e-300)}, _NEGATIVE, id="grad_norm-neg"
    ),
    pytest.param(
        lambda tr: {"residual_order_norms": with_entry(tr.residual_order_norms, (2, 1), -1e-300)},
        _NEGATIVE,
        id="residual-negative",
    ),
    *[
        pytest.param(
            lambda tr, n=name, v=value: {n: v},
            f"Trajectory.{name} must be a non-negative integer, got {value!r}",
            id=f"{name}-{value!r}",
        )
        for name in ("n_steps", "nfev")
        for value in (True, 1.0, -1)
    ],
]


@pytest.mark.parametrize(("change", "message"), TRAJECTORY_REFUSALS)
def test_trajectory_refuses(traj, change, message):
    with pytest.raises(ValueError, match=whole(message)):
        dataclasses.replace(traj, **change(traj))


@pytest.mark.parametrize("field", ["theta", "J"])
@pytest.mark.parametrize("ndim", [0, 1, 3])
def test_trajectory_theta_and_J_of_the_wrong_dimension_are_refused_by_name(traj, field, ndim):
    value = {0: lambda a: a[0, 0], 1: lambda a: a[:, 0], 3: lambda a: a[None]}[ndim](getattr(traj, field))
    expect = {
        "theta": f"Trajectory.theta must have shape (T, P), got {np.shape(value)}",
        "J": f"Trajectory.J must have shape (T, 2^N) with T=5, got {np.shape(value)}",
    }[field]
    with pytest.raises(ValueError, match=whole(expect)):
        dataclasses.replace(traj, **{field: value})


TRAJECTORY_BOUNDARIES: list[Any] = [
    pytest.param(lambda tr: {name: getattr(tr, name)[:1] for name in _ARRAYS}, id="T-1"),
    pytest.param(
        lambda tr: {
            "J": tr.J[:, :2],
            "residual_order_norms": tr.residual_order_norms[:, :2],
            "coupling_error_order_norms": tr.coupling_error_order_norms[:, :2],
        },
        id="N-1",
    ),
    pytest.param(lambda tr: {"grad_norm": np.zeros(5)}, id="grad_norm-zero"),
    pytest.param(lambda tr: {"n_steps": 0, "nfev": np.int64(0)}, id="counts-zero"),
    *[
        pytest.param(lambda tr, s=status: {"status": s}, id=f"status-{status}")
        for status in TRAJECTORY_STATUSES
    ],
]


@pytest.mark.parametrize("change", TRAJECTORY_BOUNDARIES)
def test_trajectory_accepts_boundaries(traj, change):
    replaced(traj, change(traj))


# ---- HierarchyRank (theory/hierarchy.py) --------------------------------------------------------------
@pytest.fixture(scope="module")
def ranks() -> dict[str, HierarchyRank]:
    out = {
        "one order": hierarchy_rank([NAN, 1.0]),
        "reversed": hierarchy_rank([NAN, 2.0, 1.0]),
        "one unsettled": hierarchy_rank([NAN, 1.0, 2.0, INF]),
    }
    assert [(h.monotone, h.n_defined, h.n_unsettled) for h in out.values()] == [
        (None, 1, 0),
        (False, 2, 0),
        (True, 3, 1),
    ]
    assert np.isnan(out["one order"].kendall_tau)
    assert out["reversed"].kendall_tau == -1.0 and out["one unsettled"].kendall_tau == 1.0
    return out


def test_hierarchy_rank_rebuilds_from_its_fields(ranks):
    for h in ranks.values():
        assert_same_fields(dataclasses.replace(h), h)


_TAU = "kendall_tau must lie in [-1, 1] or be NaN, got {}"
_UNSETTLED = "n_unsettled must lie between 0 and n_defined"
_MONOTONE = "monotone must be None exactly when fewer than two orders are defined"


@pytest.mark.parametrize(
    ("which", "change", "message"),
    [
        pytest.param(
            "one unsettled", {"kendall_tau": 1.0 + 2e-12}, _TAU.format(1.0 + 2e-12), id="tau-above-1"
        ),
        pytest.param("reversed", {"kendall_tau": -1.0 - 2e-12}, _TAU.format(-1.0 - 2e-12), id="tau-below--1"),
        pytest.param("one unsettled", {"kendall_tau": INF}, _TAU.format(INF), id="tau-inf"),
        pytest.param("one unsettled", {"n_unsettled": -1}, _UNSETTLED, id="unsettled-negative"),
        pytest.param("one unsettled", {"n_unsettled": 4}, _UNSETTLED, id="unsettled-above-defined"),
        pytest.param("one order", {"monotone": True}, _MONOTONE, id="monotone-with-one-order"),
        pytest.param("reversed", {"monotone": None}, _MONOTONE, id="none-with-two-orders"),
    ],
)
def test_hierarchy_rank_refuses(ranks, which, change, message):
    with pytest.raises(ValueError, match=whole(message)):
        dataclasses.replace(ranks[which], **change)


@pytest.mark.parametrize(
    ("which", "change"),
    [
        pytest.param("one unsettled", {"kendall_tau": 1.0 + 1e-12}, id="tau-1-rounding-allowance"),
        pytest.param("reversed", {"kendall_tau": -1.0 - 1e-12}, id="tau--1-rounding-allowance"),
        pytest.param("one unsettled", {"kendall_tau": 0.0}, id="tau-0"),
        pytest.param("one unsettled", {"n_unsettled": 0}, id="unsettled-0"),
        pytest.param("one unsettled", {"n_unsettled": 3}, id="unsettled-all"),
        pytest.param("reversed", {"monotone": True}, id="two-orders-monotone"),
    ],
)
def test_hierarchy_rank_accepts_boundaries(ranks, which, change):
    replaced(ranks[which], change)


# ---- KernelScaling (theory/hierarchy.py) --------------------------------------------------------------
@pytest.fixture(scope="module")
def scaling() -> KernelScaling:
    """Three scales, N = 2, one seed."""
    ks = kernel_scaling(DirectModel(2), [0.01, 0.1, 1.0], seed=0, n_seeds=1, window=(0.01, 1.0))
    assert ks.norms.shape == (3, 3) and ks.n_seeds == 1
    return ks


def test_kernel_scaling_rebuilds_from_its_fields_as_read_only_float64(scaling):
    assert_same_fields(dataclasses.replace(scaling), scaling)
    src = np.array([1, 2, 3])
    ks = dataclasses.replace(
        scaling, scales=src, norms=scaling.norms.tolist(), slopes=scaling.slopes.tolist()
    )
    for name in ("scales", "norms", "slopes"):
        arr = getattr(ks, name)
        assert isinstance(arr, np.ndarray) and arr.dtype == np.float64, name
        assert arr.flags.writeable is False, name
    src[0] = 0
    np.testing.assert_array_equal(ks.scales, [1.0, 2.0, 3.0])


_SCALES = "KernelScaling.scales must be positive and increasing"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"scales": [[0.01, 0.1, 1.0]]}, _SCALES, id="scales-2d"),
        pytest.param({"scales": [0.01, 0.1, 0.1]}, _SCALES, id="scales-repeated"),
        pytest.param({"scales": [0.0, 0.1, 1.0]}, _SCALES, id="scales-zero"),
        pytest.param({"scales": 1.0}, _SCALES, id="scales-0d"),
        pytest.param({"scales": []}, _SCALES, id="scales-empty"),
        pytest.param(
            {"norms": np.ones(3)},
            "KernelScaling.norms must have shape (S, N + 1) with S=3, got (3,)",
            id="norms-1d",
        ),
        pytest.param(
            {"norms": np.ones((2, 3))},
            "KernelScaling.norms must have shape (S, N + 1) with S=3, got (2, 3)",
            id="norms-rows",
        ),
        pytest.param(
            {"slopes": np.zeros(2)}, "KernelScaling.slopes must have one entry per order (N + 1)", id="slopes"
        ),
        pytest.param({"n_seeds": 0}, "KernelScaling.n_seeds must be >= 1", id="n_seeds-0"),
    ],
)
def test_kernel_scaling_refuses(scaling, change, message):
    with pytest.raises(ValueError, match=whole(message)):
        dataclasses.replace(scaling, **change)


# ---- PrecisionAudit (theory/precision.py) -------------------------------------------------------------
@pytest.fixture(scope="module")
def precision() -> PrecisionAudit:
    a = audit(0, n_cases=1)
    assert a.n_cases == 1 and a.max > 0
    return a


def test_precision_audit_rebuilds_from_its_fields(precision):
    assert dataclasses.replace(precision) == precision


@pytest.mark.parametrize("name", [*PRECISION_QUANTITIES, "max"])
@pytest.mark.parametrize("value", [-1.0, NAN, INF])
def test_precision_audit_refuses_non_finite_or_negative(precision, name, value):
    with pytest.raises(ValueError, match=r"^disagreements must be finite and >= 0, got \{") as exc:
        dataclasses.replace(precision, **{name: value})
    assert f"'{name}': {value!r}" in str(exc.value)  # the offending entry is shown


def test_precision_audit_refuses_a_max_below_the_largest(precision):
    vals = sorted(getattr(precision, q) for q in PRECISION_QUANTITIES)
    message = f"max must be the largest disagreement {vals[-1]!r}, got {vals[-2]!r}"
    with pytest.raises(ValueError, match=whole(message)):
        dataclasses.replace(precision, max=vals[-2])


def test_precision_audit_refuses_no_cases(precision):
    with pytest.raises(ValueError, match=whole("n_cases must be >= 1, got 0")):
        dataclasses.replace(precision, n_cases=0)


def test_precision_audit_accepts_zero_disagreements(precision):
    smallest = min(PRECISION_QUANTITIES, key=lambda q: getattr(precision, q))
    assert dataclasses.replace(precision, **{smallest: 0.0}).max == precision.max
    zeros = dataclasses.replace(precision, **dict.fromkeys([*PRECISION_QUANTITIES, "max"], 0.0))
    assert zeros.within_bounds()


# ---- HessianSpectrum (theory/stability.py) ------------------------------------------------------------
@pytest.fixture(scope="module")
def spec() -> HessianSpectrum:
    """An RBM(2, 2) teacher: P = 8, full-rank A (rank 3), 3 stable and 5 neutral eigenvalues."""
    model, theta, q = rbm_teacher(2, 2, np.random.default_rng(0), 1.0, "spin")
    s = spectrum(model, theta, q)
    assert (s.n_stable, s.n_neutral, s.n_unstable, s.rank, s.principal_angles.size) == (3, 5, 0, 3, 5)
    return s


def _scaled_to(s: HessianSpectrum, top: float) -> dict[str, Any]:
    """Eigenvalues and tol rescaled so that max|lambda| is exactly ``top`` (same counts)."""
    return {"eigenvalues": s.eigenvalues / s.scale * top, "tol": s.tol / s.scale * top, "scale": top}


def test_hessian_spectrum_rebuilds_from_its_fields(spec):
    assert_same_fields(dataclasses.replace(spec), spec)


def test_hessian_spectrum_stores_read_only_float64_copies(spec):
    given = {name: np.array(getattr(spec, name)) for name in ("eigenvalues", "principal_angles")}
    copy = dataclasses.replace(
        spec, principal_angles=given["principal_angles"].tolist(), **{"eigenvalues": given["eigenvalues"]}
    )
    for name in ("eigenvalues", "eigenvectors", "singular_values", "kernel", "principal_angles"):
        arr = getattr(copy, name)
        assert arr.dtype == np.float64 and arr.flags.writeable is False, name
    given["eigenvalues"][0] = 99.0  # the caller's array is copied, not kept
    assert copy.eigenvalues[0] == spec.eigenvalues[0]


_EIGENVALUES = "eigenvalues must be a finite 1-d array"
_SCALE = "scale must be max|eigenvalues| and tol must be >= 0"
_SINGULAR_VALUES = "singular_values must be non-negative and descending"
_ANGLES = "principal_angles must be 5 angles in [0, pi/2]"
_NONNEGATIVE = "identity_error, kl and residual_max must be >= 0"
_DENSE = "identity_error_dense must be >= 0 or None"

SPECTRUM_REFUSALS: list[Any] = [
    pytest.param(lambda s: {"eigenvalues": s.eigenvalues[None, :]}, _EIGENVALUES, id="eigenvalues-2d"),
    pytest.param(
        lambda s: {"eigenvalues": with_entry(s.eigenvalues, -1, NAN)}, _EIGENVALUES, id="eigenvalues-nan"
    ),
    pytest.param(
        lambda s: {"eigenvalues": s.eigenvalues[[1, 0, *range(2, 8)]]},
        "eigenvalues must be sorted ascending",
        id="eigenvalues-unsorted",
    ),
    pytest.param(
        lambda s: {"eigenvectors": s.eigenvectors[:, :-1]},
        "eigenvectors must be an orthonormal (8, 8) matrix",
        id="eigenvectors-shape",
    ),
    pytest.param(
        lambda s: {"eigenvectors": (1.0 + 1e-7) * s.eigenvectors},  # |V^T V - I| = 2e-7 > 1e-8
        "eigenvectors must be an orthonormal (8, 8) matrix",
        id="eigenvectors-not-normalised",
    ),
    pytest.param(lambda s: {"tol": -1.0}, _SCALE, id="tol-negative"),
    pytest.param(lambda s: {"scale": -s.scale}, _SCALE, id="scale-sign"),
    # max|lambda| = 2: 4 EPS * 2 = 8 EPS allowed, 10 EPS (five ulps of 2) refused
    pytest.param(lambda s: {**_scaled_to(s, 2.0), "scale": 2.0 + 10 * EPS}, _SCALE, id="scale-off-by-5-ulp"),
    pytest.param(lambda s: {"singular_values": s.singular_values[None, :]}, _SINGULAR_VALUES, id="sv-2d"),
    pytest.param(lambda s: {"singular_values": s.singular_values[::-1]}, _SINGULAR_VALUES, id="sv-ascending"),
    pytest.param(
        lambda s: {"singular_values": np.append(s.singular_values, -1e-300)},
        _SINGULAR_VALUES,
        id="sv-negative",
    ),
    pytest.param(
        lambda s: {"rank": s.rank + 1}, "rank must count the singular values above rank_tol", id="rank-plus-1"
    ),
    pytest.param(
        lambda s: {"kernel": s.kernel[:, :-1]},
        "kernel must have shape (P, P - rank) = (8, 5)",
        id="kernel-shape",
    ),
    pytest.param(
        lambda s: {"principal_angles": with_entry(s.principal_angles, 0, -1e-3)}, _ANGLES, id="angle<0"
    ),
    pytest.param(
        lambda s: {"principal_angles": with_entry(s.principal_angles, 0, np.pi / 2 + 1e-9)},
        _ANGLES,
        id="angle>pi/2",
    ),
    pytest.param(
        lambda s: {"principal_angles": with_entry(s.principal_angles, 0, 2.0)}, _ANGLES, id="angle-2"
    ),
    *[
        pytest.param(lambda s, n=name, v=value: {n: v}, _NONNEGATIVE, id=f"{name}-{value}")
        for name in ("identity_error", "kl", "residual_max")
        for value in (-1e-300, NAN)
    ],
    pytest.param(lambda s: {"identity_error_dense": -1e-300}, _DENSE, id="dense-negative"),
    pytest.param(lambda s: {"identity_error_dense": NAN}, _DENSE, id="dense-nan"),
]


@pytest.mark.parametrize(("change", "message"), SPECTRUM_REFUSALS)
def test_hessian_spectrum_refuses(spec, change, message):
    with pytest.raises(ValueError, match=whole(message)):
        dataclasses.replace(spec, **change(spec))


def _neutral_edge(s: HessianSpectrum) -> dict[str, Any]:
    """tol = the largest |lambda| inside the band (a positive one here): the band is closed."""
    lam = s.eigenvalues
    inside = lam[np.abs(lam) <= s.tol]
    edge = inside[np.argmax(np.abs(inside))]
    assert edge > 0
    return {"tol": float(edge)}


def _tied(s: HessianSpectrum) -> dict[str, Any]:
    """Two neighbouring neutral eigenvalues made equal."""
    lam = s.eigenvalues.copy()
    lam[4] = lam[3]
    assert np.all(np.abs(lam[3:5]) <= s.tol)
    return {"eigenvalues": lam}


SPECTRUM_BOUNDARIES: list[Any] = [
    pytest.param(_tied, id="eigenvalue-ties"),
    pytest.param(_neutral_edge, id="tol-equals-largest-neutral"),
    # tol = max|lambda| = |lambda_min|: all 8 neutral, angles min(8, P - rank) = 5
    pytest.param(
        lambda s: {"tol": s.scale, "n_stable": 0, "n_neutral": 8, "n_unstable": 0}, id="all-neutral"
    ),
    pytest.param(lambda s: {**_scaled_to(s, 2.0), "scale": 2.0 + 8 * EPS}, id="scale-off-by-4-ulp"),
    pytest.param(lambda s: {"eigenvectors": (1.0 + 1e-9) * s.eigenvectors}, id="eigenvectors-within-atol"),
    # zero and tied singular values; sigma = rank_tol = 0 does not count
    pytest.param(
        lambda s: {"singular_values": np.append(s.singular_values, [0.0, 0.0]), "rank_tol": 0.0},
        id="sv-zeros-ties-at-tol",
    ),
    pytest.param(
        lambda s: {"principal_angles": np.array([0.0, np.pi / 2, np.pi / 2 + 1e-12, 0.0, 0.0])},
        id="angle-range",
    ),
    pytest.param(lambda s: {"identity_error": 0.0, "kl": 0.0, "residual_max": 0.0}, id="diagnostics-zero"),
    pytest.param(lambda s: {"identity_error_dense": 0.0}, id="dense-zero"),
    pytest.param(lambda s: {"identity_error_dense": None, "fisher_min_eigenvalue": None}, id="dense-none"),
    pytest.param(
        lambda s: {
            "eigenvalues": np.zeros(0),
            "eigenvectors": np.zeros((0, 0)),
            "scale": 0.0,
            "tol": 0.0,
            "n_stable": 0,
            "n_neutral": 0,
            "n_unstable": 0,
            "singular_values": np.zeros(0),
            "rank_tol": 0.0,
            "rank": 0,
            "kernel": np.zeros((0, 0)),
            "principal_angles": np.zeros(0),
        },
        id="no-parameters",
    ),
]


@pytest.mark.parametrize("change", SPECTRUM_BOUNDARIES)
def test_hessian_spectrum_accepts_boundaries(spec, change):
    replaced(spec, change(spec))


# ---- InvarianceSlopes (theory/stability.py) -----------------------------------------------------------
@pytest.fixture(scope="module")
def slopes() -> dict[str, InvarianceSlopes]:
    """Along a generic direction at an RBM(2, 2) teacher, 15 step sizes; all points or the 3 smallest."""
    model, theta, q = rbm_teacher(2, 2, np.random.default_rng(0), 1.0, "spin")
    v = np.ones(model.n_params) / np.sqrt(model.n_params)
    grid = np.logspace(-8.0, -1.0, 15)
    out = {"all": invariance_slopes(model, theta, q, v, grid)}
    out["three"] = invariance_slopes(model, theta, q, v, grid, max_points=MIN_WINDOW_POINTS)
    assert out["all"].dJ_window.all() and out["all"].kl_window.all() and out["all"].kl_var_window.all()
    for w in (out["three"].dJ_window, out["three"].kl_window, out["three"].kl_var_window):
        np.testing.assert_array_equal(np.flatnonzero(w), [0, 1, 2])
    return out


def test_invariance_slopes_rebuild_from_their_fields(slopes):
    for s in slopes.values():  # "three": windows of exactly MIN_WINDOW_POINTS points give finite slopes
        assert_same_fields(dataclasses.replace(s), s)
        assert np.isfinite(s.slope_dJ) and np.isfinite(s.slope_kl)


_EPS_GRID = "eps must be a 1-d positive, strictly increasing grid"
_WINDOWS = "windows must be the max_points smallest eps whose value is at or above the floor"


def _two_point_window(s: InvarianceSlopes) -> dict[str, Any]:
    """Only two values above the floor, but a finite slope kept."""
    dJ = s.dJ.copy()
    dJ[2:] = 0.0
    return {"dJ": dJ, "dJ_window": np.arange(dJ.size) < 2}


SLOPES_REFUSALS: list[Any] = [
    pytest.param("all", lambda s: {"eps": s.eps[None, :]}, _EPS_GRID, id="eps-2d"),
    pytest.param("all", lambda s: {"eps": with_entry(s.eps, 0, 0.0)}, _EPS_GRID, id="eps-zero"),
    pytest.param("all", lambda s: {"eps": with_entry(s.eps, 1, s.eps[0])}, _EPS_GRID, id="eps-repeated"),
    *[
        pytest.param(
            "all",
            lambda s, n=name: {n: getattr(s, n)[:-1]},
            f"{name} must have the shape of eps, (15,)",
            id=f"{name}-shape",
        )
        for name in ("dJ", "kl_var", "kl", "dJ_window", "kl_var_window", "kl_window")
    ],
    *[
        pytest.param(
            "three",
            lambda s, n=name, v=value: {n: with_entry(getattr(s, n), -1, v)},
            f"{name} must be finite and >= 0",
            id=f"{name}-{value}",
        )
        for name in ("dJ", "kl")
        for value in (-1e-300, INF, NAN)
    ],
    pytest.param("all", lambda s: {"dJ_floor": 0.0}, "floors must be > 0", id="dJ_floor-zero"),
    pytest.param("all", lambda s: {"kl_floor": 0.0}, "floors must be > 0", id="kl_floor-zero"),
    pytest.param("three", lambda s: {"max_points": 2}, "max_points must be None or >= 3", id="max_points-2"),
    pytest.param("all", lambda s: {"kl_window": ~s.kl_window}, "kl_window: " + _WINDOWS, id="kl_window"),
    pytest.param(
        "all", lambda s: {"kl_var_window": ~s.kl_var_window}, "kl_var_window: " + _WINDOWS, id="kl_var_window"
    ),
    pytest.param("all", lambda s: {"kl_var_floor": 0.0}, "floors must be > 0", id="kl_var_floor-zero"),
    pytest.param(
        "all", lambda s: {"kl_base": NAN}, "kl_base must be finite and >= 0, got nan", id="kl_base-nan"
    ),
    pytest.param(
        "all",
        lambda s: {"slope_dJ": NAN},
        "slope_dJ must be finite exactly when its window has >= 3 points",
        id="slope_dJ-nan",
    ),
    pytest.param(
        "three",
        _two_point_window,
        "slope_dJ must be finite exactly when its window has >= 3 points",
        id="slope_dJ-on-two-points",
    ),
]


@pytest.mark.parametrize(("which", "change", "message"), SLOPES_REFUSALS)
def test_invariance_slopes_refuse(slopes, which, change, message):
    s = slopes[which]
    with pytest.raises(ValueError, match=whole(message)):
        dataclasses.replace(s, **change(s))


def test_invariance_slopes_accept_zero_values_outside_the_windows(slopes):
    s = slopes["three"]
    changed = dataclasses.replace(s, dJ=with_entry(s.dJ, -1, 0.0), kl=with_entry(s.kl, -1, 0.0))
    assert changed.dJ[-1] == 0.0 and changed.kl[-1] == 0.0


# ---- NumericTwin (theory/symbolic.py) -----------------------------------------------------------------
@pytest.fixture(scope="module")
def numeric_twin() -> NumericTwin:
    return lambdify_twin(1)


def test_numeric_twin_rebuilds_and_accepts_n_in_1_to_4(numeric_twin):
    for N in (1, 4):  # the range check alone: the callables are not compared with N
        assert dataclasses.replace(numeric_twin, N=N).N == N
    assert dataclasses.replace(numeric_twin) == numeric_twin


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"N": 0}, "N must be between 1 and 4 for the symbolic twin, got 0", id="N-0"),
        pytest.param({"N": True}, "N must be an integer number of spins, got True", id="N-bool"),
        *[
            pytest.param({name: None}, f"NumericTwin.{name} must be callable", id=name)
            for name in ("G_fn", "log_partition_fn", "moments_fn")  # fisher_fn: test_symbolic.py
        ],
    ],
)
def test_numeric_twin_refuses(numeric_twin, change, message):
    with pytest.raises(ValueError, match=whole(message)):
        dataclasses.replace(numeric_twin, **change)


# ---- RBMDerivation and RBMTwin (theory/symbolic_models.py) --------------------------------------------
@pytest.fixture(scope="module")
def derivation() -> RBMDerivation:
    """N = 1, M = 1: P = 3 parameters, one moment symbol."""
    return rbm_derivation(1, 1, "spin")


def _with_symbol(matrix: sp.ImmutableMatrix) -> sp.ImmutableMatrix:
    """The same shape, with a foreign symbol ``z`` added to entry 0."""
    m = matrix.as_mutable()
    m[0] += sp.Symbol("z")
    return sp.ImmutableMatrix(m)


def test_rbm_derivation_rebuilds_from_its_fields(derivation):
    assert dataclasses.replace(derivation) == derivation


_BIG = sp.ImmutableMatrix.zeros(5, 5)

DERIVATION_REFUSALS: list[Any] = [
    pytest.param(
        lambda d: {"N": 4}, "N must be between 1 and 3 for the symbolic RBM derivation, got 4", id="N-4"
    ),
    pytest.param(
        lambda d: {"N": 0}, "N must be between 1 and 3 for the symbolic RBM derivation, got 0", id="N-0"
    ),
    pytest.param(lambda d: {"M": 0}, "M must be 1 or 2 hidden units for the symbolic RBM, got 0", id="M-0"),
    pytest.param(lambda d: {"hidden": "ising"}, "hidden must be 'spin' or 'bit', got 'ising'", id="hidden"),
    # relabelled sizes: the counts are P = N + M + N M and 2^N - 1 for the new sizes
    pytest.param(
        lambda d: {"N": 3}, "RBMDerivation needs 7 parameter and 7 moment symbols", id="relabel-N-3"
    ),
    pytest.param(
        lambda d: {"M": 2}, "RBMDerivation needs 5 parameter and 1 moment symbols", id="relabel-M-2"
    ),
    pytest.param(
        lambda d: {"theta": d.theta[:-1]},
        "RBMDerivation needs 3 parameter and 1 moment symbols",
        id="theta-short",
    ),
    pytest.param(lambda d: {"m": ()}, "RBMDerivation needs 3 parameter and 1 moment symbols", id="m-short"),
    *[
        pytest.param(
            lambda d, n=name: {n: _BIG},
            f"RBMDerivation.{name} must have shape {shape}, got (5, 5)",
            id=f"{name}-shape",
        )
        for name, shape in [
            ("u", (2, 1)),
            ("J", (1, 1)),
            ("m_model", (1, 1)),
            ("r", (1, 1)),
            ("grad", (3, 1)),
            ("J_dot", (1, 1)),
            ("hessian", (3, 3)),
        ]  # A: test_symbolic_models.py
    ],
    *[
        pytest.param(
            lambda d, n=name: {n: _with_symbol(getattr(d, n))},
            f"RBMDerivation.{name} has unexpected free symbols ['z']",
            id=f"{name}-symbols",
        )
        for name in ("grad", "hessian", "r")  # L: test_symbolic_models.py
    ],
]


@pytest.mark.parametrize(("change", "message"), DERIVATION_REFUSALS)
def test_rbm_derivation_refuses(derivation, change, message):
    with pytest.raises(ValueError, match=whole(message)):
        dataclasses.replace(derivation, **change(derivation))


@pytest.fixture(scope="module")
def rbm_twin() -> RBMTwin:
    return lambdify_rbm(1, 1, "spin")


@pytest.mark.parametrize(
    "change", [{}, {"N": 3}, {"M": 2}, {"hidden": "bit"}], ids=["same", "N-3", "M-2", "hidden-bit"]
)
def test_rbm_twin_accepts_the_documented_sizes(rbm_twin, change):
    twin = replaced(rbm_twin, change)  # the range checks alone: callables are not compared
    assert twin.jacobian_fn is rbm_twin.jacobian_fn


_FNS = (
    "couplings_fn",
    "jacobian_fn",
    "residual_fn",
    "loglik_fn",
    "grad_fn",
)  # hessian_fn: test_symbolic_models.py


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"N": 4}, "N must be between 1 and 3 for the symbolic RBM twin, got 4", id="N-4"),
        pytest.param({"N": 0}, "N must be between 1 and 3 for the symbolic RBM twin, got 0", id="N-0"),
        pytest.param({"N": True}, "N must be an integer number of visible spins, got True", id="N-bool"),
        pytest.param({"M": 0}, "M must be 1 or 2 hidden units for the symbolic RBM, got 0", id="M-0"),
        pytest.param({"hidden": "ising"}, "hidden must be 'spin' or 'bit', got 'ising'", id="hidden"),
        *[pytest.param({name: None}, f"RBMTwin.{name} must be callable", id=name) for name in _FNS],
    ],
)
def test_rbm_twin_refuses(rbm_twin, change, message):
    with pytest.raises(ValueError, match=whole(message)):
        dataclasses.replace(rbm_twin, **change)


@pytest.mark.parametrize("method", ["rk45", "euler", ""])
def test_trajectory_refuses_an_unknown_method(traj, method):
    expect = (
        f"Trajectory.method must be one of {(*FLOW_METHODS, BATCH_METHOD, 'gradient_ascent')}, got {method!r}"
    )
    with pytest.raises(ValueError, match=whole(expect)):
        dataclasses.replace(traj, method=method)
    assert dataclasses.replace(traj, method="gradient_ascent").method == "gradient_ascent"
    assert dataclasses.replace(traj, method=BATCH_METHOD).method == "BDF-batched"
