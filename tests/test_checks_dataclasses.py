"""The checks in ``__post_init__`` of the frozen dataclasses of ``checks/``.

Covers :class:`dsb_verifier.checks.claims.c4_stability.Point`, :class:`dsb_verifier.checks.cli.io.RBMCheckpoints`,
:class:`dsb_verifier.checks.cli.io.Samples`, :class:`dsb_verifier.checks.profiles.Profile` and, in
:mod:`dsb_verifier.checks.verdict`, :class:`Counterexample`, :class:`Verdict` and :class:`ClaimReport`
(and the JSON form of :class:`ControlResult`: its first counterexample, or None)
(``dsb_verifier.checks.cli.effective.EffectiveResult`` is pinned by ``test_effective_tables.py``).

For each class a valid instance, built as the code builds it, is accepted; then each check
is broken alone (one field replaced, the others valid) and must be refused with *its own*
message, matched in full so that a refusal by a neighbouring check, or an ``IndexError``
of a mangled condition, does not pass. Where a check is a boundary (counts, ranges, the
two-decade span of the initialisation scales, ``M >= 1``), both sides of the boundary are
tested. None of these classes normalises its fields, so there is nothing of that to pin.

Found necessary by mutation testing (see README, development): mutants that removed a
``raise``, flipped a comparison or joined two conditions with ``and`` instead of ``or``
survived the rest of the suite; ``test_verdict.py`` and ``test_c4.py`` test one refusal
of some of these classes, which is not repeated here.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import numpy as np
import pytest
from dsb_verifier.checks.claims import c4_stability as C4
from dsb_verifier.checks.cli.io import RBMCheckpoints, Samples
from dsb_verifier.checks.profiles import PROFILES
from dsb_verifier.checks.verdict import ClaimReport, ControlResult, Counterexample, Status, Verdict, jsonable
from dsb_verifier.theory.models import RBM, DirectModel
from dsb_verifier.theory.rbm.io import RBMParams


def _exact(message: str) -> str:
    """A regex matching exactly ``message``."""
    return f"^{re.escape(message)}$"


# ---- c4_stability.Point -------------------------------------------------------------------
# N = 3 keeps 2^N = 8 apart from 2 N = 6, N^2 = 9 and from P (11 for RBM(3, 2), 7 for the direct model).
CASE = {"family": "rbm-spin", "N": 3, "index": 0}


def _point(model=None, **changes: Any) -> C4.Point:
    model = RBM(3, 2) if model is None else model
    theta = model.init(np.random.default_rng(0), 0.5)
    point = C4.Point(model, theta, model.prob(theta), dict(CASE))  # data-consistent: q = p_theta
    return dataclasses.replace(point, **changes) if changes else point


@pytest.mark.parametrize("model", [RBM(3, 2), DirectModel(3)], ids=["rbm-P11", "direct-P7"])
def test_point_accepts_a_data_consistent_point(model):
    point = _point(model)
    assert point.theta.shape == (model.n_params,)
    assert point.q.shape == (8,)
    assert point.case == CASE
    assert C4.Point(model, point.theta, point.q).case == {}


@pytest.mark.parametrize(
    ("field", "shape"),
    [
        ("theta", (10,)),
        ("theta", (12,)),
        ("theta", (1, 11)),
        ("theta", (8,)),
        ("q", (7,)),
        ("q", (9,)),
        ("q", (6,)),
        ("q", (16,)),
        ("q", (1, 8)),
        ("q", (11,)),
    ],
    ids=[
        "theta-P-1",
        "theta-P+1",
        "theta-2d",
        "theta-2^N",
        "q-2^N-1",
        "q-2^N+1",
        "q-2N",
        "q-2^(N+1)",
        "q-2d",
        "q-P",
    ],
)
def test_point_refuses_theta_or_q_of_the_wrong_shape(field, shape):
    model = RBM(3, 2)
    with pytest.raises(
        ValueError, match=_exact(f"point {CASE} has theta or q of the wrong shape for {model!r}")
    ):
        _point(model, **{field: np.full(shape, 0.125)})


def test_point_refuses_when_both_shapes_are_wrong():
    with pytest.raises(ValueError, match=r"^point \{\} has theta or q of the wrong shape for DirectModel"):
        C4.Point(DirectModel(3), np.zeros(8), np.full(7, 1 / 7))


# ---- io.RBMCheckpoints --------------------------------------------------------------------
def _rbm(Nv: int = 3, Nh: int = 2, seed: int = 0) -> RBMParams:
    rng = np.random.default_rng(seed)
    return RBMParams(
        0.5 * rng.standard_normal((Nv, Nh)), 0.3 * rng.standard_normal(Nv), 0.3 * rng.standard_normal(Nh)
    )


def _series(**changes: Any) -> RBMCheckpoints:
    """Three checkpoints of one training run, as ``load_rbm`` returns them from HDF5."""
    src = RBMCheckpoints("ck.h5", "hdf5", (0, 10, 100), tuple(_rbm(seed=s) for s in range(3)), "file")
    return dataclasses.replace(src, **changes) if changes else src


def test_rbm_checkpoints_accepts_one_model_and_a_series():
    single = RBMCheckpoints("m.npz", "npz", (None,), (_rbm(4, 1),), "default")
    assert (single.n_visible, single.n_hidden) == (4, 1)
    series = _series()
    assert (series.n_visible, series.n_hidden) == (3, 2)
    assert series.checkpoints == (0, 10, 100) and len(series.params) == 3


@pytest.mark.parametrize(
    ("checkpoints", "n_params"),
    [((), 0), ((None,), 0), ((), 1), ((0, 10), 1), ((0,), 2), ((0, 10, 100), 2)],
    ids=[
        "none-at-all",
        "checkpoint-without-params",
        "params-without-checkpoint",
        "fewer-params",
        "more-params",
        "one-params-missing-of-three",
    ],
)
def test_rbm_checkpoints_needs_one_params_per_checkpoint(checkpoints, n_params):
    params = tuple(_rbm(seed=s) for s in range(n_params))
    with pytest.raises(
        ValueError, match=_exact("RBMCheckpoints needs one RBMParams per checkpoint (at least one)")
    ):
        _series(checkpoints=checkpoints, params=params)


@pytest.mark.parametrize(
    ("shapes", "listed"),
    [
        (((3, 2), (3, 4)), "[(3, 2), (3, 4)]"),
        (((4, 2), (3, 2)), "[(3, 2), (4, 2)]"),
        (((3, 2), (3, 2), (2, 3)), "[(2, 3), (3, 2)]"),
    ],
    ids=["Nh-differs", "Nv-differs", "last-of-three-transposed"],
)
def test_rbm_checkpoints_refuses_checkpoints_of_different_shapes(shapes, listed):
    params = tuple(_rbm(Nv, Nh, seed) for seed, (Nv, Nh) in enumerate(shapes))
    with pytest.raises(
        ValueError, match=_exact(f"ck.h5: checkpoints disagree on weight_matrix shape: {listed}")
    ):
        _series(checkpoints=tuple(range(len(shapes))), params=params)


# ---- io.Samples ---------------------------------------------------------------------------
def _samples(**changes: Any) -> Samples:
    """Two samples of three 0/1 variables, as ``load_samples`` returns them."""
    x = np.array([[0, 1, 1], [1, 0, 1]], dtype=np.int8)
    s = Samples(x=x, values="bit", columns=(0, 1, 2), path="s.txt")
    return dataclasses.replace(s, **changes) if changes else s


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"x": np.array([[1, -1, 1]], dtype=np.int8), "values": "spin"},
        {"x": np.array([[0, 1]], dtype=np.int8), "columns": (4, 0)},
    ],
    ids=["bits", "one-spin-sample", "two-columns-selected"],
)
def test_samples_accepts_valid_samples(changes):
    s = _samples(**changes)
    assert (s.n_samples, s.n_variables) == s.x.shape
    assert s.n_variables == len(s.columns)


@pytest.mark.parametrize(
    "changes",
    [
        {"x": np.array([0, 1, 1], dtype=np.int8)},
        {"x": np.zeros((2, 3, 1), dtype=np.int8)},
        {"columns": (0, 1)},
        {"columns": (0, 1, 2, 3)},
        {"x": np.zeros((0, 3), dtype=np.int8)},
    ],
    ids=["x-1d", "x-3d", "fewer-columns-than-x", "more-columns-than-x", "no-samples"],
)
def test_samples_refuses_x_of_the_wrong_shape(changes):
    with pytest.raises(ValueError, match=_exact("Samples.x must be (M, len(columns)) with M >= 1")):
        _samples(**changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"x": np.zeros((2, 0), dtype=np.int8), "columns": ()},
        {"columns": (0, 2, 0)},
    ],
    ids=["no-column", "repeated-column"],
)
def test_samples_refuses_no_or_repeated_columns(changes):
    cols = changes["columns"]
    with pytest.raises(
        ValueError, match=_exact(f"Samples.columns must be distinct and at least one, got {cols!r}")
    ):
        _samples(**changes)


@pytest.mark.parametrize("values", ["bits", "Bit", "spins", "", "0/1", None])
def test_samples_refuses_unknown_values(values):
    with pytest.raises(ValueError, match=_exact(f"values must be 'bit' or 'spin', got {values!r}")):
        _samples(values=values)


# ---- profiles.Profile ---------------------------------------------------------------------
QUICK = PROFILES["quick"]


@pytest.mark.parametrize(
    "changes",
    [
        {"n_cases": 1},
        {"n_inits": 1},
        {"max_n_symbolic": 1},
        {"max_n_symbolic": 4},
        {"init_scales": (1.0, 100.0)},
        {"init_scales": (0.01, 1.0)},
        {"init_scales": (1.0, 0.001, 0.1)},
        {"taus": (float(np.nextafter(0.0, 1.0)), float(np.nextafter(1.0, 0.0)))},
    ],
    ids=[
        "one-case",
        "one-init",
        "max_n_symbolic-1",
        "max_n_symbolic-4",
        "exactly-two-decades",
        "two-decades-from-0.01",
        "unsorted-scales",
        "taus-just-inside-(0,1)",
    ],
)
def test_profile_accepts_boundary_values(changes):
    p = dataclasses.replace(QUICK, **changes)
    for name, value in changes.items():
        assert getattr(p, name) == value


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_cases": 0}, "a profile needs at least one case and one initialisation"),
        ({"n_cases": -1}, "a profile needs at least one case and one initialisation"),
        ({"n_inits": 0}, "a profile needs at least one case and one initialisation"),
        ({"max_n_symbolic": 0}, "max_n_symbolic must be in [1, 4]"),
        ({"max_n_symbolic": 5}, "max_n_symbolic must be in [1, 4]"),
        ({"init_scales": ()}, "init_scales must span at least two decades (THEORY.md §6)"),
        ({"init_scales": (1.0,)}, "init_scales must span at least two decades (THEORY.md §6)"),
        (
            {"init_scales": (1.0, float(np.nextafter(100.0, 0.0)))},
            "init_scales must span at least two decades (THEORY.md §6)",
        ),
        ({"init_scales": (10.0, 20.0)}, "init_scales must span at least two decades (THEORY.md §6)"),
        ({"taus": (0.0,)}, "taus must be at least one settle fraction, each in (0, 1)"),
        ({"taus": (1.0,)}, "taus must be at least one settle fraction, each in (0, 1)"),
        ({"taus": (0.1, 1.5)}, "taus must be at least one settle fraction, each in (0, 1)"),
        ({"taus": (-0.1, 0.1)}, "taus must be at least one settle fraction, each in (0, 1)"),
        ({"taus": ()}, "taus must be at least one settle fraction, each in (0, 1)"),
        ({"max_n_generic": 1}, "max_n_generic and max_n_rbm must be >= 2, got 1 and 4"),
        ({"max_n_rbm": 1}, "max_n_generic and max_n_rbm must be >= 2, got 6 and 1"),
        ({"init_scales": (0.0, 1.0)}, "init_scales must be positive and finite, got (0.0, 1.0)"),
        (
            {"init_scales": (-1.0, 1.0, 200.0)},
            "init_scales must be positive and finite, got (-1.0, 1.0, 200.0)",
        ),
        ({"init_scales": (0.01, float("inf"))}, "init_scales must be positive and finite, got (0.01, inf)"),
        ({"init_scales": (float("nan"), 1.0)}, "init_scales must be positive and finite, got (nan, 1.0)"),
        ({"t_max": 0.0}, "t_max must be positive and finite, got 0.0"),
        ({"t_max": float("inf")}, "t_max must be positive and finite, got inf"),
    ],
    ids=[
        "no-case",
        "negative-cases",
        "no-init",
        "max_n_symbolic-0",
        "max_n_symbolic-5",
        "no-scale",
        "one-scale",
        "just-under-two-decades",
        "one-factor-of-two",
        "tau-0",
        "tau-1",
        "one-tau-above-1",
        "one-tau-negative",
        "no-tau",
        "max_n_generic-1",
        "max_n_rbm-1",
        "scale-0",
        "scale-negative",
        "scale-inf",
        "scale-nan",
        "t_max-0",
        "t_max-inf",
    ],
)
def test_profile_refusals(changes, message):
    with pytest.raises(ValueError, match=_exact(message)):
        dataclasses.replace(QUICK, **changes)


# ---- verdict.Counterexample ---------------------------------------------------------------
@pytest.mark.parametrize(
    "case",
    [
        {},
        {"family": "rbm-spin", "N": 3, "widths": [2, 3], "origin": {"seed": None, "flow": True}},
        jsonable({"N": np.int64(3), "scale": np.float32(0.5), "J": np.arange(2)}),
    ],
    ids=["empty", "nested-json", "via-jsonable"],
)
def test_counterexample_accepts_plain_json_cases(case):
    ce = Counterexample("too big", case, 2.0, seed=7)
    assert ce.case == case
    assert ce.to_json()["case"] == case


@pytest.mark.parametrize(
    "case",
    [
        {"N": np.int64(3)},
        {"scale": np.float32(0.5)},
        {"J": np.zeros(2)},
        {"worst": float("nan")},
        {"rows": [1.0, float("inf")]},
        {"origin": {"model": object()}},
        {"widths": {2, 3}},
    ],
    ids=["numpy-int", "numpy-float32", "array", "nan", "inf-in-list", "nested-object", "set"],
)
def test_counterexample_refuses_a_case_that_is_not_plain_json(case):
    with pytest.raises(
        ValueError,
        match=r"^Counterexample\.case must be plain JSON \(use dsb_verifier\.checks\.verdict\.jsonable\): ",
    ):
        Counterexample("too big", case, 2.0)


# ---- verdict.Verdict ----------------------------------------------------------------------
CE = Counterexample("identity error above tolerance", {"N": 3}, 2.0, seed=1)


def _verdict(**changes: Any) -> Verdict:
    v = Verdict("C4", "H = -A^T F A", Status.HOLDS, {"N": [3, 4]}, {"worst": 1e-16}, {"abs": 1e-10})
    return dataclasses.replace(v, **changes) if changes else v


@pytest.mark.parametrize(
    ("status", "counterexamples"),
    [
        (Status.HOLDS, ()),
        (Status.INCONCLUSIVE, ()),
        (Status.HOLDS, (CE,)),
        (Status.FAILS, (CE,)),
        (Status.HOLDS_UNDER_CONDITIONS, (CE,)),
    ],
    ids=["holds", "inconclusive-without-counterexample", "holds-with-counterexample", "fails", "partial"],
)
def test_verdict_accepts(status, counterexamples):
    v = _verdict(status=status, counterexamples=counterexamples)
    assert v.to_json()["status"] == status.value
    assert len(v.to_json()["counterexamples"]) == len(counterexamples)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"claim": "C7"}, _exact("claim must be one of C1, C2, C3, C4, C5, C6, got 'C7'")),
        ({"claim": "c4"}, _exact("claim must be one of C1, C2, C3, C4, C5, C6, got 'c4'")),
        ({"status": "fails"}, _exact("status must be a dsb_verifier.checks.verdict.Status, got 'fails'")),
        ({"status": None}, _exact("status must be a dsb_verifier.checks.verdict.Status, got None")),
        ({"statement": ""}, _exact("a verdict needs the statement it tested")),
        ({"statement": None}, _exact("a verdict needs the statement it tested")),
        ({"conditions": {"N": np.int64(3)}}, r"^Verdict\.conditions must be plain JSON "),
        ({"conditions": {"scales": [0.1, float("inf")]}}, r"^Verdict\.conditions must be plain JSON "),
        ({"evidence": {"rows": [{"kl": float("nan")}]}}, r"^Verdict\.evidence must be plain JSON "),
        ({"tolerances": {"abs": np.float32(1e-10)}}, r"^Verdict\.tolerances must be plain JSON "),
        ({"tolerances": {"abs": float("nan")}}, r"^Verdict\.tolerances must be plain JSON "),
        (
            {"status": Status.FAILS},
            _exact("C4: a 'fails' verdict must carry at least one counterexample"),
        ),
        (
            {"status": Status.HOLDS_UNDER_CONDITIONS},
            _exact("C4: a 'holds-under-conditions' verdict must carry at least one counterexample"),
        ),
    ],
    ids=[
        "unknown-claim",
        "lower-case-claim",
        "status-a-string",
        "status-none",
        "empty-statement",
        "no-statement",
        "conditions-numpy-int",
        "conditions-inf",
        "evidence-nested-nan",
        "tolerances-numpy-float32",
        "tolerances-nan",
        "fails-without-counterexample",
        "partial-without-counterexample",
    ],
)
def test_verdict_refusals_name_what_was_wrong(changes, message):
    with pytest.raises(ValueError, match=message):
        _verdict(**changes)


# ---- verdict.ClaimReport ------------------------------------------------------------------
def _control(claim: str = "C4", name: str = "wrong-jacobian") -> ControlResult:
    return ControlResult(
        claim, name, "a broken Jacobian", _verdict(claim=claim, status=Status.FAILS, counterexamples=(CE,))
    )


@pytest.mark.parametrize("n_controls", [1, 3])
def test_claim_report_accepts_controls_of_its_claim(n_controls):
    controls = tuple(_control(name=f"ctl-{i}") for i in range(n_controls))
    report = ClaimReport(_verdict(), controls, seconds=1.5)
    assert report.controls == controls
    assert all(c.caught for c in report.controls)


@pytest.mark.parametrize(
    ("controls", "message"),
    [
        ((), "C4: every claim check must ship a negative control"),
        ((_control("C5", "a"),), "control 'a' belongs to C5, not C4"),
        (
            (_control("C4", "a"), _control("C4", "b"), _control("C3", "c")),
            "control 'c' belongs to C3, not C4",
        ),
    ],
    ids=["no-control", "control-of-another-claim", "last-of-three-of-another-claim"],
)
def test_claim_report_refusals(controls, message):
    with pytest.raises(ValueError, match=_exact(message)):
        ClaimReport(_verdict(), controls)


def test_control_result_refuses_a_verdict_of_another_claim():
    with pytest.raises(ValueError, match=_exact("control 'swap' of C5 carries a verdict of C4")):
        ControlResult("C5", "swap", "mislabelled", _verdict(status=Status.FAILS, counterexamples=(CE,)))


@pytest.mark.parametrize("seconds", [-1.0, float("nan"), float("inf")])
def test_claim_report_refuses_a_duration_that_is_not_one(seconds):
    with pytest.raises(ValueError, match=_exact(f"seconds must be a finite duration >= 0, got {seconds!r}")):
        ClaimReport(_verdict(), (_control(),), seconds=seconds)
    assert ClaimReport(_verdict(), (_control(),), seconds=0.0).seconds == 0.0


@pytest.mark.parametrize("case", [[("N", 3)], None, "N=3"], ids=["pairs", "none", "string"])
def test_counterexample_case_must_be_a_mapping(case):
    message = f"Counterexample.case must be a mapping of coordinates, got {type(case).__name__}"
    with pytest.raises(ValueError, match=_exact(message)):
        Counterexample("too big", case, 2.0)


# ---- verdict.ControlResult.to_json --------------------------------------------------------------
def test_control_result_json_reports_the_first_counterexample_or_none():
    second = Counterexample("second failure", {"N": 4}, 1.0, seed=2)
    failing = _verdict(status=Status.FAILS, counterexamples=(CE, second))
    caught = ControlResult("C4", "wrong-jacobian", "a broken Jacobian", failing)
    doc = caught.to_json()
    assert set(doc) == {
        "claim",
        "name",
        "description",
        "expected",
        "observed",
        "caught",
        "evidence",
        "counterexample",
    }
    assert doc["counterexample"] == {
        "description": "identity error above tolerance",
        "case": {"N": 3},
        "value": 2.0,
        "seed": 1,
    }
    assert (doc["expected"], doc["observed"], doc["caught"]) == ("fails", "fails", True)
    missed = ControlResult("C4", "wrong-jacobian", "a broken Jacobian", _verdict(status=Status.HOLDS))
    assert missed.to_json()["counterexample"] is None
    assert (missed.to_json()["observed"], missed.to_json()["caught"]) == ("holds", False)
