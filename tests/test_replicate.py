"""The replicate rule of C5 and C6 (checks/claims/replicate.py): two seeds, one status."""

from __future__ import annotations

import dataclasses

import pytest
from dsb_verifier.checks.claims.replicate import (
    REPLICATE_RULE,
    combine,
    combine_controls,
    replicate_seed,
    stable_status,
)
from dsb_verifier.checks.verdict import ControlResult, Counterexample, Status, Verdict

H, F, I, U = Status.HOLDS, Status.FAILS, Status.INCONCLUSIVE, Status.HOLDS_UNDER_CONDITIONS


def _verdict(status, headline="h", claim="C5", n_cx=None):
    if n_cx is None:  # 'fails' and 'holds-under-conditions' verdicts carry a counterexample
        n_cx = 1 if status in (Status.FAILS, Status.HOLDS_UNDER_CONDITIONS) else 0
    return Verdict(
        claim=claim,
        statement="s",
        status=status,
        conditions={"seed": 0},
        evidence={"headline": headline, "evidence_size": {"n_flows": 7}},
        tolerances={"t": 1.0},
        counterexamples=tuple(
            Counterexample(description=f"x{i}", case={}, value=0.0, seed=0) for i in range(n_cx)
        ),
    )


def test_replicate_seed_is_a_fixed_hash_independent_of_neighbouring_seeds():
    assert replicate_seed(0) == int.from_bytes(
        __import__("hashlib").blake2b(b"dsb-verifier replicate 0", digest_size=4).digest(), "big"
    )
    seeds = [replicate_seed(s) for s in range(200)]
    assert len(set(seeds)) == 200 and not set(seeds) & set(range(200))
    assert all(0 <= r < 2**32 for r in seeds)
    assert "BLAKE2b('dsb-verifier replicate <s>')" in REPLICATE_RULE


@pytest.mark.parametrize("bad", [-1, 1.0, True, "0", None])
def test_replicate_seed_refuses_what_is_not_a_seed(bad):
    with pytest.raises(ValueError, match=f"seed must be a non-negative integer, got {bad!r}"):
        replicate_seed(bad)


@pytest.mark.parametrize("s", [H, F, I, U])
def test_agreeing_seeds_keep_their_status(s):
    assert stable_status(s, s, (0, 9)) == (s, None)


@pytest.mark.parametrize(("a", "b"), [(H, F), (F, H), (H, I), (U, H), (I, F)])
def test_disagreeing_seeds_give_inconclusive_with_the_reason(a, b):
    status, reason = stable_status(a, b, (3, 77))
    assert status is I
    assert (
        reason
        == f"seed 3 gives {a.value} but replicate seed 77 gives {b.value}: not reproduced, so inconclusive"
    )


def test_combine_keeps_the_primary_evidence_and_adds_the_replicate():
    v = combine(_verdict(H, "first", n_cx=1), _verdict(H, "second", n_cx=2), (0, 5))
    assert v.status is H
    assert v.evidence["headline"] == "first" and len(v.counterexamples) == 1
    assert v.evidence["replicate"] == {
        "agree": True,
        "reason": None,
        "by_seed": [
            {
                "seed": 0,
                "status": "holds",
                "headline": "first",
                "evidence_size": {"n_flows": 7},
                "regimes": None,
                "n_counterexamples": 1,
            },
            {
                "seed": 5,
                "status": "holds",
                "headline": "second",
                "evidence_size": {"n_flows": 7},
                "regimes": None,
                "n_counterexamples": 2,
            },
        ],
    }
    assert v.conditions == {"seed": 0, "replicate_seed": 5, "replicate_rule": REPLICATE_RULE}


def test_combine_of_disagreeing_seeds_says_why_in_the_headline():
    v = combine(_verdict(F, "first"), _verdict(U, "second"), (0, 5))
    assert v.status is I
    assert v.evidence["replicate"]["agree"] is False
    assert v.evidence["headline"] == (
        "seed 0 gives fails but replicate seed 5 gives holds-under-conditions: not reproduced, so "
        "inconclusive; seed 0: first"
    )


def test_combine_refuses_verdicts_of_two_claims():
    with pytest.raises(ValueError, match="cannot combine a C5 verdict with a C6 verdict"):
        combine(_verdict(H), _verdict(H, claim="C6"), (0, 1))


def test_a_control_is_caught_only_if_it_fails_at_both_seeds():
    def ctl(status, name="c"):
        return ControlResult(claim="C5", name=name, description="d", verdict=_verdict(status))

    (both,) = combine_controls((ctl(F),), (ctl(F),), (0, 1))
    assert both.caught and both.observed is F
    (one,) = combine_controls((ctl(F),), (ctl(H),), (0, 1))
    assert not one.caught and one.observed is I
    with pytest.raises(ValueError, match="controls differ between the seeds"):
        combine_controls((ctl(F, "a"),), (ctl(F, "b"),), (0, 1))
    assert dataclasses.asdict(both)["name"] == "c"
