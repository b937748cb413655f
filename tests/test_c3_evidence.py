"""Claim C3 (checks/claims/c3_*.py): existence outcomes, evidence fields, run conditions, controls.

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
  construction (ii) (recorded instead of integrated); the construction point set (origins, families,
  declarations, provenance, predicted lowest orders, targets) and the three seeded attempts of (ii);
* :func:`classified`: not stationary or a residual decision clearing its threshold by less than
  ``classification_margin_min`` (both sides, for both kinds) is unresolved;
* tests 1-4 on one stationary point (:func:`_point_failures`), each on both sides of its threshold, with
  the whole counterexample description and value;
* the flows: ``_flow_end``'s tolerances and provenance, ``flow_sweep``'s candidates; the flow plan's
  targets (seeded teachers of the student's kind, generic and pairwise targets) and start scales;
* the values of construction rows, point rows and run conditions.

The point set: a two-unit RBM teacher at N = 3 (scale 0.5), its construction (i) points and its
K = 1 max-ent fit, some of them relabelled as flow end points.
"""

from __future__ import annotations

import dataclasses
import types

import numpy as np
import pytest
from dsb_verifier import theory as T
from dsb_verifier.checks.claims import c3_constructions, c3_flows
from dsb_verifier.checks.claims import c3_fixed_points as c3
from dsb_verifier.checks.profiles import get_profile
from dsb_verifier.checks.verdict import Status
from dsb_verifier.theory.models import RBM, rbm_teacher


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

    monkeypatch.setattr(c3_constructions, "tied_point", tied_point)
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

    def flow_sweep(cases, executor=None, tally=None):
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


# ---- classification: the margin of the residual decisions ------------------------------------------
def _maxent_candidate(eps: float) -> c3.Candidate:
    """The K = 2 max-ent fit of a three-spin target with a three-body coupling ``eps``: |r| ~ 0.69 eps."""
    J = np.zeros(8)
    J[[1, 2, 3, 4, 6]] = [0.3, -0.2, 0.4, 0.1, -0.3]
    J[7] = eps
    q = T.prob(J)
    model, theta = T.maxent_point(q, 2)
    g = float(np.linalg.norm(T.grad_loglik(model, theta, q)))
    return c3.Candidate("flow", "truncated-2", 3, "generic", True, model, q, theta, g, {"init": 0})


@pytest.mark.parametrize(
    ("eps", "kind"),
    [
        (1e-13, "data-consistent"),  # |r| / residual_atol ~ 1e-4: clears by far more than 10
        (1.2e-10, "data-consistent"),  # residual_atol / |r| ~ 12
        (1.8e-10, None),  # ~ 8: too close to call
        (3e-10, None),
        (3e-9, None),  # spurious by a factor ~ 2 only
        (1.2e-8, None),  # ~ 8
        (1.8e-8, "spurious"),  # ~ 12
        (1e-7, "spurious"),
    ],
)
def test_points_whose_residual_decisions_clear_by_less_than_the_margin_are_unresolved(eps, kind):
    c = _maxent_candidate(eps)
    assert c.grad_norm <= c3.TOLERANCES["stationary_gtol"]
    fp = T.classify(c.model, c.theta, c.q)
    margin = c3.TOLERANCES["classification_margin_min"]
    assert (fp.residual_margin >= margin) is (kind is not None)
    got = c3.classified(c)
    if kind is None:
        assert got is None
    else:
        assert got.kind == fp.kind == kind and got.residual_margin == fp.residual_margin
    (row,) = c3.evaluate([c], seed=0, conditions={}).evidence["points"]
    assert row["kind"] == (kind or "unresolved")


def test_points_that_are_not_stationary_are_unresolved(small):
    c = small["teacher"]
    gtol = c3.TOLERANCES["stationary_gtol"]
    assert c3.classified(dataclasses.replace(c, grad_norm=gtol)) is not None
    for g in (2 * gtol, np.inf, np.nan):
        assert c3.classified(dataclasses.replace(c, grad_norm=g)) is None


# ---- tests 1-4 on one stationary point, each on both sides of its threshold ------------------------
@pytest.fixture(scope="module")
def fps(small):
    return {k: T.classify(small[k].model, small[k].theta, small[k].q) for k in ("teacher", "iii_1")}


