"""Claim C3 (checks/c3_fixed_points.py): existence outcomes, evidence fields, run conditions, controls.

What this pins, beyond the end-to-end run of tests/test_c3_c6.py and the flow plan and point rows of
tests/test_claim_evidence.py:

* existence per family (module docstring): ``found`` when a declared-sufficient flow reached a
  data-consistent point, ``unresolved`` when none did but one is unresolved, ``failed`` when all
  ended at resolved spurious points (with the smallest residual among them); the status that
  follows (``holds-under-conditions`` for some failing families, ``fails`` when all fail) and the
  counterexample naming the failing family;
* the evidence: per-family tallies (kinds, the distinct ranks ``rank/n_rows`` per kind, lowest
  orders, maxima of KL and ``|r|``), the construction rows (with ``rank`` and ``n_rows``: spurious
  constructions are rank deficient), the full-rank implication summary;
* :func:`run` bookkeeping with constructions and flows replaced by recorders: the conditions
  (``flow_pairs`` marking undeclared pairs, ``construction_N``), the construction tasks, and the
  controls' conditions;
* the negative controls: ``wrong-jacobian`` re-examines only the constructions (i), (ii), labelled
  ``<family> [WrongJacobian]``; ``under-expressive-as-sufficient`` flows from scales 0.1 and 1
  (at most two starts) and fails;
* :func:`construction_task` / :func:`construction_candidates` pass ``t_max`` down to the tied flows of
  construction (ii) (recorded instead of integrated).

The point set: a two-unit RBM teacher at N = 3 (scale 0.5), its construction (i) points and its
K = 1 max-ent fit, some of them relabelled as flow end points.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import theory as T
from checks import c3_fixed_points as c3
from checks.profiles import get_profile
from checks.verdict import Status
from theory.models import RBM, rbm_teacher


@pytest.fixture(scope="module")
def small() -> dict[str, c3.Candidate]:
    teacher, theta_t, q = rbm_teacher(3, 2, np.random.default_rng(0), 0.5)

    def cand(origin, model, theta, family=None, sufficient=True, info=None, expected=None):
        g = float(np.linalg.norm(T.grad_loglik(model, theta, q)))
        fam = family or model.family
        return c3.Candidate(
            origin, fam, 3, "rbm-teacher", sufficient, model, q, theta, g, info or {}, expected
        )

    m1, th1 = T.maxent_point(q, 1)
    bit = RBM(3, 2, "bit")
    return {
        "teacher": cand("teacher", teacher, theta_t),
        "flow_at_teacher": cand("flow", teacher, theta_t, info={"init": 0}),
        "i_spin": cand(
            "construction-i", *T.independent_point(q, 2, "spin"), info={"c": 0.0}, expected=(2, 2)
        ),
        "i_bit": cand("construction-i", *T.independent_point(q, 2, "bit"), info={"c": 0.0}, expected=(2, 2)),
        "iii_1": cand("construction-iii", m1, th1, "truncated-1", False, {"K": 1}, (2, 2)),
        # a flow that did not reach a stationary point
        "flow_bit_unresolved": cand("flow", bit, bit.init(np.random.default_rng(1), 1.0), info={"init": 1}),
    }


def _as_flow(c: c3.Candidate, init: int, **changes) -> c3.Candidate:
    return dataclasses.replace(c, origin="flow", info={"init": init}, expected_lowest=None, **changes)


@pytest.fixture(scope="module")
def mixed(small):
    """rbm-spin: one flow at the teacher, two at the W = 0 point (found); rbm-bit: one unresolved,
    one at its W = 0 point (unresolved); truncated-1 declared sufficient, at its max-ent fit (failed);
    plus the teacher and the constructions (i), (iii)."""
    cands = [
        small["teacher"],
        small["flow_at_teacher"],
        _as_flow(small["i_spin"], 1),
        _as_flow(small["i_spin"], 2),
        small["flow_bit_unresolved"],
        _as_flow(small["i_bit"], 0),
        _as_flow(small["iii_1"], 0, sufficient=True),
        small["i_spin"],
        small["i_bit"],
        small["iii_1"],
    ]
    return cands, c3.evaluate(cands, seed=0, conditions={"who": "test"})


# ---- existence and status ------------------------------------------------------------------------
def test_existence_outcome_per_family(mixed, small):
    _, v = mixed
    ex = v.evidence["existence"]
    assert {fam: e["outcome"] for fam, e in ex.items()} == {
        "rbm-spin": "found",
        "rbm-bit": "unresolved",
        "truncated-1": "failed",
    }
    assert (ex["rbm-spin"]["n_flows"], ex["rbm-spin"]["consistent"], ex["rbm-spin"]["unresolved"]) == (
        3,
        1,
        0,
    )
    assert (ex["rbm-bit"]["n_flows"], ex["rbm-bit"]["consistent"], ex["rbm-bit"]["unresolved"]) == (2, 0, 1)
    assert ex["truncated-1"]["targets"] == ["rbm-teacher N=3"]
    # min_residual: smallest |r| among the family's spurious flow end points, 0 when there is none
    rows = {(r["origin"], r["family"], r.get("init")): r for r in v.evidence["points"]}
    assert ex["truncated-1"]["min_residual"] == rows[("flow", "truncated-1", 0)]["residual_norm"] > 0
    assert ex["rbm-bit"]["min_residual"] == rows[("flow", "rbm-bit", 0)]["residual_norm"] > 0
    assert "existence in 1/3 families" in v.evidence["headline"]


def test_existence_failure_of_some_families_holds_under_conditions(mixed):
    _, v = mixed
    assert v.status is Status.HOLDS_UNDER_CONDITIONS
    (ce,) = v.counterexamples
    assert ce.case == {"family": "truncated-1", "targets": ["rbm-teacher N=3"]}
    assert ce.description == (
        "no data-consistent point reached by 1 flows of truncated-1, declared sufficiently expressive; "
        "all ended at spurious stationary points"
    )
    assert ce.value == v.evidence["existence"]["truncated-1"]["min_residual"]


def test_existence_failure_of_every_family_fails(small):
    v = c3.evaluate([_as_flow(small["iii_1"], 0, sufficient=True)], seed=3, conditions={})
    assert v.evidence["existence"]["truncated-1"]["outcome"] == "failed"
    assert v.status is Status.FAILS
    assert [ce.case["family"] for ce in v.counterexamples] == ["truncated-1"]


def test_an_unresolved_flow_alone_leaves_existence_unresolved(small):
    v = c3.evaluate([small["flow_bit_unresolved"], small["teacher"]], seed=0, conditions={})
    e = v.evidence["existence"]["rbm-bit"]
    assert (e["outcome"], e["min_residual"]) == ("unresolved", 0.0)
    assert v.status is Status.INCONCLUSIVE and not v.counterexamples


def test_undeclared_flows_and_other_origins_do_not_count_for_existence(small):
    v = c3.evaluate([_as_flow(small["iii_1"], 0), small["i_spin"], small["teacher"]], seed=0, conditions={})
    assert v.evidence["existence"] == {}


# ---- evidence --------------------------------------------------------------------------------------
def test_per_family_tallies_of_flow_end_points(mixed):
    _, v = mixed
    pf = v.evidence["per_family"]
    assert set(pf) == {"rbm-spin", "rbm-bit", "truncated-1"}  # flows only
    rows = [r for r in v.evidence["points"] if r["origin"] == "flow"]
    for fam, f in pf.items():
        mine = [r for r in rows if r["family"] == fam]
        stationary = [r for r in mine if r["kind"] != "unresolved"]
        kinds = {r["kind"] for r in stationary}
        assert set(f) == {"data-consistent", "spurious", "unresolved", "lowest_orders", "ranks"} | {
            f"max_{key}_{kind}" for key in ("kl", "residual_norm") for kind in kinds
        }
        for kind in ("data-consistent", "spurious", "unresolved"):
            assert f[kind] == sum(r["kind"] == kind for r in mine)
        # the distinct ranks per kind, each once, sorted
        assert f["ranks"] == {
            kind: sorted({f"{r['rank']}/{r['n_rows']}" for r in stationary if r["kind"] == kind})
            for kind in kinds
        }
        for kind in kinds:
            assert f[f"max_kl_{kind}"] == max(r["kl"] for r in stationary if r["kind"] == kind)
    # two flows at the same W = 0 point: rank 3 of 7 listed once, lowest order 2 counted twice
    assert pf["rbm-spin"]["ranks"] == {"data-consistent": ["7/7"], "spurious": ["3/7"]}
    assert pf["rbm-spin"]["lowest_orders"] == {"2": 2}
    assert (pf["rbm-bit"]["spurious"], pf["rbm-bit"]["unresolved"]) == (1, 1)


def test_construction_rows_show_rank_deficient_spurious_points(mixed):
    _, v = mixed
    rows = v.evidence["constructions"]
    assert [(r["origin"], r["family"]) for r in rows] == [
        ("construction-i", "rbm-spin"),
        ("construction-i", "rbm-bit"),
        ("construction-iii", "truncated-1"),
    ]
    keys = {"origin", "family", "N", "P", "kind", "lowest_order", "rank", "n_rows", "residual_order_norms"}
    for r in rows:
        assert set(r) == keys | {"grad_norm", "n_unstable"}
        assert r["kind"] == "spurious" and r["lowest_order"] == 2
        assert r["n_rows"] == 2**3 - 1 and r["rank"] < r["n_rows"]
    assert v.evidence["constructions_missing"] == []


def test_full_rank_implication_summary(mixed):
    _, v = mixed
    imp = v.evidence["implication_full_rank"]
    assert set(imp) == {
        "n_stationary",
        "n_full_row_rank",
        "n_full_row_rank_spurious",
        "max_residual_at_full_rank",
        "min_residual_spurious",
        "max_sigma_ratio_spurious",
        "min_rank_margin",
        "max_kernel_norm",
    }
    stationary = [r for r in v.evidence["points"] if r["kind"] != "unresolved"]
    full = [r for r in stationary if r["rank"] == r["n_rows"]]
    assert imp["n_stationary"] == len(stationary) == 9
    assert imp["n_full_row_rank"] == len(full) == 2  # the teacher, and the flow that ended there
    assert imp["n_full_row_rank_spurious"] == 0
    assert imp["max_residual_at_full_rank"] == max(r["residual_norm"] for r in full)
    assert imp["max_residual_at_full_rank"] < c3.TOLERANCES["residual_atol"]
    assert imp["max_kernel_norm"] == max(r["jacobian_grad_norm"] for r in stationary)


# ---- negative controls -----------------------------------------------------------------------------
def test_wrong_jacobian_control_examines_only_constructions_i_and_ii_relabelled(mixed):
    cands, _ = mixed
    ctl = c3._control_wrong_jacobian(cands, 0, {"who": "test"})
    assert (ctl.claim, ctl.name) == ("C3", "wrong-jacobian")
    assert ctl.verdict.conditions == {"who": "test", "control": "wrong-jacobian"}
    rows = ctl.verdict.evidence["points"]
    assert [(r["origin"], r["family"]) for r in rows] == [
        ("construction-i", "rbm-spin [WrongJacobian]"),
        ("construction-i", "rbm-bit [WrongJacobian]"),
    ]
    assert [r["family"] for r in ctl.verdict.evidence["constructions"]] == [r["family"] for r in rows]


@pytest.mark.parametrize(("n_inits", "scales"), [(1, [0.1]), (2, [0.1, 1.0]), (5, [0.1, 1.0])])
def test_under_expressive_control_flows_from_scales_0_1_and_1(n_inits, scales):
    profile = dataclasses.replace(get_profile("quick"), name="tiny", n_inits=n_inits, t_max=3e3)
    ctl = c3._control_under_expressive(profile, 0, {"who": "test"})
    assert (ctl.name, ctl.verdict.conditions["control"]) == ("under-expressive-as-sufficient",) * 2
    rows = ctl.verdict.evidence["points"]
    assert [r["init_scale"] for r in rows] == scales
    assert {(r["family"], r["N"], r["target"], r["sufficient"]) for r in rows} == {
        ("truncated-2", 3, "rbm-teacher", True)
    }
    assert ctl.caught and ctl.verdict.evidence["existence"]["truncated-2"]["outcome"] == "failed"


# ---- construction tasks pass t_max to the tied flows -----------------------------------------------
def test_construction_task_passes_t_max_to_the_tied_flows(monkeypatch):
    calls = []

    def tied_point(q, theta0, **kw):
        calls.append(kw)
        return T.independent_point(q, kw["n_copies"], kw["hidden"])  # stationary: first draw kept

    monkeypatch.setattr(c3, "tied_point", tied_point)
    out = c3.construction_task((3, 0, ("spin", "bit"), 2.5e5))
    assert [(kw["hidden"], kw["t_max"], kw["n_copies"]) for kw in calls] == [
        ("spin", 2.5e5, 2),
        ("bit", 2.5e5, 2),
    ]
    ii = [c for c in out if c.origin == "construction-ii"]
    assert [(c.family, c.info["teacher_draw"]) for c in ii] == [("rbm-spin", 0), ("rbm-bit", 0)]
    calls.clear()
    c3.construction_candidates(3, 0, hidden=("spin",), orders=())
    assert [kw["t_max"] for kw in calls] == [1e4]  # the documented default


# ---- run: bookkeeping, with constructions and flows recorded instead of computed -------------------
@pytest.fixture(scope="module")
def stubbed_run(small):
    """``run`` with ``max_n_rbm = 8``; construction tasks return the N = 3 point set, flows nothing."""
    profile = dataclasses.replace(get_profile("quick"), name="tiny-8", max_n_rbm=8, n_inits=1)
    built = [small["teacher"], small["i_spin"], small["i_bit"], small["iii_1"]]
    tasks, swept = [], []

    def construction_task(task):
        tasks.append(task)
        return built if task[0] == 4 else []

    def flow_sweep(cases, executor=None):
        swept.append(list(cases))
        return []

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(c3, "construction_task", construction_task)
        mp.setattr(c3, "flow_sweep", flow_sweep)
        rep = c3.run(profile, 5)
    return profile, rep, tasks, swept


def test_run_conditions_describe_the_sweep(stubbed_run):
    profile, rep, _, swept = stubbed_run
    cond = rep.verdict.conditions
    assert set(cond) == {
        "flow_pairs",
        "n_inits",
        "init_scales",
        "t_max",
        "solver",
        "construction_N",
        "construction_teacher",
        "seed",
    }
    plan = swept[0]
    assert [(c.family, c.N, c.target) for c in plan] == [
        (c.family, c.N, c.target) for c in c3.flow_plan(profile, 5)
    ]
    assert len(cond["flow_pairs"]) == len(plan)
    assert "rbm-spin N=8 rbm-teacher" in cond["flow_pairs"]
    assert "truncated-2 N=4 pairwise-teacher" in cond["flow_pairs"]
    assert "truncated-2 N=4 generic (not declared sufficient)" in cond["flow_pairs"]
    assert "tanh-1 N=5 generic (not declared sufficient)" in cond["flow_pairs"]
    assert sum("(not declared sufficient)" in p for p in cond["flow_pairs"]) == sum(
        not c.sufficient for c in plan
    )
    assert (cond["seed"], cond["n_inits"], cond["t_max"]) == (5, 1, profile.t_max)
    assert cond["construction_teacher"] == "RBM spin, M=2, scale 0.5"


def test_run_construction_sizes_and_tasks_follow_the_profile(stubbed_run):
    profile, rep, tasks, _ = stubbed_run
    assert rep.verdict.conditions["construction_N"] == [4, 5, 6, 8]
    horizon = max(profile.t_max, 1e5)
    assert tasks == [
        (4, 5, ("spin", "bit"), horizon),
        (5, 5, ("spin", "bit"), horizon),
        (6, 5, ("spin", "bit"), horizon),
        (8, 5, ("spin",), horizon),
    ]
    # what the tasks built is what the verdict examined
    assert [r["origin"] for r in rep.verdict.evidence["constructions"]] == [
        "construction-i",
        "construction-i",
        "construction-iii",
    ]


def test_run_controls_record_what_they_change(stubbed_run):
    profile, rep, _, swept = stubbed_run
    under, wrong = rep.controls
    cond = rep.verdict.conditions
    assert (under.name, wrong.name) == ("under-expressive-as-sufficient", "wrong-jacobian")
    assert under.verdict.conditions == {**cond, "control": "under-expressive-as-sufficient"}
    assert wrong.verdict.conditions == {**cond, "control": "wrong-jacobian"}
    # the under-expressive control's one flow case, swept after the plan
    (case,) = swept[1]
    assert (case.family, case.N, case.target, case.sufficient) == ("truncated-2", 3, "rbm-teacher", True)
    assert [s for s, _ in case.inits] == [0.1]  # n_inits = 1
    assert case.t_max == profile.t_max
    assert [r["family"] for r in wrong.verdict.evidence["points"]] == [
        "rbm-spin [WrongJacobian]",
        "rbm-bit [WrongJacobian]",
    ]
