"""Claims C1 and C2 (checks/c1_bijection.py, checks/c2_convexity.py), the shared worst-case bookkeeping
(checks/_common.py) and the runner (checks/runner.py): evidence, counterexamples and provenance on
hand-built inputs.

What this pins, beyond the end-to-end runs of tests/test_c1_c2.py and tests/test_executor.py:

* :class:`~dsb_verifier.checks.claims._common.Worst`: the summary keys and counts every evidence entry is built from;
* C1 ``evaluate``: a round-trip counterexample names the quantity it measured; counterexamples are
  listed worst first;
* C1 ``run``: the conditions agree with the evidence counts and carry the seed and target strategy;
* C2 ``evaluate``: the midpoint test pairs the two points drawn at one scale and reports
  ``-gap / |x - y|^2``, checked against a hand-written ``L`` of ``RBM(2, 1)`` at points related by the
  hidden-unit sign symmetry (equal ``L`` at both ends, ``W = 0`` at the midpoint: not concave);
* C2 ``run``: the sizes of the sweeps (concavity targets, flow targets ``max(3, n_cases // 4)``) and
  their split per N, with ``evaluate`` replaced by a recorder; ``_merge``: status rules, summed
  counts and the cap of ten counterexamples;
* :func:`~dsb_verifier.checks.runner.run_checks` with fake claim modules: the executor reaches the claims whose
  ``run`` accepts it, the user target's provenance (``n_states``, ``used_by``, ``generated_only``),
  and ``wall_seconds`` is the elapsed time.
"""

from __future__ import annotations

import dataclasses
import sys
import time
import types
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks import runner
from dsb_verifier.checks.claims import c1_bijection as c1
from dsb_verifier.checks.claims import c2_convexity as c2
from dsb_verifier.checks.claims._common import Worst
from dsb_verifier.checks.claims.controls import WrongSpinSign
from dsb_verifier.checks.executors import IdentityCheckedExecutor
from dsb_verifier.checks.profiles import get_profile
from dsb_verifier.checks.verdict import ClaimReport, ControlResult, Status, Verdict
from dsb_verifier.theory.models import RBM, DirectModel
from dsb_verifier.theory.tolerances import ROUNDTRIP_RTOL

QUICK = get_profile("quick")


# ---- Worst: the evidence entry -------------------------------------------------------------------
def test_worst_summary_reports_the_worst_case_and_counts():
    w = Worst(0.1, "error", seed=4)
    w.add(0.05, index=0)
    w.add(0.5, index=1)
    w.add(0.2, index=2)
    assert w.summary() == {"worst": 0.5, "worst_case": {"index": 1}, "n_cases": 3, "n_failed": 2}
    assert [c.case["index"] for c in w.failures] == [1, 2]
    assert w.failures[0].description == "error = 0.5 exceeds 0.1"
    assert w.failures[0].seed == 4
    assert Worst(0.1, "error").summary() == {"worst": 0.0, "worst_case": {}, "n_cases": 0, "n_failed": 0}


# ---- C1: evaluate ----------------------------------------------------------------------------------
def test_c1_roundtrip_counterexample_names_the_quantity(monkeypatch):
    """With a zero tolerance the (tiny, non-zero) round-trip error of a near-degenerate target fails."""
    monkeypatch.setitem(c1.TOLERANCES, "roundtrip_rel", 0.0)
    p = np.array([1e-300, 0.5, 0.25, 0.25])
    v = c1.evaluate([p], [], [], seed=9, conditions={})
    assert v.status is Status.FAILS
    (cex,) = v.counterexamples
    assert 0.0 < cex.value < ROUNDTRIP_RTOL  # fails only because the tolerance is 0
    assert cex.description == f"relative p -> J -> p error = {cex.value:.3g} exceeds 0"
    assert cex.case == {"kind": "target", "index": 0, "N": 2, "min_p": 1e-300}
    assert cex.seed == 9
    summary = {"worst": cex.value, "worst_case": cex.case, "n_cases": 1, "n_failed": 1}
    assert v.evidence["roundtrip"] == summary