def _failures(c, fp):
    return [(ce.description, ce.value) for ce in c3._point_failures(c, fp, 7)]


def test_point_failures_none_at_the_teacher_and_a_construction(small, fps):
    assert fps["teacher"].kind == "data-consistent" and fps["teacher"].full_row_rank
    assert fps["iii_1"].kind == "spurious" and not fps["iii_1"].full_row_rank
    assert _failures(small["teacher"], fps["teacher"]) == []
    assert _failures(small["iii_1"], fps["iii_1"]) == []


def test_point_failure_kernel_norm_above_kernel_atol(small, fps):
    c, fp = small["teacher"], fps["teacher"]
    atol = c3.TOLERANCES["kernel_atol"]
    assert _failures(c, dataclasses.replace(fp, jacobian_grad_norm=atol)) == []
    bad = c3._point_failures(c, dataclasses.replace(fp, jacobian_grad_norm=2e-9, grad_norm=3e-14), 7)
    assert [(ce.description, ce.value, ce.case, ce.seed) for ce in bad] == [
        (
            "|A^T r| = 2e-09 with the model's Jacobian at a point where |grad L| = 3e-14: "
            "r is not in ker A^T",
            2e-9,
            c.case(),
            7,
        )
    ]


def test_point_failure_spurious_at_full_row_rank(small, fps):
    c, fp = small["teacher"], fps["teacher"]
    r = np.array([0.0, 0.0, 1e-3, 0.0])
    spurious = dataclasses.replace(
        fp, kind="spurious", residual_norm=1e-3, residual_order_norms=r, lowest_order=2
    )
    assert spurious.full_row_rank
    spurious = dataclasses.replace(spurious, kl=1.0)  # above Pinsker's bound: only the rank test fails
    assert _failures(c, spurious) == [
        ("spurious stationary point (|r| = 0.001) where A has full row rank 7", 1e-3)
    ]
    # rank deficient: no counterexample
    sv = fp.singular_values.copy()
    sv[-1] = 0.0
    assert _failures(c, dataclasses.replace(spurious, singular_values=sv, rank=6)) == []


def test_point_failure_data_consistent_with_positive_kl(small, fps):
    c, fp = small["teacher"], fps["teacher"]
    atol = c3.TOLERANCES["kl_consistent_atol"]
    assert _failures(c, dataclasses.replace(fp, kl=atol)) == []
    assert _failures(c, dataclasses.replace(fp, kl=2e-10)) == [
        ("data-consistent point (r = 0) with KL = 2e-10 > 0", 2e-10)
    ]


def test_point_failure_kl_below_pinsker_bound_at_a_spurious_point(small, fps):
    c, fp = small["iii_1"], fps["iii_1"]
    pinsker = 0.5 * fp.residual_norm**2 / (2**3 - 1)  # ||r||_inf^2 / 2 >= ||r||^2 / (2 (2^N - 1))
    assert fp.kl >= pinsker
    slack = c3.TOLERANCES["kl_rounding_atol"]
    assert _failures(c, dataclasses.replace(fp, kl=pinsker - slack / 2)) == []
    low = pinsker / 2
    assert _failures(c, dataclasses.replace(fp, kl=low)) == [
        (
            f"spurious point with KL = {low:.3g} below Pinsker's bound {pinsker:.3g}",
            pytest.approx(pinsker - low),
        )
    ]


def test_point_failure_construction_not_spurious_or_not_rank_deficient(small, fps):
    consistent = dataclasses.replace(small["teacher"], origin="construction-i", expected_lowest=(2, 2))
    r = fps["teacher"].residual_norm
    assert _failures(consistent, fps["teacher"]) == [
        (
            f"construction-i is not spurious with rank-deficient A (|r| = {r:.3g})",
            r,
        )
    ]
    # the same point as a flow end point or a teacher is no counterexample
    assert _failures(dataclasses.replace(consistent, origin="flow"), fps["teacher"]) == []


