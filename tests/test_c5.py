"""C5 end to end on a tiny plan: report contract, control, determinism, user data, progress, figures.

The plan is small (N = 4, two families) so that the default run stays fast; the
quick profile itself at two seeds is the slow test at the end.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks.claims import c5
from dsb_verifier.checks.claims.c5 import check as c5_check
from dsb_verifier.checks.claims.c5.plan import BATCH_SIZE, Plan, Stage
from dsb_verifier.checks.claims.replicate import replicate_seed, stable_status
from dsb_verifier.checks.profiles import get_profile
from dsb_verifier.checks.runner import CLAIM_MODULES, Report
from dsb_verifier.checks.verdict import ClaimReport, Status

PROFILE = dataclasses.replace(
    get_profile("quick"), name="tiny", n_inits=2, init_scales=(0.01, 1.0), t_max=2e3
)
PLAN = Plan(stages=(Stage(4, ("direct", "rbm-spin"), 3, 2, (0.01, 1.0), 3),), taus=(0.1, 0.01), t_max=2e3)

PAIR_KEYS = {
    "source",
    "underpowered",
    "n_censored_unrealisable",
    "family",
    "N",
    "init_scale",
    "reading",
    "tau",
    "k_low",
    "k_high",
    "n_lower_first",
    "n_higher_first",
    "n_tied",
    "ci_low",
    "ci_high",
    "outcome",
    "predicted",
}


@pytest.fixture(scope="module")
def calls() -> list[tuple[int, int]]:
    return []


@pytest.fixture(scope="module")
def report(calls) -> ClaimReport:
    return c5.run(PROFILE, 0, plan=PLAN, progress=lambda done, total: calls.append((done, total)))


def test_the_runner_maps_C5_to_this_package():
    assert CLAIM_MODULES["C5"] == "dsb_verifier.checks.claims.c5"


def test_report_json_contract(report):
    doc = Report(claims=(report,), provenance={}, wall_seconds=0.0).to_json()
    (claim,) = doc["claims"]
    ev = claim["evidence"]
    assert ev["pairs"] and all(PAIR_KEYS <= set(p) for p in ev["pairs"])
    for p in ev["pairs"]:
        assert p["outcome"] in {"supports", "contradicts", "undecided"}
        assert p["predicted"] in {"separation", "tie"}
        assert 0.0 <= p["ci_low"] <= p["ci_high"] <= 1.0
    assert set(ev["readings"]) == {"a", "b", "c"}
    assert all(isinstance(x["discriminating"], bool) for x in ev["readings"].values())
    (control,) = [c for c in doc["controls"] if c["claim"] == "C5"]
    assert control["name"] == "reversed-kernel" and control["expected"] == "fails"
    size = ev["evidence_size"]
    # 2 families x (6 planted and teacher targets at 2 scales + 3 k-body at the small one) x 2 inits
    assert size["n_flows"] == 2 * (6 * 2 + 3 * 1) * 2 and size["n_inits"] == 2
    assert {"n_targets", "n_flows_at_t_max", "n_failed_flows", "n_censored_settle_times"} <= set(size)
    assert set(ev["excluded_orders"]) == {"planted", "k-body", "teacher"}
    json.dumps(doc, allow_nan=False)


def test_the_reversed_kernel_control_is_caught(report):
    (control,) = report.controls
    assert control.caught, control.verdict.evidence["headline"]
    assert control.verdict.status is Status.FAILS and control.verdict.counterexamples
    assert {p["family"] for p in control.verdict.evidence["pairs"]} == {c5.plan.CONTROL_FAMILY}
    assert {p["init_scale"] for p in control.verdict.evidence["pairs"]} == {0.01}
    assert {p["predicted_direction"] for p in control.verdict.evidence["pairs"]} == {"higher-first"}


def test_real_run_and_control_share_the_evaluation(report):
    """Same readings verdict (the control's runs decide discrimination in both), same tolerances."""
    (control,) = report.controls
    assert report.verdict.evidence["readings"] == control.verdict.evidence["readings"]
    assert report.verdict.tolerances == control.verdict.tolerances
    assert set(report.verdict.evidence) - {"mechanism"} == set(control.verdict.evidence)


def test_mechanism_predictions_follow_the_kernel(report):
    pairs = report.verdict.evidence["pairs"]
    assert {p["predicted"] for p in pairs if p["family"] == "direct"} == {"tie"}
    rbm = {
        (p["k_low"], p["k_high"]): p["predicted"]
        for p in pairs
        if p["family"] == "rbm-spin" and p["init_scale"] == 0.01
    }
    assert rbm[(1, 2)] == rbm[(2, 3)] == "separation"  # exponents 0, 2, 6
    assert rbm[(3, 4)] == "tie"  # exponents 6, 6
    s = report.verdict.evidence["mechanism"]["rbm-spin N=4"]["exponents"]
    assert s["1"] == pytest.approx(0.0, abs=0.1) and s["2"] == pytest.approx(2.0, abs=0.1)
    assert s["3"] == pytest.approx(6.0, abs=0.3) and s["4"] == pytest.approx(6.0, abs=0.3)


def test_progress_is_reported_per_batch_of_flows(report, calls):
    total = 2 * (  # the run's seed and the replicate seed
        report.verdict.evidence["evidence_size"]["n_flows"]
        + report.controls[0].verdict.evidence["evidence_size"]["n_flows"]
    )
    done = [k for k, _ in calls]
    assert {t for _, t in calls} == {total} and done[-1] == total
    steps = np.diff([0, *done])
    assert steps.min() >= 1 and steps.max() <= BATCH_SIZE  # one call per batch, in order
    assert len(calls) >= -(-total // BATCH_SIZE)


def test_deterministic_for_a_seed(report):
    again = c5.run(PROFILE, 0, plan=PLAN)
    assert json.dumps(again.verdict.to_json()) == json.dumps(report.verdict.to_json())
    assert json.dumps(again.controls[0].to_json()) == json.dumps(report.controls[0].to_json())


def test_user_target_joins_as_its_own_population():
    plan = Plan(stages=(Stage(3, ("direct",), 1, 1, (0.01, 1.0), 1),), taus=(0.1,), t_max=50.0)
    q = T.ising_target(3, {1: 0.4, 2: 0.4, 3: 0.4}, np.random.default_rng(9))
    rep = c5.run(PROFILE, 0, q, plan=plan)
    assert rep.verdict.conditions["user_target"] == {"N": 3, "used": True}
    assert "user" in rep.verdict.evidence["excluded_orders"]
    big = T.ising_target(9, {1: 0.4}, np.random.default_rng(9))
    rep = c5.run(PROFILE, 0, big, plan=plan)
    assert rep.verdict.conditions["user_target"]["used"] is False
    assert "user" not in rep.verdict.evidence["excluded_orders"]
    assert c5_check._user(np.array([0.3, 0.7]))[1] == {
        "N": 1,
        "used": False,
        "reason": "N < 2: no pair of orders to compare",
    }
    with pytest.raises(ValueError, match="target"):
        c5_check._user(np.array([0.5, 0.6]))


def test_figures_are_written(report, tmp_path):
    paths = c5.figures(report, tmp_path)
    assert [p.split("/")[-1] for p in paths] == [
        "c5_forest_direct.png",
        "c5_forest_rbm-spin.png",
        "c5_fig1_coupling_error.png",
    ]
    for p in paths:
        with open(p, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_the_run_is_decided_at_its_seed_and_the_replicate_seed(report):
    r = replicate_seed(0)
    rep = report.verdict.evidence["replicate"]
    assert [b["seed"] for b in rep["by_seed"]] == [0, r]
    assert report.verdict.conditions["replicate_seed"] == r
    statuses = [Status(b["status"]) for b in rep["by_seed"]]
    assert report.verdict.status is stable_status(statuses[0], statuses[1], (0, r))[0]
    assert rep["agree"] is (statuses[0] is statuses[1])
    assert {b["evidence_size"]["n_flows"] for b in rep["by_seed"]} == {
        2 * (6 * 2 + 3) * 2
    }  # same plan at both
    (control,) = report.controls
    assert [b["status"] for b in control.verdict.evidence["replicate"]["by_seed"]] == ["fails", "fails"]


def test_seeds_that_disagree_make_the_status_inconclusive(monkeypatch):
    real = c5_check._decide

    def flipped(plan, seed, *args, **kwargs):
        verdict, control = real(plan, seed, *args, **kwargs)
        wanted = Status.HOLDS if seed == 0 else Status.INCONCLUSIVE
        return dataclasses.replace(verdict, status=wanted), control

    monkeypatch.setattr(c5_check, "_decide", flipped)
    plan = Plan(stages=(Stage(3, ("direct",), 1, 1, (0.01,), 1),), taus=(0.1,), t_max=50.0)
    v = c5.run(PROFILE, 0, plan=plan).verdict
    assert v.status is Status.INCONCLUSIVE
    reason = f"seed 0 gives holds but replicate seed {replicate_seed(0)} gives inconclusive: not reproduced, so inconclusive"
    assert v.evidence["replicate"]["reason"] == reason
    assert v.evidence["headline"].startswith(reason + "; seed 0: ")


@pytest.mark.slow
def test_two_seeds_of_the_quick_profile_give_the_same_status():
    """The standard (issue 14, item 7): another seed of the same profile, the same C5 status."""
    quick = get_profile("quick")
    a, b = (c5.run(quick, s).verdict.status for s in (0, 1))
    assert a is b