def test_c1_counterexamples_worst_first():
    """A wrong spin sign fails the couplings and finite-difference checks; the worst case comes first."""
    wrong = WrongSpinSign(RBM(2, 1))
    models = [(wrong, wrong.init(np.random.default_rng(k), 0.8)) for k in range(3)]
    v = c1.evaluate([], models, [], seed=0, conditions={})
    assert v.status is Status.FAILS
    values = [c.value for c in v.counterexamples]
    assert len(values) == sum(v.evidence[k]["n_failed"] for k in ("couplings_transform", "jacobian_fd"))
    assert values == sorted(values, reverse=True)
    assert values[0] == max(v.evidence[k]["worst"] for k in ("couplings_transform", "jacobian_fd"))


# ---- C1: run -----------------------------------------------------------------------------------------
def test_c1_conditions_agree_with_the_evidence():
    profile = dataclasses.replace(QUICK, n_cases=1, max_n_generic=2, max_n_rbm=2, max_n_symbolic=1)
    report = c1.run(profile, 3)
    cond, ev = report.verdict.conditions, report.verdict.evidence
    assert cond["seed"] == 3
    assert (
        cond["target_strategy"]
        == "dsb_verifier.checks.claims.cases.distribution(min_log10=-12) + named cases"
    )
    assert cond["n_targets"] == ev["roundtrip"]["n_cases"] == 1 + 2  # drawn + two named cases
    assert cond["n_models"] == ev["couplings_transform"]["n_cases"] == ev["jacobian_fd"]["n_cases"] == 12
    assert cond["n_symbolic_cases"] == ev["symbolic_parity"]["n_cases"] == 2
    for ctl in report.controls:
        assert ctl.verdict.conditions == {**cond, "control": ctl.name}
        assert all(c.seed == 3 for c in ctl.verdict.counterexamples)


# ---- C2: the midpoint test ----------------------------------------------------------------------------
class _ScriptedRBM(RBM):
    """``RBM(2, 1)`` whose ``init`` returns given points in order (the rng and scale are ignored)."""

    def __init__(self, points):
        super().__init__(2, 1)
        self._points = iter(points)

    def init(self, rng, scale):
        return np.array(next(self._points), dtype=np.float64)


def _loglik_rbm21(theta, q):
    """``L = sum_s q log p`` of a spin-hidden ``RBM(2, 1)``, ``theta = (a1, a2, c, W1, W2)``, by hand."""
    a1, a2, c, w1, w2 = theta
    states = [(1 - 2 * (b & 1), 1 - 2 * (b >> 1 & 1)) for b in range(4)]
    u = np.array([a1 * s1 + a2 * s2 + np.log(2 * np.cosh(c + w1 * s1 + w2 * s2)) for s1, s2 in states])
    return float(np.sum(q * (u - np.log(np.sum(np.exp(u))))))


def test_c2_midpoint_gaps_pair_the_two_points_of_each_scale():
    """Pairs (theta, theta with W -> -W): same L at both ends, W = 0 in the middle, so L is not concave."""
    J = np.zeros(4)
    J[3] = 1.0  # s1 s2 correlated: W != 0 fits it, W = 0 cannot
    q = T.prob(J)
    points = [
        (0.3, -0.2, 0.0, 1.0, 1.0),
        (0.3, -0.2, 0.0, -1.0, -1.0),
        (0.0, 0.0, 0.0, 2.0, 2.0),
        (0.0, 0.0, 0.0, -2.0, -2.0),
    ]
    v = c2.evaluate(
        _ScriptedRBM(points),
        [q],
        [],
        seed=0,
        conditions={},
        point_scales=(1.0, 2.0),
        flow_scales=(),
        t_max=1.0,
    )
    expected = {}
    for j in (0, 2):
        x, y = np.array(points[j]), np.array(points[j + 1])
        gap = _loglik_rbm21((x + y) / 2, q) - (_loglik_rbm21(x, q) + _loglik_rbm21(y, q)) / 2
        expected[j] = -gap / float(np.sum((x - y) ** 2))
    assert min(expected.values()) > 0  # both pairs violate midpoint concavity
    got = {
        c.case["pair"]: c.value
        for c in v.counterexamples
        if c.description.startswith("negative midpoint gap L((x+y)/2) - (L(x)+L(y))/2, per |x-y|^2")
    }
    assert got == pytest.approx(expected, rel=1e-9, abs=0.0)
    mid = v.evidence["midpoint_concavity"]
    worst = max(expected, key=expected.get)
    assert mid["worst"] == pytest.approx(expected[worst], rel=1e-9, abs=0.0)
    assert mid["worst_case"] == {"pair": worst, "family": "rbm-spin", "N": 2, "target": 0}
    assert (mid["n_cases"], mid["n_failed"]) == (2, 2)
    assert v.status is Status.FAILS