@pytest.mark.parametrize(
    ("expected", "fails"),
    [((2, 2), False), ((1, 2), False), ((2, 3), False), ((3, 3), True), ((1, 1), True), (None, False)],
)
def test_point_failure_construction_lowest_order_outside_the_predicted_range(small, fps, expected, fails):
    c = dataclasses.replace(small["iii_1"], expected_lowest=expected)
    assert fps["iii_1"].lowest_order == 2
    if expected is None:  # no prediction: only the kind and the rank are tested
        assert _failures(c, fps["iii_1"]) == []
        return
    want = [(f"construction-iii: lowest inconsistent order 2, predicted {expected[0]}..{expected[1]}", 2.0)]
    assert _failures(c, fps["iii_1"]) == (want if fails else [])


# ---- constructions: the point set, with the tied flows replaced by their first-draw stationary point ----
@pytest.fixture(scope="module")
def built():
    draws = []

    def tied_point(q, theta0, **kw):
        draws.append((kw["hidden"], q))
        return T.independent_point(q, kw["n_copies"], kw["hidden"])  # stationary: the first draw is kept

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(c3_constructions, "tied_point", tied_point)
        out = c3.construction_candidates(3, 4, orders=(1, 2, 3))
    return out, draws


def test_construction_candidates_are_the_teacher_and_constructions_i_ii_iii(built):
    out, draws = built
    _, theta_t, q = rbm_teacher(3, 2, c3.seeded_rng(4, "c3-construction", 3, 0), 0.5)
    assert [(c.origin, c.family) for c in out] == [
        ("teacher", "rbm-spin"),
        ("construction-i", "rbm-spin"),
        ("construction-i", "rbm-bit"),
        ("construction-ii", "rbm-spin"),
        ("construction-ii", "rbm-bit"),
        ("construction-iii", "truncated-1"),
        ("construction-iii", "truncated-2"),  # K = 3 = N is skipped: the max-ent fit would be exact
    ]
    assert all((c.N, c.target) == (3, "rbm-teacher") for c in out)
    # constructions (iii) are not declared sufficient (truncated families); the RBMs are
    assert [c.sufficient for c in out] == [True] * 5 + [False] * 2
    assert [c.info for c in out] == [
        {},
        {"c": 0.0},
        {"c": 0.0},
        {"tied_units": 2, "teacher_draw": 0},
        {"tied_units": 2, "teacher_draw": 0},
        {"K": 1},
        {"K": 2},
    ]
    assert [c.expected_lowest for c in out] == [None, (2, 2), (2, 2), (2, 3), (2, 3), (2, 2), (3, 3)]
    # every point on the seeded teacher's target, with its own gradient norm
    for c in out:
        np.testing.assert_array_equal(c.q, q)
        assert c.grad_norm == float(np.linalg.norm(T.grad_loglik(c.model, c.theta, c.q)))
    np.testing.assert_array_equal(out[0].theta, theta_t)
    assert isinstance(out[0].model, RBM) and out[0].model.n_hidden == 2
    for c, h in zip(out[1:3], ("spin", "bit"), strict=True):
        _, theta = T.independent_point(q, 2, h)
        assert (c.model.n_hidden, c.model.hidden) == (2, h)
        np.testing.assert_array_equal(c.theta, theta)
    for c, K in zip(out[5:], (1, 2), strict=True):
        assert c.model.max_order == K and c.model.n_visible == 3
        np.testing.assert_array_equal(c.theta, T.maxent_point(q, K)[1])
    assert [h for h, _ in draws] == ["spin", "bit"]
    # the whole set passes tests 1-4 of the check
    v = c3.evaluate(out, seed=4, conditions={})
    assert v.status is Status.HOLDS and not v.counterexamples
    assert [r["origin"] for r in v.evidence["constructions"]] == [c.origin for c in out[1:]]


