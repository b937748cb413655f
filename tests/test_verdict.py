"""Verdict dataclasses, decision rule, seeded case drawing and profiles."""

import dataclasses
import json

import numpy as np
import pytest
from dsb_verifier.checks.claims.cases import distribution, draw_cases
from dsb_verifier.checks.profiles import PROFILES, Profile, get_profile
from dsb_verifier.checks.verdict import (
    ClaimReport,
    ControlResult,
    Counterexample,
    Status,
    Verdict,
    decide,
    jsonable,
)


def _verdict(status=Status.HOLDS, counterexamples=()):
    return Verdict(
        claim="C1",
        statement="a claim",
        status=status,
        conditions={"N": [1, 2]},
        evidence={"worst": 1e-16},
        tolerances={"abs": 1e-10},
        counterexamples=counterexamples,
    )


def test_decide():
    assert decide({"a": True, "b": True}) is Status.HOLDS
    assert decide({"a": False, "b": False}) is Status.FAILS
    assert decide({"a": True, "b": False}) is Status.HOLDS_UNDER_CONDITIONS
    assert decide({}) is Status.INCONCLUSIVE
    assert decide({"a": True}, inconclusive=True) is Status.INCONCLUSIVE


def test_failing_verdict_needs_a_counterexample():
    with pytest.raises(ValueError, match="must carry at least one counterexample"):
        _verdict(Status.FAILS)
    with pytest.raises(ValueError, match="must carry at least one counterexample"):
        _verdict(Status.HOLDS_UNDER_CONDITIONS)
    ce = Counterexample("too big", {"N": 3}, 2.0, seed=1)
    assert _verdict(Status.FAILS, (ce,)).to_json()["counterexamples"][0]["seed"] == 1


def test_verdict_refuses_non_json_evidence():
    with pytest.raises(ValueError, match="plain JSON"):
        Verdict("C1", "s", Status.HOLDS, {}, {"x": object()}, {})
    with pytest.raises(ValueError, match="plain JSON"):
        Verdict("C1", "s", Status.HOLDS, {}, {"x": float("nan")}, {})
    with pytest.raises(ValueError, match="Status"):
        Verdict("C1", "s", "holds", {}, {}, {})


def test_jsonable_converts_numpy():
    out = jsonable({"a": np.float64(1.5), "b": np.arange(3), "c": np.bool_(True), "d": np.inf})
    assert json.dumps(out) == '{"a": 1.5, "b": [0, 1, 2], "c": true, "d": "inf"}'
    with pytest.raises(TypeError, match=r"^cannot put complex into a JSON report$"):
        jsonable({"z": 1j})


def test_report_requires_controls():
    with pytest.raises(ValueError, match="negative control"):
        ClaimReport(verdict=_verdict(), controls=())
    ce = Counterexample("x", {}, 1.0)
    ctl = ControlResult("C2", "c", "d", dataclasses.replace(_verdict(Status.FAILS, (ce,)), claim="C2"))
    with pytest.raises(ValueError, match="belongs to C2, not C1"):
        ClaimReport(verdict=_verdict(), controls=(ctl,))


def test_control_caught_only_when_expected_status_observed():
    ce = Counterexample("x", {}, 1.0)
    assert ControlResult("C1", "c", "d", _verdict(Status.FAILS, (ce,))).caught
    assert not ControlResult("C1", "c", "d", _verdict(Status.HOLDS)).caught
    assert not ControlResult("C1", "c", "d", _verdict(Status.INCONCLUSIVE)).caught


def test_draw_cases_is_replayable():
    def gen(rng):
        return distribution(rng, max_n=4)

    a = draw_cases(gen, 8, 3, "C1", "targets")
    b = draw_cases(gen, 8, 3, "C1", "targets")
    c = draw_cases(gen, 8, 4, "C1", "targets")
    assert len(a) == 8
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    with pytest.raises(ValueError, match="positive integer"):
        draw_cases(gen, 0, 1)
    with pytest.raises(ValueError, match="non-negative"):
        draw_cases(gen, 2, -1)
    for n in (True, 2.0, "2"):  # a bool is an int to Python, not a number of cases
        with pytest.raises(ValueError, match=r"^n must be a positive integer number of cases, got "):
            draw_cases(gen, n, 1)
    for seed in (True, 1.0):
        with pytest.raises(ValueError, match=r"^seed must be a non-negative integer, got "):
            draw_cases(gen, 2, seed)


def test_profiles():
    assert get_profile("quick") is PROFILES["quick"]
    with pytest.raises(ValueError, match="expected one of quick, thorough, extended"):
        get_profile("fast")
    with pytest.raises(ValueError, match="two decades"):
        Profile("x", 1, 3, 3, 2, 1, (0.1, 1.0), (0.1,), 10.0)
    for p in PROFILES.values():
        assert max(p.init_scales) / min(p.init_scales) >= 100