# ---- C2: run (evaluate replaced by a recorder) and _merge ----------------------------------------------
@pytest.fixture(scope="module")
def holds_verdict() -> Verdict:
    q = T.dirichlet_target(2, np.random.default_rng(0))
    return c2.evaluate(
        DirectModel(2), [q], [], seed=0, conditions={}, point_scales=(0.5,), flow_scales=(), t_max=1.0
    )


@pytest.fixture(scope="module")
def fails_verdict() -> Verdict:
    """RBM coordinates at N = 2: six counterexamples (Hessian and midpoint)."""
    q = T.dirichlet_target(2, np.random.default_rng(0))
    v = c2.evaluate(
        RBM(2, 1), [q], [], seed=0, conditions={}, point_scales=(1.0, 2.0), flow_scales=(), t_max=1.0
    )
    assert v.status is Status.FAILS and len(v.counterexamples) == 6
    return v


def _recorded_run(monkeypatch, verdict, profile, seed=0):
    calls = []

    def record(model, targets, flow_targets, **kwargs):
        calls.append((model, list(targets), list(flow_targets), kwargs))
        return verdict

    monkeypatch.setattr(c2, "evaluate", record)
    return c2.run(profile, seed), calls


@pytest.mark.parametrize(("n_cases", "n_flow"), [(60, 15), (20, 5), (12, 3), (4, 3)])
def test_c2_sweep_sizes_and_split_per_n(monkeypatch, holds_verdict, n_cases, n_flow):
    """``n_cases`` concavity targets and ``max(3, n_cases // 4)`` flow targets, evaluated once per N."""
    profile = dataclasses.replace(get_profile("thorough"), n_cases=n_cases)
    report, calls = _recorded_run(monkeypatch, holds_verdict, profile)
    cond = report.verdict.conditions
    assert (cond["n_targets_concavity"], cond["n_targets_flow"]) == (n_cases, n_flow)
    per_n, controls = calls[:-2], calls[-2:]
    assert [m.n_visible for m, *_ in per_n] == cond["N"]
    assert all(isinstance(m, DirectModel) for m, *_ in per_n)
    assert sum(len(t) for _, t, _, _ in per_n) == n_cases
    assert sum(len(f) for _, _, f, _ in per_n) == n_flow
    for m, targets, flows, kwargs in per_n:
        assert all(q.size == 2**m.n_visible for q in targets + flows)
        # flows: unnormalised weights in [1e-3, 1] ("min_log10 = -3 flows")
        assert all(q.min() >= 1e-3 / q.size * (1 - 1e-12) for q in flows)
        assert kwargs["seed"] == 0 and kwargs["conditions"] is cond
    assert max(m.n_visible for m, _, f, _ in per_n if f) <= 5
    assert [type(m).__name__ for m, *_ in controls] == ["RBM", "DirectModel"]
    assert controls[1][3]["fisher_fn"] is c2.fisher_or


def test_c2_merge_status_counts_and_at_most_ten_counterexamples(holds_verdict, fails_verdict):
    merged = c2._merge([fails_verdict, holds_verdict, fails_verdict], {"seed": 0})
    assert merged.status is Status.FAILS
    assert merged.counterexamples == (fails_verdict.counterexamples * 2)[:10]
    ev = merged.evidence
    assert len(ev["per_N"]) == 3
    n_pd = sum(v.evidence["hessian_pd"]["n_cases"] for v in (fails_verdict, holds_verdict, fails_verdict))
    assert ev["headline"].startswith(f"-Hess L positive definite at {n_pd} points")
    assert ev["smallest_eigenvalue_of_minus_hessian"] == min(
        fails_verdict.evidence["smallest_eigenvalue_of_minus_hessian"],
        holds_verdict.evidence["smallest_eigenvalue_of_minus_hessian"],
    )
    inconclusive = dataclasses.replace(holds_verdict, status=Status.INCONCLUSIVE)
    assert c2._merge([holds_verdict, inconclusive], {}).status is Status.INCONCLUSIVE
    assert c2._merge([holds_verdict, holds_verdict], {}).status is Status.HOLDS