def test_construction_ii_tries_three_seeded_teachers_then_reports_the_last(monkeypatch):
    calls = []

    def tied_point(q, theta0, **kw):
        calls.append((kw["hidden"], q, theta0))
        model, theta = T.independent_point(q, kw["n_copies"], kw["hidden"])
        return model, theta + 0.1  # never stationary

    monkeypatch.setattr(c3_constructions, "tied_point", tied_point)
    out = c3.construction_candidates(3, 4, hidden=("bit",), orders=())
    assert [c.origin for c in out] == ["teacher", "construction-i", "construction-ii"]
    assert len(calls) == 3 and {h for h, _, _ in calls} == {"bit"}
    for draw, (_, q, theta0) in enumerate(calls):
        _, _, q_d = rbm_teacher(3, 2, c3.seeded_rng(4, "c3-construction", 3, draw), 0.5)
        np.testing.assert_array_equal(q, q_d)
        assert theta0.shape == (c3.TiedRBM(3, 2, "bit").n_params,)
    ii = out[-1]
    assert ii.info == {"tied_units": 2, "teacher_draw": 2}
    np.testing.assert_array_equal(ii.q, calls[-1][1])
    assert ii.grad_norm > c3.TOLERANCES["stationary_gtol"]
    assert c3.classified(ii) is None  # reported unresolved
    v = c3.evaluate(out, seed=4, conditions={})
    assert v.evidence["constructions_missing"] == ["construction-ii"]
    assert v.status is Status.INCONCLUSIVE


# ---- flows: end points and their provenance --------------------------------------------------------
def test_flow_end_from_a_stationary_start_stops_at_t_0(small):
    c = small["iii_1"]  # the K = 1 max-ent fit: |grad L| ~ 1e-16 < flow_gtol
    theta, g, info = c3._flow_end((c.model, c.theta, c.q, 1e3))
    assert set(info) == {"flow_status", "t_end", "flow_grad_norm", "polish_displacement", "theta_norm"}
    assert (info["flow_status"], info["t_end"]) == ("converged", 0.0)
    assert info["flow_grad_norm"] < c3.TOLERANCES["flow_gtol"]
    assert info["polish_displacement"] == float(np.linalg.norm(theta - c.theta)) < 1e-12
    assert info["theta_norm"] == float(np.linalg.norm(theta))
    assert g == pytest.approx(float(np.linalg.norm(T.grad_loglik(c.model, theta, c.q))), abs=1e-15)


def test_flow_end_uses_the_flow_tolerances_then_polishes_with_the_polish_tolerance(small, monkeypatch):
    c = small["i_spin"]
    seen = {}
    integrate, polish = c3_flows.integrate_flow, c3_flows.polish

    def integrate_flow(model, theta0, q, **kw):
        seen["flow"] = kw
        return integrate(model, theta0, q, **kw)

    def polish_(model, theta, q, **kw):
        seen["polish"] = kw
        return polish(model, theta, q, **kw)

    monkeypatch.setattr(c3_flows, "integrate_flow", integrate_flow)
    monkeypatch.setattr(c3_flows, "polish", polish_)
    theta0 = c.theta + 0.05
    _, _, info = c3._flow_end((c.model, theta0, c.q, 50.0))
    tol = c3.TOLERANCES
    assert seen["flow"] == {
        "t_max": 50.0,
        "gtol": tol["flow_gtol"],
        "rtol": tol["flow_rtol"],
        "atol": tol["flow_atol"],
        "n_checkpoints": 1,
    }
    assert seen["polish"] == {"gtol": tol["polish_gtol"], "max_iter": c3._POLISH_MAX_ITER}
    assert 0.0 < info["t_end"] <= 50.0 and info["flow_status"] in ("converged", "t_max")
    assert info["polish_displacement"] > 0.0


def test_flow_sweep_candidates_carry_their_case_and_start(small):
    c = small["iii_1"]
    model, q = c.model, c.q
    case_a = c3.FlowCase(
        "truncated-1", 3, "rbm-teacher", True, model, q, ((0.1, c.theta), (1.0, c.theta)), 1e3
    )
    case_b = c3.FlowCase("truncated-1", 3, "generic", False, model, q, ((0.3, c.theta),), 1e3)
    out = c3.flow_sweep([case_a, case_b])
    assert [(x.origin, x.family, x.N, x.target, x.sufficient) for x in out] == [
        ("flow", "truncated-1", 3, "rbm-teacher", True),
        ("flow", "truncated-1", 3, "rbm-teacher", True),
        ("flow", "truncated-1", 3, "generic", False),
    ]
    assert [(x.info["init"], x.info["init_scale"]) for x in out] == [(0, 0.1), (1, 1.0), (0, 0.3)]
    assert all(x.model is model and x.q is q and x.expected_lowest is None for x in out)
    assert all(x.info["flow_status"] == "converged" for x in out)
    assert [x.case() for x in c3.flow_candidates(case_b)] == [out[2].case()]
    assert out[2].case() == {
        "origin": "flow",
        "family": "truncated-1",
        "N": 3,
        "P": 3,
        "target": "generic",
        "sufficient": False,
        "init": 0,
        "init_scale": 0.3,
    }


