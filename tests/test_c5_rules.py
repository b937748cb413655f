"""C5 decision rules (checks/claims/c5/verdict.py) on hand-built settle-time tables.

:func:`~dsb_verifier.checks.claims.c5.verdict.evaluate` computes settle times through
``executor.map(settle_task, tasks)``; :class:`_Table` stands in for it and hands back
prepared tables, so every rule is exercised on both sides of its boundary without a flow.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
from dsb_verifier.checks.claims.c5.plan import CONTROL_FAMILY, FlowRun
from dsb_verifier.checks.claims.c5.verdict import (
    evaluate,
    family_status,
    overall_status,
)
from dsb_verifier.checks.verdict import Status

INF = float("inf")
N = 4
TAUS = (0.1,)
LOWER_FIRST = np.array([0.0, 1.0, 1e-2, 1e-4, 1e-6])  # kappa_k: each order 100 times slower than the last
TIE = np.array([0.0, 1.0, 1.0, 1.0, 1.0])
REVERSED = np.array([0.0, 1.0, 16.0, 256.0, 4096.0])


def _up(N=N):
    """t_k = 10^k: the lower order first at every pair."""
    return np.array([np.nan, *(10.0**k for k in range(1, N + 1))])


def _down(N=N):
    return np.array([np.nan, *(10.0 ** (N + 1 - k) for k in range(1, N + 1))])


def relabel(t):
    """Orders k -> N + 1 - k (the reversal of 1..N; the brief's k -> N - k on 0-based orders)."""
    return np.array([t[0], *t[1:][::-1]])


class _Table:
    """An executor whose ``map`` returns ``pattern(run, reading)`` for every tau."""

    def __init__(self, pattern):
        self.pattern = pattern

    def map(self, fn, tasks):
        return iter([(np.stack([self.pattern(run, rd)] * len(taus)), None) for run, rd, taus in tasks])


def _runs(family, sigmas=(0.01,), n_targets=3, n_inits=2, structured=(1, 2, 3, 4), N=N):
    tr = SimpleNamespace(status="converged")
    q = np.full(2**N, 2.0**-N)
    return [
        FlowRun(family, N, "k-body", i, j, float(s), q, tuple(structured), tr)
        for i in range(n_targets)
        for j in range(n_inits)
        for s in sigmas
    ]


def _kernels(runs, kappa):
    out = {}
    for r in runs:
        k = kappa(r) if callable(kappa) else kappa
        out[(r.family, r.N, r.init_scale)] = np.resize(k, r.N + 1)
    return out


def _evaluate(
    runs, pattern, *, reference=None, ref_pattern=None, kappa=LOWER_FIRST, ref_kappa=REVERSED, seed=3
):
    reference = reference if reference is not None else _runs(CONTROL_FAMILY)
    ref_pattern = ref_pattern or (lambda run, rd: _down(run.N))
    both = lambda run, rd: (ref_pattern if run.family == CONTROL_FAMILY else pattern)(run, rd)  # noqa: E731
    kernels = {**_kernels(runs, kappa), **_kernels(reference, ref_kappa)}
    return evaluate(
        runs,
        reference=runs if reference is runs else reference,
        taus=TAUS,
        seed=seed,
        rho=1.25,
        kernels=kernels,
        exponents={},
        conditions={},
        executor=_Table(both),
    )


def _pairs(v, **where):
    return [p for p in v.evidence["pairs"] if all(p[k] == x for k, x in where.items())]


# ---- the hierarchy, its reversal by relabelling, the control -------------------------------
def test_lower_orders_first_supports_and_holds():
    v = _evaluate(_runs("rbm-spin"), lambda run, rd: _up(run.N))
    assert v.status is Status.HOLDS
    pairs = v.evidence["pairs"]
    assert {(p["k_low"], p["k_high"]) for p in pairs} == {(1, 2), (2, 3), (3, 4)}
    for p in pairs:
        assert (p["n_lower_first"], p["n_higher_first"], p["n_tied"], p["outcome"]) == (6, 0, 0, "supports")
        assert p["predicted"] == "separation" and p["predicted_direction"] == "lower-first"
        assert p["decisive"] and p["matches_prediction"] is True
        assert p["median_log_ratio"] == pytest.approx(np.log(10.0))
    assert all(v.evidence["readings"][rd]["discriminating"] for rd in "abc")
    assert len(v.evidence["supports_for"]) == 9 and v.evidence["contradicts_for"] == []
    assert v.evidence["families"]["rbm-spin"] == {
        "status": "holds",
        "n_decisive": 9,
        "n_underpowered": 0,
        "n_supports": 9,
        "n_contradicts": 0,
        "n_undecided": 0,
    }


def test_relabelling_orders_k_to_N_minus_k_turns_supports_into_contradicts():
    v = _evaluate(_runs("rbm-spin"), lambda run, rd: relabel(_up(run.N)))
    assert v.status is Status.FAILS
    assert {p["outcome"] for p in v.evidence["pairs"]} == {"contradicts"}
    assert len(v.counterexamples) == 9 and v.evidence["supports_for"] == []
    x = v.counterexamples[0]
    assert set(x.case) == {"family", "N", "init_scale", "reading", "tau", "k_low", "k_high"}
    assert x.description.startswith("higher order first for rbm-spin N=4 sigma=0.01 pair=(")
    assert "lower-first in 0 of 6 decided runs" in x.description and x.seed == 3


def test_the_reversed_kernel_control_fails_through_the_same_evaluate():
    control = _runs(CONTROL_FAMILY)
    v = _evaluate(control, lambda run, rd: _down(run.N), reference=control, kappa=REVERSED)
    assert v.status is Status.FAILS
    assert {p["predicted_direction"] for p in v.evidence["pairs"]} == {"higher-first"}
    assert all(p["matches_prediction"] for p in v.evidence["pairs"])


def test_a_control_that_learns_lower_orders_first_makes_every_reading_non_discriminating():
    v = _evaluate(_runs("rbm-spin"), lambda run, rd: _up(run.N), ref_pattern=lambda run, rd: _up(run.N))
    assert not any(v.evidence["readings"][rd]["discriminating"] for rd in "abc")
    assert v.evidence["readings"]["a"]["reference_pairs"] == {"supports": 3, "contradicts": 0, "undecided": 0}
    assert v.status is Status.INCONCLUSIVE and not any(p["decisive"] for p in v.evidence["pairs"])


def test_a_non_discriminating_reading_is_kept_out_of_the_verdict():
    # the control is reversed under (a) and (c) but "lower first" under (b); the family contradicts under (b)
    v = _evaluate(
        _runs("rbm-spin"),
        lambda run, rd: relabel(_up(run.N)) if rd == "b" else _up(run.N),
        ref_pattern=lambda run, rd: _up(run.N) if rd == "b" else _down(run.N),
    )
    assert [rd for rd, x in v.evidence["readings"].items() if x["discriminating"]] == ["a", "c"]
    assert v.status is Status.HOLDS
    assert all(not p["decisive"] for p in _pairs(v, reading="b"))
    assert {p["outcome"] for p in _pairs(v, reading="b")} == {"contradicts"}  # reported all the same


def test_a_reading_the_control_leaves_undecided_is_not_discriminating():
    v = _evaluate(
        _runs("rbm-spin"), lambda run, rd: _up(run.N), ref_pattern=lambda run, rd: np.full(N + 1, 5.0)
    )
    assert v.evidence["readings"]["a"] == {
        "discriminating": False,
        "reference_pairs": {"supports": 0, "contradicts": 0, "undecided": 3},
        "reference_comparisons": {"lower_first": 0, "higher_first": 0, "tied": 18},
        "computed_up_to_N": None,
    }


@pytest.mark.parametrize(
    ("control_times", "counts", "comparisons", "discriminating"),
    [
        # pairs (1,2), (2,3), (3,4) of the control, 6 runs each; equal times are a tie
        ([40.0, 30.0, 30.0, 10.0], (0, 2, 1), (0, 12, 6), True),  # 12 of 18 reversed
        ([40.0, 40.0, 40.0, 10.0], (0, 1, 2), (0, 6, 12), False),  # ties are the majority
        ([40.0, 30.0, 50.0, 10.0], (1, 2, 0), (6, 12, 0), False),  # one pair supports
        ([40.0, 30.0, 20.0, 10.0], (0, 3, 0), (0, 18, 0), True),
    ],
)
def test_a_reading_discriminates_only_if_it_shows_the_reversal_in_most_comparisons(
    control_times, counts, comparisons, discriminating
):
    v = _evaluate(
        _runs("rbm-spin"),
        lambda run, rd: _up(run.N),
        ref_pattern=lambda run, rd: np.array([np.nan, *control_times]),
    )
    a = v.evidence["readings"]["a"]
    assert a["reference_pairs"] == dict(zip(("supports", "contradicts", "undecided"), counts, strict=True))
    assert a["reference_comparisons"] == dict(
        zip(("lower_first", "higher_first", "tied"), comparisons, strict=True)
    )
    assert a["discriminating"] is discriminating
    assert v.status is (Status.HOLDS if discriminating else Status.INCONCLUSIVE)


@pytest.mark.parametrize(("n_reversed_34", "discriminating"), [(3, False), (4, True)])
def test_the_majority_of_comparisons_is_strict(n_reversed_34, discriminating):
    # (1,2) reversed in 6 runs, (2,3) tied in 6, (3,4) reversed in n of 6 (tied in the rest): 6 + n of 18
    def control(run, rd):
        reversed_34 = 2 * run.target + run.init < n_reversed_34
        return np.array([np.nan, 40.0, 30.0, 30.0, 10.0 if reversed_34 else 30.0])

    v = _evaluate(_runs("rbm-spin"), lambda run, rd: _up(run.N), ref_pattern=control)
    a = v.evidence["readings"]["a"]
    assert a["reference_comparisons"] == {
        "lower_first": 0,
        "higher_first": 6 + n_reversed_34,
        "tied": 12 - n_reversed_34,
    }
    assert a["discriminating"] is discriminating


def test_control_pairs_the_kernel_does_not_separate_do_not_count_for_discrimination():
    # the control's kernel ties orders 3 and 4: its (3,4) pair is reported but not asked to reverse
    tied_34 = np.array([0.0, 1.0, 16.0, 256.0, 256.0])
    control = lambda run, rd: np.array([np.nan, 40.0, 30.0, 30.0, 30.0])  # noqa: E731
    v = _evaluate(_runs("rbm-spin"), lambda run, rd: _up(run.N), ref_pattern=control, ref_kappa=tied_34)
    # (1,2) reversed in 6 runs, (2,3) tied in 6; (3,4) not counted: 6 of 12 is no strict majority
    a = v.evidence["readings"]["a"]
    assert a["reference_comparisons"] == {"lower_first": 0, "higher_first": 6, "tied": 6}
    assert a["discriminating"] is False
    v = _evaluate(_runs("rbm-spin"), lambda run, rd: _up(run.N), ref_pattern=control)  # all three separate
    assert v.evidence["readings"]["a"]["reference_comparisons"] == {
        "lower_first": 0,
        "higher_first": 6,
        "tied": 12,
    }


# ---- which pairs are decisive ---------------------------------------------------------------
def test_small_initialisation_boundary():
    runs = _runs("rbm-spin", sigmas=(0.1, 0.3))
    reversed_at = lambda s: lambda run, rd: relabel(_up()) if run.init_scale == s else _up()  # noqa: E731
    holds = _evaluate(runs, reversed_at(0.3))  # sigma = 0.3 > 0.1: reported, not decisive
    assert holds.status is Status.HOLDS
    assert {p["outcome"] for p in _pairs(holds, init_scale=0.3)} == {"contradicts"}
    assert not any(p["decisive"] for p in _pairs(holds, init_scale=0.3))
    fails = _evaluate(runs, reversed_at(0.1))  # sigma = 0.1: decisive
    assert fails.status is Status.FAILS


def test_a_pair_the_kernel_does_not_separate_is_not_decisive():
    # orders 3 and 4 tie in the kernel (as an RBM's exponents 6, 6); their reversal does not fail C5
    kappa = np.array([0.0, 1.0, 1e-2, 1e-4, 2e-4])
    swap34 = lambda run, rd: np.array([np.nan, 1.0, 10.0, 1000.0, 100.0])  # noqa: E731
    v = _evaluate(_runs("rbm-spin"), swap34, kappa=kappa)
    (p34,) = _pairs(v, reading="a", k_low=3)
    assert p34["predicted"] == "tie" and p34["predicted_direction"] is None
    # decided where the kernel predicts no separation: a mismatch of the mechanism, never a status
    assert p34["outcome"] == "contradicts" and not p34["decisive"] and p34["matches_prediction"] is False
    assert v.status is Status.HOLDS
    # the same swap where the kernel predicts the separation fails
    assert _evaluate(_runs("rbm-spin"), swap34).status is Status.FAILS


def test_the_direct_models_identity_kernel_predicts_no_separation_so_it_is_only_reported():
    v = _evaluate(_runs("direct"), lambda run, rd: _up(run.N), kappa=TIE)
    assert v.status is Status.INCONCLUSIVE
    assert v.evidence["families"]["direct"]["n_decisive"] == 0
    assert v.evidence["baseline"]["a"] == {"supports": 3, "contradicts": 0, "undecided": 0}


def test_a_kernel_predicting_the_reversal_makes_its_pairs_decisive():
    v = _evaluate(_runs("rbm-spin"), lambda run, rd: _down(run.N), kappa=REVERSED)
    assert v.status is Status.FAILS  # the claim is "lower first": a predicted reversal that happens fails it


# ---- censoring, ties, excluded orders ----------------------------------------------------------
def test_censoring_counts_and_both_censored_pairs_are_undecided():
    t = np.array([np.nan, 1.0, INF, INF, INF])
    v = _evaluate(_runs("rbm-spin"), lambda run, rd: t)
    (p12,) = _pairs(v, reading="a", k_low=1)
    (p23,) = _pairs(v, reading="a", k_low=2)
    assert (p12["n_lower_first"], p12["outcome"]) == (6, "supports")
    assert (p23["n_both_censored"], p23["n_lower_first"] + p23["n_higher_first"], p23["outcome"]) == (
        6,
        0,
        "undecided",
    )
    assert v.evidence["evidence_size"]["n_censored_settle_times"] == 6 * 3 * 3
    assert v.status is Status.INCONCLUSIVE  # decisive pairs left undecided, none contradicts


def test_all_tied_is_undecided_never_a_failure():
    v = _evaluate(_runs("rbm-spin"), lambda run, rd: np.array([np.nan, 10.0, 11.0, 12.0, 13.0]))
    assert {p["outcome"] for p in v.evidence["pairs"]} == {"undecided"}
    assert {p["n_tied"] for p in v.evidence["pairs"]} == {6}
    assert v.status is Status.INCONCLUSIVE and not v.counterexamples


def test_unstructured_orders_are_never_paired_and_are_listed():
    runs = _runs("rbm-spin", structured=(1, 3))
    # order 2 settles last and order 4 first, but neither has structure: only the pair (1, 3) counts
    v = _evaluate(runs, lambda run, rd: np.array([np.nan, 1.0, 1e6, 10.0, 1e-3]))
    assert {(p["k_low"], p["k_high"]) for p in v.evidence["pairs"]} == {(1, 3)}
    assert v.evidence["excluded_orders"] == {
        "k-body": {"N=4": {"n_targets": 3, "excluded": {"2": 3, "4": 3}}}
    }
    assert v.status is Status.HOLDS


def test_a_pair_with_fewer_runs_than_a_sign_test_can_decide_is_underpowered_not_decisive():
    v = _evaluate(_runs("rbm-spin", n_targets=5, n_inits=1), lambda run, rd: _up(run.N))  # 5/5 runs
    assert {p["outcome"] for p in v.evidence["pairs"]} == {"undecided"}
    assert all(p["underpowered"] and not p["decisive"] for p in v.evidence["pairs"])
    assert all(p["matches_prediction"] is None for p in v.evidence["pairs"])
    fam = v.evidence["families"]["rbm-spin"]
    assert (fam["n_decisive"], fam["n_underpowered"]) == (0, 9)
    assert "9 underpowered left out" in v.evidence["headline"]
    assert v.status is Status.INCONCLUSIVE
    # one run more (6 = min_decidable_runs()): decisive, and 6/6 supports
    v6 = _evaluate(_runs("rbm-spin", n_targets=6, n_inits=1), lambda run, rd: _up(run.N))
    assert all(not p["underpowered"] and p["decisive"] for p in v6.evidence["pairs"])
    assert v6.status is Status.HOLDS


def test_six_runs_with_one_tie_leave_a_decisive_pair_undecided():
    tie_first = lambda run, rd: np.array([np.nan, 1.0, 1.0, 1.0, 1.0]) if run.target == 0 else _up(run.N)  # noqa: E731
    v = _evaluate(_runs("rbm-spin", n_targets=6, n_inits=1), tie_first)
    assert all(
        p["decisive"] and p["outcome"] == "undecided" and p["n_tied"] == 1 for p in v.evidence["pairs"]
    )
    assert v.status is Status.INCONCLUSIVE


def test_a_censored_order_decides_nothing_where_the_model_may_not_represent_the_target():
    """Lower settled, higher never: lower-first if realisable; censored-unrealisable otherwise."""
    never_high = lambda run, rd: np.array([np.nan, 1.0, 10.0, 100.0, np.inf])  # noqa: E731
    ok = _evaluate(_runs("rbm-spin", n_targets=6, n_inits=1), never_high)
    (p34,) = _pairs(ok, reading="a", k_low=3)
    assert (p34["n_lower_first"], p34["n_censored_unrealisable"], p34["outcome"]) == (6, 0, "supports")
    runs = [dataclasses.replace(r, realisable=False) for r in _runs("rbm-spin", n_targets=6, n_inits=1)]
    v = _evaluate(runs, never_high)
    (p34,) = _pairs(v, reading="a", k_low=3)
    assert (p34["n_lower_first"], p34["n_censored_unrealisable"], p34["outcome"]) == (0, 6, "undecided")
    assert p34["median_log_ratio"] == "nan" and p34["n_effect"] == 0  # left out of the effect size too
    (p12,) = _pairs(v, reading="a", k_low=1)
    assert (p12["n_lower_first"], p12["outcome"]) == (6, "supports")  # both settled: decided as ever
    assert v.status is Status.INCONCLUSIVE


def test_the_users_target_gets_rows_of_its_own():
    gen = _runs("rbm-spin", n_targets=6, n_inits=1)
    user = [dataclasses.replace(r, population="user", target=0, init=i) for i, r in enumerate(gen)]
    v = _evaluate(gen + user, lambda run, rd: _up(run.N) if run.population != "user" else relabel(_up(run.N)))
    by_source = {(p["source"], p["outcome"]) for p in v.evidence["pairs"]}
    assert by_source == {("generated", "supports"), ("user", "contradicts")}
    assert all(p["n_runs"] == 6 for p in v.evidence["pairs"])  # never pooled
    assert v.status is Status.FAILS


def test_one_family_holding_and_one_failing_is_holds_under_conditions():
    runs = _runs("rbm-spin") + _runs("tanh-1")
    v = _evaluate(runs, lambda run, rd: _up() if run.family == "rbm-spin" else relabel(_up()))
    assert v.status is Status.HOLDS_UNDER_CONDITIONS
    assert all(s.startswith("rbm-spin ") for s in v.evidence["supports_for"])
    assert all(s.startswith("tanh-1 ") for s in v.evidence["contradicts_for"])
    assert {x.case["family"] for x in v.counterexamples} == {"tanh-1"}


def test_evaluate_refuses_empty_inputs():
    with pytest.raises(ValueError, match="evaluate needs at least one flow run"):
        _evaluate([], lambda run, rd: _up())
    with pytest.raises(ValueError, match="evaluate needs the reversed-kernel reference runs"):
        evaluate(
            _runs("rbm-spin"),
            reference=[],
            taus=TAUS,
            seed=0,
            rho=1.25,
            kernels={},
            exponents={},
            conditions={},
        )


# ---- the status functions -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("outcomes", "status"),
    [
        ([], Status.INCONCLUSIVE),
        (["supports"], Status.HOLDS),
        (["supports", "supports"], Status.HOLDS),
        (["supports", "undecided"], Status.INCONCLUSIVE),
        (["undecided"], Status.INCONCLUSIVE),
        (["supports", "contradicts"], Status.FAILS),
        (["undecided", "contradicts"], Status.FAILS),
    ],
)
def test_family_status(outcomes, status):
    assert family_status(outcomes) is status