# ---- runner: fake claim modules ----------------------------------------------------------------------
def _fake_report(claim: str) -> ClaimReport:
    v = Verdict(claim=claim, statement="fake", status=Status.HOLDS, conditions={}, evidence={}, tolerances={})
    ctl = ControlResult(
        claim=claim,
        name="fake",
        description="fake",
        verdict=dataclasses.replace(v, status=Status.INCONCLUSIVE),
    )
    return ClaimReport(verdict=v, controls=(ctl,), seconds=0.0)


@pytest.fixture
def fakes(monkeypatch):
    """C1 takes a user target (no executor), C2 an executor (no target); each records what it got."""
    log: list[tuple[str, object]] = []

    def run_c1(profile, seed, target=None):
        log.append(("C1", target))
        return _fake_report("C1")

    def run_c2(profile, seed, *, executor=None):
        log.append(("C2", executor))
        return _fake_report("C2")

    for claim, run in (("C1", run_c1), ("C2", run_c2)):
        mod = types.ModuleType(f"fake_claim_{claim}")
        mod.run = run
        monkeypatch.setitem(sys.modules, mod.__name__, mod)
        monkeypatch.setitem(runner.CLAIM_MODULES, claim, mod.__name__)
    return log


def test_runner_hands_the_executor_to_claims_that_accept_it(fakes):
    with ThreadPoolExecutor(1) as ex:  # C2 spreads its own cases: it gets the (checked) executor
        runner.run_checks(QUICK, 0, ("C2",), executor=ex)
    runner.run_checks(QUICK, 0, ("C2",))
    (claim, handed), serial = fakes
    assert claim == "C2" and isinstance(handed, IdentityCheckedExecutor) and handed.inner is ex
    assert serial == ("C2", None)


def test_runner_records_the_user_target_and_the_elapsed_time(fakes):
    q = np.full(8, 1 / 8)
    t0 = time.perf_counter()
    report = runner.run_checks(
        QUICK, 1, ("C2", "C1"), target=q, target_info={"path": "d.csv", "replay_args": "--data d.csv"}
    )
    elapsed = time.perf_counter() - t0
    assert [claim for claim, _ in fakes] == ["C1", "C2"] and fakes[0][1] is q
    prov = report.provenance
    user = {"path": "d.csv", "n_states": 8, "used_by": ["C1"], "generated_only": ["C2"]}
    assert prov["user_target"] == user
    assert prov["replay"].endswith("--claims C1,C2 --data d.csv")
    notes = [c.verdict.conditions["target"] for c in report.claims]
    assert notes == ["user data", "generated targets only (this check takes no user data)"]
    assert 0.0 <= report.wall_seconds <= elapsed
    assert report.to_json()["provenance"]["wall_seconds"] == round(report.wall_seconds, 3)


# ---- non-finite errors are reported, not crashed on ------------------------------------------------
def test_worst_summary_of_a_non_finite_error_is_plain_json():
    w = Worst(0.1, "error")
    w.add(0.05, index=0)
    w.add(float("inf"), index=1)
    w.add(0.5, index=2)  # the infinite error stays the worst
    assert w.summary() == {"worst": "inf", "worst_case": {"index": 1}, "n_cases": 3, "n_failed": 2}
    nan = Worst(0.1, "error")
    nan.add(float("nan"), index=0)
    assert nan.summary()["worst"] == "nan" and not nan.ok


def test_c2_failed_flow_is_a_counterexample_not_a_crash(monkeypatch):
    """A flow that fails is documented as a counterexample (error inf): C2 must say FAILS, not raise."""
    real = c2._flow

    def failing(task):
        tr = real(task)
        return dataclasses.replace(tr, status="failed", message="forced failure")

    monkeypatch.setattr(c2, "_flow", failing)
    q = T.dirichlet_target(2, np.random.default_rng(0))
    v = c2.evaluate(
        DirectModel(2), [], [q], seed=1, conditions={}, point_scales=(), flow_scales=(0.1,), t_max=10.0
    )
    assert v.status is Status.FAILS
    assert v.evidence["flow_to_J_q"]["worst"] == "inf" and v.evidence["flow_to_J_q"]["n_failed"] == 1
    (cex,) = v.counterexamples
    assert cex.value == np.inf and cex.case["status"] == "failed"
    assert cex.to_json()["value"] == "inf"