# ---- flow plan: targets and starts ----------------------------------------------------------------
def test_flow_plan_targets_are_the_seeded_teachers_and_generic_targets():
    profile = get_profile("quick")
    plan = c3.flow_plan(profile, 2)
    by = {(c.family, c.N, c.target): c for c in plan}
    assert len(by) == len(plan)
    for N in (3, 4):
        rng = c3.seeded_rng(2, "c3-teacher", N)  # the spin teacher, then the bit teacher, then tanh
        for hidden in ("spin", "bit"):
            teacher, theta, q = rbm_teacher(N, 2, rng, 1.0, hidden)
            c = by[(f"rbm-{hidden}", N, "rbm-teacher")]
            np.testing.assert_array_equal(c.q, q)
            np.testing.assert_allclose(c.q, teacher.prob(theta), rtol=1e-12, atol=0)
            assert (c.model.n_visible, c.model.n_hidden, c.model.hidden) == (N, 2, hidden)
    # the teacher-student targets are reachable: the student has the teacher's size
    q_generic = c3.generic_target(4, 2, 0)
    np.testing.assert_array_equal(
        q_generic, T.ising_target(4, c3.ORDER_PROFILES["planted-3"], c3.seeded_rng(2, "c3-generic", 4, 0))
    )
    assert c3.structure_at_order(q_generic, 3) > c3.TOLERANCES["structure_atol"]  # three-body structure
    assert not np.array_equal(q_generic, c3.generic_target(4, 2, 1))
    assert not np.array_equal(q_generic, c3.generic_target(4, 3, 0))
    generic = [c for c in plan if c.target == "generic"]
    assert {(c.family, c.sufficient) for c in generic} == {
        ("direct", True),
        ("truncated-2", False),
        ("rbm-spin", True),
        ("rbm-bit", True),
        ("tanh-1", False),
    }
    for c in generic:
        np.testing.assert_array_equal(c.q, q_generic)
    pw = by[("truncated-2", 4, "pairwise-teacher")]
    np.testing.assert_array_equal(
        pw.q, T.ising_target(4, c3.ORDER_PROFILES["pairwise"], c3.seeded_rng(2, "c3-pairwise", 4))
    )
    assert c3.structure_at_order(pw.q, 3) < 1e-12 < c3.structure_at_order(pw.q, 2)  # a pairwise teacher
    assert pw.sufficient and pw.model.max_order == 2


def test_flow_plan_starts_cycle_through_the_profile_scales_in_0_1_to_1():
    quick = get_profile("quick")  # scales 0.01, 0.1, 1: the ones within [0.1, 1] are 0.1 and 1
    for c in c3.flow_plan(quick, 0):
        assert [s for s, _ in c.inits] == [0.1, 1.0, 0.1]
    none_inside = dataclasses.replace(quick, init_scales=(0.01, 3.0), n_inits=3)
    for c in c3.flow_plan(none_inside, 0):
        assert [s for s, _ in c.inits] == [0.1, 1.0, 0.1]  # the fallback
    edges = dataclasses.replace(quick, init_scales=(0.001, 0.099, 0.1, 0.5, 1.0, 1.001), n_inits=4)
    for c in c3.flow_plan(edges, 0):
        assert [s for s, _ in c.inits] == [0.1, 0.5, 1.0, 0.1]


