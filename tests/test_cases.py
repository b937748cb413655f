"""Seeded case drawing: one numpy stream per case, the same cases whatever else runs or is loaded.

The checks' generated cases depend on the seed and each case's identity only
(dsb_verifier.checks.claims.cases); the hypothesis strategies of the suite are built
on the same generator functions.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from dsb_verifier.checks.claims import cases
from dsb_verifier.checks.claims.cases import (
    ORDER_PROFILES,
    case_rng,
    coupling_vector,
    distribution,
    draw_cases,
    n_spins,
    stable_key,
)
from dsb_verifier.checks.claims.strategies import coupling_vectors, distributions
from dsb_verifier.theory.walsh import _orders
from hypothesis import given, settings


# ---- the streams ---------------------------------------------------------------------------------
def test_stable_key_is_blake2b_of_the_whole_string():
    # golden values: the same in every process, Python and numpy version (not Python's hash())
    assert stable_key("C1") == 16540654290632188925
    assert stable_key("truncated-2") == 16504531357926044396
    assert stable_key("truncated-2") != stable_key("truncated-3")  # same first 8 bytes
    assert stable_key(0) == 0 and stable_key(np.int64(7)) == 7


@pytest.mark.parametrize("bad", [-1, True, 1.5, None, b"C1"])
def test_stable_key_refuses_other_keys(bad):
    with pytest.raises(ValueError, match=r"^a case key must be a non-negative integer or a string, got "):
        stable_key(bad)


@pytest.mark.parametrize("bad", [-1, True, 2.0, "3"])
def test_case_rng_refuses_a_bad_seed(bad):
    with pytest.raises(ValueError, match=r"^seed must be a non-negative integer, got "):
        case_rng(bad, "C1")


def test_case_stream_is_pinned():
    """Golden draws: numpy's SeedSequence/PCG64 streams and this derivation must not drift."""
    rng = case_rng(0, "C1", "targets", 0)
    assert int(rng.integers(2**62)) == 2143416137273533373
    assert float(rng.uniform(-1, 1)) == 0.3173021245242824
    first = draw_cases(lambda g: distribution(g, max_n=3), 3, 7, "C1", "targets")
    assert [q.size for q in first] == [8, 8, 4]
    np.testing.assert_allclose(first[0][:2], [0.011047212825938622, 0.9885126264216715], rtol=1e-13)


def test_each_case_has_its_own_stream():
    """Case i depends on (seed, identity, i) only: not on how many cases are drawn, nor on other sweeps."""
    gen = lambda g: distribution(g, max_n=5)  # noqa: E731
    few = draw_cases(gen, 3, 11, "C2", "flows")
    many = draw_cases(gen, 9, 11, "C2", "flows")
    assert all(np.array_equal(a, b) for a, b in zip(few, many[:3], strict=True))
    other = draw_cases(gen, 3, 11, "C2", "concavity")
    assert not any(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(few, other, strict=True))
    alone = distribution(case_rng(11, "C2", "flows", 2), max_n=5)
    assert np.array_equal(alone, many[2])


# ---- the generator functions ---------------------------------------------------------------------
def test_distribution_space():
    qs = draw_cases(lambda g: distribution(g, max_n=4, min_log10=-6.0), 200, 1, "test")
    sizes = {q.size for q in qs}
    assert sizes == {2, 4, 8, 16}  # N uniform in 1..4
    for q in qs:
        assert q.dtype == np.float64 and np.all(q > 0) and abs(q.sum() - 1) < 1e-12
    ratios = [q.min() / q.max() for q in qs]
    assert min(ratios) >= 10**-6 * (1 - 1e-9)  # the log10 range bounds the spread
    assert min(ratios) < 2e-6  # and its extreme is reached (one state pinned at the floor)


def test_distribution_with_fixed_n_and_refusals():
    assert distribution(case_rng(0, "x"), 3).shape == (8,)
    with pytest.raises(ValueError, match=r"^min_log10 must be in \[-15, 0\), got 0.0"):
        distribution(case_rng(0, "x"), min_log10=0.0)
    with pytest.raises(ValueError, match=r"^need 1 <= min_n <= max_n <= 20, got min_n=0, max_n=0"):
        distribution(case_rng(0, "x"), 0)
    with pytest.raises(ValueError, match=r"^need 1 <= min_n <= max_n <= 20, got min_n=1, max_n=21"):
        n_spins(case_rng(0, "x"), 1, 21)