H, F, I = Status.HOLDS, Status.FAILS, Status.INCONCLUSIVE


@pytest.mark.parametrize(
    ("families", "status"),
    [
        ({}, I),
        ({"direct": (I, 0)}, I),
        ({"direct": (I, 0), "rbm": (H, 3)}, H),
        ({"rbm": (H, 3), "tanh": (H, 1)}, H),
        ({"rbm": (F, 3), "tanh": (F, 1)}, F),
        ({"rbm": (H, 3), "tanh": (F, 1)}, Status.HOLDS_UNDER_CONDITIONS),
        ({"rbm": (H, 3), "tanh": (I, 2)}, I),  # a family with decisive pairs left open
        ({"rbm": (F, 3), "tanh": (I, 2)}, F),
    ],
)
def test_overall_status(families, status):
    assert overall_status(families) is status


def test_orders_a_family_cannot_represent_take_no_part_in_its_pairs():
    """A truncated model never learns orders above its maximum: censoring must not count as 'lower first'."""
    runs = _runs("truncated-2")
    t = np.array([np.nan, 1.0, 10.0, INF, INF])  # orders 3, 4 never settle: it cannot represent them
    kappa = np.array([0.0, 1.0, 1.0, 0.0, 0.0])
    reference = _runs(CONTROL_FAMILY)
    kernels = {**_kernels(runs, kappa), **_kernels(reference, REVERSED)}
    opts = {"taus": TAUS, "seed": 0, "rho": 1.25, "kernels": kernels, "exponents": {}, "conditions": {}}
    pattern = _Table(lambda run, rd: _down(run.N) if run.family == CONTROL_FAMILY else t)
    naive = evaluate(runs, reference=reference, executor=pattern, **opts)
    assert naive.status is Status.HOLDS  # the (2, 3) pair "supports" by censoring alone
    v = evaluate(
        runs, reference=reference, executor=pattern, representable={("truncated-2", N): (1, 2)}, **opts
    )
    assert {(p["k_low"], p["k_high"]) for p in v.evidence["pairs"]} == {(1, 2)}
    assert v.status is Status.INCONCLUSIVE  # the kernel does not separate orders 1 and 2
    assert v.evidence["unrepresentable_orders"] == {"truncated-2 N=4": [3, 4]}