def test_flow_plan_universal_width_rbms_and_teacher_student_horizons_in_quick():
    profile = get_profile("quick")  # t_max = 1e4 < 1e5
    plan = c3.flow_plan(profile, 0)
    # universal width M = 2^N (Le Roux & Bengio) for both hidden kinds on the generic target
    assert sorted(
        (c.family, c.N, c.model.n_hidden)
        for c in plan
        if c.target == "generic" and c.family.startswith("rbm")
    ) == [("rbm-bit", 4, 16), ("rbm-spin", 4, 16)]
    # teacher-student pairs approach their end points slowly: horizon max(t_max, 1e5); others t_max
    assert {(c.target, c.t_max) for c in plan} == {
        ("rbm-teacher", 1e5),
        ("tanh-teacher", 1e5),
        ("pairwise-teacher", 1e5),
        ("generic", 1e4),
    }


@pytest.mark.parametrize(("max_n_rbm", "rbm_N"), [(5, [3, 4, 5]), (7, [3, 4, 5, 6]), (8, [3, 4, 5, 6, 8])])
def test_flow_plan_rbm_teacher_sizes_stop_at_max_n_rbm(max_n_rbm, rbm_N):
    profile = dataclasses.replace(get_profile("thorough"), max_n_rbm=max_n_rbm, n_inits=1)
    plan = c3.flow_plan(profile, 0)
    assert sorted({c.N for c in plan if c.target == "rbm-teacher"}) == rbm_N
    assert c3.construction_Ns(profile) == sorted({4, 5, 6, 8, max_n_rbm} & set(range(4, max_n_rbm + 1)))


# ---- evidence values and run conditions -------------------------------------------------------------
def test_construction_rows_carry_the_point_rows_values(mixed):
    _, v = mixed
    points = [r for r in v.evidence["points"] if r["origin"].startswith("construction")]
    keys = ("origin", "family", "N", "P", "kind", "lowest_order", "rank", "n_rows", "residual_order_norms")
    assert v.evidence["constructions"] == [
        {**{k: r[k] for k in keys}, "grad_norm": r["grad_norm"], "n_unstable": r["n_unstable"]}
        for r in points
    ]
    assert all(isinstance(r["n_unstable"], int) for r in v.evidence["constructions"])


def test_point_rows_of_stationary_and_unresolved_points(mixed, small):
    _, v = mixed
    rows = v.evidence["points"]
    fp = T.classify(small["teacher"].model, small["teacher"].theta, small["teacher"].q)
    row = rows[0]
    assert set(row) == set(small["teacher"].case()) | {
        "grad_norm",
        "kind",
        "kl",
        "residual_norm",
        "residual_order_norms",
        "lowest_order",
        "rank",
        "n_rows",
        "sigma_ratio",
        "rank_margin",
        "jacobian_grad_norm",
        "n_unstable",
        "n_neutral",
        "n_stable",
        "hessian_margin",
    }  # the Hessian eigenvalues are left out of the evidence
    assert (row["n_unstable"], row["n_neutral"], row["n_stable"]) == (
        fp.n_unstable,
        fp.n_neutral,
        fp.n_stable,
    )
    assert row["n_unstable"] + row["n_neutral"] + row["n_stable"] == small["teacher"].model.n_params
    assert (row["rank_margin"], row["hessian_margin"]) == (fp.rank_margin, fp.hessian_margin)
    full = c3.point_row(small["teacher"], fp)
    assert full["hessian_eigenvalues"] == fp.hessian_eigenvalues.tolist()
    assert {k: v for k, v in full.items() if k != "hessian_eigenvalues"} == row
    unresolved = c3.point_row(small["flow_bit_unresolved"], None)
    assert unresolved == {
        **small["flow_bit_unresolved"].case(),
        "grad_norm": small["flow_bit_unresolved"].grad_norm,
        "kind": "unresolved",
    }


def test_run_conditions_values(stubbed_run):
    _, rep, _, _ = stubbed_run
    cond = rep.verdict.conditions
    assert cond["solver"] == "LSODA with the exact Hessian, then Levenberg-Marquardt polish"
    assert cond["init_scales"] == [0.1]  # n_inits = 1: every pair starts at the first scale in [0.1, 1]
    assert rep.verdict.claim == "C3" and rep.verdict.statement == c3.STATEMENT