def test_coupling_vector_respects_the_order_profile():
    prof = ORDER_PROFILES["planted-3"]
    for J in draw_cases(lambda g: coupling_vector(g, 4, prof), 20, 3, "test"):
        bound = np.array([0.0] + [prof.get(k, 0.0) for k in range(1, 5)])[_orders(4)]
        assert J[0] == 0 and np.all(np.abs(J) <= bound) and np.any(J != 0)
        assert np.all(J[_orders(4) == 4] == 0)


# ---- the test strategies cover the same spaces ----------------------------------------------------
@given(distributions(max_n=3, min_log10=-4.0))
def test_strategy_draws_are_generator_draws(q):
    assert q.size in (2, 4, 8) and np.all(q > 0) and abs(q.sum() - 1) < 1e-12
    assert q.min() / q.max() >= 1e-4 * (1 - 1e-9)


def test_strategies_draw_through_the_generator_functions(monkeypatch):
    calls = []

    def fake(rng, n, min_log10):
        calls.append((n, min_log10))
        return np.full(2**n, 2.0**-n)

    monkeypatch.setattr(cases, "distribution", fake)

    @settings(max_examples=5, database=None)
    @given(distributions(max_n=2, min_log10=-5.0))
    def draw(q):
        assert (q.size.bit_length() - 1, -5.0) == calls[-1]

    draw()
    assert calls and {n for n, _ in calls} <= {1, 2}


@given(coupling_vectors(max_n=3))
def test_coupling_strategy_space(J):
    assert J.size in (2, 4, 8) and J[0] == 0 and np.all(np.abs(J) <= 0.5)


# ---- the report does not depend on what else is loaded, the subset or the executor -----------------
_SCRIPT = textwrap.dedent(
    """
    import dataclasses, json, sys
    if sys.argv[1] == "literals":  # a user's own module full of float literals, imported first
        sys.path.insert(0, sys.argv[3])
        import user_constants
    from dsb_verifier.checks.profiles import get_profile
    from dsb_verifier.checks.runner import process_executor, run_checks
    tiny = dataclasses.replace(get_profile("quick"), name="tiny", n_cases=6, n_inits=1, t_max=2e3)
    claims = tuple(sys.argv[2].split(","))
    if sys.argv[1] == "pool":
        with process_executor(2) as ex:
            doc = run_checks(tiny, 13, claims, executor=ex).to_json()
    else:
        doc = run_checks(tiny, 13, claims).to_json()
    for c in doc["claims"]:
        c.pop("seconds")
    out = {c["id"]: [c, [x for x in doc["controls"] if x["claim"] == c["id"]]] for c in doc["claims"]}
    json.dump(out, sys.stdout, sort_keys=True)
    assert "hypothesis" not in sys.modules, "a check imported hypothesis"
    """
)


#: A user's module with float literals (in the ranges the cases draw from): the hypothesis-based
#: drawing of 0.1.0 mixed the literals of loaded local modules into its draws (C1 changed).
_USER_MODULE = "A = [-0.5, -1.25, -2.75, -3.5, -6.0625, -11.5, -7.25e-3, 0.123456789, 0.75, 1e-12]\n"


def _claims_of(tmp_path, mode, claims):
    user = tmp_path.parent / f"{tmp_path.name}-user"
    user.mkdir(exist_ok=True)
    (user / "user_constants.py").write_text(_USER_MODULE)
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, mode, claims, str(user)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.subprocess
def test_same_cases_whatever_is_loaded_the_subset_or_the_executor(tmp_path):
    plain = _claims_of(tmp_path, "plain", "C1,C2")
    c1_alone = _claims_of(tmp_path, "literals", "C1")
    c2_alone = _claims_of(tmp_path, "literals", "C2")
    pooled = _claims_of(tmp_path, "pool", "C2,C1")
    assert c1_alone["C1"] == plain["C1"] == pooled["C1"]
    assert c2_alone["C2"] == plain["C2"] == pooled["C2"]
    assert list(tmp_path.iterdir()) == []  # nothing written to the working directory (no .hypothesis/)