# ---- _evidence on hand-made rows and points: every tally and summary --------------------------------
def _row(origin, family, kind, *, lowest=None, rank=3, n_rows=3, kl=0.0, r=0.0):
    return {
        "origin": origin,
        "family": family,
        "kind": kind,
        "lowest_order": lowest,
        "rank": rank,
        "n_rows": n_rows,
        "kl": kl,
        "residual_norm": r,
        "grad_norm": 1e-12,
        "hessian_eigenvalues": [-1.0],
        "target": "t",
        "N": 3,
        "P": 4,
        "residual_order_norms": [0.0],
    }


def _fp(kind, sv, n_rows, *, full, r=0.0, margin=10.0, kernel=1e-13):
    return types.SimpleNamespace(
        kind=kind,
        singular_values=np.asarray(sv, dtype=np.float64),
        n_rows=n_rows,
        full_row_rank=full,
        residual_norm=r,
        rank_margin=margin,
        jacobian_grad_norm=kernel,
    )


def test_evidence_tallies_each_flow_end_and_summarises_the_full_rank_implication():
    rows = [
        _row("flow", "rbm", "spurious", lowest=2, rank=2, kl=0.3, r=0.5),
        _row("flow", "rbm", "spurious", lowest=2, rank=2, kl=0.1, r=0.7),
        _row("flow", "rbm", "spurious", lowest=3, rank=1, kl=0.2, r=0.2),
        _row("flow", "rbm", "data-consistent", kl=1e-9, r=1e-8),
        _row("flow", "rbm", "unresolved", lowest=1, rank=0),
        _row("flow", "direct", "data-consistent", kl=2e-9, r=3e-8),
        _row("construction-i", "rbm", "spurious", lowest=2, rank=2, r=0.4),
        _row("teacher", "rbm", "data-consistent"),
    ]
    points = [
        (None, _fp("spurious", [4.0, 2.0, 1.0], 3, full=True, r=0.5, margin=7.0)),  # ratio 1/4
        (None, _fp("spurious", [8.0, 1.0], 3, full=False, r=0.2, margin=3.0, kernel=2e-12)),  # rank-deficient
        (None, _fp("data-consistent", [5.0, 5.0, 5.0], 3, full=True, r=1e-8, margin=50.0)),
    ]
    existence = {"rbm": {"outcome": "found"}, "direct": {"outcome": "failed"}}
    ev = c3._evidence(rows, points, existence, ["iii"])
    rbm = ev["per_family"]["rbm"]
    assert rbm["lowest_orders"] == {"2": 2, "3": 1}  # the unresolved end is not tallied
    assert (rbm["spurious"], rbm["data-consistent"], rbm["unresolved"]) == (3, 1, 1)
    assert rbm["ranks"] == {"spurious": ["1/3", "2/3"], "data-consistent": ["3/3"]}
    assert rbm["max_kl_spurious"] == 0.3 and rbm["max_residual_norm_spurious"] == 0.7
    assert ev["per_family"]["direct"]["lowest_orders"] == {}
    imp = ev["implication_full_rank"]
    assert imp == {
        "n_stationary": 3,
        "n_full_row_rank": 2,
        "n_full_row_rank_spurious": 1,
        "max_residual_at_full_rank": 0.5,
        "min_residual_spurious": 0.2,
        "max_sigma_ratio_spurious": 0.25,  # sigma_min / sigma_max; 0 where sigma has fewer than n_rows
        "min_rank_margin": 3.0,
        "max_kernel_norm": 2e-12,
    }
    assert ev["headline"] == (
        "3 stationary points: 1 data-consistent, 2 spurious (1 with full-rank A); "
        "existence in 1/2 families; constructions i confirmed; 1 unresolved"
    )
    assert ev["constructions_missing"] == ["iii"]
    assert all("hessian_eigenvalues" not in r for r in ev["points"]) and len(ev["points"]) == len(rows)


def test_evidence_without_spurious_points_has_no_sigma_ratio_and_no_confirmed_construction():
    rows = [_row("flow", "rbm", "data-consistent")]
    ev = c3._evidence(rows, [(None, _fp("data-consistent", [1.0], 1, full=True))], {}, [])
    assert ev["implication_full_rank"]["max_sigma_ratio_spurious"] is None
    assert ev["implication_full_rank"]["min_residual_spurious"] is None
    assert ev["headline"].endswith("existence in 0/0 families; constructions none confirmed; 0 unresolved")
